"""Bring your own data: real-shaped folders build end to end (a FULL dbt build, then the quality step as
the Makefile runs it), whatever they lack: orders only from the 1990s, no simulated truth, no experiments.
And the loud stops: a build that would lose most of the rows, or that holds none, fails with a message
that says where and what to change.

The orders-only and events-only fixtures are one full build each (about a minute on the tiny world); its
seconds are printed (pytest -s) and kept in the fixture's result. The folder without truth is the tiny world's
raw folder, whose full build the shared `tiny_warehouse` already is, except for the truth: it starts from a copy
of that build and rebuilds, with their tests and --full-refresh, every model downstream of the truth
(`source:simulation+`) and of the load report (`source:shop.load_report+`: it names the input folder); the
other models read the same raw tables (checked) and would come out the same, so the result equals a full
build of the folder. The loud stops build only what leads to the step that must fail.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from helpers import run_dbt

from retail_lift.adapters import prepare_raw

pytestmark = pytest.mark.dbt

CDNOW = Path(__file__).resolve().parents[1] / "data" / "cdnow_sample_orders.csv"
RETAIL_LIFT = str(Path(sys.executable).with_name("retail-lift"))
EVALUATION_TABLES = ["ml_eval_uplift_vs_truth", "ml_eval_targeting_vs_truth", "ml_campaign_oracle_comparison",
                     "ml_predict_oracle_comparison", "rpt_eval_bandit_policy_value_vs_truth", "ml_eval_clv_vs_truth"]


@dataclass
class Build:
    workdir: Path
    raw: Path
    db: Path
    proc: subprocess.CompletedProcess
    seconds: float

    def q(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.execute(sql).fetchall()

    def quality(self) -> tuple[subprocess.CompletedProcess, dict]:
        """`retail-lift check --raw-as-warnings` as `make build` runs it, on this build's warehouse."""
        out = self.workdir / "quality"
        proc = subprocess.run([RETAIL_LIFT, "check", "--raw-as-warnings", "--warehouse", str(self.db),
                               "--raw", str(self.raw), "--out", str(out)], capture_output=True, text=True)
        summary = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
        return proc, summary


def _build(data_dir: Path, workdir: Path, *dbt_args: str, check: bool = True) -> Build:
    """prepare (no truth: real data) + a full `dbt build`, timed."""
    workdir.mkdir(parents=True, exist_ok=True)
    raw, truth = workdir / "raw", workdir / "truth"
    prepare_raw(data_dir, raw, truth_dir=None, truth_out=truth, log=lambda *_: None)
    started = time.perf_counter()
    proc = run_dbt(["build", *dbt_args], raw, truth, workdir, check=check)
    seconds = time.perf_counter() - started
    print(f"\n[test_byod] dbt build of {data_dir.name} {' '.join(dbt_args)}: {seconds:.1f} s, exit {proc.returncode}")
    return Build(workdir, raw, workdir / "warehouse.duckdb", proc, seconds)


def _copy_raw(tiny_world: Path, dest: Path, leave_out: tuple[str, ...] = ()) -> Path:
    dest.mkdir(parents=True)
    for f in (tiny_world / "raw").glob("*.parquet"):
        if f.stem not in leave_out:
            shutil.copy(f, dest / f.name)
    return dest


def _assert_quality_passes(build: Build) -> dict:
    proc, summary = build.quality()
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "data quality: passed" in proc.stdout
    assert summary["success"] is True and summary["counts"]["errors"] == 0
    assert not [t for t in summary["tables"] if t["status"] == "failed"]
    return summary


def _assert_evaluation_empty(build: Build) -> None:
    for table in EVALUATION_TABLES:
        assert build.q(f"select count(*) from evaluation.{table}") == [(0,)], table
    assert build.q("select count(*) from staging.stg_simulation__truth_customers") == [(0,)]


# ---------------------------------------------------------------- orders only, from the 1990s (CDNOW)

@pytest.fixture(scope="module")
def cdnow_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cdnow") / "in"
    folder.mkdir()
    shutil.copy(CDNOW, folder / "orders.csv")
    return folder


@pytest.fixture(scope="module")
def cdnow_build(cdnow_folder, tmp_path_factory) -> Build:
    return _build(cdnow_folder, tmp_path_factory.mktemp("cdnow_build"))


