"""retail_lift.uplift.pipeline on a small synthetic world with known uplift types.

The world: customers whose observable traits decide their type, as in the simulated shop.

- persuadable (follows the page and young): buys with p0 = 0.10 without, 0.40 with the promotion;
- do-not-disturb (old and never heard of the shop): p0 = 0.45, the promotion drops it to 0.20;
- sure thing (many recent sessions): p0 = 0.55 with or without;
- lost cause (everyone else): p0 = 0.05 with or without.

Two experiments: ``exp_a`` (control vs ``arm_a``, a 20 % discount) and ``exp_b`` (control vs ``arm_b``),
the latter flagged for a sample-ratio mismatch through its ``srm`` rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retail_lift.evaluation.uplift import evaluate_targeting_against_truth, evaluate_uplift_against_truth
from retail_lift.tables.uplift import long_table, uplift_run_table
from retail_lift.uplift.economics import ROI_COLUMNS, SEGMENT_COLUMNS, SEGMENTS, assign_segments
from retail_lift.uplift.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES, build_features
from retail_lift.uplift.pipeline import (
    HOLDOUT_COLUMNS,
    METRIC_COLUMNS,
    SCORE_COLUMNS,
    UpliftResult,
    fit_score_uplift,
    srm_experiments,
)

pytestmark = pytest.mark.slow  # over ~10 s of fitting or simulation per module; make test-fast leaves it out

AGE_BANDS = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]
P0 = {"persuadable": 0.10, "do_not_disturb": 0.45, "sure_thing": 0.55, "lost_cause": 0.05}
UPLIFT = {"persuadable": 0.30, "do_not_disturb": -0.25, "sure_thing": 0.0, "lost_cause": 0.0}
PROMOTIONS = {
    "arm_a": {"discount_rate": 0.2, "contact_cost": 0.05},
    "arm_b": {"discount_rate": 0.0, "contact_cost": 0.01},
}
ORDER_VALUE = 50.0


def _customers(n: int, rng: np.random.Generator) -> pd.DataFrame:
    age = rng.choice(AGE_BANDS, n)
    follows = rng.random(n) < 0.5
    heard = rng.random(n) < 0.5
    sessions_30d = rng.poisson(1.5, n)
    young = np.isin(age, ["18-24", "25-34", "35-44"])
    old = np.isin(age, ["55-64", "65+"])
    kind = np.select([follows & young, old & ~heard, sessions_30d >= 3],
                     ["persuadable", "do_not_disturb", "sure_thing"], "lost_cause")
    orders_90d = rng.poisson(1.0, n)
    has_orders = orders_90d > 0
    return pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)],
        "age_band": age,
        "gender": rng.choice(["female", "male", "other"], n),
        "region": rng.choice(["north", "south"], n),
        "acquisition_channel": rng.choice(["email", "store", "facebook"], n),
        "device_preference": rng.choice(["desktop", "mobile"], n),
        "follows_page": follows,
        "heard_of_shop": heard,
        "tenure_days": rng.uniform(1, 700, n),
        "orders_before": orders_90d + rng.poisson(1.0, n),
        "orders_30d": np.minimum(orders_90d, rng.poisson(0.4, n)),
        "orders_90d": orders_90d,
        "revenue_before": rng.gamma(2.0, 30.0, n),
        "revenue_30d": rng.gamma(1.0, 10.0, n),
        "revenue_90d": rng.gamma(1.5, 20.0, n),
        "discounted_order_share": np.where(has_orders, rng.random(n), np.nan),
        "days_since_last_order": np.where(has_orders, rng.uniform(0.1, 90, n), np.nan),
        "sessions_30d": sessions_30d,
        "sessions_90d": sessions_30d + rng.poisson(2.0, n),
        "views_30d": sessions_30d * 3,
        "views_90d": sessions_30d * 3 + rng.poisson(5.0, n),
        "carts_30d": rng.poisson(0.2, n),
        "carts_90d": rng.poisson(0.5, n),
        "days_since_last_visit": np.where(sessions_30d > 0, rng.uniform(0.1, 30, n), np.nan),
        "kind": kind,
    })


def _world(seed: int = 7, n_customers: int = 5000, n_a: int = 3200, n_b: int = 800):
    rng = np.random.default_rng(seed)
    customers = _customers(n_customers, rng)
    order = rng.permutation(n_customers)
    parts = []
    for exp_id, arm, rows in (("exp_a", "arm_a", order[:n_a]), ("exp_b", "arm_b", order[n_a:n_a + n_b])):
        exp = customers.iloc[rows].copy()
        treated = rng.random(len(exp)) < 0.5
        p0 = exp["kind"].map(P0).to_numpy()
        p1 = p0 + exp["kind"].map(UPLIFT).to_numpy()
        converted = rng.random(len(exp)) < np.where(treated, p1, p0)
        exp["exposure_id"] = exp_id + ":" + exp["customer_id"]
        exp["experiment_id"] = exp_id
        exp["variant"] = np.where(treated, arm, "control")
        exp["is_control"] = ~treated
        exp["is_converted"] = converted
        exp["revenue"] = np.where(converted, ORDER_VALUE * np.where(treated, 1 - PROMOTIONS[arm]["discount_rate"], 1.0),
                                  0.0)
        exp["true_uplift"] = p1 - p0
        parts.append(exp)
    training = pd.concat(parts, ignore_index=True)
    scoring = customers.drop(columns=["kind"])
    a = training["experiment_id"] == "exp_a"
    srm = pd.DataFrame({
        "experiment_id": ["exp_a", "exp_a", "exp_b", "exp_b"],
        "variant": ["control", "arm_a", "control", "arm_b"],
        # exp_a as randomized; exp_b as if a logging bug had lost two thirds of its treated users
        "observed_users": [int((a & training["is_control"]).sum()), int((a & ~training["is_control"]).sum()), 400, 130],
        "planned_share": [0.5, 0.5, 0.5, 0.5],
    })
    return customers, training, scoring, srm


@pytest.fixture(scope="module")
def world():
    return _world()


@pytest.fixture(scope="module")
def result(world) -> UpliftResult:
    _, training, scoring, srm = world
    return fit_score_uplift(training.drop(columns=["true_uplift", "kind"]), scoring, srm=srm, promotions=PROMOTIONS,
                            n_placebo=2, random_state=0, n_threads=1)


# ----------------------------------------------------------------------------------------------
# shapes
# ----------------------------------------------------------------------------------------------


def test_output_shapes_and_columns(world, result):
    customers, training, scoring, _ = world
    n = len(scoring)
    # exp_b has a sample-ratio mismatch: only arm_a is modelled
    assert list(result.scores.columns) == SCORE_COLUMNS
    assert len(result.scores) == n and set(result.scores["promotion_id"]) == {"arm_a"}
    assert result.scores["customer_id"].is_unique
    assert sorted(result.scores["uplift_rank"]) == list(range(1, n + 1))
    assert sorted(result.scores["propensity_rank"]) == list(range(1, n + 1))
    np.testing.assert_allclose(result.scores["predicted_treated_probability"],
                               np.clip(result.scores["predicted_control_probability"]
                                       + result.scores["predicted_uplift"], 0, 1))

    # cross-fitting (5 folds): every exposure of exp_a once (one arm), each in one fold of about a fifth
    assert list(result.holdout_predictions.columns) == HOLDOUT_COLUMNS
    n_a = int((training["experiment_id"] == "exp_a").sum())
    hp = result.holdout_predictions
    assert len(hp) == n_a and hp["exposure_id"].is_unique
    assert set(hp["exposure_id"]) == set(training.loc[training["experiment_id"] == "exp_a", "exposure_id"])
    sizes = hp["fold"].value_counts()
    assert sorted(sizes.index.tolist()) == [0, 1, 2, 3, 4] and sizes.max() - sizes.min() <= 5
    assert (hp["is_treated"] == (hp["variant"] == "arm_a")).all()

    # metrics: the selected learner's metrics, every candidate's inner_qini, a status row for the SRM arm
    m = result.metrics
    assert list(m.columns) == METRIC_COLUMNS
    status = m[m["metric_name"] == "status"]
    assert status["promotion_id"].tolist() == ["arm_b"] and "sample-ratio mismatch" in status["note"].iloc[0]
    real = m[~m["metric_name"].isin(["status", "placebo_status"])]
    inner = real[real["metric_name"] == "inner_qini"]
    assert set(zip(inner["learner"], inner["base_learner"], strict=True)) == {
        (k, f) for k in ("t", "x") for f in ("logistic", "boosting")}
    assert inner["is_selected_learner"].sum() == 1
    sel = real[real["is_selected_learner"]]
    expected = {"qini_auc", "uplift_auc", "uplift_at_10", "uplift_at_20", "uplift_at_30", "observed_uplift",
                "placebo_qini_mean", "placebo_qini_sd", "placebo_qini_p95", "n_placebo", "placebo_pass",
                "selection_agreement", "n_treated", "n_control", "inner_qini"}
    assert set(sel["metric_name"]) == expected
    assert not real.duplicated(["promotion_id", "learner", "base_learner", "metric_name"]).any()
    assert sel[["learner", "base_learner"]].drop_duplicates().shape[0] == 1
    kept, family = sel["learner"].iloc[0], sel["base_learner"].iloc[0]
    winner = inner.loc[inner["is_selected_learner"]].iloc[0]
    assert (winner["learner"], winner["base_learner"]) == (kept, family)
    # the winner has the best inner Qini, or is a simpler candidate within a standard error of the best
    assert winner["metric_value"] == inner["metric_value"].max() or (kept, family) != ("x", "boosting")
    assert (result.scores["learner"] == kept).all() and (result.scores["base_learner"] == family).all()
    agreement = sel.set_index("metric_name")["metric_value"]["selection_agreement"]
    fold_choice = hp.groupby("fold")[["learner", "base_learner"]].first()
    same = (fold_choice["learner"] == kept) & (fold_choice["base_learner"] == family)
    assert agreement == pytest.approx(same.mean())

    # segments: 4 per arm; ROI: 2 ranked strategies x 3 shares + everyone
    assert list(result.segments.columns) == SEGMENT_COLUMNS and len(result.segments) == 4
    assert list(result.incremental_roi.columns) == ROI_COLUMNS and len(result.incremental_roi) == 7
    everyone = result.incremental_roi[result.incremental_roi["strategy"] == "everyone"]
    assert everyone["customers_targeted"].tolist() == [n]
    top10 = result.incremental_roi[(result.incremental_roi["k_fraction"] == 0.1)]
    assert set(top10["customers_targeted"]) == {int(np.ceil(0.1 * n))}


def test_the_model_finds_the_signal(world, result):
    """The synthetic effect is strong: a positive holdout Qini above the placebo's, the right type order."""
    m = result.metrics
    sel = m[m["is_selected_learner"]].set_index("metric_name")["metric_value"]
    assert sel["qini_auc"] > 0.05 and sel["uplift_at_10"] > sel["observed_uplift"]
    assert sel["qini_auc"] > sel["placebo_qini_mean"] + 0.03
    customers = world[0].set_index("customer_id")
    scores = result.scores.set_index("customer_id")
    by_kind = scores["predicted_uplift"].groupby(customers["kind"].reindex(scores.index)).mean()
    assert by_kind["persuadable"] > by_kind["sure_thing"] > by_kind["do_not_disturb"]


