"""Classification metrics on a 6-row example computed by hand, cross-checked with scikit-learn.

Rows in decreasing probability order::

    row   p    y
    0    0.9   1
    1    0.8   0
    2    0.7   1
    3    0.4   0
    4    0.3   0
    5    0.2   1

ROC AUC: 3 x 3 positive-negative pairs; 0.9 beats 3 negatives, 0.7 beats 2, 0.2 beats none -> 5/9.
Average precision: precision at the positives' ranks 1, 3, 6 is 1, 2/3, 1/2 -> (1 + 2/3 + 1/2) / 3 = 13/18.
Brier: (0.01 + 0.64 + 0.09 + 0.16 + 0.09 + 0.64) / 6 = 1.63 / 6.
ECE, 2 bins: [0, 0.5) holds p 0.4, 0.3, 0.2 (mean 0.3) with rate 1/3 -> gap 1/30; [0.5, 1] holds
0.9, 0.8, 0.7 (mean 0.8) with rate 2/3 -> gap 2/15; ECE = 0.5/30 + 0.5 * 2/15 = 1/12.
Threshold 0.5: predicted 0.9, 0.8, 0.7 -> TP 2, FP 1, FN 1, TN 2: precision = recall = F1 = 2/3,
accuracy = 4/6.
Best F1: F1(t) = 2 TP / (n_selected + 3) is 2/4, 2/5, 4/6, 4/7, 4/8, 6/9 for t = 0.9 ... 0.2; the
maximum 2/3 is reached at 0.7 and at 0.2, and the higher threshold wins.
"""

import math

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    f1_score,
    ndcg_score,
    roc_auc_score,
)
from sklearn.metrics import log_loss as sk_log_loss

from retail_lift.predict import (
    best_f1_threshold,
    brier_score,
    calibration_table,
    classification_metrics,
    expected_calibration_error,
    log_loss,
    ndcg_at_k,
    oracle_metrics,
    oracle_ratio,
    precision_at_k,
    rank_order,
    recall_at_k,
    threshold_metrics,
)

P = np.array([0.9, 0.8, 0.7, 0.4, 0.3, 0.2])
Y = np.array([1, 0, 1, 0, 0, 1])


def test_ranking_and_probability_metrics_by_hand():
    m = classification_metrics(Y, P, k=(2, 3, 7), threshold=0.5)
    assert m["n"] == 6 and m["positives"] == 3 and m["prevalence"] == 0.5
    assert m["roc_auc"] == pytest.approx(5 / 9)
    assert m["pr_auc"] == pytest.approx(13 / 18)
    expected_ll = -(math.log(0.9) + math.log(0.2) + math.log(0.7) + math.log(0.6) + math.log(0.7)
                    + math.log(0.2)) / 6
    assert m["log_loss"] == pytest.approx(expected_ll)
    assert m["brier"] == pytest.approx(1.63 / 6)
    # ten bins: one row per bin, so ECE is the mean absolute error here
    assert m["ece"] == pytest.approx((0.1 + 0.8 + 0.3 + 0.4 + 0.3 + 0.8) / 6)
    # and scikit-learn agrees
    assert m["roc_auc"] == pytest.approx(roc_auc_score(Y, P))
    assert m["pr_auc"] == pytest.approx(average_precision_score(Y, P))
    assert m["log_loss"] == pytest.approx(sk_log_loss(Y, P))
    assert m["brier"] == pytest.approx(brier_score_loss(Y, P))


def test_top_k_by_hand():
    assert precision_at_k(Y, P, 2) == pytest.approx(0.5)
    assert recall_at_k(Y, P, 2) == pytest.approx(1 / 3)
    # DCG@2 = 1/log2(2); IDCG@2 = 1 + 1/log2(3)
    assert ndcg_at_k(Y, P, 2) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    # DCG@3 = 1 + 1/log2(4); IDCG@3 = 1 + 1/log2(3) + 1/log2(4)
    assert ndcg_at_k(Y, P, 3) == pytest.approx(1.5 / (1.5 + 1 / math.log2(3)))
    assert ndcg_at_k(Y, P, 3) == pytest.approx(ndcg_score(Y[None, :], P[None, :], k=3))
    m = classification_metrics(Y, P, k=(2, 3, 7))
    assert m["precision_at_3"] == pytest.approx(2 / 3) and m["recall_at_3"] == pytest.approx(2 / 3)
    # k larger than the number of rows is not a meaningful cut-off
    assert math.isnan(m["precision_at_7"]) and math.isnan(m["recall_at_7"]) and math.isnan(m["ndcg_at_7"])
    assert "f1" not in m  # no threshold given


def test_ties_are_broken_by_input_order():
    p = np.array([0.5, 0.5, 0.5, 0.1])
    np.testing.assert_array_equal(rank_order(p), [0, 1, 2, 3])
    assert precision_at_k([0, 1, 1, 0], p, 1) == 0.0  # row 0 comes first
    assert precision_at_k([1, 0, 1, 0], p, 1) == 1.0
    assert ndcg_at_k([0, 1, 1, 0], p, 2) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))


