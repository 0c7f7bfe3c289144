"""The promotion plan's table functions (retail_lift.tables.campaign) on pandas frames: ml_promotion_plan (one row
per scored customer, versioned through a plan store: an unchanged plan is reused with its holdout, replan makes a
new one and keeps the old), ml_promotion_plan_promotions (why a promotion is left out), the assignment log, and
ml_plan_vs_holdout (no outcomes yet; then a known effect injected after planned_at, measured by the experiment
engine and checked against an independent Welch computation); ml_promotion_plan_frontier (its point at the plan's
budget is the plan); each bad input's named message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from retail_lift.campaign.plan import PlanError, PlanStore
from retail_lift.tables.campaign import (
    PLAN_FRONTIER_COLUMNS,
    PLAN_TABLE_COLUMNS,
    PlanVsHoldoutConfig,
    PromotionPlanAssignmentsConfig,
    PromotionPlanConfig,
    PromotionPlanFrontierConfig,
    ml_plan_vs_holdout,
    ml_promotion_plan,
    ml_promotion_plan_assignments,
    ml_promotion_plan_frontier,
    ml_promotion_plan_promotions,
)

CUTOFF = pd.Timestamp("2026-04-06")


def _relations(n: int = 300, seed: int = 0, promotions: pd.DataFrame | None = None) -> dict:
    rng = np.random.default_rng(seed)
    ids = [f"C{i:04d}" for i in range(n)]
    rows = []
    for pid, exp in (("bogo", "exp_a"), ("email_10pct", "exp_a"), ("banner", "exp_b")):
        p0 = rng.uniform(0.05, 0.3, n)
        u = rng.normal(0.06, 0.06, n)
        rows.append(pd.DataFrame({"customer_id": ids, "promotion_id": pid, "experiment_id": exp,
                                  "predicted_uplift": u, "predicted_control_probability": p0,
                                  "predicted_treated_probability": np.clip(p0 + u, 0, 1), "segment": "persuadable"}))
    if promotions is None:
        promotions = pd.DataFrame({
            "promotion_id": ["bogo", "email_10pct", "banner", "popup", "free_shipping", "control"],
            "promotion_name": ["b", "e", "n", "p", "f", "c"],
            "channel": ["email", "email", "banner", "popup", "banner", "none"],
            "discount_rate": [0.3, 0.1, 0.2, 0.0, 0.05, 0.0], "contact_cost": [0.5, 0.05, 0.1, 0.02, 0.1, 0.0],
            "gross_margin_rate": 0.4, "launched_at": pd.Timestamp("2025-01-01")})
    features = pd.DataFrame({"customer_id": ids, "snapshot_role": "score", "avg_order_value": rng.uniform(20, 120, n),
                             "days_since_last_order": rng.integers(1, 90, n).astype(float),
                             "feature_cutoff_at": CUTOFF})
    fatigue = pd.DataFrame({"customer_id": ids[:5], "is_fatigued": [True, True, False, False, True]})
    metrics = pd.DataFrame({"experiment_id": ["exp_c"], "promotion_id": ["popup"], "metric_name": ["status"],
                            "note": ["experiment dropped: sample-ratio mismatch (p = 2e-08 < 0.001)"]})
    srm = pd.DataFrame({"experiment_id": ["exp_a", "exp_a", "exp_a"], "variant": ["control", "bogo", "email_10pct"],
                        "is_control": [True, False, False]})
    return {"ml_customer_uplift": pd.concat(rows, ignore_index=True), "dim_campaign_promotions": promotions,
            "fct_customer_features": features, "ml_campaign_fatigue": fatigue, "ml_uplift_metrics": metrics,
            "fct_experiment_srm": srm}


def test_the_plan_has_one_row_per_scored_customer_and_never_a_left_out_promotion():
    rel = _relations()
    plan = ml_promotion_plan(rel, PromotionPlanConfig(budget=60.0))
    assert list(plan.columns) == list(PLAN_TABLE_COLUMNS) and len(plan) == 300 and plan["customer_id"].is_unique
    assert set(plan["promotion_id"].dropna()) <= {"bogo", "email_10pct", "banner"}
    assert plan["plan_id"].nunique() == 1 and (plan["planned_at"] == CUTOFF).all()
    assert plan["expected_cost"].sum() <= 60.0 + 1e-9
    assert not plan.loc[plan["customer_id"].isin(["C0000", "C0001", "C0004"]), "promotion_id"].notna().any()
    assert plan["reasons"].notna().all()
    planned = plan[plan["promotion_id"].notna()]
    assert planned["reasons"].str.contains(r" for (?:bogo|email_10pct|banner): [+-]\d+\.\d pp, margin").all()


def test_the_promotions_table_says_why_a_promotion_is_left_out():
    rel = _relations()
    rel["ml_promotion_plan"] = ml_promotion_plan(rel)
    status = ml_promotion_plan_promotions(rel).set_index("promotion_id")
    assert len(status) == 6
    assert status.loc[["bogo", "email_10pct", "banner"], "is_included"].all()
    assert status.loc["popup", "reason"] == ("left out: no valid experiment (experiment exp_c: experiment dropped: "
                                             "sample-ratio mismatch (p = 2e-08 < 0.001))")
    assert status.loc["free_shipping", "reason"] == "left out: no valid experiment (no experiment tested it)"
    assert status.loc["control", "reason"] == "left out: the control arm of the experiments, not a promotion"
    planned = rel["ml_promotion_plan"]["promotion_id"].value_counts()
    assert status.loc["bogo", "planned_customers"] == planned.get("bogo", 0)
    assert status.loc["popup", "planned_customers"] == 0


def test_an_unchanged_plan_is_reused_with_its_holdout_and_replan_keeps_the_old_one(tmp_path):
    store = PlanStore(tmp_path / "plans")
    rel = _relations()
    first = ml_promotion_plan(rel, PromotionPlanConfig(budget=60.0), store=store)
    again = ml_promotion_plan(rel, PromotionPlanConfig(budget=60.0), store=store)
    pd.testing.assert_frame_equal(first, again)
    assert len(store.plans()) == 1
    new = ml_promotion_plan(rel, PromotionPlanConfig(budget=60.0, replan=True), store=store)
    assert new["plan_id"].iloc[0] != first["plan_id"].iloc[0]
    assert new["promotion_id"].equals(first["promotion_id"])  # the same inputs: the same allocation ...
    assert not new["is_holdout"].equals(first["is_holdout"])  # ... and a new holdout
    # after a replan, the latest plan of these inputs is the one reused
    assert ml_promotion_plan(rel, PromotionPlanConfig(budget=60.0), store=store)["plan_id"].iloc[0] == \
        new["plan_id"].iloc[0]
    other = ml_promotion_plan(rel, PromotionPlanConfig(budget=30.0), store=store)  # another setting: a new plan
    assert other["plan_id"].iloc[0] not in (first["plan_id"].iloc[0], new["plan_id"].iloc[0])
    assert [m["plan_id"] for m in store.plans()] == [first["plan_id"].iloc[0], new["plan_id"].iloc[0],
                                                     other["plan_id"].iloc[0]]
    pd.testing.assert_frame_equal(store.load(first["plan_id"].iloc[0]), first)
    log = ml_promotion_plan_assignments({"ml_promotion_plan": other}, store=store)
    assert log["plan_id"].nunique() == 3
    assert (log["variant"] == np.where(log["is_control"], "holdout", "treated")).all()
    assert (log["experiment_id"] == "plan:" + log["plan_id"] + ":" + log["promotion_id"]).all()


@pytest.mark.parametrize(("change", "message"), [
    ({"contact_cost": -1.0}, r"stg_shop__promotions\.contact_cost is negative for promotion 'bogo': -1\.0"),
    ({"contact_cost": None}, r"stg_shop__promotions\.contact_cost is missing for promotion 'bogo'"),
    ({"discount_rate": None}, r"stg_shop__promotions\.discount_rate is missing for promotion 'bogo'"),
])
def test_negative_or_missing_costs_stop_the_plan_with_a_named_message(change, message):
    rel = _relations()
    p = rel["dim_campaign_promotions"].astype({k: object for k in change})
    for k, v in change.items():
        p.loc[p["promotion_id"] == "bogo", k] = v
    rel["dim_campaign_promotions"] = p
    with pytest.raises(PlanError, match=message):
        ml_promotion_plan(rel)


def test_a_budget_below_the_cheapest_contact_stops_the_plan_with_a_named_message():
    with pytest.raises(PlanError, match=r"the budget 0\.01 is below the cheapest contact: 0\.05 \(promotion "
                                        r"'email_10pct'"):
        ml_promotion_plan(_relations(), PromotionPlanConfig(budget=0.01))


def test_a_promotion_without_a_valid_experiment_is_left_out_and_logged(caplog):
    rel = _relations()
    with caplog.at_level("INFO"):
        plan = ml_promotion_plan(rel)
    assert "popup" not in set(plan["promotion_id"].dropna())
    assert "left out, no valid experiment: control, free_shipping, popup" in caplog.text


def test_config_parses_vars_given_as_text():
    c = PromotionPlanConfig(budget="500", capacity="{bogo: 10}", channel_limits="None", holdout_share="0.2",
                            replan="true")
    assert (c.budget, c.capacity, c.channel_limits, c.holdout_share, c.replan) == (500.0, {"bogo": 10.0}, None, 0.2,
                                                                                  True)
    with pytest.raises(ValueError, match=r"ml_promotion_plan: holdout_share"):
        PromotionPlanConfig(holdout_share=1.0)
    with pytest.raises(ValueError, match=r"ml_promotion_plan: capacity"):
        PromotionPlanConfig(capacity=[1, 2])


def _orders_with_effect(log: pd.DataFrame, promotion: str, treated_rate: float, holdout_rate: float,
                        amount: float) -> pd.DataFrame:
    """Orders after planned_at: exactly ``round(rate * n)`` of each arm's customers of ``promotion`` order once."""
    g = log[log["promotion_id"] == promotion].sort_values("customer_id")
    rows = []
    for is_control, rate in ((False, treated_rate), (True, holdout_rate)):
        arm = g[g["is_control"] == is_control]
        k = int(round(rate * len(arm)))
        rows.append(pd.DataFrame({"customer_id": arm["customer_id"].iloc[:k].to_numpy(), "amount": amount,
                                  "discount_amount": 0.0, "ordered_at": CUTOFF + pd.Timedelta(days=3)}))
    late = pd.DataFrame({"customer_id": [g["customer_id"].iloc[0]], "amount": [1000.0], "discount_amount": [0.0],
                         "ordered_at": [CUTOFF + pd.Timedelta(days=30)]})  # after the window: not counted
    return pd.concat([*rows, late], ignore_index=True)