def test_same_result_whatever_the_row_order(world, result):
    _, training, scoring, srm = world
    shuffled = fit_score_uplift(training.drop(columns=["true_uplift", "kind"]).sample(frac=1.0, random_state=3),
                                scoring.sample(frac=1.0, random_state=4), srm=srm, promotions=PROMOTIONS,
                                n_placebo=2, random_state=0, n_threads=1)
    pd.testing.assert_frame_equal(shuffled.scores, result.scores)
    pd.testing.assert_frame_equal(shuffled.metrics, result.metrics)


# ----------------------------------------------------------------------------------------------
# leakage
# ----------------------------------------------------------------------------------------------


def test_features_never_read_the_outcome_the_arm_or_extra_columns(world):
    _, training, scoring, _ = world
    X_train, X_score = build_features(training, scoring)
    assert list(X_train.columns) == list(X_score.columns)
    assert not {"is_converted", "revenue", "variant", "is_control", "true_uplift", "kind"} & set(X_train.columns)
    assert all(c in NUMERIC_FEATURES or c.split("=")[0] in CATEGORICAL_FEATURES for c in X_train.columns)
    # permuting the outcome, the arm and an outcome-derived extra column changes nothing
    rng = np.random.default_rng(0)
    other = training.copy()
    for col in ("is_converted", "revenue", "variant", "is_control"):
        other[col] = other[col].to_numpy()[rng.permutation(len(other))]
    other["revenue_in_window_copy"] = training["revenue"]
    pd.testing.assert_frame_equal(build_features(other, scoring)[0], X_train)
    # NULL recency is the cap, NULL shares 0; no NaN reaches a learner
    assert np.isfinite(X_train.to_numpy()).all() and np.isfinite(X_score.to_numpy()).all()


