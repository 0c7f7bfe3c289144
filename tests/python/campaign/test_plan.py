"""The promotion plan's algorithm module (retail_lift.campaign.plan): the candidates' economics, the plan under
every limit, its efficient frontier (the point at the plan's budget is the plan), the stratified holdout
(deterministic for a seed), the reasons text, the content key and plan ids, the plan store (plans are never
rewritten), the per-channel export, and each bad input's named message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retail_lift.campaign.allocation import allocate
from retail_lift.campaign.plan import (
    PLAN_COLUMNS,
    PlanError,
    PlanStore,
    assign_holdout,
    build_plan,
    candidate_table,
    check_promotion_costs,
    export_plan,
    frontier_budgets,
    held_out,
    holdout_strata,
    plan_content_key,
    plan_frontier,
    plan_id_for,
    plan_reason_text,
    plan_solver,
    promotion_status,
)

PROMOTIONS = pd.DataFrame({
    "promotion_id": ["bogo", "email_10pct", "banner", "popup"],
    "channel": ["email", "email", "banner", "popup"],
    "discount_rate": [0.3, 0.1, 0.2, 0.0],
    "contact_cost": [0.5, 0.05, 0.1, 0.02],
})


def _world(n: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    ids = [f"C{i:04d}" for i in range(n)]
    rows = []
    for pid in ("bogo", "email_10pct", "banner"):
        p0 = rng.uniform(0.05, 0.4, n)
        u = rng.normal(0.05, 0.08, n)
        rows.append(pd.DataFrame({"customer_id": ids, "promotion_id": pid, "experiment_id": f"exp_{pid}",
                                  "predicted_uplift": u, "predicted_control_probability": p0,
                                  "predicted_treated_probability": np.clip(p0 + u, 0, 1),
                                  "segment": np.where(u >= 0.01, "persuadable", "lost_cause")}))
    customers = pd.DataFrame({"customer_id": ids, "avg_order_value": rng.uniform(20, 120, n),
                              "days_since_last_order": np.where(rng.random(n) < 0.2, np.nan, rng.integers(1, 90, n))})
    return pd.concat(rows, ignore_index=True), customers


def test_candidates_carry_the_incremental_economics_of_targeting():
    uplift, customers = _world(5)
    cand = candidate_table(uplift, PROMOTIONS, customers, margin_rate=0.4)
    assert len(cand) == 15 and set(cand["promotion_id"]) == {"bogo", "email_10pct", "banner"}
    r = cand.iloc[0]
    v = customers.set_index("customer_id").loc[r["customer_id"], "avg_order_value"]
    d, c = PROMOTIONS.set_index("promotion_id").loc[r["promotion_id"], ["discount_rate", "contact_cost"]]
    p1, p0 = r["predicted_treated_probability"], r["predicted_control_probability"]
    assert r["expected_cost"] == pytest.approx(c + p1 * v * d)
    assert r["expected_incremental_margin"] == pytest.approx((p1 - p0) * v * 0.4 - c - p1 * v * d)


def test_the_plan_maximises_margin_within_every_limit():
    uplift, customers = _world(60)
    cand = candidate_table(uplift, PROMOTIONS, customers, margin_rate=0.4)
    fatigued = ["C0001", "C0002"]
    plan, alloc = build_plan(cand, customers, budget=40.0, capacity={"bogo": 5}, channel_limits={"email": 12},
                             fatigued=fatigued)
    assert len(plan) == 60 and plan["customer_id"].is_unique
    chosen = plan[plan["promotion_id"].notna()]
    assert chosen["expected_cost"].sum() <= 40.0 + 1e-9
    assert (chosen["promotion_id"] == "bogo").sum() <= 5
    assert (chosen["channel"] == "email").sum() <= 12
    assert (chosen["expected_incremental_margin"] > 0).all()
    assert not plan.loc[plan["customer_id"].isin(fatigued), "promotion_id"].notna().any()
    assert plan.loc[plan["customer_id"].isin(fatigued), "reasons"].str.startswith("no promotion: fatigued").all()
    assert chosen["expected_incremental_margin"].sum() == pytest.approx(alloc.value)
    assert alloc.method == "milp" and alloc.value <= alloc.upper_bound + 1e-9
    # the same problem handed to the solver directly gives the same value
    wide = cand.pivot(index="customer_id", columns="promotion_id")
    elig = ~wide.index.isin(fatigued)[:, None] & np.ones((60, 3), dtype=bool)
    direct = allocate(wide["expected_incremental_margin"].to_numpy(), wide["expected_cost"].to_numpy(), budget=40.0,
                      capacity=[np.inf, 5, np.inf], channels=["banner", "email", "email"],
                      channel_limits={"email": 12}, eligible=elig)
    assert direct.value == pytest.approx(alloc.value)


def test_a_limit_on_a_promotion_or_channel_the_plan_does_not_use_does_not_bind():
    uplift, customers = _world(20)
    cand = candidate_table(uplift, PROMOTIONS, customers, margin_rate=0.4)
    plan, _ = build_plan(cand, customers, capacity={"popup": 0}, channel_limits={"popup": 0})
    free, _ = build_plan(cand, customers)
    assert plan["promotion_id"].equals(free["promotion_id"])


def test_without_a_budget_everyone_worth_it_gets_their_best_promotion():
    uplift, customers = _world(30)
    cand = candidate_table(uplift, PROMOTIONS, customers, margin_rate=0.4)
    plan, _ = build_plan(cand, customers)
    best = cand.loc[cand.groupby("customer_id")["expected_incremental_margin"].idxmax()].set_index("customer_id")
    worth = best[best["expected_incremental_margin"] > 0]
    got = plan.set_index("customer_id")["promotion_id"]
    assert got.loc[worth.index].tolist() == worth["promotion_id"].tolist()
    assert got.drop(worth.index).isna().all()


def test_the_holdout_is_stratified_seeded_and_leaves_unplanned_customers_alone():
    uplift, customers = _world(400, seed=3)
    cand = candidate_table(uplift, PROMOTIONS, customers, margin_rate=0.4)
    plan, _ = build_plan(cand, customers)
    a, b = assign_holdout(plan, 0.1, seed=11), assign_holdout(plan, 0.1, seed=11)
    assert a["is_holdout"].equals(b["is_holdout"])
    assert not a["is_holdout"].equals(assign_holdout(plan, 0.1, seed=12)["is_holdout"])
    planned = a[a["promotion_id"].notna()]
    assert a.loc[a["promotion_id"].isna(), "holdout_stratum"].isna().all()
    assert not a.loc[a["promotion_id"].isna(), "is_holdout"].any()
    for stratum, g in planned.groupby("holdout_stratum"):
        pid, band = stratum.split("|")
        assert (g["promotion_id"] == pid).all() and band in ("low", "mid", "high")
        # floor(0.1 n + u) held out: within one of the expected count
        assert abs(g["is_holdout"].sum() - 0.1 * len(g)) < 1
    # the bands are the tertiles of the expected margin within the promotion
    for _pid, g in planned.groupby("promotion_id"):
        low = g.loc[g["holdout_stratum"].str.endswith("|low"), "expected_incremental_margin"]
        high = g.loc[g["holdout_stratum"].str.endswith("|high"), "expected_incremental_margin"]
        if len(low) and len(high):
            assert low.max() <= high.min()
    assert assign_holdout(plan, 0.0, seed=1)["is_holdout"].sum() == 0


def test_the_holdout_strata_and_draws_are_those_of_assign_holdout():
    """holdout_strata / held_out (the evaluation's re-drawn holdouts) give the strata and held-out rows of
    assign_holdout for every seed."""
    uplift, customers = _world(400, seed=3)
    plan, _ = build_plan(candidate_table(uplift, PROMOTIONS, customers, margin_rate=0.4), customers)
    strata = holdout_strata(plan)
    bands = ("low", "mid", "high")
    present = assign_holdout(plan, 0.1, seed=0)["holdout_stratum"].dropna().unique()
    # promotion by promotion, the value bands in order
    assert [label for label, _idx in strata] == sorted(
        present, key=lambda s: (s.split("|")[0], bands.index(s.split("|")[1])))
    for seed in (0, 11, 2**62 + 5):
        a = assign_holdout(plan, 0.1, seed=seed)
        for label, idx in strata:
            assert (a.loc[idx, "holdout_stratum"] == label).all()
        drawn = np.concatenate([np.asarray(h) for h in held_out(strata, 0.1, seed)])
        assert sorted(drawn) == sorted(a.index[a["is_holdout"]])


def test_the_plan_solver_chooses_the_plans_pairs_at_every_budget():
    """plan_solver prepares the candidates once and returns, at any budget, the pairs build_plan chooses (in the
    plan's customer order); a budget below the cheapest contact is the same PlanError."""
    uplift, customers = _world(120, seed=6)
    cand = candidate_table(uplift, PROMOTIONS, customers, margin_rate=0.4)
    fatigued = ["C0003", "C0010"]
    solve = plan_solver(cand, customers, fatigued=fatigued)
    sizes = []
    for budget in (None, 0.5, 5.0, 20.0):
        plan, _alloc = build_plan(cand, customers, budget=budget, fatigued=fatigued)
        expected = plan.loc[plan["promotion_id"].notna(), ["customer_id", "promotion_id"]].reset_index(drop=True)
        got = solve(budget)
        assert list(got.columns) == ["customer_id", "promotion_id"]
        assert got.astype(object).values.tolist() == expected.astype(object).values.tolist()
        sizes.append(len(got))
    assert sizes[0] > sizes[3] > sizes[2] > sizes[1] == 0  # 0.5 buys nobody
    with pytest.raises(PlanError, match=r"the budget 0\.01 is below the cheapest contact"):
        solve(0.01)


def test_the_reason_text_is_built_in_one_function():
    assert plan_reason_text("bogo", 0.041, 3.2, 1.5, 12, segment="persuadable") == \
        "persuadable for bogo: +4.1 pp, margin +3.20, cost 1.50; last order 12 days ago"
    assert plan_reason_text("bogo", 0.041, 3.2, 1.5, None) == \
        "persuadable for bogo: +4.1 pp, margin +3.20, cost 1.50; no order yet"
    assert plan_reason_text("bogo", 0.041, 3.2, 1.5, 1, contributions="orders_90d +0.8") == \
        "persuadable for bogo: +4.1 pp, margin +3.20, cost 1.50; orders_90d +0.8; last order 1 day ago"
    assert plan_reason_text("bogo", -0.02, -0.4, 1.5, 3, why_none="no promotion is expected to pay") == \
        "no promotion: no promotion is expected to pay (best: bogo, -2.0 pp, margin -0.40, cost 1.50); " \
        "last order 3 days ago"


SRM_NOTE = "experiment exp_b: experiment dropped: sample-ratio mismatch (p = 1e-09 < 0.001)"


def test_promotion_status_says_why_each_promotion_is_left_out():
    status = promotion_status(pd.concat([PROMOTIONS, pd.DataFrame({"promotion_id": ["control"], "channel": ["none"],
                                                                   "discount_rate": [0.0], "contact_cost": [0.0]})]),
                              {"bogo": "exp_a", "email_10pct": "exp_a"},
                              {"banner": SRM_NOTE},
                              ["control"]).set_index("promotion_id")
    assert status.loc["bogo", "is_included"]
    assert status.loc["bogo", "reason"] == "included: uplift from experiment exp_a"
    assert status.loc["banner", "reason"] == ("left out: no valid experiment (experiment exp_b: experiment dropped: "
                                              "sample-ratio mismatch (p = 1e-09 < 0.001))")
    assert status.loc["popup", "reason"] == "left out: no valid experiment (no experiment tested it)"
    assert status.loc["control", "reason"] == "left out: the control arm of the experiments, not a promotion"
    assert not status.loc[["banner", "popup", "control"], "is_included"].any()


@pytest.mark.parametrize(("column", "value", "message"), [
    ("contact_cost", np.nan, r"stg_shop__promotions\.contact_cost is missing for promotion 'bogo'"),
    ("contact_cost", -0.5, r"stg_shop__promotions\.contact_cost is negative for promotion 'bogo': -0\.5"),
    ("discount_rate", None, r"stg_shop__promotions\.discount_rate is missing for promotion 'bogo'"),
    ("discount_rate", -0.1, r"stg_shop__promotions\.discount_rate is negative for promotion 'bogo': -0\.1"),
])
def test_negative_or_missing_costs_are_named(column, value, message):
    bad = PROMOTIONS.astype({column: object}).copy()
    bad.loc[bad["promotion_id"] == "bogo", column] = value
    with pytest.raises(PlanError, match=message):
        check_promotion_costs(bad, ["bogo", "banner"])
    uplift, customers = _world(5)
    with pytest.raises(PlanError, match=message):
        candidate_table(uplift, bad, customers, margin_rate=0.4)


def test_a_scored_promotion_missing_from_the_promotions_is_named():
    with pytest.raises(PlanError, match=r"promotion 'zzz' has uplift scores but no row in stg_shop__promotions"):
        check_promotion_costs(PROMOTIONS, ["zzz"])


def test_a_budget_below_the_cheapest_contact_is_named():
    uplift, customers = _world(10)
    cand = candidate_table(uplift, PROMOTIONS, customers, margin_rate=0.4)
    with pytest.raises(PlanError, match=r"the budget 0\.01 is below the cheapest contact: 0\.05 \(promotion "
                                        r"'email_10pct', stg_shop__promotions\.contact_cost\)"):
        build_plan(cand, customers, budget=0.01)


def test_the_content_key_and_the_plan_id():
    uplift, customers = _world(10)
    cand = candidate_table(uplift, PROMOTIONS, customers, margin_rate=0.4)
    key = plan_content_key({"candidates": cand}, {"budget": 10})
    assert key == plan_content_key({"candidates": cand.sample(frac=1, random_state=0)}, {"budget": 10})
    assert key != plan_content_key({"candidates": cand}, {"budget": 11})
    changed = cand.copy()
    changed.loc[0, "expected_cost"] += 0.01
    assert key != plan_content_key({"candidates": changed}, {"budget": 10})
    assert plan_id_for(key, 0) == plan_id_for(key, 0) != plan_id_for(key, 1)
    assert len(plan_id_for(key, 0)) == 16


def test_the_store_keeps_every_plan_and_never_rewrites_one(tmp_path):
    store = PlanStore.beside(tmp_path / "warehouse.duckdb")
    assert store.root == tmp_path / "plans" and store.plans() == []
    plan = pd.DataFrame({"plan_id": ["p1"], "customer_id": ["C1"], "promotion_id": ["bogo"]})
    store.save(plan, {"plan_id": "p1", "content_key": "k", "created_at": "2026-01-01T00:00:00Z"})
    store.save(plan.assign(plan_id="p2"), {"plan_id": "p2", "content_key": "k", "created_at": "2026-01-02T00:00:00Z"})
    assert [m["plan_id"] for m in store.find("k")] == ["p1", "p2"]
    assert store.load("p1").equals(plan)
    with pytest.raises(PlanError, match="plan p1 is already stored .* a plan is never rewritten"):
        store.save(plan, {"plan_id": "p1", "content_key": "k", "created_at": "2026-01-03T00:00:00Z"})


def test_the_export_writes_one_csv_per_channel_with_reasons_and_the_holdout_flag(tmp_path):
    uplift, customers = _world(80)
    cand = candidate_table(uplift, PROMOTIONS, customers, margin_rate=0.4)
    plan, _ = build_plan(cand, customers)
    plan = assign_holdout(plan, 0.2, seed=1).assign(plan_id="p", planned_at=pd.Timestamp("2026-01-01"))
    assert set(PLAN_COLUMNS) == set(plan.columns)
    paths = export_plan(plan, tmp_path / "plan")
    planned = plan[plan["promotion_id"].notna()]
    assert sorted(p.name for p in paths) == sorted(f"{c}.csv" for c in planned["channel"].unique())
    for path in paths:
        got = pd.read_csv(path)
        want = planned[planned["channel"] == path.stem]
        assert sorted(got["customer_id"]) == sorted(want["customer_id"])
        assert got["is_holdout"].sum() == want["is_holdout"].sum()
        assert got["reasons"].notna().all() and {"is_holdout", "reasons"} <= set(got.columns)


LIMITS = {"capacity": {"bogo": 5}, "channel_limits": {"email": 12}, "fatigued": ["C0001", "C0002"]}


def _per_promotion(plan: pd.DataFrame) -> dict:
    planned = plan[plan["promotion_id"].notna()]
    return {q: (len(g), g["expected_incremental_margin"].sum()) for q, g in planned.groupby("promotion_id")}


@pytest.mark.parametrize("budget", [None, 40.0, 25.0])
def test_the_frontier_point_at_the_plans_budget_is_the_plan(budget):
    uplift, customers = _world(60)
    cand = candidate_table(uplift, PROMOTIONS, customers, margin_rate=0.4)
    plan, alloc = build_plan(cand, customers, budget=budget, **LIMITS)
    frontier = plan_frontier(cand, customers, points=5, budget=budget, **LIMITS)
    at = frontier[frontier["is_plan_budget"]]
    assert at["point"].nunique() == 1 and len(at) == 3  # one row per candidate promotion
    assert at["total_expected_incremental_margin"].iloc[0] == alloc.value
    assert at["total_expected_cost"].iloc[0] == alloc.cost
    assert at["total_customers"].iloc[0] == plan["promotion_id"].notna().sum()
    expected = _per_promotion(plan)
    for r in at.itertuples():
        n, margin = expected.get(r.promotion_id, (0, 0.0))
        assert r.planned_customers == n
        assert r.expected_incremental_margin == pytest.approx(margin, rel=1e-12, abs=1e-12)
    assert at["budget"].iloc[0] == (alloc.cost if budget is None else budget)


def test_the_frontier_spans_the_cheapest_contact_to_the_plan_without_a_budget_within_every_limit():
    uplift, customers = _world(60)
    cand = candidate_table(uplift, PROMOTIONS, customers, margin_rate=0.4)
    _free_plan, free = build_plan(cand, customers, **LIMITS)
    frontier = plan_frontier(cand, customers, points=6, budget=25.0, **LIMITS)
    points = frontier.drop_duplicates("point").set_index("point")
    assert list(points.index) == list(range(7))  # 6 on the grid and the plan's budget
    assert points["budget"].is_monotonic_increasing
    fatigued = cand["customer_id"].isin(LIMITS["fatigued"])
    cheapest = cand.loc[~fatigued & (cand["expected_incremental_margin"] > 0), "expected_cost"].min()
    assert points["budget"].iloc[0] == pytest.approx(cheapest)
    assert points["total_customers"].iloc[0] == 1  # the cheapest contact alone
    assert points["budget"].iloc[-1] == pytest.approx(free.cost)
    assert points["total_expected_incremental_margin"].iloc[-1] == free.value
    assert set(points["method"]) == {"milp"}
    # exact solutions: more budget never earns less; every point within its budget and every limit
    assert (points["total_expected_incremental_margin"].diff().dropna() >= -1e-9).all()
    assert (points["total_expected_cost"] <= points["budget"] + 1e-9).all()
    sums = frontier.groupby("point")[["planned_customers", "expected_incremental_margin", "expected_cost"]].sum()
    assert (sums["planned_customers"] == points["total_customers"]).all()
    assert np.allclose(sums["expected_incremental_margin"], points["total_expected_incremental_margin"])
    assert (frontier.loc[frontier["promotion_id"] == "bogo", "planned_customers"] <= 5).all()
    email = frontier[frontier["channel"] == "email"].groupby("point")["planned_customers"].sum()
    assert (email <= 12).all()


def test_the_frontier_grid_and_its_bad_input():
    np.testing.assert_allclose(frontier_budgets(1.0, 100.0, 3), [1.0, 10.0, 100.0])  # each a multiple of the last
    assert frontier_budgets(1.0, 100.0, 3)[[0, -1]].tolist() == [1.0, 100.0]
    assert frontier_budgets(0.0, 3.0, 4).tolist() == [0.0, 1.0, 2.0, 3.0]  # a free contact: evenly spaced
    assert frontier_budgets(2.0, 2.0, 5).tolist() == [2.0]  # one contact possible: one budget
    with pytest.raises(PlanError, match="at least 2 budgets"):
        frontier_budgets(1.0, 3.0, 1)
    uplift, customers = _world(20)
    cand = candidate_table(uplift, PROMOTIONS, customers, margin_rate=0.4)
    with pytest.raises(PlanError, match="below the cheapest contact"):  # the plan's own check
        plan_frontier(cand, customers, budget=0.01)
