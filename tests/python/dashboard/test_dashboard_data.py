"""The dashboard's data helpers on small hand-made inputs (no warehouse)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from retail_lift.dashboard.data import (
    SnapshotNotFoundError,
    arm_mix_shares,
    experiment_overview,
    frontier_points,
    open_snapshot,
    plan_mix,
    plan_point,
    resolve_snapshot_dir,
    target_list_csv,
)
from retail_lift.dashboard.snapshot import build_info


def _fake_snapshot(folder, snapshot_id="s1"):
    folder.mkdir(parents=True)
    pd.DataFrame({"x": [1, 2]}).to_parquet(folder / "t.parquet")
    manifest = {"snapshot_id": snapshot_id, "tables": {"t": {"file": "t.parquet", "rows": 2}},
                "missing": {"u": "marts.u not in the warehouse"}}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_snapshot_location_root_link_folder_and_env(tmp_path, monkeypatch):
    root = tmp_path / "snap"
    with pytest.raises(SnapshotNotFoundError, match="retail-lift publish-snapshot"):
        resolve_snapshot_dir(root)
    _fake_snapshot(root / "s1")
    (root / "current").symlink_to("s1")
    assert resolve_snapshot_dir(root) == (root / "s1").resolve()  # the root, through `current`
    assert resolve_snapshot_dir(root / "s1") == (root / "s1").resolve()  # one snapshot folder
    monkeypatch.setenv("RETAIL_LIFT_SNAPSHOT", str(root))
    snap = open_snapshot()
    assert snap.snapshot_id == "s1" and snap.row_count("t") == 2 and snap.table("t")["x"].tolist() == [1, 2]
    assert snap.table("u") is None and snap.missing_reason("u") == \
        "No `u` data in this snapshot: marts.u not in the warehouse."
    assert "predates it" in snap.missing_reason("v")


def test_arm_mix_shares_by_iso_week():
    daily = pd.DataFrame({
        "decision_date": pd.to_datetime(["2026-03-02", "2026-03-08", "2026-03-08", "2026-03-09"]),  # Mon, Sun, Sun, Mon
        "policy_id": "p",
        "promotion_id": ["a", "a", "b", "b"],
        "decisions": [1, 2, 1, 4],
    })
    weekly = arm_mix_shares(daily)
    assert weekly["period_start"].dt.day_of_week.eq(0).all()  # weeks start on Monday
    first = weekly[weekly["period_start"] == pd.Timestamp("2026-03-02")].set_index("promotion_id")
    assert first["decisions"].to_dict() == {"a": 3, "b": 1}
    assert first["share"].to_dict() == {"a": 0.75, "b": 0.25}
    second = weekly[weekly["period_start"] == pd.Timestamp("2026-03-09")]
    assert second[["promotion_id", "share"]].values.tolist() == [["b", 1.0]]
    assert len(arm_mix_shares(daily, freq="D")) == 4


def test_experiment_overview_counts_verdicts_and_srm():
    results = pd.DataFrame({
        "experiment_id": ["e1", "e1", "e1", "e2"],
        "variant": ["a", "b", "a", "c"],
        "metric_name": ["cr", "cr", "rev", "cr"],
        "decision": ["ship", "keep running", "ship", "invalid: SRM"],
        "is_srm": [False, False, False, True],
        "control_users": [100, 100, 100, 50],
        "is_significant": [True, False, True, False],
    })
    overview = experiment_overview(results).set_index("experiment_id")
    assert overview.loc["e1", "variants"] == 2 and overview.loc["e1", "metrics"] == 2
    assert overview.loc["e1", "verdicts"] == "keep running, ship"
    assert overview.loc["e1", "significant_results"] == 2
    assert bool(overview.loc["e2", "is_srm"]) and not bool(overview.loc["e1", "is_srm"])
    assert experiment_overview(results.iloc[0:0]).empty


def test_target_list_csv_keeps_rows_and_columns():
    targets = pd.DataFrame({"customer_id": ["C2", "C1"], "rank": [1, 2], "expected_profit": [3.5, 1.25]})
    assert target_list_csv(targets) == b"customer_id,rank,expected_profit\nC2,1,3.5\nC1,2,1.25\n"


def test_build_info_from_run_results(tmp_path):
    assert build_info(None) is None and build_info(tmp_path / "absent.json") is None
    path = tmp_path / "run_results.json"
    path.write_text(json.dumps({
        "metadata": {"dbt_version": "1.11.0", "generated_at": "2026-11-28T04:09:39Z", "invocation_id": "x"},
        "elapsed_time": 93.7, "args": {"which": "build"},
        "results": [{"status": "pass"}, {"status": "success"}, {"status": "pass"}, {"status": "error"}],
    }))
    info = build_info(path)
    assert info["command"] == "build" and info["elapsed_seconds"] == 93.7
    assert info["results_by_status"] == {"error": 1, "pass": 2, "success": 1}


def test_dashboard_command_without_a_snapshot_says_what_to_do(tmp_path):
    from click.testing import CliRunner

    from retail_lift.cli import main

    result = CliRunner().invoke(main, ["dashboard", "--snapshot", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "no dashboard snapshot" in result.output and "Traceback" not in result.output


def _frontier(plan_budget_point: int | None) -> pd.DataFrame:
    rows = []
    for point, budget, mix in ((0, 1.0, {"a": (1, 2.0)}), (1, 5.0, {"a": (3, 5.0), "b": (1, 1.0)}),
                               (2, 9.0, {"a": (2, 4.0), "b": (4, 6.0)})):
        for q in ("a", "b"):
            n, margin = mix.get(q, (0, 0.0))
            rows.append({"plan_id": "p", "point": point, "budget": budget, "is_plan_budget": point == plan_budget_point,
                         "promotion_id": q, "channel": "email", "planned_customers": n,
                         "expected_incremental_margin": margin, "expected_cost": n * 0.5,
                         "total_customers": sum(v[0] for v in mix.values()),
                         "total_expected_incremental_margin": sum(v[1] for v in mix.values()),
                         "total_expected_cost": sum(v[0] for v in mix.values()) * 0.5, "upper_bound": 99.0,
                         "gap": 0.0, "method": "milp"})
    return pd.DataFrame(rows)


def test_frontier_points_the_plan_point_and_the_mix():
    frontier = _frontier(1)
    points = frontier_points(frontier)
    assert points["point"].tolist() == [0, 1, 2] and points["total_customers"].tolist() == [1, 4, 6]
    assert plan_point(points) == 1
    assert plan_point(frontier_points(_frontier(None))) == 2  # none marked: the last
    mix = plan_mix(frontier, 0)  # a promotion with no customer at that budget is not in the mix
    assert mix["promotion_id"].tolist() == ["a"] and mix["share_of_customers"].tolist() == [1.0]
    mix = plan_mix(frontier, 2)  # most customers first, shares of the point's customers and margin
    assert mix["promotion_id"].tolist() == ["b", "a"]
    assert mix["share_of_customers"].tolist() == pytest.approx([4 / 6, 2 / 6])
    assert mix["share_of_margin"].tolist() == pytest.approx([0.6, 0.4])
    assert frontier_points(frontier.iloc[0:0]).empty