def test_scores_do_not_depend_on_outcomes_of_other_experiments(world):
    """The SRM experiment is dropped before fitting: changing its outcomes changes no score."""
    _, training, scoring, srm = world
    base = training.drop(columns=["true_uplift", "kind"])
    flipped = base.copy()
    b = flipped["experiment_id"] == "exp_b"
    flipped.loc[b, "is_converted"] = ~flipped.loc[b, "is_converted"].astype(bool)
    kw = dict(srm=srm, promotions=PROMOTIONS, n_placebo=0, random_state=0, n_threads=1, learner="x")
    pd.testing.assert_frame_equal(fit_score_uplift(base, scoring, **kw).scores,
                                  fit_score_uplift(flipped, scoring, **kw).scores)


# ----------------------------------------------------------------------------------------------
# segments
# ----------------------------------------------------------------------------------------------


def test_segments_add_up(result):
    seg = result.segments
    assert set(seg["segment"]) == set(SEGMENTS)
    assert seg["customers"].sum() == len(result.scores)
    assert seg["share_of_customers"].sum() == pytest.approx(1.0)
    assert seg["share_of_predicted_incremental_conversions"].sum() == pytest.approx(1.0)
    assert seg["predicted_incremental_conversions"].sum() == pytest.approx(result.scores["predicted_uplift"].sum())
    counts = result.scores["segment"].value_counts()
    for row in seg.itertuples():
        assert row.customers == counts.get(row.segment, 0)
    dnd = seg.set_index("segment").loc["do_not_disturb"]
    assert dnd["customers"] > 0 and dnd["predicted_incremental_conversions"] < 0


