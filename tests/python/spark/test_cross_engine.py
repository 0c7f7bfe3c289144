"""The same warehouse on DuckDB and on Spark: the tiny world built on both targets gives identical tables.

Builds the SQL layer of the tiny world on local Spark (dbt-spark, `method: session`, selector `spark_sql`)
and compares every SQL model Spark built with the same model of the shared DuckDB build (`tiny_warehouse`):
same columns, same row count, same order-independent checksum over normalised values
(retail_lift.spark.compare). Skipped, with the reason printed, when Java, pyspark or dbt-spark is missing.
pyspark and dbt-spark come with the optional `spark` dependency group (`pip install -e '.[spark]'`), which
`make test` installs when Java is on the machine (Makefile target install-spark-if-java).

The Python layer: `retail-lift score --target spark` runs every Python model on Spark with the champions the
shared DuckDB build trained (a copy of its model registry, `RETAIL_LIFT_MODEL_REGISTRY`), then the SQL built on
them and its tests; every such table equals the DuckDB build's, model versions included, and no model trained
again on Spark. Training itself runs in the DuckDB builds of the suite (the models read their inputs through the
same relation interface on both engines).

Also on Spark: an incremental build after appending days of events (with late events) equals a full refresh
(the incremental models rewrite whole days: insert_overwrite of date partitions, macro incremental_by_day); the
full refresh it is compared with is the Spark build above (one Spark build of the whole log, not two).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from helpers import PROJECT_DIR, run_dbt, write_first_load

from retail_lift.adapters import prepare_raw
from retail_lift.registry import ModelRegistry

pytestmark = pytest.mark.dbt

MATERIALIZED = {"table", "incremental", "view"}
#: the selector spark_sql (every SQL model, seed, unit test and data test; selectors.yml) written out, without dbt's
#: not_null and unique tests: every table they check is compared with the DuckDB build's, where they passed
#: (test_every_sql_model_is_identical_on_duckdb_and_spark), and their SQL is dbt-spark's own. On Spark still:
#: the project's generic tests (accepted_range, expression_is_true, unique_combination_of_columns, ...), dbt's
#: accepted_values and relationships (11 with a `where`, through the project's get_where_subquery, too), the
#: singular tests and the unit tests (328 of the 620 data tests, and the 27 unit tests; --selector and --exclude do
#: not combine, so the selector is spelled out here and checked against it in the first test below)
SPARK_SQL = ["-s", "fqn:*", "--exclude", "file:*.py+", "test_name:not_null", "test_name:unique"]


def _skip_reason() -> str | None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "Java is not installed (Spark needs Java 17)"
    for module, extra in (("pyspark", "pyspark"), ("dbt.adapters.spark", "dbt-spark")):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return f"{extra} is not installed (optional dependency group: pip install -e '.[spark]')"
    return None


@pytest.fixture(scope="module")
def spark_build(request, tmp_path_factory):
    reason = _skip_reason()
    if reason:
        print(f"\nSKIP cross-engine test: {reason}")
        pytest.skip(reason)
    tiny_world = request.getfixturevalue("tiny_world")  # only when the test runs: generating it takes a while
    work = tmp_path_factory.mktemp("spark_build")
    raw, truth = work / "raw", work / "truth"
    prepare_raw(tiny_world / "raw", raw, truth_dir=tiny_world / "truth", truth_out=truth, log=lambda *_: None)
    env = {"RETAIL_LIFT_SPARK_DIR": str(work / "spark")}
    start = time.perf_counter()
    run_dbt(["build", "--target", "spark", *SPARK_SQL], raw, truth, work, extra_env=env)
    print(f"\nspark build of the tiny world (dbt build --target spark {' '.join(SPARK_SQL)}): "
          f"{time.perf_counter() - start:.0f} s")
    # the Python layer: retail-lift score runs the same model files against Spark, then builds and tests the SQL
    # models on top of them. In its own process, before this process opens a Spark session (the local Derby
    # metastore admits one JVM at a time). It scores with the champions the shared DuckDB build of the same world
    # trained (a copy of that build's registry, named by RETAIL_LIFT_MODEL_REGISTRY: one registry for both
    # engines, docs/operations.md): train once, score on either engine. The models' training runs in the DuckDB
    # builds of the suite; the tables it feeds are compared below.
    tiny_warehouse = request.getfixturevalue("tiny_warehouse")
    registry = work / "models_trained_on_duckdb"
    shutil.copytree(ModelRegistry.beside(tiny_warehouse).root, registry)
    start = time.perf_counter()
    score = subprocess.run(
        [str(Path(sys.executable).with_name("retail-lift")), "score", "--target", "spark", "--project-dir",
         str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR), "--target-path", str(work / "target_score"),
         "--log-path", str(work / "logs_score")],
        env={**os.environ, "RETAIL_LIFT_RAW": str(raw), "RETAIL_LIFT_TRUTH": str(truth),
             "RETAIL_LIFT_MODEL_REGISTRY": str(registry), **env},
        capture_output=True, text=True, cwd=work)
    assert score.returncode == 0, f"retail-lift score failed:\n{score.stdout[-4000:]}\n{score.stderr[-4000:]}"
    print(f"retail-lift score --target spark (Python models, the SQL built on them, their tests): "
          f"{time.perf_counter() - start:.0f} s")
    return work, raw, truth, env


def _bookkeeping(table) -> tuple[str, ...]:
    """The columns left out of a comparison: one registry for both engines (the spark_build fixture), DuckDB
    trained and Spark scored with the same versions; what each build did with the registry is its own, the
    version, its trained_at, the scores and every other column must be equal."""
    return tuple(c for c in ("registry_action", "registry_reason") if c in table.column_names)


def _built_models(work: Path) -> list[dict]:
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    results = json.loads((work / "target" / "run_results.json").read_text())
    ok = {r["unique_id"] for r in results["results"] if r["status"] == "success"}
    return [n for uid, n in manifest["nodes"].items()
            if uid in ok and n["resource_type"] == "model" and n["config"]["materialized"] in MATERIALIZED]


def test_spark_builds_every_sql_model_and_passes_its_tests(spark_build):
    work, raw, truth, env = spark_build
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    bad = [f"{r['unique_id']}: {r['status']}: {(r['message'] or '')[:300]}" for r in results
           if r["status"] not in ("success", "pass")]
    assert not bad, "\n".join(bad)
    assert len(_built_models(work)) > 50
    # SPARK_SQL is the selector spark_sql but for dbt's not_null and unique tests (dbt ls: no Spark session, and
    # the build's partial parse in the same target folder)
    listed = run_dbt(["--quiet", "ls", "--target", "spark", "--selector", "spark_sql", "--output", "json",
                      "--output-keys", "unique_id"], raw, truth, work, extra_env=env)
    selector = {json.loads(line)["unique_id"] for line in listed.stdout.splitlines() if line.startswith("{")}
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    left_out = {uid for uid in selector if uid.startswith("test.")
                and (manifest["nodes"][uid].get("test_metadata") or {}).get("name") in ("not_null", "unique")}
    ran = {r["unique_id"] for r in results if not r["unique_id"].startswith("operation.")}
    assert len(left_out) > 200
    assert ran == selector - left_out, (sorted(ran - selector), sorted(selector - ran - left_out))


def test_every_sql_model_is_identical_on_duckdb_and_spark(spark_build, request, monkeypatch):
    from retail_lift.spark.compare import fingerprint, row_differences
    from retail_lift.spark.score import open_session, spark_to_arrow

    work, raw, truth, env = spark_build
    # the shared DuckDB build of the same world; asked for here, not in the signature, so that pytest does not
    # build it (a session fixture goes first) when the Spark part is skipped
    tiny_warehouse = request.getfixturevalue("tiny_warehouse")
    for key, value in {"RETAIL_LIFT_RAW": str(raw), "RETAIL_LIFT_TRUTH": str(truth), **env}.items():
        monkeypatch.setenv(key, value)
    models = _built_models(work)
    session = open_session(PROJECT_DIR, PROJECT_DIR, "spark", work / "target_read", work / "logs_read")
    start = time.perf_counter()
    differences = []
    with duckdb.connect(str(tiny_warehouse), read_only=True) as con:
        for node in sorted(models, key=lambda n: n["name"]):
            name = f"{node['schema']}.{node['alias']}"
            on_duckdb = con.sql(f"select * from {name}").to_arrow_table()
            on_spark = spark_to_arrow(session.spark.table(name))
            bookkeeping = _bookkeeping(on_duckdb)
            a, b = fingerprint(on_duckdb, exclude=bookkeeping), fingerprint(on_spark, exclude=bookkeeping)
            if a.columns != b.columns:
                differences.append(f"{name}: columns differ: duckdb only {sorted(set(a.columns) - set(b.columns))}, "
                                   f"spark only {sorted(set(b.columns) - set(a.columns))}")
            elif a != b:
                detail = "; ".join(row_differences(on_duckdb, on_spark, limit=2))
                differences.append(f"{name}: duckdb {a.rows} rows, spark {b.rows} rows, checksums differ: {detail}")
    print(f"\ncompared {len(models)} models on DuckDB and Spark in {time.perf_counter() - start:.0f} s")
    assert not differences, f"{len(differences)} of {len(models)} models differ:\n" + "\n".join(differences)


def test_every_scored_table_is_identical_on_duckdb_and_spark(spark_build, request, monkeypatch):
    """The Python layer and the SQL built on it: every table of the DuckDB build that the SQL-layer comparison
    did not cover (schemas ml and evaluation, and the marts on top of the Python models). Spark scored with the
    champions the DuckDB build trained (one registry for both engines), so the model versions are the same and
    no registered model was trained again on Spark."""
    from retail_lift.spark.compare import fingerprint, row_differences
    from retail_lift.spark.score import open_session, spark_to_arrow

    work, raw, truth, env = spark_build
    tiny_warehouse = request.getfixturevalue("tiny_warehouse")
    for key, value in {"RETAIL_LIFT_RAW": str(raw), "RETAIL_LIFT_TRUTH": str(truth), **env}.items():
        monkeypatch.setenv(key, value)
    sql_layer = {f"{n['schema']}.{n['alias']}" for n in _built_models(work)}
    session = open_session(PROJECT_DIR, PROJECT_DIR, "spark", work / "target_read", work / "logs_read")
    differences, compared, trained_on_spark = [], 0, []
    with duckdb.connect(str(tiny_warehouse), read_only=True) as con:
        names = [f"{schema}.{table}" for schema, table in con.execute(
            "select table_schema, table_name from information_schema.tables where table_schema in "
            "('staging', 'intermediate', 'marts', 'ml', 'evaluation') and table_type = 'BASE TABLE' "
            "and table_name not like '%__dbt_tmp%' order by 1, 2").fetchall()]
        for name in names:
            if name in sql_layer:
                continue
            compared += 1
            on_duckdb = con.sql(f"select * from {name}").to_arrow_table()
            on_spark = spark_to_arrow(session.spark.table(name))
            bookkeeping = _bookkeeping(on_duckdb)
            a, b = fingerprint(on_duckdb, exclude=bookkeeping), fingerprint(on_spark, exclude=bookkeeping)
            if a != b:
                detail = "; ".join(row_differences(on_duckdb, on_spark, limit=2))
                differences.append(f"{name}: duckdb {a.rows} rows, spark {b.rows} rows: {detail}")
            if "registry_action" in on_spark.column_names:  # Spark scored with the champions DuckDB trained
                # (score; the bandit models: reuse, the same decision ledger)
                actions = set(on_spark.column("registry_action").to_pylist()) - {None}
                if actions - {"score", "reuse"}:
                    trained_on_spark.append(f"{name}: {sorted(actions)}")
    print(f"\ncompared {compared} scored tables on DuckDB and Spark")
    assert compared >= 30
    assert not trained_on_spark, f"retrained on Spark, not scored with the shared champions: {trained_on_spark}"
    assert not differences, f"{len(differences)} of {compared} tables differ:\n" + "\n".join(differences)


INCREMENTAL_MODELS = ["intermediate.int_events_sessionized", "marts.fct_sessions",
                      "intermediate.int_session_funnel_progress"]
# rebuilt whole on every Spark run from the incremental models (fct_product_journeys: incremental by key on DuckDB
# only, macro incremental_by_key), compared too
REBUILT_TABLES = ["marts.fct_funnel", "marts.fct_product_journeys"]

# Reads tables of one Spark warehouse (RETAIL_LIFT_SPARK_DIR) into Parquet files: in its own process, as the
# local Derby metastore admits one JVM at a time and a process holds one Spark session.
_DUMP_TABLES = """
import sys
from pathlib import Path
import pyarrow.parquet as pq
from retail_lift.spark.score import open_session, spark_to_arrow
project, work, out, *tables = sys.argv[1:]
session = open_session(Path(project), Path(project), "spark", Path(work) / "target_read", Path(work) / "logs_read")
for name in tables:
    pq.write_table(spark_to_arrow(session.spark.table(name)), Path(out) / (name + ".parquet"))
