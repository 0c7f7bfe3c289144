"""End to end on a world with a known logistic truth: all three models near the oracle, calibrated, no leakage.

The holdout customers' true purchase probabilities are known (``predict_synthetic``), so the
oracle AUC (ranking by the truth) on the very same rows is the ceiling each model is measured against.
"""

import numpy as np
import pytest
from scipy.stats import spearmanr

from retail_lift.predict import (
    LABEL_COLUMNS,
    check_no_leakage,
    expected_calibration_error,
    fairness_report,
    oracle_metrics,
    oracle_ratio,
)

pytestmark = pytest.mark.slow  # over ~10 s of fitting or simulation per module; make test-fast leaves it out

MODELS = ("logistic", "xgboost", "catboost")


@pytest.fixture(scope="module")
def holdout_truth(propensity_result, customer_mart):
    frame, true_prob = customer_mart
    truth = dict(zip(frame["customer_id"], true_prob, strict=True))
    h = propensity_result.holdout_predictions
    return h, np.array([truth[c] for c in h["customer_id"]])


@pytest.mark.parametrize("kind", MODELS)
def test_each_model_reaches_90_percent_of_the_oracle_auc(propensity_result, holdout_truth, kind):
    h, true_prob = holdout_truth
    oracle = oracle_metrics(h["purchased_next_30d"], true_prob, k=(50, 100))
    model_auc = propensity_result.metric(kind, "roc_auc")
    assert 0.75 < oracle["roc_auc"] < 0.9  # a realistic, noisy outcome
    assert oracle_ratio(model_auc, oracle["roc_auc"]) >= 0.9


@pytest.mark.parametrize("kind", MODELS)
def test_calibrated_probabilities_are_calibrated(propensity_result, holdout_truth, kind):
    h, true_prob = holdout_truth
    ece = propensity_result.metric(kind, "ece")
    assert ece == pytest.approx(expected_calibration_error(h["purchased_next_30d"], h[f"probability_{kind}"]))
    assert ece < 0.06  # ~900 holdout rows: the sampling noise of the bin rates alone is ~0.02-0.03
    # against the truth itself (no outcome noise): mean absolute error of the probability
    assert np.mean(np.abs(h[f"probability_{kind}"] - true_prob)) < 0.08
    # the mean prediction matches the observed rate
    assert h[f"probability_{kind}"].mean() == pytest.approx(h["purchased_next_30d"].mean(), abs=0.02)


def test_final_scores_track_the_true_probability(propensity_result, customer_mart):
    frame, true_prob = customer_mart
    score_truth = true_prob[(frame["snapshot_role"] == "score").to_numpy()]
    rho = spearmanr(propensity_result.scores["probability"], score_truth).statistic
    assert rho > 0.8


def test_no_leakage_column_is_used(propensity_result):
    r = propensity_result
    used = set(r.feature_spec.source_columns)
    assert used.isdisjoint(LABEL_COLUMNS)
    assert used.isdisjoint({"customer_id", "snapshot_role", "feature_date"})
    check_no_leakage(used, label="purchased_next_30d")  # does not raise
    assert not any("_next_" in c for c in r.feature_columns)
    # the features that drive the truth come first
    top = set(r.feature_importance["source_column"].head(4))
    assert {"frequency", "recency_days"} <= top


def test_fairness_of_the_targeting_decision(propensity_result, customer_mart):
    """Target the holdout customers above the F1 threshold; the truth gives age band 25-34 a higher
    purchase rate, so the age gap in targeting is flagged while the gender gap is not."""
    r = propensity_result
    frame, _ = customer_mart
    h = r.holdout_predictions.merge(frame[["customer_id", "gender", "age_band"]], on="customer_id")
    selected = (h[f"probability_{r.chosen_model}"] >= r.metric(r.chosen_model, "threshold")).astype(int)
    by_group, summary = fairness_report(h["purchased_next_30d"], selected, {"gender": h["gender"],
                                                                            "age_band": h["age_band"]},
                                        min_group_size=50)
    assert by_group["n"].groupby(by_group["attribute"]).sum().tolist() == [900, 900]
    flags = summary.set_index(["attribute", "metric"])
    assert flags.loc[("age_band", "demographic_parity_difference"), "exceeds_threshold"]
    assert flags.loc[("age_band", "demographic_parity_difference"), "max_group"] == "25-34"
    assert not flags.loc[("gender", "demographic_parity_difference"), "exceeds_threshold"]