def test_segment_rules():
    u = np.array([0.05, -0.05, 0.0, 0.0, 0.01, -0.01, np.nan])
    p0 = np.array([0.1, 0.9, 0.5, 0.1, 0.0, 0.0, 0.9])
    assert assign_segments(u, p0, 0.01, 0.3).tolist() == [
        "persuadable", "do_not_disturb", "sure_thing", "lost_cause", "persuadable", "do_not_disturb", "sure_thing"]


# ----------------------------------------------------------------------------------------------
# economics and evaluation against the known effects
# ----------------------------------------------------------------------------------------------


def _arm_effects(customers: pd.DataFrame, arm: str) -> pd.DataFrame:
    p0 = customers["kind"].map(P0).to_numpy()
    u = customers["kind"].map(UPLIFT).to_numpy()
    d = PROMOTIONS[arm]["discount_rate"]
    control = pd.DataFrame({"customer_id": customers["customer_id"], "promotion_id": "control", "p_convert": p0,
                            "true_uplift": 0.0, "expected_revenue": p0 * ORDER_VALUE})
    treated = pd.DataFrame({"customer_id": customers["customer_id"], "promotion_id": arm, "p_convert": p0 + u,
                            "true_uplift": u, "expected_revenue": (p0 + u) * ORDER_VALUE * (1 - d)})
    return pd.concat([control, treated], ignore_index=True)


