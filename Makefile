# Retail Lift — the two set-up commands are `make build` and `make test` (see README).
# Every step prints what it does; the first failing step stops make with its name and a non-zero exit.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

# The simulated world (used when DATA is not given)
PRESET ?= default
SEED ?= 42
# Bring your own data: a folder with one Parquet/CSV file per raw table (make build DATA=path/to/folder)
DATA ?= $(RETAIL_LIFT_DATA)

ifeq ($(strip $(DATA)),)
  RAW_INPUT := data/$(PRESET)/raw
  TRUTH_INPUT := data/$(PRESET)/truth
  NEED_GENERATE := 1
else
  RAW_INPUT := $(DATA)
  TRUTH_INPUT :=
  NEED_GENERATE :=
endif

export RETAIL_LIFT_RAW ?= $(CURDIR)/warehouse/raw
export RETAIL_LIFT_TRUTH ?= $(CURDIR)/warehouse/truth
export RETAIL_LIFT_WAREHOUSE ?= $(CURDIR)/warehouse/retail_lift.duckdb
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
# OpenMP threads that spin while waiting slow xgboost 5x on a busy 2-core machine
export OMP_WAIT_POLICY ?= PASSIVE

DBT := $(BIN)/dbt --no-use-colors
DBT_ARGS := --project-dir $(CURDIR) --profiles-dir $(CURDIR)
STEP = @printf '\n==> %s\n' 

.PHONY: help build daily train evaluate test test-fast install install-spark-if-java data prepare dbt-build quality docs summary lint clean trust-harness gate-harness export-targets export-plan simulate api bench install-bench bench-smoke snapshot dashboard build-spark

help:
	@echo "make build   install, generate the default world (or use DATA=folder), build the warehouse, tests and docs"
	@echo "make test    the whole test suite (pytest, including a dbt build of the tiny world; Spark and browser tests"
	@echo "             when Java / Chromium are there); tens of minutes, see docs/operations.md (Tests)"
	@echo "make test-fast  unit tests only (pytest -m \"not dbt and not slow\") plus dbt parse and the layer check;"
	@echo "             under 3 minutes. Markers: dbt = runs or reads a dbt build, slow = over ~10 s (docs/operations.md)"
	@echo "make daily   after new raw data arrives (DATA=folder or the world): land it, rebuild incrementally (the changed"
	@echo "             days of staging, sessions and daily aggregates; the rest rebuilt, the models scored with their registered"
	@echo "             champions; the evaluation against the truth left out), test the rewritten days, Great Expectations"
	@echo "             over the changed tables only (DAILY_CHECK_TABLES); needs a warehouse from make build (docs/operations.md)"
	@echo "make train   train and register new champions of the registered models on the built warehouse, nothing else"
	@echo "             (CHALLENGER=1: register them as challengers); builds score with the champions (docs/operations.md)"
	@echo "make evaluate  build and test only the truth evaluation (dbt selector evaluation: the models that compare"
	@echo "             estimates with the simulated truth) on the built warehouse; stops when there is no truth"
	@echo "             (bring-your-own-data). make build runs it too; dbt build --selector daily leaves it out"
	@echo "make lint    ruff, dbt parse, the dbt layer and copied-description checks (make test runs it first)"
	@echo "make bench   benchmark PRESET=default|large -> bench/results (make bench-smoke: tiny, quick)"
	@echo "make dashboard | snapshot | api | simulate | trust-harness | gate-harness | export-targets | export-plan | build-spark   see docs/"
	@echo "make clean   remove the warehouse, generated data and dbt artefacts"

## ---------------------------------------------------------------- set-up command 1
build: install data prepare dbt-build quality snapshot docs summary

## ---------------------------------------------------------------- the daily path (docs/operations.md, Daily path)
# After new raw data arrives in the same input (the whole log, new days included): land it, then dbt build of
# everything but the evaluation against the truth (dbt selector daily: everything but source:simulation+). The incremental models rewrite the changed
# days only; the Python models score with the registered champions (retrain: false; the registry still trains a
# model with no usable champion). The generic tests of the incremental models check only the days from
# DAILY_TESTS_FROM on (var daily_tests_from; default: the day of the latest clean event already loaded minus
# var incremental_lookback_days, the first day the incremental models rewrite); Great Expectations checks only
# DAILY_CHECK_TABLES (the raw tables new days arrive in and the incremental mart with a suite).
DAILY_TESTS_FROM ?=
DAILY_CHECK_TABLES ?= raw.events raw.orders raw.order_lines raw.customers raw.experiment_assignments raw.decisions \
	marts.fct_sessions