def test_orders_from_the_1990s_build_with_nothing_quarantined(cdnow_build):
    assert cdnow_build.proc.returncode == 0
    assert cdnow_build.q("select count(*) from staging.stg_shop__orders") == [(6919,)]
    assert cdnow_build.q("select count(*) from staging.stg_shop__quarantined_rows "
                         "where source_table = 'orders'") == [(0,)]
    assert cdnow_build.q("select count(*) from marts.rpt_quarantine_summary") == [(0,)]
    summary = _assert_quality_passes(cdnow_build)
    empty = {t["table"]: t["message"] for t in summary["tables"] if t["status"] == "empty"}
    # an orders-only folder: the experiment results are legitimately empty, reported as such with the reason
    assert empty["ml.ml_experiment_results"].startswith("empty: not checked (")
    assert "experiments" in empty["ml.ml_experiment_results"]
    assert empty["raw.events"].startswith("empty: not checked (absent from the input")


def test_ltv_inputs_of_the_1990s_orders_equal_an_independent_computation(cdnow_build):
    orders = pd.read_csv(CDNOW, dtype={"customer_id": str})
    orders["day"] = pd.to_datetime(orders["ordered_at"]).dt.normalize()
    snapshot = orders["day"].max()  # the last day with an order (no events): 1998-06-30
    days = orders.groupby(["customer_id", "day"], as_index=False)["amount"].sum().sort_values(["customer_id", "day"])
    g = days.groupby("customer_id")
    expected = pd.DataFrame({
        "n_days": g.size(),
        "first": g["day"].min(),
        "last": g["day"].max(),
        "total_amount": g["amount"].sum(),
        "first_day_amount": g["amount"].first(),
    })
    expected["frequency"] = expected["n_days"] - 1
    expected["recency"] = (expected["last"] - expected["first"]).dt.days
    expected["T"] = (snapshot - expected["first"]).dt.days
    expected["monetary_value"] = ((expected["total_amount"] - expected["first_day_amount"])
                                  / expected["frequency"]).where(expected["frequency"] > 0, 0.0)
    with duckdb.connect(str(cdnow_build.db), read_only=True) as con:
        got = con.execute("select customer_id, frequency, recency, T, monetary_value, total_amount, snapshot_date "
                          "from marts.fct_customer_ltv_inputs").df().set_index("customer_id").sort_index()
    assert snapshot == pd.Timestamp("1998-06-30")
    assert (pd.to_datetime(got["snapshot_date"]) == snapshot).all()
    assert len(got) == 2357 == len(expected)
    expected = expected.sort_index()
    assert list(got.index) == list(expected.index)
    for col in ("frequency", "recency", "T"):
        assert (got[col].astype(int).to_numpy() == expected[col].astype(int).to_numpy()).all(), col
    for col in ("monetary_value", "total_amount"):
        assert (got[col].astype(float) - expected[col].astype(float)).abs().max() < 1e-6, col


def test_clv_of_the_1990s_orders_is_lifetimes_unpenalised_fit(cdnow_build):
    """The warehouse's CLV on a real orders log is the plain maximum likelihood that lifetimes 0.11.3 finds
    (BetaGeoFitter / GammaGammaFitter, penalizer 0, on lifetimes' own daily summary of the same file; the
    values are committed in tests/python/test_clv_table.py); no unit costs, so margin CLV is NULL and says so."""
    from test_clv_table import LIFETIMES_ORDERS_DAYS

    with duckdb.connect(str(cdnow_build.db), read_only=True) as con:
        params = con.execute("select model, parameter, value, ci_low, ci_high, status "
                             "from ml.ml_customer_lifetime_value_params").df().set_index("parameter")
        scores = con.execute("select count(*), count(clv_revenue_12m), count(clv_margin_12m), "
                             "count(distinct clv_status), any_value(clv_status), "
                             "count_if(clv_12m = clv_revenue_12m) from ml.ml_customer_lifetime_value").fetchall()[0]
        costs = con.execute("select count(cost_of_goods) from marts.fct_customer_ltv_inputs").fetchall()[0][0]
    for k, v in LIFETIMES_ORDERS_DAYS.items():
        assert params.loc[k, "value"] == pytest.approx(v, rel=2e-5), k
        assert params.loc[k, "ci_low"] < v < params.loc[k, "ci_high"], k
    assert params.loc["penalizer", "value"].tolist() == [0.0, 0.0]
    n, n_rev, n_margin, n_status, status, n_alias = scores
    assert n == n_rev == n_alias == 2357 and n_margin == 0 and n_status == 1 and costs == 0
    assert status.startswith("purchase model: ok; spend model: ok; margin: no unit costs")