def test_ece_two_bins_and_table_by_hand():
    assert expected_calibration_error(Y, P, n_bins=2) == pytest.approx(1 / 12)
    t = calibration_table(Y, P, n_bins=2)
    assert t["n"].tolist() == [3, 3]
    np.testing.assert_allclose(t["mean_predicted"], [0.3, 0.8])
    np.testing.assert_allclose(t["observed_rate"], [1 / 3, 2 / 3])
    np.testing.assert_allclose(t["lower"], [0.0, 0.5])
    # p = 1 falls in the last bin, p = 0 in the first; empty bins are kept with n = 0
    t10 = calibration_table([1, 0], [1.0, 0.0], n_bins=10)
    assert t10["n"].tolist() == [1] + [0] * 8 + [1]
    assert expected_calibration_error([1, 0], [1.0, 0.0]) == 0.0
    assert expected_calibration_error([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]) == 0.0


def test_threshold_metrics_by_hand():
    m = threshold_metrics(Y, P, 0.5)
    assert m == pytest.approx({"threshold": 0.5, "f1": 2 / 3, "accuracy": 4 / 6, "precision": 2 / 3,
                               "recall": 2 / 3})
    assert m["f1"] == pytest.approx(f1_score(Y, P >= 0.5))
    # p >= threshold is positive: at 0.7 row 2 is selected
    assert threshold_metrics(Y, P, 0.7)["precision"] == pytest.approx(2 / 3)
    nothing = threshold_metrics(Y, P, 0.95)
    assert nothing["precision"] == 0.0 and nothing["recall"] == 0.0 and nothing["f1"] == 0.0
    assert nothing["accuracy"] == pytest.approx(0.5)


def test_best_f1_threshold_by_hand_and_tie_rule():
    t, f1 = best_f1_threshold(Y, P)
    assert t == 0.7 and f1 == pytest.approx(2 / 3)
    assert threshold_metrics(Y, P, t)["f1"] == pytest.approx(f1)
    # a threshold selects whole ties: with p = [.6, .6, .1] and y = [1, 0, 1] the candidates are
    # t=.6 (TP 1, n 2 -> 2/4) and t=.1 (TP 2, n 3 -> 4/5)
    t2, f2 = best_f1_threshold([1, 0, 1], [0.6, 0.6, 0.1])
    assert (t2, f2) == (0.1, pytest.approx(0.8))
    # brute force over all candidate thresholds agrees on random data
    rng = np.random.default_rng(0)
    y, p = (rng.random(300) < 0.2).astype(int), np.round(rng.random(300), 2)
    t3, f3 = best_f1_threshold(y, p)
    brute = max(f1_score(y, p >= c) for c in np.unique(p))
    assert f3 == pytest.approx(brute) and f1_score(y, p >= t3) == pytest.approx(brute)


def test_degenerate_inputs():
    m = classification_metrics([0, 0, 0], [0.1, 0.2, 0.3], k=2)
    assert math.isnan(m["roc_auc"]) and math.isnan(m["pr_auc"]) and math.isnan(m["recall_at_2"])
    assert m["precision_at_2"] == 0.0
    assert log_loss([1], [0.0]) == pytest.approx(-math.log(1e-15))  # clipped, finite
    assert brier_score([1, 0], [1.0, 0.0]) == 0.0
    with pytest.raises(ValueError, match="at least one positive"):
        best_f1_threshold([0, 0], [0.2, 0.3])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(y_true=[0, 2], y_prob=[0.1, 0.2]), "y_true must contain only 0 and 1"),
        (dict(y_true=[0, 1], y_prob=[0.1, 1.2]), "y_prob must lie in"),
        (dict(y_true=[0, 1], y_prob=[0.1, np.nan]), "y_prob contains 1 NaN"),
        (dict(y_true=[0, 1, 1], y_prob=[0.1, 0.2]), "equal lengths"),
        (dict(y_true=[], y_prob=[]), "y_true must not be empty"),
        (dict(y_true=[0, 1], y_prob=[0.1, 0.2], k=0), "k must be a positive integer"),
    ],
)
def test_invalid_inputs_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        classification_metrics(**kwargs)


def test_oracle_metrics_and_ratio():
    rng = np.random.default_rng(3)
    true_p = rng.uniform(0.02, 0.6, 2000)
    y = (rng.random(2000) < true_p).astype(int)
    oracle = oracle_metrics(y, true_p, k=100)
    assert oracle == classification_metrics(y, true_p, k=100)
    noisy = np.clip(true_p + rng.normal(0, 0.15, 2000), 0, 1)
    model = classification_metrics(y, noisy, k=100)
    assert model["roc_auc"] < oracle["roc_auc"]
    assert 0.8 < oracle_ratio(model["roc_auc"], oracle["roc_auc"]) < 1.0
    assert oracle_ratio(0.72, 0.8) == pytest.approx(0.9)
    assert oracle_ratio(0.72, 0.8, chance=0.5) == pytest.approx(0.22 / 0.3)
    with pytest.raises(ValueError, match="oracle_auc must exceed chance"):
        oracle_ratio(0.6, 0.5, chance=0.5)
    with pytest.raises(ValueError, match="model_auc must be a finite number"):
        oracle_ratio(float("nan"), 0.8)
    with pytest.raises(ValueError, match="true_prob must lie in"):
        oracle_metrics([0, 1], [0.5, 1.5])