def test_targeting_by_true_uplift_beats_targeting_by_propensity(world):
    """With do-not-disturbs and sure things, the likely buyers are the wrong customers to discount."""
    customers = world[0]
    p0 = customers["kind"].map(P0).to_numpy()
    u = customers["kind"].map(UPLIFT).to_numpy()
    scores = pd.DataFrame({"customer_id": customers["customer_id"], "promotion_id": "arm_a", "experiment_id": "exp_a",
                           "predicted_uplift": u, "predicted_treated_probability": p0 + u})
    ev = evaluate_targeting_against_truth(scores, _arm_effects(customers, "arm_a"), promotions=PROMOTIONS,
                                          margin_rate=0.4)
    margin = ev.set_index(["strategy", "k_fraction"])["true_incremental_margin"]
    conv = ev.set_index(["strategy", "k_fraction"])["true_incremental_conversions"]
    for k in (0.1, 0.2, 0.3):
        assert margin[("uplift", k)] > 0 > margin[("propensity", k)]
        assert conv[("uplift", k)] > conv[("propensity", k)]
        # the true ranking is the oracle
        assert margin[("uplift", k)] == pytest.approx(margin[("oracle", k)])
    assert margin[("uplift", 0.1)] > margin[("everyone", 1.0)]
    # incremental conversions are the summed true uplift
    n10 = int(np.ceil(0.1 * len(customers)))
    assert conv[("oracle", 0.1)] == pytest.approx(np.sort(u)[::-1][:n10].sum())


def test_model_targeting_beats_propensity_in_expectation_and_in_truth(world, result):
    customers = world[0]
    roi = result.incremental_roi.set_index(["strategy", "k_fraction"])["expected_incremental_margin"]
    ev = evaluate_targeting_against_truth(result.scores, _arm_effects(customers, "arm_a"), promotions=PROMOTIONS,
                                          model_roi=result.incremental_roi)
    true = ev.set_index(["strategy", "k_fraction"])["true_incremental_margin"]
    for k in (0.1, 0.2, 0.3):
        assert roi[("uplift", k)] > roi[("propensity", k)]
        assert true[("uplift", k)] > true[("propensity", k)]
    assert ev["margin_rate"].eq(0.35).all()  # taken from model_roi
    assert ev.loc[ev["strategy"] == "uplift", "expected_incremental_margin"].notna().all()


def test_roi_arithmetic_matches_the_campaign_formulas(result):
    s = result.scores
    roi = result.incremental_roi
    row = roi[roi["strategy"] == "everyone"].iloc[0]
    p, p0, v, d, c, m = (s["predicted_treated_probability"], s["predicted_control_probability"],
                         row["value_per_conversion"], 0.2, 0.05, 0.35)
    assert row["discount_rate"] == d and row["contact_cost"] == c
    assert row["expected_incremental_conversions"] == pytest.approx((p - p0).sum())
    assert row["expected_discount_cost"] == pytest.approx((p * v * d).sum())
    assert row["expected_contact_cost"] == pytest.approx(len(s) * c)
    margin = ((p - p0) * v * m).sum() - (p * v * d).sum() - len(s) * c
    assert row["expected_incremental_margin"] == pytest.approx(margin)
    # v: mean window revenue of converting control exposures (full price in the synthetic world)
    assert v == pytest.approx(ORDER_VALUE)


def test_predictions_are_out_of_fold(world, result):
    """Each fold's predictions come from a learner fitted on the other folds only."""
    from retail_lift.uplift.selection import _make_learner

    _, training, scoring, _ = world
    exp = training[training["experiment_id"] == "exp_a"].drop(columns=["true_uplift", "kind"])
    exp = exp.sort_values("exposure_id", kind="mergesort").reset_index(drop=True)
    hp = result.holdout_predictions.set_index("exposure_id").loc[exp["exposure_id"]]
    X, _ = build_features(exp, scoring)
    X = X.to_numpy(float)
    labels, y = exp["variant"].to_numpy(str), exp["is_converted"].astype(int).to_numpy()
    fold = hp["fold"].to_numpy(int)
    train = fold != 2
    share = float((labels[train] == "arm_a").sum() / train.sum())
    kind, family = hp.loc[~train, "learner"].iloc[0], hp.loc[~train, "base_learner"].iloc[0]
    assert set(hp.loc[~train, "learner"]) == {kind} and set(hp.loc[~train, "base_learner"]) == {family}
    model = _make_learner(kind, "control", {"arm_a": share}, 0, family).fit(X[train], labels[train], y[train])
    np.testing.assert_allclose(model.predict_uplift(X[~train], arm="arm_a"),
                               hp["predicted_uplift"].to_numpy(float)[~train], rtol=1e-9, atol=1e-12)