# ---------------------------------------------------------------- the loud stop: most rows would be lost

@pytest.fixture(scope="module")
def cdnow_min_2000_build(cdnow_folder, tmp_path_factory) -> Build:
    # the failing step is the quarantine_share test of base_shop__orders: the build of it and its tests
    return _build(cdnow_folder, tmp_path_factory.mktemp("cdnow_2000"), "-s", "base_shop__orders",
                  "--vars", '{min_plausible_at: "2000-01-01"}', check=False)


def test_quarantining_most_rows_fails_the_build_naming_table_reason_count_and_var(cdnow_min_2000_build):
    proc = cdnow_min_2000_build.proc
    assert proc.returncode != 0
    out = proc.stdout
    line = next((x for x in out.splitlines() if "retail_lift quarantine ERROR" in x), None)
    assert line is not None, out[-3000:]
    assert "table orders" in line
    assert "reason implausible_ordered_at" in line
    assert "6919 of 6919 rows" in line
    assert "min_plausible_at=2000-01-01" in line
    assert "quarantine_error_share" in line
    assert "sample row: order_id=" in line  # one sample row with its raw values
    assert "ERROR" in out and "quarantine_share_base_shop__orders_orders" in out


# ---------------------------------------------------------------- events only (orders derived from purchases)

@pytest.fixture(scope="module")
def events_only_build(tiny_world, tmp_path_factory) -> Build:
    folder = tmp_path_factory.mktemp("events_only") / "in"
    folder.mkdir()
    shutil.copy(tiny_world / "raw" / "events.parquet", folder / "events.parquet")
    return _build(folder, tmp_path_factory.mktemp("events_only_build"))


def test_events_only_build_end_to_end_with_orders_from_purchase_events(events_only_build, tiny_world):
    b = events_only_build
    assert b.proc.returncode == 0
    events = tiny_world / "raw" / "events.parquet"
    with duckdb.connect() as con:
        n_events, n_transactions = con.execute(
            f"select count(*), count(distinct transaction_id) filter (where event_type = 'transaction') "
            f"from read_parquet('{events}')").fetchall()[0]
    assert b.q("select count(*) from staging.stg_shop__events") == [(n_events,)]
    assert b.q("select count(*) from staging.stg_shop__quarantined_rows where source_table = 'events'") == [(0,)]
    # orders, lines, customers and products derived by prepare from the purchase events
    assert b.q("select count(*) from staging.stg_shop__orders") == [(n_transactions,)]
    assert b.q("select count(*) from marts.fct_sessions")[0][0] > 0
    assert b.q("select count(*) from marts.fct_product_journeys")[0][0] > 0
    assert b.q("select count(*) from staging.stg_shop__experiments") == [(0,)]
    _assert_evaluation_empty(b)
    _assert_quality_passes(b)


# ---------------------------------------------------------------- events plus orders with experiments, no truth
# (the tiny world's raw folder without its truth: events, orders, customers, products, experiments, decisions;
# a folder without experiments is covered by the orders-only and events-only builds above)