daily: install prepare
	$(STEP) "daily: dbt build of the changed days (incremental models), the rest scored, tests of the rewritten days -> $(RETAIL_LIFT_WAREHOUSE)"
	@test -f $(RETAIL_LIFT_WAREHOUSE) || { echo "make daily updates a built warehouse: run make build first ($(RETAIL_LIFT_WAREHOUSE) not found)"; exit 1; }
	$(BIN)/retail-lift check-lock $(RETAIL_LIFT_WAREHOUSE)
	from='$(DAILY_TESTS_FROM)'; \
	if [ -z "$$from" ]; then from=$$($(BIN)/python -c "import sys, duckdb, yaml; \
		n = yaml.safe_load(open('dbt_project.yml'))['vars']['incremental_lookback_days']; \
		con = duckdb.connect(sys.argv[1], read_only=True); \
		print(con.execute(f'select cast(max(event_at) - interval {int(n)} day as date) from staging.base_shop__events \
		where dq_reason is null').fetchone()[0] or '')" $(RETAIL_LIFT_WAREHOUSE)); fi; \
	echo "tests of the incremental models: days from $${from:-the first} on"; \
	$(DBT) build $(DBT_ARGS) --selector daily --vars "{retrain: false, daily_tests_from: '$$from'}"
	$(STEP) "quality: Great Expectations over the changed tables only ($(DAILY_CHECK_TABLES)) -> reports/quality"
	$(BIN)/retail-lift check --raw-as-warnings --out reports/quality $(addprefix --table ,$(DAILY_CHECK_TABLES))

## ---------------------------------------------------------------- the model registry
# Train (and register as champion) every model that trains with the registry, on the marts of the warehouse
# already built; nothing else runs. Builds score with the champions (docs/operations.md, Model registry).
CHALLENGER ?=
train: install
	$(STEP) "train: new versions of the registered models (classifiers, uplift run, CLV, segments, cross-sell rules, bandit candidates and their evaluation) in $(dir $(RETAIL_LIFT_WAREHOUSE))models (dbt run of the models that train, retrain: true)"
	$(BIN)/retail-lift check-lock $(RETAIL_LIFT_WAREHOUSE)
	$(BIN)/retail-lift train --warehouse $(RETAIL_LIFT_WAREHOUSE) --project-dir $(CURDIR) $(if $(CHALLENGER),--challenger)

## ---------------------------------------------------------------- the truth evaluation (issue 23)
# Only the nodes downstream of the simulation source (selectors.yml: evaluation), built and tested on the
# warehouse already built; the rest of the project is the `daily` selector. make build still builds both, so the
# docs show the comparison. Its dbt artefacts go to target/evaluate, so target/run_results.json stays the build's
# (make snapshot publishes it). docs/operations.md (Truth evaluation).
EVALUATE_TARGET := $(CURDIR)/target/evaluate
evaluate: install
	$(STEP) "evaluate: dbt build --selector evaluation (the models against the simulated truth in $(RETAIL_LIFT_TRUTH), and their tests) -> $(RETAIL_LIFT_WAREHOUSE)"
	$(BIN)/retail-lift check-truth --truth $(RETAIL_LIFT_TRUTH) --warehouse $(RETAIL_LIFT_WAREHOUSE)
	$(BIN)/retail-lift check-lock $(RETAIL_LIFT_WAREHOUSE)
	$(DBT) build $(DBT_ARGS) --selector evaluation --target-path $(EVALUATE_TARGET)

## ---------------------------------------------------------------- set-up command 2
# pytest on PYTEST_WORKERS processes (pytest-xdist; whole files per worker, the longest files first: see
# tests/python/conftest.py). PYTEST_WORKERS=0 runs everything in one process.
PYTEST_WORKERS ?= 2
test: install install-spark-if-java lint
	$(STEP) "pytest on $(PYTEST_WORKERS) workers (package tests and dbt builds of the tiny world in their own DuckDB files)"
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=40

## ---------------------------------------------------------------- the quick tier (docs/operations.md, Tests)
# Unit tests without dbt and without the slow ones, then dbt parse and the project's lineage/layer check.
# pytest exits 5 when no test ran, and make fails then too.
test-fast: install
	$(STEP) "pytest -m 'not dbt and not slow' (unit tests: no dbt build, nothing over ~10 s)"
	$(BIN)/python -m pytest -m "not dbt and not slow" -q
	$(STEP) "dbt parse and the project's lineage/layer check (retail_lift/lint.py)"
	$(DBT) parse $(DBT_ARGS) --quiet
	$(BIN)/python -m retail_lift.lint target/manifest.json

