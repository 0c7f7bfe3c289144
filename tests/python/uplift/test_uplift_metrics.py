"""Uplift metrics: hand-computed curves on 6 rows, baselines (perfect = 1, random ~ 0), validation.

The 6-row example (rows already in decreasing score order):

    row  uplift  treatment  y
    0    0.6     1          1
    1    0.5     0          0
    2    0.4     1          1
    3    0.3     0          1
    4    0.2     1          0
    5    0.1     0          0

Cumulative counts after n rows (N_t, Y_t, N_c, Y_c):
    n=1 (1,1,0,0)  n=2 (1,1,1,0)  n=3 (2,2,1,0)  n=4 (2,2,2,1)  n=5 (3,2,2,1)  n=6 (3,2,3,1)
Qini   Q(n) = Y_t - Y_c*N_t/N_c:          1, 1, 2, 2-1*2/2=1, 2-1*3/2=0.5, 2-1*3/3=1
Uplift U(n) = (Y_t/N_t - Y_c/N_c) * n:    1, 2, 3, (1-1/2)*4=2, (2/3-1/2)*5=5/6, (2/3-1/3)*6=2
"""

import numpy as np
import pandas as pd
import pytest

from retail_lift.uplift import (
    perfect_qini_curve,
    perfect_uplift_curve,
    qini_auc_from_true_uplift,
    qini_auc_score,
    qini_curve,
    qini_oracle_ratio,
    uplift_at_k,
    uplift_auc_score,
    uplift_by_percentile,
    uplift_curve,
)