def test_logistic_base_learner(world):
    """``base_learner="logistic"``: linear outcome models, still finds the synthetic effect."""
    from sklearn.linear_model import LogisticRegression

    from retail_lift.uplift.selection import _make_learner

    _, training, scoring, srm = world
    res = fit_score_uplift(training.drop(columns=["true_uplift", "kind"]), scoring, srm=srm,
                           base_learner="logistic", n_placebo=0, n_threads=1)
    sel = res.metrics[res.metrics["is_selected_learner"]].set_index("metric_name")["metric_value"]
    assert sel["qini_auc"] > 0.05
    assert set(res.scores["base_learner"]) == {"logistic"} and set(res.holdout_predictions["base_learner"]) == {
        "logistic"}
    exp = training[training["experiment_id"] == "exp_a"]
    X = build_features(exp, scoring)[0].to_numpy()
    model = _make_learner("x", "control", {"arm_a": 0.5}, 0, "logistic").fit(
        X, exp["variant"].to_numpy(), exp["is_converted"].astype(int).to_numpy())
    assert isinstance(model.control_model_.steps[-1][1], LogisticRegression)


def test_single_holdout_mode(world):
    """``n_folds=None``: one stratified 30 % holdout, no fold number."""
    _, training, scoring, srm = world
    res = fit_score_uplift(training.drop(columns=["true_uplift", "kind"]), scoring, srm=srm, learner="x",
                           n_folds=None, holdout=0.3, n_placebo=0, n_threads=1)
    hp = res.holdout_predictions
    n_a = int((training["experiment_id"] == "exp_a").sum())
    assert len(hp) == pytest.approx(0.3 * n_a, abs=2) and hp["exposure_id"].is_unique
    assert hp["fold"].isna().all()
    assert _evaluation_method(hp) == "holdout"


def _evaluation_method(hp):
    true = hp[["exposure_id", "promotion_id"]].assign(true_uplift=0.01 * np.arange(len(hp)))
    return evaluate_uplift_against_truth(hp, true, n_bootstrap=0)["evaluation_method"].iloc[0]


def test_evaluation_of_a_perfect_ranking(world, result):
    training = world[1]
    hp = result.holdout_predictions.copy()
    true = training[["exposure_id", "true_uplift"]].assign(promotion_id="arm_a")
    perfect = hp.drop(columns="predicted_uplift").merge(true, on=["exposure_id", "promotion_id"])
    perfect["predicted_uplift"] = perfect["true_uplift"] + np.random.default_rng(0).normal(0, 1e-6, len(perfect))
    ev = evaluate_uplift_against_truth(perfect.drop(columns="true_uplift"), true, n_bootstrap=20)
    assert len(ev) == 1
    row = ev.iloc[0]
    assert row["true_gain_ratio"] == pytest.approx(1.0, abs=1e-6)
    assert row["pearson_correlation"] == pytest.approx(1.0, abs=1e-6)
    assert row["qini_oracle_ratio"] == pytest.approx(1.0, abs=0.05) and bool(row["meets_target"])
    model = evaluate_uplift_against_truth(result.holdout_predictions, true, n_bootstrap=20).iloc[0]
    assert 0 < model["true_gain_ratio"] <= 1.0 + 1e-9 and model["ratio_ci_low"] <= model["ratio_ci_high"]
    assert model["evaluation_method"] == "cross_fitted_5_folds"


# ----------------------------------------------------------------------------------------------
# the long table, SRM, inputs
# ----------------------------------------------------------------------------------------------


def test_long_table_holds_every_table(result):
    long = long_table(result)
    assert long["table_name"].value_counts().to_dict() == {
        name: len(getattr(result, name)) for name in UpliftResult.TABLES if len(getattr(result, name))}
    back = long[long["table_name"] == "scores"][SCORE_COLUMNS].reset_index(drop=True)
    np.testing.assert_allclose(back["predicted_uplift"], result.scores["predicted_uplift"])
    assert back["customer_id"].tolist() == result.scores["customer_id"].tolist()
    assert str(long["is_treated"].dtype) == "boolean" and str(long["uplift_rank"].dtype) == "Int64"