@pytest.fixture(scope="module")
def experiments_build(tiny_world, tiny_warehouse, tmp_path_factory) -> Build:
    """The tiny world's raw folder without its truth: a copy of the shared build of the same raw folder (with
    truth) where everything downstream of the truth is rebuilt from the empty truth tables (see the module's
    docstring); the raw tables the two warehouses read are checked to be the same."""
    folder = _copy_raw(tiny_world, tmp_path_factory.mktemp("experiments") / "in")
    workdir = tmp_path_factory.mktemp("experiments_build")
    shutil.copyfile(tiny_warehouse, workdir / "warehouse.duckdb")
    # the truth's models, and the load report's (its source_file column names this test's input folder)
    b = _build(folder, workdir, "--full-refresh", "-s", "source:simulation+", "source:shop.load_report+")
    shared_raw = tiny_warehouse.parent / "raw"
    with duckdb.connect() as con:
        names = sorted(f.name for f in b.raw.glob("*.parquet"))
        assert names == sorted(f.name for f in shared_raw.glob("*.parquet")) and "events.parquet" in names
        for name in names:
            cols = "* exclude (source_file)" if name == "_load_report.parquet" else "*"
            x, y = (f"(select {cols} from read_parquet('{raw / name}'))" for raw in (b.raw, shared_raw))
            diff = con.execute(f"select count(*) from ((select * from {x} except all select * from {y}) union all "
                               f"(select * from {y} except all select * from {x}))").fetchall()[0][0]
            assert diff == 0, f"raw {name}: {diff} rows differ from the raw folder of the shared build"
    results = json.loads((workdir / "target" / "run_results.json").read_text())["results"]
    rebuilt = {r["unique_id"].split(".")[-1] for r in results if r["unique_id"].startswith("model.")}
    assert {f"stg_simulation__{t}" for t in ("truth_customers", "truth_exposures", "truth_customer_arms")} \
        | set(EVALUATION_TABLES) | {"stg_shop__load_report", "rpt_quarantine_summary"} <= rebuilt, rebuilt
    return b


def test_experiments_without_truth_build_end_to_end(experiments_build):
    b = experiments_build
    assert b.proc.returncode == 0
    for table in ("staging.stg_shop__experiments", "staging.stg_shop__experiment_assignments",
                  "marts.fct_experiment_exposures", "ml.ml_experiment_results", "ml.ml_uplift_run"):
        assert b.q(f"select count(*) from {table}")[0][0] > 0, table
    _assert_evaluation_empty(b)
    _assert_quality_passes(b)


# ---------------------------------------------------------------- a header-only orders.csv: no rows at all

def test_a_header_only_orders_file_fails_the_build_with_the_no_rows_message(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "orders.csv").write_text("order_id,customer_id,ordered_at,amount\n")
    # the failing step is the singular test test_shop_input_has_rows: the build of it and of what it reads
    b = _build(folder, tmp_path / "build", "-s", "+test_shop_input_has_rows", check=False)
    assert b.proc.returncode != 0
    out = b.proc.stdout
    assert "retail_lift: no rows: neither stg_shop__events nor stg_shop__orders has a clean row" in out
    assert "stg_shop__load_report" in out and "orders: converted, row_count 0" in out
    assert "FAIL 1 test_shop_input_has_rows" in out


# ---------------------------------------------------------------- between the thresholds: a warning, the build goes on

def test_a_small_quarantined_share_warns_and_the_build_goes_on(cdnow_folder, tmp_path):
    # 158 of the 6,919 orders (2.3 %) fall before 1997-01-08: above quarantine_warn_share (1 %), below the error share
    b = _build(cdnow_folder, tmp_path, "-s", "base_shop__orders", "--vars", '{min_plausible_at: "1997-01-08"}')
    assert b.proc.returncode == 0
    out = b.proc.stdout
    line = next((x for x in out.splitlines() if "retail_lift quarantine WARNING" in x), None)
    assert line is not None, out[-3000:]
    assert "table orders, reason implausible_ordered_at: 158 of 6919 rows (2.28 %" in line
    assert "quarantine_warn_share=0.01" in line and "min_plausible_at=1997-01-08" in line
    assert "WARN 1 quarantine_share_base_shop__orders_orders" in out


# ---------------------------------------------------------------- far from the data's own span: a warning, kept

def test_a_timestamp_far_from_the_bulk_is_a_warning_not_a_quarantine(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    text = CDNOW.read_text()
    (folder / "orders.csv").write_text(text + "6920,4,1975-06-01,10.00\n")  # a plausible date, 21 years early
    b = _build(folder, tmp_path / "build", "-s", "+stg_shop__orders", "--indirect-selection", "cautious")
    assert b.proc.returncode == 0
    assert b.q("select count(*) from staging.stg_shop__orders") == [(6920,)]  # kept, not quarantined
    out = b.proc.stdout
    line = next((x for x in out.splitlines() if "retail_lift time outliers" in x), None)
    assert line is not None, out[-3000:]
    assert "1 rows of" in line and "ordered_at (from 1975-06-01 00:00:00 to 1975-06-01 00:00:00)" in line
    assert "var time_outlier_gap_days=365" in line and "1st to 99th percentile: 1997-01-0" in line
    assert "WARN 1 time_outliers_stg_shop__orders_ordered_at" in out
