"""dbt builds of the tiny world, of an orders-only folder and of a RetailRocket log.

The orders-only folder and the RetailRocket log build only the models their assertions read (and their parents and
tests): a whole-warehouse build of each kind of folder is test_byod.py's (the CDNOW orders-only folder and the
events-only folder, each a full `dbt build` and the quality step)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from helpers import PROJECT_DIR, run_dbt

from retail_lift.adapters import convert_retailrocket, prepare_raw

pytestmark = pytest.mark.dbt


def _q(db: Path, sql: str):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_tiny_build_produces_queryable_marts(tiny_warehouse):
    n_sessions, converted = _q(tiny_warehouse, "select count(*), count_if(is_converted) from marts.fct_sessions")[0]
    assert n_sessions > 1000 and 0 < converted < n_sessions
    # every clean event belongs to exactly one session
    assert _q(tiny_warehouse, "select count(*) from staging.stg_shop__events")[0][0] == \
        _q(tiny_warehouse, "select sum(events) from marts.fct_sessions")[0][0]
    n_ltv, n_clv = _q(tiny_warehouse, "select count(*), count(clv_12m) from ml.ml_customer_lifetime_value")[0]
    assert n_ltv > 100 and n_clv == n_ltv
    assert _q(tiny_warehouse, "select count(*) from ml.ml_customer_lifetime_value where clv_revenue_12m = clv_12m "
                              "and clv_margin_12m < clv_revenue_12m")[0][0] == n_ltv
    n_params, n_ci = _q(tiny_warehouse, "select count(*), count(ci_low) from ml.ml_customer_lifetime_value_params")[0]
    assert n_params == 18 and n_ci >= 10
    assert _q(tiny_warehouse, "select count(*) from evaluation.ml_eval_clv_vs_truth")[0][0] == 14
    # generated data is clean: nothing quarantined
    assert _q(tiny_warehouse, "select count(*) from staging.stg_shop__quarantined_rows")[0][0] == 0


def test_dbt_show_inline_reads_a_mart(tiny_warehouse, tmp_path):
    # on a copy: dbt opens its warehouse for writing, and other test processes read the shared build
    shutil.copyfile(tiny_warehouse, tmp_path / "warehouse.duckdb")
    build = tiny_warehouse.parent
    proc = run_dbt(["show", "--inline", "select count(*) as n from {{ ref('fct_sessions') }}", "--output", "json"],
                   build / "raw", build / "truth", tmp_path)
    assert '"n"' in proc.stdout


EVALUATION_PATHS = ("models/staging/simulation/", "models/marts/evaluation/", "python_models/evaluation/")


def test_ground_truth_is_read_only_by_evaluation_models(tiny_warehouse):
    """No model that learns or scores reads the simulated world's truth: only the evaluation layer does."""
    manifest = json.loads((tiny_warehouse.parent / "target" / "manifest.json").read_text())
    children = manifest["child_map"]
    truth_sources = [u for u in manifest["sources"] if manifest["sources"][u]["source_name"] == "simulation"]
    assert truth_sources
    seen, stack = set(), list(truth_sources)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    readers = [manifest["nodes"][u] for u in seen if u.startswith("model.")]
    for node in readers:
        path = node["original_file_path"]
        assert path.startswith(EVALUATION_PATHS), \
            f"{node['name']} ({path}) depends on the ground truth"
    # and no package code that trains or scores opens the truth folder or the truth models (the world
    # generator, the closed-loop simulator and the landing code are the world, not models; lint.py names the
    # truth models to keep every other model away from them; contract_metadata.py writes the truth's dbt source)
    pkg = PROJECT_DIR / "retail_lift"
    exempt = ("contract.py", "contract_metadata.py", "cli.py", "simulate.py", "lint.py")
    for f in pkg.rglob("*.py"):
        if "world" in f.parts or "adapters" in f.parts or f.name in exempt:
            continue
        text = f.read_text()
        for needle in ("RETAIL_LIFT_TRUTH", "stg_simulation", "truth/", "truth_customers.parquet",
                       "truth_exposures.parquet", "truth_customer_arms.parquet"):
            assert needle not in text, f"{f} reads the ground truth ({needle})"


ORDERS_ONLY = """order_id,customer_id,ordered_at,amount
o1,c1,2026-03-01 10:00:00,20.5
o2,c1,2026-03-05 11:00:00,31.0
o3,c2,2026-03-02 09:30:00,12.0
o4,c3,2026-03-09 18:00:00,7.25
o5,c1,2026-04-01 08:00:00,11.0
o6,c2,2026-04-03 12:00:00,15.0
"""


def _build_selected(data_dir: Path, workdir: Path, select: str) -> Path:
    """prepare + `dbt build -s select` (cautious: only the selected models' tests) of a folder without truth."""
    workdir.mkdir(parents=True)
    raw, truth = workdir / "raw", workdir / "truth"
    prepare_raw(data_dir, raw, truth_out=truth, log=lambda *_: None)
    run_dbt(["build", "--indirect-selection", "cautious", "-s", select], raw, truth, workdir)
    return workdir / "warehouse.duckdb"


def test_orders_only_folder_builds_ltv_inputs_and_empty_sessions(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "orders.csv").write_text(ORDERS_ONLY)
    # the whole warehouse on an orders-only folder: test_byod.py::test_orders_from_the_1990s_build_with_nothing_...
    db = _build_selected(src, tmp_path / "build", "+fct_customer_ltv_inputs +fct_sessions")
    assert _q(db, "select count(*) from marts.fct_sessions")[0][0] == 0
    assert _q(db, "select customer_id, frequency, recency, T from marts.fct_customer_ltv_inputs order by 1") == [
        ("c1", 2, 31, 33), ("c2", 1, 32, 32), ("c3", 0, 0, 25)]
    log = (tmp_path / "build" / "logs" / "dbt.log").read_text()
    assert "raw table events is absent from the input" in log


def test_retailrocket_log_builds(tmp_path):
    rr = tmp_path / "rr"
    rr.mkdir()
    lines = ["timestamp,visitorid,event,itemid,transactionid"]
    t0 = 1433221332000
    for v in range(40):
        for k in range(5):
            lines.append(f"{t0 + v * 3_600_000 + k * 60_000},{v},view,{100 + k},")
        if v % 4 == 0:
            lines.append(f"{t0 + v * 3_600_000 + 400_000},{v},addtocart,100,")
            lines.append(f"{t0 + v * 3_600_000 + 500_000},{v},transaction,100,{9000 + v}")
    lines.append("garbage,1,view,5,")
    (rr / "events.csv").write_text("\n".join(lines) + "\n")
    land = tmp_path / "land"
    convert_retailrocket(rr / "events.csv", land, log=lambda *_: None)
    # the whole warehouse on an events-only folder: test_byod.py::test_events_only_build_end_to_end_...
    db = _build_selected(land, tmp_path / "build", "+fct_sessions +stg_shop__orders +stg_shop__quarantined_rows")
    assert _q(db, "select count(*) from marts.fct_sessions")[0][0] == 40
    assert _q(db, "select count(*) from staging.stg_shop__orders")[0][0] == 10  # derived from transactions
    assert _q(db, "select source_table, dq_reason, split_part(raw_values, '; ', 1) "
                  "from staging.stg_shop__quarantined_rows") == [
        ("events", "unparseable_event_at", "event_at=garbage")]