def test_run_table_takes_the_promotions_table_and_handles_no_experiments(world):
    _, training, scoring, srm = world
    promotions = pd.DataFrame({"promotion_id": ["arm_a", "arm_b"], "discount_rate": [0.2, 0.0],
                               "contact_cost": [0.05, 0.01]})
    empty = uplift_run_table(training.iloc[:0].drop(columns=["true_uplift", "kind"]), scoring, srm.iloc[:0], promotions,
                             k_fractions=[0.1, 0.2, 0.3], n_placebo=0, n_threads=1)
    assert len(empty) == 0 and "table_name" in empty.columns and "predicted_uplift" in empty.columns


def test_srm_flags():
    srm = pd.DataFrame({"experiment_id": ["a", "a", "b", "b", "c", "c"], "variant": ["control", "t"] * 3,
                        "observed_users": [500, 505, 500, 380, 100, 7],
                        "planned_share": [0.5, 0.5, 0.5, 0.5, 1.0, None]})
    flagged = srm_experiments(srm)
    assert set(flagged) == {"b", "c"} and flagged["b"] < 0.001 and flagged["c"] == 0.0
    assert srm_experiments(None) == {}


@pytest.mark.parametrize("kwargs, match", [
    ({"learner": "z"}, "learner"),
    ({"holdout": 1.5}, "holdout"),
    ({"n_folds": 1}, "n_folds"),
    ({"base_learner": "forest"}, "base_learner"),
    ({"n_folds": 2.5}, "n_folds"),
    ({"k_fractions": (0.0, 0.5)}, "k_fractions"),
    ({"margin_rate": 2.0}, "margin_rate"),
])
def test_invalid_arguments(world, kwargs, match):
    _, training, scoring, _ = world
    with pytest.raises(ValueError, match=match):
        fit_score_uplift(training, scoring, **kwargs)


def _hidden_driver_world(world, seed: int = 3):
    """exp_a again, but the uplift is decided by a coin ``hidden`` that no built-in feature shows."""
    _, training, scoring, _ = world
    rng = np.random.default_rng(seed)
    hidden = pd.Series(rng.random(len(scoring)) < 0.4, index=scoring["customer_id"])
    training = training[training["experiment_id"] == "exp_a"].drop(columns=["kind"]).reset_index(drop=True)
    training["hidden"] = hidden.reindex(training["customer_id"]).to_numpy()
    treated = ~training["is_control"].to_numpy()
    training["true_uplift"] = np.where(training["hidden"], 0.3, 0.0)
    training["is_converted"] = rng.random(len(training)) < 0.1 + treated * training["true_uplift"].to_numpy()
    scoring = scoring.assign(hidden=hidden.reindex(scoring["customer_id"]).to_numpy())
    return training, scoring


def test_extra_features_are_appended_as_given(world):
    training, scoring = _hidden_driver_world(world)
    training["hidden"] = training["hidden"].astype(float)
    training.loc[0, "hidden"] = np.nan
    plain_train, plain_score = build_features(training, scoring)
    X_train, X_score = build_features(training, scoring, extra_features=["hidden"])
    assert list(X_train.columns) == [*plain_train.columns, "hidden"] == list(X_score.columns)
    pd.testing.assert_frame_equal(X_train.drop(columns=["hidden"]), plain_train)
    assert X_train["hidden"].iloc[0] == 0.0  # NULL is 0
    np.testing.assert_array_equal(X_train["hidden"].iloc[1:], training["hidden"].iloc[1:].astype(float))
    np.testing.assert_array_equal(X_score["hidden"], scoring["hidden"].astype(float))


def test_extra_features_errors_name_the_column(world):
    training, scoring = _hidden_driver_world(world)
    with pytest.raises(ValueError, match="sessions_30d are already features"):
        build_features(training, scoring, extra_features=["sessions_30d"])
    with pytest.raises(ValueError, match="more than once"):
        build_features(training, scoring, extra_features=["hidden", "hidden"])
    with pytest.raises(ValueError, match="sequence of column names"):
        build_features(training, scoring, extra_features="hidden")
    with pytest.raises(ValueError, match="scoring is missing.*hidden"):
        fit_score_uplift(training, scoring.drop(columns=["hidden"]), extra_features=["hidden"])
    bad = scoring.astype({"hidden": object})
    bad.loc[5, "hidden"] = "yes"
    with pytest.raises(ValueError, match="scoring: extra feature 'hidden' is not numeric at row 5"):
        build_features(training, bad, extra_features=["hidden"])