"""


def _spark_tables(work: Path, raw: Path, truth: Path, env: dict, tables: list[str]) -> Path:
    out = work / "tables"
    out.mkdir()
    dump = subprocess.run([sys.executable, "-c", _DUMP_TABLES, str(PROJECT_DIR), str(work), str(out), *tables],
                          env={**os.environ, "RETAIL_LIFT_RAW": str(raw), "RETAIL_LIFT_TRUTH": str(truth), **env},
                          capture_output=True, text=True, cwd=work)
    assert dump.returncode == 0, f"reading {tables} from Spark failed:\n{dump.stderr[-4000:]}"
    return out


def test_incremental_after_append_equals_full_refresh_on_spark(spark_build, tiny_world, tmp_path, monkeypatch):
    """The reference is the full build that the spark_build fixture made of the same whole log (a fresh Spark
    warehouse builds the incremental models as a full refresh does), so no third Spark build is needed."""
    from retail_lift.spark.score import open_session, spark_to_arrow

    full, full_raw, full_truth, full_env = spark_build
    # models and seeds only: the tables are compared with the full build's, which passed every test above (equal
    # tables pass the same tests), and its unit tests ran there too
    select = ["-s", "+fct_sessions", "+fct_funnel", "+fct_product_journeys", "--exclude-resource-type", "test",
              "--exclude-resource-type", "unit_test", "--target", "spark"]
    inc = tmp_path / "inc"
    inc.mkdir()
    inc_env = {"RETAIL_LIFT_SPARK_DIR": str(inc / "spark")}
    # day 1: the log 10 days before its end, some of the last day's events held back (they arrive late)
    write_first_load(tiny_world, tmp_path / "first")
    start = time.perf_counter()
    prepare_raw(tmp_path / "first", inc / "raw", truth_dir=tiny_world / "truth", truth_out=inc / "truth",
                log=lambda *_: None)
    run_dbt(["build", *select], inc / "raw", inc / "truth", inc, extra_env=inc_env)
    print(f"\nspark build of +fct_sessions on the first load: {time.perf_counter() - start:.0f} s")
    # day 2: the whole log (appended days and late events) -> incremental run
    start = time.perf_counter()
    prepare_raw(tiny_world / "raw", inc / "raw", truth_dir=tiny_world / "truth", truth_out=inc / "truth",
                log=lambda *_: None)
    run_dbt(["build", *select], inc / "raw", inc / "truth", inc, extra_env=inc_env)
    print(f"incremental spark build on the whole log: {time.perf_counter() - start:.0f} s")
    for model in ("int_events_sessionized", "fct_sessions", "int_session_funnel_progress"):
        ran = next((inc / "target" / "run").rglob(f"{model}.sql")).read_text().lower()
        assert "insert overwrite table" in ran, f"{model} was not built incrementally (insert_overwrite)"
        # the reference really is a full build: the same model ran as a create in the spark_build warehouse
        first = next((full / "target" / "run").rglob(f"{model}.sql")).read_text().lower()
        assert "insert overwrite table" not in first, f"{model} of the reference build was not a full build"
    # incremental by key on DuckDB only (macro incremental_by_key): a full table on Spark, rebuilt by every run
    ran = next((inc / "target" / "run").rglob("fct_product_journeys.sql")).read_text().lower()
    assert re.search(r"create (or replace )?table", ran) and "insert overwrite" not in ran, ran[:500]
    # the same whole log went into both warehouses
    with duckdb.connect() as con:
        for name in ("events", "customers"):
            x, y = f"read_parquet('{inc / 'raw' / name}.parquet')", f"read_parquet('{full_raw / name}.parquet')"
            diff = con.execute(f"select count(*) from ((select * from {x} except all select * from {y}) union all "
                               f"(select * from {y} except all select * from {x}))").fetchall()[0][0]
            assert diff == 0, f"raw {name}: {diff} rows differ between the incremental and the reference warehouse"
    a = _spark_tables(inc, inc / "raw", inc / "truth", inc_env, INCREMENTAL_MODELS + REBUILT_TABLES)
    # the reference tables through this process's Spark session (the one of the spark_build warehouse, which the
    # comparison tests above also use: the local Derby metastore admits one JVM at a time)
    for key, value in {"RETAIL_LIFT_RAW": str(full_raw), "RETAIL_LIFT_TRUTH": str(full_truth), **full_env}.items():
        monkeypatch.setenv(key, value)
    session = open_session(PROJECT_DIR, PROJECT_DIR, "spark", full / "target_read", full / "logs_read")
    b = tmp_path / "reference"
    b.mkdir()
    for table in INCREMENTAL_MODELS + REBUILT_TABLES:
        pq.write_table(spark_to_arrow(session.spark.table(table)), b / f"{table}.parquet")
    with duckdb.connect() as con:
        for table in INCREMENTAL_MODELS + REBUILT_TABLES:
            x, y = f"read_parquet('{a / table}.parquet')", f"read_parquet('{b / table}.parquet')"
            n = con.execute(f"select count(*) from {x}").fetchall()[0][0]
            diff = con.execute(f"select count(*) from ((select * from {x} except all select * from {y}) union all "
                               f"(select * from {y} except all select * from {x}))").fetchall()[0][0]
            assert n > 0 and diff == 0, f"{table}: {diff} rows differ between incremental and full refresh on Spark"