def test_plan_vs_holdout_says_no_outcomes_yet_then_measures_an_injected_effect():
    rel = _relations(n=2000, seed=5)
    plan = ml_promotion_plan(rel, PromotionPlanConfig(holdout_share=0.2))
    log = ml_promotion_plan_assignments({"ml_promotion_plan": plan}, PromotionPlanAssignmentsConfig(holdout_share=0.2))
    before = pd.DataFrame({"customer_id": ["C0000"], "amount": [10.0], "discount_amount": [0.0],
                           "ordered_at": [CUTOFF - pd.Timedelta(days=1)]})
    empty = ml_plan_vs_holdout({"ml_promotion_plan_assignments": log, "stg_shop__orders": before})
    assert set(empty["status"]) == {"no outcomes yet"} and empty["ci_low"].isna().all()
    assert len(empty) == log["promotion_id"].nunique()

    promo = log["promotion_id"].value_counts().index[0]
    orders = pd.concat([before, _orders_with_effect(log, promo, 0.5, 0.2, 100.0)], ignore_index=True)
    res = ml_plan_vs_holdout({"ml_promotion_plan_assignments": log, "stg_shop__orders": orders},
                             PlanVsHoldoutConfig(window_days=14, alpha=0.1)).set_index("promotion_id")
    r = res.loc[promo]
    assert r["status"] == "measured" and r["interval_level"] == pytest.approx(0.9)
    # the known effect: the margin of the injected orders minus the contact cost of the treated
    g = log[log["promotion_id"] == promo]
    n_t, n_h = int((~g["is_control"]).sum()), int(g["is_control"].sum())
    k_t, k_h = int(round(0.5 * n_t)), int(round(0.2 * n_h))
    m, c = float(g["margin_rate"].iloc[0]), float(g["contact_cost"].iloc[0])
    effect = (k_t / n_t - k_h / n_h) * 100 * m - c
    assert r["incremental_margin_per_customer"] == pytest.approx(effect)
    assert r["ci_low"] < effect < r["ci_high"]
    assert r["realised_incremental_margin"] == pytest.approx(effect * n_t)
    # the interval is Welch's, computed here independently from the per-customer outcomes
    y_t = np.r_[np.full(k_t, 100 * m), np.zeros(n_t - k_t)] - c
    y_h = np.r_[np.full(k_h, 100 * m), np.zeros(n_h - k_h)]
    ci = stats.ttest_ind(y_t, y_h, equal_var=False).confidence_interval(0.9)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((ci.low, ci.high))
    assert r["outcome_orders"] == k_t + k_h  # the order after the window is not counted
    assert r["srm_p_value"] > 0.001
    # the other promotions: outcomes exist (the data goes on) but none of their customers ordered
    others = res.drop(index=promo)
    assert (others["status"] == "measured").all()
    assert (others["holdout_margin_per_customer"] == 0).all()