# With Java on the machine, make test also installs the optional spark group, so that the cross-engine tests
# (tests/python/spark: the tiny world on DuckDB and on local Spark, table by table) run; without Java they skip
# with the reason printed.
install-spark-if-java: install
	@if command -v java >/dev/null || [ -n "$${JAVA_HOME:-}" ]; then \
		printf '\n==> %s\n' "install: Java found, the optional spark group (pyspark, dbt-spark) for the cross-engine tests"; \
		[ $(VENV)/.installed-spark -nt requirements.lock ] || { $(BIN)/python -m pip install --quiet -c requirements.lock -e '.[spark]' \
			&& touch $(VENV)/.installed-spark; }; \
	else echo "Java not found: the Spark cross-engine tests will be skipped (they print why)"; fi

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	$(STEP) "install: virtual environment $(VENV) with the pinned dependencies"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

data:
ifeq ($(NEED_GENERATE),1)
	$(STEP) "data: generate the '$(PRESET)' world (seed $(SEED)) into data/$(PRESET)"
	test -f data/$(PRESET)/world.json && grep -q '"seed": $(SEED)' data/$(PRESET)/world.json \
		&& echo "data/$(PRESET) exists for seed $(SEED); reusing it (make clean to regenerate)" \
		|| $(BIN)/retail-lift generate --preset $(PRESET) --seed $(SEED) --out data/$(PRESET)
else
	$(STEP) "data: using your folder $(RAW_INPUT)"
endif

prepare:
	$(STEP) "prepare: check $(RAW_INPUT) against the data contract and land it in $(RETAIL_LIFT_RAW)"
	$(BIN)/retail-lift prepare --data $(RAW_INPUT) $(if $(TRUTH_INPUT),--truth $(TRUTH_INPUT)) \
		--out $(RETAIL_LIFT_RAW) --truth-out $(RETAIL_LIFT_TRUTH) \
		$(if $(DELIMITER),--delimiter '$(DELIMITER)') $(if $(DECIMAL),--decimal '$(DECIMAL)')

dbt-build:
	$(STEP) "dbt build: seeds, every model, every test -> $(RETAIL_LIFT_WAREHOUSE)"
	$(BIN)/retail-lift check-lock $(RETAIL_LIFT_WAREHOUSE)
	$(DBT) build $(DBT_ARGS)

quality:
	$(STEP) "quality: Great Expectations suites over raw tables, marts and scored tables -> reports/quality"
	$(BIN)/retail-lift check --raw-as-warnings --out reports/quality

# The dashboard reads a read-only snapshot of the warehouse (Parquet + manifest), never the DuckDB file,
# so a running dashboard cannot block the next dbt build.
export RETAIL_LIFT_SNAPSHOT ?= $(CURDIR)/warehouse/snapshot

snapshot:
	$(STEP) "snapshot: publish the dashboard's read-only copy of the warehouse -> $(RETAIL_LIFT_SNAPSHOT)"
	$(BIN)/retail-lift publish-snapshot --warehouse $(RETAIL_LIFT_WAREHOUSE) --out $(RETAIL_LIFT_SNAPSHOT) \
		--run-results target/run_results.json

dashboard: install
	$(STEP) "dashboard on http://localhost:8501 (reads $(RETAIL_LIFT_SNAPSHOT); make snapshot refreshes it)"
	$(BIN)/streamlit run dashboard/app.py --server.headless true --browser.gatherUsageStats false

# the measured model cards (gitignored); dbt_project.yml's docs-paths reads them when RETAIL_LIFT_MODEL_CARDS_DIR is set
MODEL_CARDS_DIR := $(CURDIR)/target/model_cards

docs: install
	$(STEP) "docs: charts (docs/assets/charts) and model cards ($(MODEL_CARDS_DIR)) from the warehouse"
	$(BIN)/retail-lift docs-assets --warehouse $(RETAIL_LIFT_WAREHOUSE) --out docs/assets/charts \
		--cards-out $(MODEL_CARDS_DIR)/_model_cards.md
	$(STEP) "dbt docs generate (static single-file site: target/static_index.html)"
	RETAIL_LIFT_MODEL_CARDS_DIR=$(MODEL_CARDS_DIR) $(DBT) docs generate --static $(DBT_ARGS)

summary:
	$(STEP) "done"
	@echo "warehouse:   $(RETAIL_LIFT_WAREHOUSE)  (query: $(BIN)/dbt show --inline 'select * from {{ ref(\"fct_sessions\") }}' $(DBT_ARGS))"
	@echo "docs site:   $(CURDIR)/target/static_index.html  (or: $(BIN)/dbt docs serve $(DBT_ARGS))"
	@echo "load report: $(RETAIL_LIFT_RAW)/_load_report.parquet  (quarantine: marts.rpt_quarantine_summary)"
	@echo "data docs:   $(CURDIR)/reports/quality/data_docs/index.html  (summary: reports/quality/summary.json)"
	@echo "dashboard:   make dashboard  (reads the snapshot $(RETAIL_LIFT_SNAPSHOT))"

