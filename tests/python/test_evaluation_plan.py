"""retail_lift.evaluation.plan: the promotion plan against the truth, on synthetic worlds with known effects.

The holdout estimator (the interval of ml_plan_vs_holdout, through the experiment engine) is calibrated: on a
plan whose true incremental margin is known, its 90 % interval covers it in about 90 % of re-drawn holdouts.
With predictions equal to the truth the plan is the oracle plan and no baseline beats it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retail_lift.campaign.plan import holdout_estimates
from retail_lift.evaluation.plan import (
    POLICIES,
    EvalPromotionPlanVsTruthConfig,
    evaluate_plan_against_truth,
    holdout_coverage,
    true_candidates,
)
from retail_lift.evaluation.truth import empty_evaluation
from retail_lift.evaluation.uplift_limits import ceiling_uplift
from retail_lift.uplift.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES

MARGIN = 0.35
PROMOTIONS = pd.DataFrame({"promotion_id": ["mail", "sale"], "channel": ["email", "banner"],
                           "discount_rate": [0.0, 0.2], "contact_cost": [0.05, 0.01]})


def _world(n: int, seed: int = 0):
    """``(uplift, customers, arm_effects)``: n customers x the two promotions of PROMOTIONS, true response known;
    ``uplift`` predicts exactly the truth."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"c{i:05d}" for i in range(n)])
    p0 = rng.uniform(0.02, 0.3, n)
    value = rng.lognormal(np.log(40), 0.5, n)
    arms = [pd.DataFrame({"customer_id": ids, "promotion_id": "control", "p_convert": p0, "true_uplift": 0.0,
                          "expected_revenue": p0 * value})]
    uplift = []
    for pid, d in zip(PROMOTIONS["promotion_id"], PROMOTIONS["discount_rate"], strict=True):
        tau = np.clip(rng.normal(0.03 if pid == "mail" else 0.08, 0.05, n), -p0, 1 - p0)
        p1 = p0 + tau
        arms.append(pd.DataFrame({"customer_id": ids, "promotion_id": pid, "p_convert": p1, "true_uplift": tau,
                                  "expected_revenue": p1 * value * (1 - d)}))
        uplift.append(pd.DataFrame({"customer_id": ids, "promotion_id": pid, "experiment_id": f"exp_{pid}",
                                    "predicted_uplift": tau, "predicted_control_probability": p0,
                                    "predicted_treated_probability": p1}))
    customers = pd.DataFrame({"customer_id": ids, "avg_order_value": value, "days_since_last_order": 10.0})
    return pd.concat(uplift, ignore_index=True), customers, pd.concat(arms, ignore_index=True)


def test_true_candidates_use_the_truth_in_the_plans_economics():
    uplift, customers, arms = _world(50)
    truth = true_candidates(uplift, PROMOTIONS, arms, margin_rate=MARGIN)
    row = truth[(truth["customer_id"] == "c00003") & (truth["promotion_id"] == "sale")].iloc[0]
    ctl = arms[(arms["customer_id"] == "c00003") & (arms["promotion_id"] == "control")].iloc[0]
    arm = arms[(arms["customer_id"] == "c00003") & (arms["promotion_id"] == "sale")].iloc[0]
    v = ctl["expected_revenue"] / ctl["p_convert"]
    assert row["avg_order_value"] == pytest.approx(v)
    expected = (arm["p_convert"] - ctl["p_convert"]) * v * MARGIN - (0.01 + arm["p_convert"] * v * 0.2)
    assert row["expected_incremental_margin"] == pytest.approx(expected)
    assert row["expected_cost"] == pytest.approx(0.01 + arm["p_convert"] * v * 0.2)


def test_holdout_estimates_recover_a_known_difference():
    rng = np.random.default_rng(1)
    held = rng.random(4000) < 0.5
    y = np.where(held, rng.normal(1.0, 1.0, 4000), rng.normal(1.5, 1.0, 4000))
    res = holdout_estimates(pd.DataFrame({"experiment_id": "e", "variant": np.where(held, "holdout", "treated"),
                                          "is_control": held, "y": y, "holdout_share": 0.5}), alpha=0.1)
    r = res.loc["e"]
    assert r["effect_ci_low"] < 0.5 < r["effect_ci_high"]
    assert r["effect"] == pytest.approx(y[~held].mean() - y[held].mean())