def test_plan_vs_holdout_reads_duckdb_relations_as_it_reads_frames():
    """In dbt the orders are a DuckDB relation: only the orders after the first plan are read, and the result is
    the same as from pandas frames."""
    import duckdb

    rel = _relations(n=600, seed=2)
    log = ml_promotion_plan_assignments({"ml_promotion_plan": ml_promotion_plan(rel)})
    promo = log["promotion_id"].value_counts().index[0]
    before = pd.DataFrame({"customer_id": ["C0001"], "amount": [10.0], "discount_amount": [0.0],
                           "ordered_at": [CUTOFF - pd.Timedelta(days=1)]})
    orders = pd.concat([before, _orders_with_effect(log, promo, 0.4, 0.1, 50.0)], ignore_index=True)
    want = ml_plan_vs_holdout({"ml_promotion_plan_assignments": log, "stg_shop__orders": orders})
    con = duckdb.connect()
    con.register("orders_frame", orders)
    got = ml_plan_vs_holdout({"ml_promotion_plan_assignments": log,
                              "stg_shop__orders": con.sql("select * from orders_frame")})
    pd.testing.assert_frame_equal(got, want)
    assert (got["outcomes_through"] == CUTOFF + pd.Timedelta(days=30)).all()


def test_a_catalogue_without_unit_costs_gives_an_empty_plan_that_says_why_unless_margin_rate_is_set(caplog, capsys):
    rel = _relations()
    rel["dim_campaign_promotions"] = rel["dim_campaign_promotions"].assign(gross_margin_rate=np.nan)
    with caplog.at_level("INFO"):
        plan = ml_promotion_plan(rel)
    assert plan.empty and list(plan.columns) == list(PLAN_TABLE_COLUMNS)
    said = caplog.text + capsys.readouterr().out  # the log line goes to dbt's logger when dbt is importable
    assert "dim_campaign_promotions.gross_margin_rate is missing" in said
    assert "set margin_rate of ml_promotion_plan" in said
    planned = ml_promotion_plan(rel, PromotionPlanConfig(margin_rate=0.4))
    assert planned["promotion_id"].notna().any()
    # the catalogue's margin gives the same choices as the margin set by hand (another plan_id: the settings differ)
    rel["dim_campaign_promotions"] = rel["dim_campaign_promotions"].assign(gross_margin_rate=0.4)
    pd.testing.assert_series_equal(ml_promotion_plan(rel)["promotion_id"], planned["promotion_id"])