UPLIFT = np.array([0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
TREAT = np.array([1, 0, 1, 0, 1, 0])
Y = np.array([1, 0, 1, 1, 0, 0])


# ---- curves by hand ------------------------------------------------------------------------


def test_qini_curve_by_hand():
    x, q = qini_curve(Y, UPLIFT, TREAT)
    np.testing.assert_array_equal(x, [0, 1, 2, 3, 4, 5, 6])
    np.testing.assert_allclose(q, [0, 1, 1, 2, 1, 0.5, 1])


def test_uplift_curve_by_hand():
    x, u = uplift_curve(Y, UPLIFT, TREAT)
    np.testing.assert_array_equal(x, [0, 1, 2, 3, 4, 5, 6])
    np.testing.assert_allclose(u, [0, 1, 2, 3, 2, 5 / 6, 2])


def test_curves_do_not_depend_on_input_order():
    perm = np.array([3, 0, 5, 1, 4, 2])
    for curve in (qini_curve, uplift_curve):
        x1, v1 = curve(Y, UPLIFT, TREAT)
        x2, v2 = curve(Y[perm], UPLIFT[perm], TREAT[perm])
        np.testing.assert_allclose(x1, x2)
        np.testing.assert_allclose(v1, v2)


def test_tied_scores_give_one_point_per_distinct_value():
    # Order by score: {rows 0,1} (score 1) then {rows 2,3} (score 0).
    # n=2: N_t=1, Y_t=1, N_c=1, Y_c=0 -> Q=1; n=4: N_t=2, Y_t=1, N_c=2, Y_c=1 -> Q=0.
    x, q = qini_curve([1, 0, 0, 1], [1, 1, 0, 0], [1, 0, 1, 0])
    np.testing.assert_array_equal(x, [0, 2, 4])
    np.testing.assert_allclose(q, [0, 1, 0])


def test_continuous_outcome_curve_endpoint_is_whole_sample_increment():
    y = np.array([10.0, 2.0, 7.5, 3.0, 0.0, 1.0])
    x, q = qini_curve(y, UPLIFT, TREAT)
    # Q(N) = Y_t - Y_c * N_t / N_c = 17.5 - 6 * 3/3 = 11.5
    assert x[-1] == 6 and q[-1] == pytest.approx(11.5)


def test_perfect_qini_curve_by_hand():
    # Perfect score y*t - y*(1-t) = [1, 0, 1, -1, 0, 0]: two treated responders (n=2, Q=2), three
    # non-responders (n=5: N_t=3, Y_t=2, N_c=2, Y_c=0, Q=2), the control responder (n=6, Q=1).
    x, q = perfect_qini_curve(Y, TREAT)
    np.testing.assert_array_equal(x, [0, 2, 5, 6])
    np.testing.assert_allclose(q, [0, 2, 2, 1])
    # Without negative effects: Q(N) = 2 - 3*1/3 = 1 reached at n=Q(N)=1, then flat.
    x, q = perfect_qini_curve(Y, TREAT, negative_effect=False)
    np.testing.assert_allclose(x, [0, 1, 6])
    np.testing.assert_allclose(q, [0, 1, 1])


def test_perfect_uplift_curve_by_hand():
    # Control responders (1) are not more than treated non-responders (1) -> score 2*(y==t) + t
    # = [3, 2, 3, 0, 1, 2]; thresholds n=2 (U=2), n=4 (U=4), n=5 (U=(2/3)*5), n=6 (U=2).
    x, u = perfect_uplift_curve(Y, TREAT)
    np.testing.assert_array_equal(x, [0, 2, 4, 5, 6])
    np.testing.assert_allclose(u, [0, 2, 4, 10 / 3, 2])


# ---- normalised areas by hand ----------------------------------------------------------------


def test_qini_auc_score_by_hand():
    # AUC(model) = 0.5+1+1.5+1.5+0.75+0.75 = 6, AUC(random) = 6*1/2 = 3,
    # AUC(perfect) = 2 + 6 + 1.5 = 9.5  ->  (6-3)/(9.5-3) = 6/13.
    assert qini_auc_score(Y, UPLIFT, TREAT) == pytest.approx(6 / 13)
    # negative_effect=False: AUC(perfect) = 0.5 + 5 = 5.5 -> (6-3)/(5.5-3) = 1.2 (may exceed 1).
    assert qini_auc_score(Y, UPLIFT, TREAT, negative_effect=False) == pytest.approx(1.2)


def test_uplift_auc_score_by_hand():
    # AUC(model) = 0.5+1.5+2.5+2.5+17/12+17/12 = 59/6, AUC(random) = 6*2/2 = 6,
    # AUC(perfect) = 2+6+11/3+8/3 = 43/3  ->  (59/6-6)/(43/3-6) = (23/6)/(25/3) = 0.46.
    assert uplift_auc_score(Y, UPLIFT, TREAT) == pytest.approx(0.46)


# ---- baselines on larger data ----------------------------------------------------------------


@pytest.fixture(scope="module")
def experiment():
    rng = np.random.default_rng(7)
    n = 20_000
    x0 = rng.normal(size=n)
    tau = 0.1 * (x0 > 0)
    t = rng.integers(0, 2, n)
    y = (rng.random(n) < 0.1 + tau * t).astype(int)
    return y, t, tau, rng


def test_perfect_ranking_scores_one(experiment):
    y, t, _, _ = experiment
    assert qini_auc_score(y, y * t - y * (1 - t), t) == pytest.approx(1.0)
    cr, tn = ((y == 1) & (t == 0)).sum(), ((y == 0) & (t == 1)).sum()
    perfect = 2 * (y == t) + (y if cr > tn else t)
    assert uplift_auc_score(y, perfect, t) == pytest.approx(1.0)
    # The exact reverse of the perfect Qini ordering scores well below 0 (not -1: the
    # normalisation is not symmetric).
    assert qini_auc_score(y, -(y * t - y * (1 - t)), t) < -0.3


def test_random_ranking_scores_about_zero(experiment):
    y, t, _, _ = experiment
    rng = np.random.default_rng(11)
    qinis = [qini_auc_score(y, rng.normal(size=y.size), t) for _ in range(20)]
    auucs = [uplift_auc_score(y, rng.normal(size=y.size), t) for _ in range(20)]
    assert abs(qinis[0]) < 0.04
    assert abs(np.mean(qinis)) < 0.01
    assert abs(np.mean(auucs)) < 0.01


def test_true_effect_ranks_above_random_but_below_perfect(experiment):
    y, t, tau, _ = experiment
    oracle = qini_auc_from_true_uplift(y, tau, t)
    assert oracle == qini_auc_score(y, tau, t)
    assert 0.05 < oracle < 0.3  # the perfect curve also exploits outcome noise, so the oracle is far below 1
    assert qini_oracle_ratio(y, tau, tau, t) == pytest.approx(1.0)
    assert qini_oracle_ratio(y, 3 * tau + 1, tau, t) == pytest.approx(1.0)  # only the ordering matters
    assert qini_oracle_ratio(y, -tau, tau, t) < 0


def test_scores_only_depend_on_ordering(experiment):
    y, t, tau, rng = experiment
    score = tau + rng.normal(scale=0.05, size=y.size)
    assert qini_auc_score(y, np.exp(score), t) == pytest.approx(qini_auc_score(y, score, t))
    assert uplift_auc_score(y, 10 * score - 3, t) == pytest.approx(uplift_auc_score(y, score, t))


# ---- uplift at k, uplift by percentile --------------------------------------------------------


def test_uplift_at_k_by_hand():
    # overall, top 3 rows: treated y=[1,1], control y=[0] -> 1 - 0.
    assert uplift_at_k(Y, UPLIFT, TREAT, k=0.5) == pytest.approx(1.0)
    assert uplift_at_k(Y, UPLIFT, TREAT, k=3) == pytest.approx(1.0)
    # overall, top 4 rows: treated [1,1], control [0,1] -> 1 - 0.5.
    assert uplift_at_k(Y, UPLIFT, TREAT, k=4) == pytest.approx(0.5)
    # by_group, 2 per group: treated rows 0,2 -> 1; control rows 1,3 -> 0.5.
    assert uplift_at_k(Y, UPLIFT, TREAT, k=2, strategy="by_group") == pytest.approx(0.5)
    # by_group with a fraction: int(3*0.5) = 1 per group: treated row 0 (1), control row 1 (0).
    assert uplift_at_k(Y, UPLIFT, TREAT, k=0.5, strategy="by_group") == pytest.approx(1.0)


def test_uplift_by_percentile_by_hand():
    df = uplift_by_percentile(Y, UPLIFT, TREAT, bins=2)
    assert list(df.index) == ["0-50", "50-100"]
    assert df.index.name == "percentile"
    assert df["n_treatment"].tolist() == [2, 1]
    assert df["n_control"].tolist() == [1, 2]
    np.testing.assert_allclose(df["response_rate_treatment"], [1.0, 0.0])
    np.testing.assert_allclose(df["response_rate_control"], [0.0, 0.5])
    np.testing.assert_allclose(df["uplift"], [1.0, -0.5])


def test_uplift_by_percentile_by_group_with_std_and_total():
    df = uplift_by_percentile(Y, UPLIFT, TREAT, bins=3, strategy="by_group", std=True, total=True)
    assert list(df.index) == ["0-33", "33-67", "67-100", "total"]
    # treated rows by score: y = 1, 1, 0; control rows by score: y = 0, 1, 0.
    np.testing.assert_allclose(df["uplift"], [1.0, 0.0, 0.0, 1 / 3])
    assert df["n_treatment"].tolist() == [1, 1, 1, 3]
    np.testing.assert_allclose(df.loc["total", "std_treatment"], np.sqrt((2 / 3) * (1 / 3) / 3))
    np.testing.assert_allclose(df.loc["total", "std_uplift"], np.sqrt(2 * (2 / 9) / 3))


def test_uplift_by_percentile_deciles_follow_the_true_effect(experiment):
    y, t, tau, _ = experiment
    df = uplift_by_percentile(y, tau, t)
    assert isinstance(df, pd.DataFrame) and len(df) == 10
    assert df["n_treatment"].sum() + df["n_control"].sum() == y.size
    assert df["uplift"].iloc[:5].mean() == pytest.approx(0.1, abs=0.02)  # tau = 0.1 half
    assert df["uplift"].iloc[5:].mean() == pytest.approx(0.0, abs=0.02)  # tau = 0 half


# ---- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: qini_curve(Y, UPLIFT, [1, 0, 2, 0, 1, 0]), "treatment"),
        (lambda: qini_curve(Y, UPLIFT, [1, 1, 1, 1, 1, 1]), "treatment"),
        (lambda: qini_curve(Y, [0.1, np.nan, 0, 0, 0, 0], TREAT), "uplift"),
        (lambda: qini_curve(Y[:5], UPLIFT, TREAT), "y=5"),
        (lambda: qini_auc_score([1, 0, 2, 0, 1, 0], UPLIFT, TREAT), "y"),
        (lambda: qini_auc_score(Y, UPLIFT, TREAT, negative_effect="yes"), "negative_effect"),
        (lambda: qini_auc_score(np.zeros(6), UPLIFT, TREAT), "y"),
        (lambda: uplift_auc_score(Y, UPLIFT.reshape(2, 3), TREAT), "uplift"),
        (lambda: perfect_uplift_curve([0.5] * 6, TREAT), "y"),
        (lambda: uplift_at_k(Y, UPLIFT, TREAT, k=1.5), "k"),
        (lambda: uplift_at_k(Y, UPLIFT, TREAT, k=6), "k"),
        (lambda: uplift_at_k(Y, UPLIFT, TREAT, k="3"), "k"),
        (lambda: uplift_at_k(Y, UPLIFT, TREAT, k=1), "k"),  # top 1 row holds no control row
        (lambda: uplift_at_k(Y, UPLIFT, TREAT, k=0.3, strategy="first"), "strategy"),
        (lambda: uplift_by_percentile(Y, UPLIFT, TREAT, bins=0), "bins"),
        (lambda: uplift_by_percentile(Y, UPLIFT, TREAT, bins=6), "bins"),
        (lambda: uplift_by_percentile(Y, UPLIFT, TREAT, bins=2, strategy="x"), "strategy"),
        (lambda: qini_oracle_ratio(Y, UPLIFT, -UPLIFT, TREAT), "true_uplift"),
    ],
)
def test_invalid_inputs_raise_value_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