trust-harness: install
	$(STEP) "trust harness: 1,000 simulated experiments per scenario (32 scenarios) of daily looks through decide_experiments and analyze_experiments (2 processes, about 20 minutes)"
	$(BIN)/retail-lift trust-harness --n 1000 --jobs 2 --out reports/experiments --docs docs/experiments/_trust_harness.md

gate-harness: install
	$(STEP) "gate harness: 200 simulated decision logs per support and holdout size through the off-policy gate (2 processes, tens of minutes)"
	$(BIN)/retail-lift gate-harness --n 200 --jobs 2 --out reports/bandit --docs docs/bandit/_gate_harness.md

export-targets: install
	$(STEP) "export the campaign target list to reports/campaign/target_list.csv"
	$(BIN)/retail-lift export-targets --out reports/campaign/target_list.csv

export-plan: install
	$(STEP) "export the promotion plan to reports/plan/<channel>.csv (reasons and the holdout flag)"
	$(BIN)/retail-lift export-plan --out reports/plan

simulate: install
	$(STEP) "closed-loop bandit simulation against the simulated world -> reports/bandit"
	$(BIN)/retail-lift simulate --out reports/bandit

# make api [SHADOW=policy_id] [FLOOR=0.01] [PORT=8000]: the shadow version is scored and logged, never served
SHADOW ?=
FLOOR ?=
PORT ?= 8000
api: install
	$(STEP) "decision API on http://127.0.0.1:$(PORT) (OpenAPI at /docs); decisions logged to logs/decisions"
	$(BIN)/retail-lift api --warehouse $(RETAIL_LIFT_WAREHOUSE) --log-dir logs/decisions --port $(PORT) \
		$(if $(strip $(SHADOW)),--shadow $(SHADOW)) $(if $(strip $(FLOOR)),--floor $(FLOOR))

# the optional bench group (polars) for the like-for-like comparison (DuckDB SQL, pandas, polars)
install-bench: install
	@[ $(VENV)/.installed-bench -nt requirements.lock ] || { $(BIN)/python -m pip install --quiet -c requirements.lock -e '.[bench]' \
		&& touch $(VENV)/.installed-bench; }

bench: install-bench
	$(STEP) "benchmark: the $(PRESET) world end to end -> bench/results/bench_$(PRESET).{json,md}"
	$(BIN)/python bench/run_bench.py --preset $(PRESET)
	$(STEP) "docs: the result tables of docs/ from bench/results"
	$(BIN)/retail-lift docs-tables

bench-smoke: install-bench
	$(BIN)/python bench/run_bench.py --preset tiny --quick --out bench/results/tmp

# The same warehouse on local Apache Spark through dbt-spark (optional `spark` dependency group; Java 17).
# The SQL layer is built by dbt, the Python models by `retail-lift score` (dbt-spark runs Python only on Databricks).
export RETAIL_LIFT_SPARK_DIR ?= $(CURDIR)/warehouse/spark

build-spark: install data prepare
	$(STEP) "install: the optional spark group (pyspark, dbt-spark) into $(VENV)"
	@command -v java >/dev/null || { echo "build-spark needs Java 17 (Debian: apt-get install openjdk-17-jre-headless)"; exit 1; }
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[spark]'
	$(STEP) "dbt build --target spark: seeds, every SQL model and its tests -> $(RETAIL_LIFT_SPARK_DIR)"
	$(DBT) build $(DBT_ARGS) --target spark --selector spark_sql
	$(STEP) "score: the Python models on Spark (and the SQL models built on them), then their tests"
	$(BIN)/retail-lift score --target spark $(DBT_ARGS)

lint: install
	$(STEP) "lint: ruff, dbt parse, the project's dbt layer and copied-description checks (retail_lift/lint.py), dbt-score, import-linter"
	$(BIN)/ruff check retail_lift tests bench dashboard
	$(DBT) parse $(DBT_ARGS) --quiet
	$(BIN)/python -m retail_lift.lint target/manifest.json
	$(BIN)/dbt-score lint --manifest target/manifest.json --show failing-items
	$(BIN)/lint-imports --config pyproject.toml

clean:
	rm -rf warehouse/raw warehouse/truth warehouse/*.duckdb warehouse/*.wal warehouse/*.tmp warehouse/snapshot warehouse/spark target logs data