def test_no_uplift_and_no_unit_costs_is_an_empty_plan_not_an_error():
    rel = _relations()
    rel["ml_customer_uplift"] = rel["ml_customer_uplift"].iloc[0:0]
    rel["dim_campaign_promotions"] = rel["dim_campaign_promotions"].assign(gross_margin_rate=np.nan)
    assert ml_promotion_plan(rel).empty


@pytest.mark.parametrize("settings", [{}, {"budget": 60.0, "capacity": {"bogo": 40}, "channel_limits": {"email": 70}}])
def test_the_frontier_solves_the_plans_problem_and_its_plan_point_is_the_plan(settings, caplog):
    rel = _relations()
    plan = ml_promotion_plan(rel, PromotionPlanConfig(**settings))
    rel["ml_promotion_plan"] = plan
    with caplog.at_level("INFO"):
        frontier = ml_promotion_plan_frontier(rel, PromotionPlanFrontierConfig(points=4, **settings))
    assert list(frontier.columns) == list(PLAN_FRONTIER_COLUMNS)
    assert set(frontier["plan_id"]) == {plan["plan_id"].iloc[0]}
    assert set(frontier["promotion_id"]) == {"bogo", "email_10pct", "banner"}  # the promotions left out never appear
    points = frontier.drop_duplicates("point")
    assert len(points) == (4 if not settings else 5) and points["is_plan_budget"].sum() == 1
    at = frontier[frontier["is_plan_budget"]].set_index("promotion_id")
    planned = plan[plan["promotion_id"].notna()]
    counts = planned["promotion_id"].value_counts()
    assert at["planned_customers"].to_dict() == {q: int(counts.get(q, 0)) for q in at.index}
    margins = planned.groupby("promotion_id")["expected_incremental_margin"].sum().reindex(at.index, fill_value=0)
    assert at["expected_incremental_margin"].to_dict() == pytest.approx(margins.to_dict())
    assert at["total_expected_cost"].iloc[0] == pytest.approx(planned["expected_cost"].sum())
    if settings:
        assert at["budget"].iloc[0] == 60.0
        assert (frontier.loc[frontier["promotion_id"] == "bogo", "planned_customers"] <= 40).all()
    assert "differs from ml_promotion_plan" not in caplog.text