def test_the_coverage_computes_the_engines_interval_on_whole_arrays():
    """holdout_coverage's intervals (_holdout_intervals: sums, moments and Welch's interval on arrays) are the
    numbers of holdout_estimates (the experiment engine, ml_plan_vs_holdout's), to the bit: many experiments of
    different sizes, outcomes mostly 0, arms of 0, 1 and 2 customers, an arm with no variance."""
    from retail_lift.evaluation.plan import _holdout_intervals

    rng = np.random.default_rng(8)
    sizes = [0, 1, 2, 3, 5, 17, 140, 1000, 2600]
    experiment, held, y = [], [], []
    for e, n in enumerate(sizes * 3):
        h = rng.random(n) < 0.15
        if e == 5:
            h[:] = False
            h[:2] = True  # two held out
        order = rng.random(n) < 0.08
        outcome = np.where(order, rng.lognormal(3.5, 0.7, n), 0.0) - np.where(h, 0.0, 0.05)
        if e == 6:
            outcome[h] = 0.0  # the held-out arm without variance
        experiment.append(np.full(n, e))
        held.append(h)
        y.append(outcome)
    experiment, held, y = np.concatenate(experiment), np.concatenate(held), np.concatenate(y)
    shuffle = rng.permutation(len(y))  # rows of the experiments interleaved, as the draws of a batch are not
    experiment, held, y = experiment[shuffle], held[shuffle], y[shuffle]
    got = _holdout_intervals(experiment, held, y, len(sizes) * 3, 0.1)
    res = holdout_estimates(pd.DataFrame({"experiment_id": experiment, "is_control": held, "y": y,
                                          "variant": np.where(held, "holdout", "treated"), "holdout_share": 0.15}),
                            0.1)
    expected = res[["effect", "effect_ci_low", "effect_ci_high"]].astype(float).reindex(range(len(sizes) * 3))
    assert np.isfinite(got["effect"]).sum() == 12  # the experiments of 17 customers and more
    for c in ("effect", "effect_ci_low", "effect_ci_high"):
        assert np.array_equal(got[c], expected[c].to_numpy(), equal_nan=True), c


def test_the_totals_by_position_are_those_of_the_merge():
    from retail_lift.evaluation.plan import _Table, _value

    uplift, customers, _arms = _world(200, seed=9)
    table = true_candidates(uplift, PROMOTIONS, _arms, margin_rate=MARGIN)
    pairs = table.sample(120, random_state=1)[["customer_id", "promotion_id"]]
    pairs = pd.concat([pairs, pd.DataFrame({"customer_id": ["nobody"], "promotion_id": ["mail"]})])
    merged = pairs.merge(table, on=["customer_id", "promotion_id"], how="left")
    got = _value(pairs, _Table(table))
    assert got == {"customers": 121, "margin": float(merged["expected_incremental_margin"].sum()),
                   "cost": float(merged["expected_cost"].sum()), "conversions": float(merged["predicted_uplift"].sum())}
    twice = _Table(pd.concat([table, table.head(3)], ignore_index=True))  # a pair with two rows: the merge's sums
    assert not twice.by_position and _value(pairs, twice)["customers"] == 121


def test_the_holdout_interval_is_calibrated_on_a_known_effect():
    """Re-drawn holdouts of a plan of 1,500 customers per promotion, outcomes drawn from known probabilities:
    the 90 % interval covers the true incremental margin of the treated in 90 % of the draws, within three
    binomial standard errors, and the estimate is unbiased (mean error small against the interval's width)."""
    uplift, _, arms = _world(1500, seed=2)
    truth = true_candidates(uplift, PROMOTIONS, arms, margin_rate=MARGIN)
    planned = truth[["customer_id", "promotion_id", "expected_incremental_margin"]]
    cov = holdout_coverage(planned, truth, holdout_share=0.2, alpha=0.1, draws=100, random_state=3)
    assert cov["intervals"] == 200
    assert abs(cov["coverage"] - 0.9) <= 3 * cov["coverage_se"]
    assert cov["coverage_se"] == pytest.approx(np.sqrt(cov["coverage"] * (1 - cov["coverage"]) / 200))
    by = cov["by_promotion"].set_index("promotion_id")
    assert by["mean_holdout"].to_numpy() == pytest.approx(300, rel=0.02)
    assert (by["mean_error"].abs() < 0.1 * by["mean_width"]).all()
    small = planned[planned["customer_id"] < "c00300"]
    once, again = (holdout_coverage(small, truth, holdout_share=0.2, alpha=0.1, draws=4, random_state=3)
                   for _ in range(2))
    assert once["mean_error"] == again["mean_error"]  # seeded