def test_an_extra_feature_that_reveals_the_driver_lets_the_learner_find_it(world):
    training, scoring = _hidden_driver_world(world)
    truth = training[["exposure_id", "true_uplift"]].assign(promotion_id="arm_a")
    ratios = {}
    for extra in ([], ["hidden"]):
        fitted = fit_score_uplift(training.drop(columns=["true_uplift"]), scoring, extra_features=extra,
                                  base_learner="logistic", n_placebo=0, promotions=PROMOTIONS)
        ev = evaluate_uplift_against_truth(fitted.holdout_predictions, truth, n_bootstrap=0)
        ratios[bool(extra)] = float(ev["true_gain_ratio"].iloc[0])
    # without it the learner ranks about at random; with it about like the truth
    assert abs(ratios[False]) < 0.25 and ratios[True] > 0.85, ratios


def test_missing_columns_are_named(world):
    _, training, scoring, _ = world
    with pytest.raises(ValueError, match="variant"):
        fit_score_uplift(training.drop(columns=["variant"]), scoring)
    with pytest.raises(ValueError, match="age_band"):
        build_features(training, scoring.drop(columns=["age_band"]))


def test_small_arms_are_skipped_with_a_note(world):
    _, training, scoring, _ = world
    tiny = training[training["experiment_id"] == "exp_b"].head(30).drop(columns=["true_uplift", "kind"])
    res = fit_score_uplift(tiny, scoring, n_placebo=0, n_threads=1, min_group_size=20)
    assert res.scores.empty and list(res.scores.columns) == SCORE_COLUMNS
    assert res.metrics["note"].str.startswith("not estimable: ").all()


def test_one_learner_per_experiment_and_every_customer_scored_for_every_arm(world):
    """Two arms in one experiment share the kept learner; every customer gets a row per modelled arm."""
    _, training, scoring, _ = world
    multi = training.drop(columns=["true_uplift", "kind"]).copy()
    treated_a = (multi["variant"] == "arm_a").to_numpy()
    multi.loc[treated_a & (np.arange(len(multi)) % 2 == 0), "variant"] = "arm_c"
    res = fit_score_uplift(multi, scoring, srm=None, promotions=PROMOTIONS, n_placebo=0, n_threads=1)
    assert len(res.scores) == 3 * len(scoring)
    assert res.scores.groupby("promotion_id")["customer_id"].nunique().to_dict() == {
        "arm_a": len(scoring), "arm_b": len(scoring), "arm_c": len(scoring)}
    kept = res.metrics[res.metrics["is_selected_learner"]].groupby("experiment_id")["learner"].unique()
    assert all(len(v) == 1 for v in kept)
    assert res.scores.groupby("experiment_id")["learner"].nunique().eq(1).all()
    # a control exposure is compared with each arm of its experiment
    hp = res.holdout_predictions
    ctrl = hp[(hp["experiment_id"] == "exp_a") & ~hp["is_treated"]]
    assert set(ctrl.groupby("exposure_id")["promotion_id"].nunique()) == {2}


def test_the_top_k_order_sorts_ids_as_text_sorting_did():
    """Ties by id through integer ranks from Arrow's sort give numpy's order of the text (also for repeated
    ids, non-ASCII ids and NaN scores), and the top-k mask is the first ceil(k n) of that order."""
    from retail_lift.uplift.economics import id_ranks, top_k_mask, top_k_order

    rng = np.random.default_rng(11)
    ids = np.array([f"C{i % 53}" for i in rng.permutation(2000)] + ["é", "z", "Z", "ä", "C1"], dtype=object)
    score = np.round(rng.normal(size=ids.size), 1)
    score[::97] = np.nan
    expected = np.lexsort((ids, -np.nan_to_num(score, nan=-np.inf)))
    np.testing.assert_array_equal(top_k_order(score, ids), expected)
    np.testing.assert_array_equal(top_k_order(score, ids, id_ranks(ids)), expected)
    mask = top_k_mask(score, ids, 0.1)
    assert mask.sum() == int(np.ceil(0.1 * ids.size)) and mask[expected[:mask.sum()]].all()
