"""publish_snapshot: complete (manifest = warehouse), atomic (readers only ever see whole snapshots),
short-lived on the warehouse (never holds it afterwards), and clear when something is missing."""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from helpers import warehouse_held_by_another_process

from retail_lift.cli import export_campaign_targets, main
from retail_lift.dashboard.data import open_snapshot, resolve_snapshot_dir, target_list_csv
from retail_lift.dashboard.snapshot import (
    CURRENT,
    MANIFEST,
    PLAN_SAMPLE_CUSTOMERS,
    QINI_GRID_POINTS,
    SNAPSHOT_TABLES,
    SnapshotError,
    publish_snapshot,
)
from retail_lift.warehouse import check_not_locked, read_only

pytestmark = pytest.mark.dbt

# snapshot tables that are the source relation as it is (same rows)
COPIES = {
    "experiment_results": "ml.ml_experiment_results",
    "experiment_decisions": "ml.ml_experiment_decisions",
    "experiment_srm": "marts.fct_experiment_srm",
    "funnel": "marts.fct_product_funnel",
    "step_funnel": "marts.fct_funnel",
    "cohort_retention": "marts.rpt_cohort_retention",
    "rfm_segments": "marts.rpt_rfm_segments",
    "uplift_segments": "ml.ml_uplift_segments",
    "uplift_metrics": "ml.ml_uplift_metrics",
    "uplift_incremental_roi": "ml.ml_uplift_incremental_roi",
    "bandit_policy_gate": "marts.rpt_bandit_policy_gate",
    "bandit_policy_evaluation": "ml.ml_bandit_policy_evaluation",
    "bandit_holdout_arm_mix": "marts.rpt_bandit_holdout_arm_mix",
    "bandit_published_policy": "ml.ml_bandit_published_policy",
    "fairness": "ml.ml_purchase_propensity_fairness",
    "plan_frontier": "ml.ml_promotion_plan_frontier",
    "plan_promotions": "ml.ml_promotion_plan_promotions",
}


def _count(con, sql: str) -> int:
    return con.execute(sql).fetchone()[0]


def test_manifest_lists_every_table_with_the_warehouse_row_counts(tiny_warehouse, tiny_snapshot):
    snap = open_snapshot(tiny_snapshot)
    m = snap.manifest
    assert m["missing"] == {}
    assert list(m["tables"]) == [t.name for t in SNAPSHOT_TABLES]
    assert set(COPIES) < set(m["tables"])
    # the manifest's row counts are the files' row counts
    for name, entry in m["tables"].items():
        assert pq.ParquetFile(snap.path / entry["file"]).metadata.num_rows == entry["rows"], name
    with read_only(tiny_warehouse) as con:
        for name, relation in COPIES.items():
            assert m["tables"][name]["rows"] == _count(con, f"select count(*) from {relation}"), name
        assert snap.table("rfm_grid")["customers"].sum() == _count(con, "select count(*) from marts.dim_customer_rfm")
        mix = snap.table("decision_arm_mix_daily")
        assert mix["decisions"].sum() == _count(con, "select count(*) from marts.fct_decision_ledger")
        assert mix["conversions"].sum() == _count(con, "select count_if(is_converted) from marts.fct_decision_ledger")
        assert m["tables"]["campaign_targets"]["rows"] == _count(
            con, "select count(*) from ml.ml_campaign_target_list where status = 'selected'")
        assert snap.table("campaign_target_summary")["customers"].sum() == _count(
            con, "select count(*) from ml.ml_campaign_target_list")
        planned = con.execute("select promotion_id, count(*) from ml.ml_promotion_plan where promotion_id is not null "
                              "group by all").fetchall()
        sample = snap.table("plan_sample_customers")  # the plan's largest expected margins, per promotion
        assert sample["promotion_id"].value_counts().to_dict() == {q: min(n, PLAN_SAMPLE_CUSTOMERS) for q, n in planned}
        best = _count(con, "select max(expected_incremental_margin) from ml.ml_promotion_plan")
        assert sample["expected_incremental_margin"].max() == best and sample["reasons"].notna().all()
        arms = _count(con, "select count(distinct promotion_id) from ml.ml_uplift_holdout_predictions")
        assert m["tables"]["uplift_qini"]["rows"] == QINI_GRID_POINTS * arms
        warehouse_results = con.execute("select * from ml.ml_experiment_results "
                                        "order by experiment_id, metric_name, variant").df()
    assert arms > 0 and len(warehouse_results) > 0
    pd.testing.assert_frame_equal(snap.table("experiment_results"), warehouse_results, check_dtype=False)
    # the dbt build the snapshot was published after
    build = m["build"]
    assert build["command"] == "build" and build["results_by_status"].get("error", 0) == 0
    assert sum(build["results_by_status"].values()) > 0


def test_qini_curves_end_where_the_holdout_says(tiny_warehouse, tiny_snapshot):
    """At 100 % targeted, the model's Qini value is the holdout's treated conversions minus the control
    conversions scaled to the treated count, computed here directly in SQL."""
    qini = open_snapshot(tiny_snapshot).table("uplift_qini")
    with read_only(tiny_warehouse) as con:
        expected = con.execute("""
            select promotion_id,
                   count_if(is_treated and is_converted)
                   - count_if(not is_treated and is_converted) * count_if(is_treated) / count_if(not is_treated),
                   count(*)
            from ml.ml_uplift_holdout_predictions group by promotion_id order by promotion_id""").fetchall()
    ends = qini[qini["share_targeted"] == 1.0].sort_values("promotion_id")
    assert ends["promotion_id"].tolist() == [r[0] for r in expected]
    for (_, row), (_, q_all, n) in zip(ends.iterrows(), expected, strict=True):
        assert row["model_qini"] == pytest.approx(q_all)
        assert row["random_qini"] == pytest.approx(q_all)
        assert row["holdout_exposures"] == n
        assert row["perfect_qini"] >= row["model_qini"] - 1e-9
    starts = qini[qini["share_targeted"] == 0.0]
    assert (starts[["model_qini", "perfect_qini", "random_qini"]] == 0).all().all()