def test_with_true_predictions_the_plan_is_the_oracle_plan_and_beats_the_baselines():
    uplift, customers, arms = _world(80, seed=4)
    ceiling = uplift[["customer_id", "promotion_id"]].assign(ceiling_uplift=uplift["predicted_uplift"])
    propensity = pd.DataFrame({"customer_id": customers["customer_id"],
                               "purchase_probability": np.linspace(0.9, 0.1, len(customers))})
    out = evaluate_plan_against_truth(uplift, PROMOTIONS, customers, arms, ceiling, margin_rate=MARGIN,
                                      fatigued=["c00000"], propensity=propensity, budget_shares=(0.1, 0.5),
                                      holdout_draws=0, log=lambda _: None)
    assert list(out.columns) == list(empty_evaluation("ml_eval_promotion_plan_vs_truth").columns)
    assert list(out["policy"]) == list(POLICIES) * 3
    assert out["budget_share"].isna().sum() == len(POLICIES)
    plan = out[out["policy"] == "plan"].set_index(out["budget_share"].fillna(1.0)[out["policy"] == "plan"])
    oracle = out[out["policy"] == "oracle_plan"].set_index(plan.index)
    assert plan["true_incremental_margin"].to_numpy() == pytest.approx(oracle["true_incremental_margin"].to_numpy())
    assert plan["ratio_to_ceiling"].to_numpy() == pytest.approx(1.0)
    assert plan["meets_ceiling_target"].all()
    for policy in ("best_single_promotion", "propensity"):
        other = out[out["policy"] == policy]
        assert (other["true_incremental_margin"].to_numpy() <= plan["true_incremental_margin"].to_numpy() + 1e-9).all()
        assert other["promotion_id"].notna().all()
        # at the same cost: never more than the plan spends
        assert (other["expected_cost"].to_numpy() <= plan["expected_cost"].to_numpy() + 1e-9).all()
    assert out.loc[out["policy"] != "plan", "meets_ceiling_target"].isna().all()
    # budgets are shares of the unbudgeted plan's expected cost; the plan spends within them
    unbudgeted = float(plan.loc[1.0, "expected_cost"])
    assert plan.loc[0.1, "budget"] == pytest.approx(0.1 * unbudgeted)
    assert plan.loc[0.1, "expected_cost"] <= 0.1 * unbudgeted + 1e-9
    # no policy contacts a fatigued customer: the oracle plan's customers are at most the 79 others
    assert (out["customers_targeted"] <= 79).all()
    assert out["holdout_coverage"].isna().all()


def test_the_coverage_lands_on_the_plan_rows():
    uplift, customers, arms = _world(300, seed=5)
    ceiling = uplift[["customer_id", "promotion_id"]].assign(ceiling_uplift=uplift["predicted_uplift"] * 0.5)
    out = evaluate_plan_against_truth(uplift, PROMOTIONS, customers, arms, ceiling, margin_rate=MARGIN,
                                      budget_shares=(0.5,), holdout_draws=5, log=lambda _: None)
    plan = out[out["policy"] == "plan"]
    assert (plan["holdout_intervals"] > 0).all() and plan["holdout_coverage"].between(0, 1).all()
    assert plan["coverage_within_tolerance"].notna().all()
    assert out.loc[out["policy"] != "plan", "holdout_coverage"].isna().all()
    assert "propensity" not in set(out["policy"])  # no propensity scores given


def test_ceiling_uplift_learns_an_uplift_the_features_show():
    rng = np.random.default_rng(6)
    n = 1200
    scoring = pd.DataFrame({c: rng.choice(["a", "b"], n) for c in CATEGORICAL_FEATURES})
    for c in NUMERIC_FEATURES:
        scoring[c] = rng.poisson(2, n).astype(float)
    scoring["customer_id"] = [f"c{i:05d}" for i in range(n)]
    tau = np.where(scoring["orders_90d"] > 2, 0.2, 0.0)
    arms = pd.DataFrame({"customer_id": scoring["customer_id"], "promotion_id": "mail", "true_uplift": tau})
    pred, summary = ceiling_uplift(scoring, arms, ["mail"], kinds=("boosting",), n_folds=3, max_rows=500)
    assert len(pred) == n and summary.loc[0, "feature_ceiling_kind"] == "boosting"
    assert summary.loc[0, "feature_ceiling_r2"] > 0.9
    assert np.corrcoef(pred["ceiling_uplift"], tau)[0, 1] > 0.95
    with pytest.raises(ValueError, match="no true_uplift of promotion 'sale'"):
        ceiling_uplift(scoring, arms, ["sale"], kinds=("linear",))


@pytest.mark.parametrize("bad", [{"budget_shares": [0.0, 0.5]}, {"budget_shares": "0.5"}, {"holdout_draws": -1},
                                 {"budget_shares": [1.5]}, {"alpha": 1.0}])
def test_bad_settings_name_the_model_and_the_key(bad):
    key = next(iter(bad))
    with pytest.raises(ValueError, match=f"ml_eval_promotion_plan_vs_truth: {key}"):
        EvalPromotionPlanVsTruthConfig(**bad)


def test_the_tiny_build_has_a_row_per_budget_and_policy(tiny_warehouse):
    """The dbt model on the tiny world (the numbers are in docs/campaign_plan.md): every budget of the config
    and the unbudgeted plan, five policies each, the coverage on the plan rows only."""
    from retail_lift.warehouse import read_only

    with read_only(tiny_warehouse) as con:
        out = con.execute("select * from evaluation.ml_eval_promotion_plan_vs_truth").df()
    shares = EvalPromotionPlanVsTruthConfig().budget_shares
    assert sorted(out["budget_share"].dropna().unique()) == pytest.approx(sorted(shares))
    assert len(out) == (len(shares) + 1) * len(POLICIES)
    assert (out.loc[out["policy"] == "oracle_plan", "ratio_to_oracle"] == 1.0).all()
    plan = out[out["policy"] == "plan"]
    assert (plan["holdout_intervals"] >= 200).all() and plan["holdout_coverage"].between(0, 1).all()
    assert plan["meets_ceiling_target"].notna().all() and plan["beats_baselines"].notna().all()
    assert out.loc[out["policy"] != "plan", "holdout_coverage"].isna().all()