def test_the_frontier_says_when_the_stored_plan_differs_and_is_empty_without_uplift(caplog, capsys):
    rel = _relations()
    plan = ml_promotion_plan(rel)
    rel["ml_promotion_plan"] = plan.assign(promotion_id=plan["promotion_id"].where(plan.index % 2 == 0))
    with caplog.at_level("INFO"):
        ml_promotion_plan_frontier(rel, PromotionPlanFrontierConfig(points=2))
    assert "differs from ml_promotion_plan" in caplog.text + capsys.readouterr().out
    rel["ml_customer_uplift"] = rel["ml_customer_uplift"].iloc[0:0]
    empty = ml_promotion_plan_frontier(rel)
    assert empty.empty and list(empty.columns) == list(PLAN_FRONTIER_COLUMNS)


def test_the_frontier_config_parses_vars_given_as_text():
    c = PromotionPlanFrontierConfig(budget="500", capacity="{bogo: 10}", channel_limits="None", points="7")
    assert (c.budget, c.capacity, c.channel_limits, c.points) == (500.0, {"bogo": 10.0}, None, 7)
    with pytest.raises(ValueError, match=r"ml_promotion_plan_frontier: points"):
        PromotionPlanFrontierConfig(points=1)


def test_a_plans_frontier_is_kept_in_the_plan_store_and_reused_for_the_same_plan_and_settings(tmp_path, monkeypatch):
    import retail_lift.tables.campaign as tables_campaign

    store = PlanStore(tmp_path / "plans")
    rel = _relations()
    rel["ml_promotion_plan"] = ml_promotion_plan(rel, store=store)
    first = ml_promotion_plan_frontier(rel, PromotionPlanFrontierConfig(points=3), store=store)
    assert len(list((tmp_path / "plans" / "frontiers").glob("*.parquet"))) == 1
    assert [m["plan_id"] for m in store.plans()] == [rel["ml_promotion_plan"]["plan_id"].iloc[0]]  # plans only

    def no_solve(*args, **kwargs):
        raise AssertionError("the kept frontier should have been reused")

    monkeypatch.setattr(tables_campaign, "plan_frontier", no_solve)
    again = ml_promotion_plan_frontier(rel, PromotionPlanFrontierConfig(points=3), store=store)
    pd.testing.assert_frame_equal(again, first)
    with pytest.raises(AssertionError, match="should have been reused"):  # other settings: solved again
        ml_promotion_plan_frontier(rel, PromotionPlanFrontierConfig(points=4), store=store)
    monkeypatch.undo()
    without = ml_promotion_plan_frontier(rel, PromotionPlanFrontierConfig(points=3))  # no store: the same frontier
    pd.testing.assert_frame_equal(without, first)
