"""The Streamlit dashboard (dashboard/app.py) under Streamlit's AppTest, on the tiny warehouse's snapshot:
every tab renders its key elements with the snapshot's values, the download carries the target list,
and missing tables or a missing snapshot give a message instead of an exception."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from retail_lift.dashboard.data import open_snapshot, target_list_csv
from retail_lift.dashboard.snapshot import SNAPSHOT_TABLES, publish_snapshot

pytestmark = pytest.mark.dbt

APP = Path(__file__).resolve().parents[3] / "dashboard" / "app.py"

TABS = ["Experiments", "Funnel", "Cohorts", "RFM segments", "Uplift", "Bandit", "Fairness", "Campaign targets",
        "Promotion plan"]


def _run(monkeypatch, snapshot_root) -> AppTest:
    monkeypatch.setenv("RETAIL_LIFT_SNAPSHOT", str(snapshot_root))
    return AppTest.from_file(str(APP), default_timeout=120).run()


def _tab(at: AppTest, label: str):
    return next(t for t in at.tabs if t.label == label)


def _metrics(block) -> dict[str, str]:
    return {m.label: m.value for m in block.metric}


def _charts(block) -> list[tuple[dict, list[pd.DataFrame]]]:
    """(Vega-Lite spec, its datasets as DataFrames) of every chart in the block."""
    out = []
    for el in block.get("vega_lite_chart"):
        frames = [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in el.proto.datasets]
        out.append((json.loads(el.proto.spec), frames))
    return out


def _fields(spec) -> set[str]:
    found = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("field"), str):
                found.add(node["field"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    return found


@pytest.fixture(scope="module")
def app(tiny_snapshot):
    with pytest.MonkeyPatch.context() as mp:
        downloads = []
        original = MediaFileManager.add

        def add(self, path_or_data, mimetype, coordinates, file_name=None, is_for_static_download=False):
            downloads.append({"data": path_or_data, "mimetype": mimetype, "file_name": file_name})
            return original(self, path_or_data, mimetype, coordinates, file_name, is_for_static_download)

        mp.setattr(MediaFileManager, "add", add)
        at = _run(mp, tiny_snapshot)
        at.downloads = downloads
        yield at


def test_app_runs_without_exceptions_and_has_every_tab(app, tiny_snapshot):
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert [t.label for t in app.tabs] == TABS
    snap = open_snapshot(tiny_snapshot)
    assert snap.snapshot_id in app.caption[0].value
    for label in TABS:
        assert len(_tab(app, label).header) == 1, label


def test_experiments_tab(app, tiny_snapshot):
    results = open_snapshot(tiny_snapshot).table("experiment_results")
    tab = _tab(app, "Experiments")
    metrics = _metrics(tab)
    assert metrics["Experiments"] == str(results["experiment_id"].nunique())
    decisions = open_snapshot(tiny_snapshot).table("experiment_decisions")
    assert metrics["Ship decisions"] == str(int((decisions["decision"] == "ship").sum()))
    shown = tab.dataframe[0].value  # one decision per experiment x variant, with its reason
    assert sorted(zip(shown["experiment_id"], shown["variant"], shown["decision"], shown["decision_reason"],
                      strict=True)) == sorted(zip(decisions["experiment_id"], decisions["variant"],
                                                  decisions["decision"], decisions["decision_reason"], strict=True))
    first = sorted(results["experiment_id"].unique())[0]
    assert app.selectbox(key="experiment").value == first
    lines = [m.value for m in tab.markdown if m.value.startswith("**")]
    assert len(lines) == int((decisions["experiment_id"] == first).sum())
    verdicts = tab.dataframe[1].value
    expected = results[results["experiment_id"] == first]
    metric_defs = open_snapshot(tiny_snapshot).table("experiment_metrics")  # labels from the definitions file
    labels = dict(zip(metric_defs["metric_name"], metric_defs["label"], strict=True))
    assert set(expected["metric_name"]) <= set(labels)
    assert sorted(zip(verdicts["variant"], verdicts["metric_name"], verdicts["decision"], strict=True)) == \
        sorted(zip(expected["variant"], expected["metric_name"].map(labels), expected["decision"], strict=True))
    shown_defs = [d.value for d in tab.dataframe if "winsorize_percentile" in d.value.columns]
    assert len(shown_defs) == 1 and sorted(shown_defs[0]["label"]) == sorted(labels.values())  # the definitions
    (spec, frames), = _charts(tab)
    assert {"relative_lift", "relative_lift_ci_low", "relative_lift_ci_high", "decision"} <= _fields(spec)
    assert len(frames[0]) == len(expected)


def test_choosing_another_experiment_shows_its_verdicts(app, tiny_snapshot):
    results = open_snapshot(tiny_snapshot).table("experiment_results")
    last = sorted(results["experiment_id"].unique())[-1]
    app.selectbox(key="experiment").select(last).run()
    verdicts = _tab(app, "Experiments").dataframe[1].value
    assert set(verdicts["decision"]) == set(results.loc[results["experiment_id"] == last, "decision"])
    assert len(verdicts) == int((results["experiment_id"] == last).sum())
    assert not app.exception


def test_funnel_tab(app, tiny_snapshot):
    funnel = open_snapshot(tiny_snapshot).table("funnel")
    overall = funnel[funnel["funnel_date"].isna() & (funnel["breakdown"] == "overall")].iloc[0]
    tab = _tab(app, "Funnel")
    assert _metrics(tab)["Journeys viewed"] == f"{int(overall['journeys_viewed']):,}"
    assert _metrics(tab)["View → purchase"] == f"{overall['view_to_purchase_rate']:.1%}"
    charts = _charts(tab)
    bars = next(frames[0] for spec, frames in charts if "journeys" in _fields(spec))
    devices = funnel[funnel["funnel_date"].isna() & (funnel["breakdown"] == "device")]
    assert bars["journeys"].sum() == devices[["journeys_viewed", "journeys_carted", "journeys_purchased"]].sum().sum()
    steps = open_snapshot(tiny_snapshot).table("step_funnel")
    overall_steps = steps[steps["funnel_date"].isna() & (steps["breakdown"] == "overall")]
    session_bars = next(frames[0] for spec, frames in charts if "sessions_reached" in _fields(spec))
    assert list(session_bars["sessions_reached"]) == list(overall_steps.sort_values("step_number")["sessions_reached"])
    assert session_bars["sessions_reached"].iloc[0] > 0


def test_cohort_tab_draws_the_heatmap(app, tiny_snapshot):
    cohorts = open_snapshot(tiny_snapshot).table("cohort_retention")
    (spec, frames), = _charts(_tab(app, "Cohorts"))
    marks = [layer["mark"]["type"] for layer in spec.get("layer", [spec])]
    assert marks[0] == "rect" and "retention_rate" in _fields(spec)
    shown = cohorts[(cohorts["cohort_type"] == "first_purchase") & (cohorts["period_grain"] == "month")]
    assert len(frames[0]) == len(shown) > 0
    assert frames[0]["retention_rate"].sum() == pytest.approx(shown["retention_rate"].sum())


def test_rfm_tab(app, tiny_snapshot):
    rfm = open_snapshot(tiny_snapshot).table("rfm_segments")
    tab = _tab(app, "RFM segments")
    assert _metrics(tab)["Customers with orders"] == f"{int(rfm['customers'].sum()):,}"
    assert len(_charts(tab)) == 2
    assert sorted(tab.dataframe[0].value["segment"]) == sorted(rfm["segment"])


def test_uplift_tab(app, tiny_snapshot):
    snap = open_snapshot(tiny_snapshot)
    qini, segments = snap.table("uplift_qini"), snap.table("uplift_segments")
    tab = _tab(app, "Uplift")
    arms = sorted(qini["promotion_id"].unique())
    assert app.selectbox(key="uplift_arm").options == arms
    curve = next(frames[0] for spec, frames in _charts(tab) if "incremental_conversions" in _fields(spec))
    assert len(curve) == 3 * len(qini[qini["promotion_id"] == arms[0]])
    persuadables = tab.dataframe[0].value
    expected = segments[segments["segment"] == "persuadable"]
    assert dict(zip(persuadables["promotion_id"], persuadables["customers"], strict=True)) == \
        dict(zip(expected["promotion_id"], expected["customers"], strict=True))


def test_bandit_tab(app, tiny_snapshot):
    snap = open_snapshot(tiny_snapshot)
    published, daily = snap.table("bandit_published_policy"), snap.table("decision_arm_mix_daily")
    active = published[published["is_active"]].iloc[0]
    tab = _tab(app, "Bandit")
    metrics = _metrics(tab)
    assert metrics["Active policy"] == f"{active['policy_id']} {active['version']}"
    assert metrics["Gate verdict"] == active["gate_verdict"]
    mix = next(frames[0] for spec, frames in _charts(tab) if "period_start" in _fields(spec))
    assert mix["decisions"].sum() == daily["decisions"].sum()
    assert set(mix["promotion_id"]) == set(daily["promotion_id"])
    gate = tab.dataframe[0].value
    assert gate["gate_verdict"].tolist() == snap.table("bandit_policy_gate")["gate_verdict"].tolist()


def test_fairness_tab(app, tiny_snapshot):
    fair = open_snapshot(tiny_snapshot).table("fairness")
    tab = _tab(app, "Fairness")
    summary = tab.dataframe[0].value
    expected = fair.groupby("attribute")["demographic_parity_difference"].first()
    assert summary.set_index("attribute")["demographic_parity_difference"].to_dict() == pytest.approx(
        expected.to_dict())
    # the gaps' bootstrap intervals and statuses are in the summary; a "too few" gap is said in words
    for column in ("demographic_parity_status", "demographic_parity_ci_lower", "demographic_parity_ci_upper",
                   "equal_opportunity_status", "equal_opportunity_ci_lower", "equal_opportunity_ci_upper"):
        pd.testing.assert_series_equal(summary.set_index("attribute")[column].sort_index(),
                                       fair.groupby("attribute")[column].first().sort_index(),
                                       check_names=False, check_dtype=False)
    too_few = (fair["demographic_parity_status"] == "too few") | (fair["equal_opportunity_status"] == "too few")
    assert any(i.value.startswith("Too few customers") for i in tab.info) == bool(too_few.any())
    flagged = sorted(fair.loc[fair["is_parity_gap_flagged"] | fair["is_opportunity_gap_flagged"], "attribute"].unique())
    if flagged:
        assert tab.warning[0].value.endswith(", ".join(flagged))
    else:
        assert tab.success
    charts = _charts(tab)
    compared = fair[fair["is_compared"]]
    assert len(charts) == compared["attribute"].nunique()
    assert sum(len(frames[0]) for _, frames in charts) == 2 * len(compared)  # selection rate and TPR per group


def test_campaign_download_carries_the_target_list(app, tiny_snapshot):
    targets = open_snapshot(tiny_snapshot).table("campaign_targets")
    tab = _tab(app, "Campaign targets")
    assert _metrics(tab)["Selected customers"] == f"{len(targets):,}"
    button = tab.get("download_button")[0]
    assert f"{len(targets):,} customers" in button.proto.label
    csv_downloads = [d for d in app.downloads if d["mimetype"] == "text/csv"]
    assert csv_downloads, "the download button registered no file"
    got = csv_downloads[-1]
    assert got["data"] == target_list_csv(targets)
    assert got["file_name"].startswith("campaign_target_list") and got["file_name"].endswith(".csv")
    header, *rows = got["data"].decode().splitlines()
    assert header.split(",")[:2] == ["customer_id", "rank"] and len(rows) == len(targets)


def test_promotion_plan_tab_opens_at_the_plans_budget(app, tiny_snapshot):
    snap = open_snapshot(tiny_snapshot)
    frontier, sample = snap.table("plan_frontier"), snap.table("plan_sample_customers")
    points = frontier.drop_duplicates("point").sort_values("point")
    plan = points[points["is_plan_budget"]].iloc[0]
    slider = app.select_slider(key="plan_budget")
    assert slider.value == plan["point"] and len(slider.options) == len(points)
    assert slider.options[int(plan["point"])].endswith("(the plan's)")
    tab = _tab(app, "Promotion plan")
    metrics = _metrics(tab)
    assert metrics["Budget"] == f"{plan['budget']:,.2f}"
    assert metrics["Expected incremental margin"] == f"{plan['total_expected_incremental_margin']:,.2f}"
    assert metrics["Customers with a promotion"] == f"{int(plan['total_customers']):,}"
    shown = next(frames[0] for spec, frames in _charts(tab) if "total_expected_incremental_margin" in _fields(spec))
    assert len(shown) == len(points) and shown["chosen"].sum() == 1
    assert shown.loc[shown["chosen"], "point"].iloc[0] == plan["point"]
    mix = tab.dataframe[0].value  # the mix at the plan's budget: the frontier's rows with customers
    at = frontier[(frontier["point"] == plan["point"]) & (frontier["planned_customers"] > 0)]
    assert dict(zip(mix["promotion_id"], mix["planned_customers"], strict=True)) == \
        dict(zip(at["promotion_id"], at["planned_customers"], strict=True))
    # the sample customer: one of the mix's first promotion, with the stored plan's reasons
    promotion = app.selectbox(key="plan_promotion").value
    customer = app.selectbox(key="plan_customer").value
    assert promotion == mix["promotion_id"].iloc[0]
    row = sample[(sample["promotion_id"] == promotion) & (sample["customer_id"] == customer)].iloc[0]
    assert tab.code[0].value == row["reasons"]
    assert "this budget is the plan's" in tab.caption[-1].value


def test_moving_the_budget_slider_redraws_the_mix_and_says_whose_reasons_they_are(app, tiny_snapshot):
    frontier = open_snapshot(tiny_snapshot).table("plan_frontier")
    points = frontier.drop_duplicates("point").sort_values("point")
    low = points[~points["is_plan_budget"] & (points["total_customers"] > 1)].iloc[0]
    app.select_slider(key="plan_budget").set_value(int(low["point"])).run()
    assert not app.exception
    tab = _tab(app, "Promotion plan")
    assert _metrics(tab)["Expected incremental margin"] == f"{low['total_expected_incremental_margin']:,.2f}"
    at = frontier[(frontier["point"] == low["point"]) & (frontier["planned_customers"] > 0)]
    mix = tab.dataframe[0].value
    assert sorted(mix["promotion_id"]) == sorted(at["promotion_id"])
    assert app.selectbox(key="plan_promotion").value in set(at["promotion_id"])
    assert f"at {low['budget']:,.2f} the solver may give this customer another promotion or none" in \
        tab.caption[-1].value


def test_missing_tables_show_a_message(tiny_warehouse, tmp_path, monkeypatch):
    without = {"experiment_results", "funnel", "step_funnel"}
    tables = tuple(dataclasses.replace(t, sources=(f"ml.{t.name}_not_built",)) if t.name in without else t
                   for t in SNAPSHOT_TABLES)
    publish_snapshot(tiny_warehouse, tmp_path / "snap", tables=tables)
    at = _run(monkeypatch, tmp_path / "snap")
    assert not at.exception, [e.value for e in at.exception]
    for label, name in [("Experiments", "experiment_results"), ("Funnel", "funnel")]:
        tab = _tab(at, label)
        messages = [i.value for i in tab.info]
        assert messages == [f"No `{name}` data in this snapshot: ml.{name}_not_built not in the warehouse."]
        assert not _charts(tab)
    assert _charts(_tab(at, "Cohorts"))  # the rest still renders
    assert _tab(at, "Campaign targets").get("download_button")


def test_empty_tables_show_a_message_on_every_tab(tiny_warehouse, tmp_path, monkeypatch):
    """Data that produces the tables but no rows (e.g. a shop without experiments or web events yet)."""
    empty = tuple(dataclasses.replace(t, sql=f"select * from ({t.sql}) as q limit 0") for t in SNAPSHOT_TABLES)
    manifest = publish_snapshot(tiny_warehouse, tmp_path / "snap", tables=empty)
    assert manifest["missing"] == {} and all(e["rows"] == 0 for e in manifest["tables"].values())
    at = _run(monkeypatch, tmp_path / "snap")
    assert not at.exception, [e.value for e in at.exception]
    for label in TABS:
        tab = _tab(at, label)
        assert tab.info, f"{label}: no message for empty tables"
        assert not _charts(tab), label
    assert not at.get("download_button")


def test_no_snapshot_says_how_to_publish_one(tmp_path, monkeypatch):
    at = _run(monkeypatch, tmp_path / "empty")
    assert not at.exception
    assert "no dashboard snapshot" in at.error[0].value and "make build" in at.error[0].value
    assert not at.tabs