def test_target_list_download_is_what_export_targets_writes(tiny_warehouse, tiny_snapshot, tmp_path):
    exported = export_campaign_targets(tiny_warehouse, tmp_path / "targets.csv")
    csv = target_list_csv(open_snapshot(tiny_snapshot).table("campaign_targets"))
    assert csv.count(b"\n") > 1
    assert csv == exported.read_bytes()


def test_publish_does_not_hold_the_warehouse_open(tiny_warehouse, tmp_path):
    # a copy: the shared tiny build is never opened for writing
    db = tmp_path / "warehouse.duckdb"
    shutil.copyfile(tiny_warehouse, db)
    manifest = publish_snapshot(db, tmp_path / "snap")
    assert manifest["warehouse_open_seconds"] < manifest["publish_seconds"]
    check_not_locked(db)  # raises if any process (this one included) still holds it
    duckdb.connect(str(db)).close()  # a writer (the next dbt build) can open it


def test_publish_fails_clearly_while_a_writer_holds_the_warehouse(tmp_path):
    db = tmp_path / "wh.duckdb"
    duckdb.connect(str(db)).close()
    with warehouse_held_by_another_process(db, tmp_path):
        with pytest.raises(SnapshotError, match="publish the snapshot after it ends"):
            publish_snapshot(db, tmp_path / "snap")
    assert not (tmp_path / "snap" / CURRENT).exists()
    assert list((tmp_path / "snap").iterdir()) == []  # no half-written folder left behind


def test_a_failed_publish_leaves_the_current_snapshot_alone(tiny_warehouse, tmp_path):
    root = tmp_path / "snap"
    first = publish_snapshot(tiny_warehouse, root)

    def boom(_frame):
        raise RuntimeError("disk full")

    broken = tuple(dataclasses.replace(t, transform=boom) if t.name == "uplift_qini" else t for t in SNAPSHOT_TABLES)
    with pytest.raises(RuntimeError, match="disk full"):
        publish_snapshot(tiny_warehouse, root, tables=broken)
    assert resolve_snapshot_dir(root).name == first["snapshot_id"]
    assert sorted(p.name for p in root.iterdir()) == sorted([CURRENT, first["snapshot_id"]])


def test_readers_only_ever_see_complete_snapshots(tiny_warehouse, tmp_path):
    """A reader polling `current` while snapshots are published sees a manifest whose every file exists
    with the row count it states; the previous snapshot is kept for readers still on it, older ones go."""
    root = tmp_path / "snap"
    ids = [publish_snapshot(tiny_warehouse, root)["snapshot_id"]]
    seen, errors, stop = set(), [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                snap = open_snapshot(root)
                for entry in snap.tables.values():
                    n = pq.ParquetFile(snap.path / entry["file"]).metadata.num_rows
                    assert n == entry["rows"], (snap.snapshot_id, entry["file"])
                seen.add(snap.snapshot_id)
            except FileNotFoundError as e:
                # only possible if a snapshot is removed while being read: the one just replaced is kept
                errors.append(repr(e))
            except AssertionError as e:
                errors.append(repr(e))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(3):
            ids.append(publish_snapshot(tiny_warehouse, root)["snapshot_id"])
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert seen and seen <= set(ids)
    assert resolve_snapshot_dir(root).name == ids[-1]
    assert sorted(p.name for p in root.iterdir()) == sorted([CURRENT, ids[-2], ids[-1]])
    assert not list(root.glob(".*"))


def test_missing_sources_are_listed_with_the_reason(tiny_warehouse, tmp_path):
    orders_only = tuple(dataclasses.replace(t, sources=("marts.fct_funnel_absent",))
                        if t.name == "funnel" else t for t in SNAPSHOT_TABLES)
    manifest = publish_snapshot(tiny_warehouse, tmp_path / "snap", tables=orders_only)
    assert manifest["missing"] == {"funnel": "marts.fct_funnel_absent not in the warehouse"}
    snap = open_snapshot(tmp_path / "snap")
    assert not snap.has("funnel") and snap.table("funnel") is None
    assert "fct_funnel_absent not in the warehouse" in snap.missing_reason("funnel")
    assert snap.has("experiment_results")


def test_cli_publishes_and_reports(tiny_warehouse, tmp_path):
    out = tmp_path / "snap"
    run_results = tiny_warehouse.parent / "target" / "run_results.json"
    result = CliRunner().invoke(main, ["publish-snapshot", "--warehouse", str(tiny_warehouse), "--out", str(out),
                                       "--run-results", str(run_results)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / CURRENT / MANIFEST).read_text())
    assert f"published snapshot {out / manifest['snapshot_id']}" in result.output
    assert manifest["build"]["run_results"] == str(run_results.resolve())

    missing = CliRunner().invoke(main, ["publish-snapshot", "--warehouse", str(tmp_path / "nope.duckdb"),
                                        "--out", str(out)])
    assert missing.exit_code == 2 and "no warehouse at" in missing.output and "Traceback" not in missing.output
