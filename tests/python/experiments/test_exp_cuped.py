"""CUPED from arrays and from sufficient statistics: hand example, ANCOVA identity, variance reduction."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from retail_lift.experiments import CupedStats, cuped, welch_test


def test_hand_computed_example():
    # a: x = [0, 2], y = [1, 3] -> Cxx = 2, Cxy = 2, Cyy = 2
    # b: x = [1, 3], y = [4, 8] -> Cxx = 2, Cxy = 4, Cyy = 8
    # theta = (2 + 4) / (2 + 2) = 1.5; grand mean x = 1.5
    # adjusted means 2 - 1.5 (1 - 1.5) = 2.75 and 6 - 1.5 (2 - 1.5) = 5.25
    # adjusted variances (2 - 6 + 4.5) / 1 = 0.5 and (8 - 12 + 4.5) / 1 = 0.5
    r = cuped([1, 3], [0, 2], [4, 8], [1, 3])
    assert r.theta == pytest.approx(1.5)
    assert r.adj_mean_a == pytest.approx(2.75) and r.adj_mean_b == pytest.approx(5.25)
    assert r.adj_var_a == pytest.approx(0.5) and r.adj_var_b == pytest.approx(0.5)
    assert r.abs_effect == pytest.approx(2.5)
    # raw variances 2 and 8: reduction 1 - (0.25 + 0.25) / (1 + 4) = 0.9
    assert r.variance_reduction == pytest.approx(0.9)
    assert r.t == pytest.approx(2.5 / math.sqrt(0.5))
    assert r.df == pytest.approx(2.0)  # (0.5)^2 / (0.25^2 + 0.25^2)
    assert r.p_value == pytest.approx(2 * stats.t.sf(2.5 / math.sqrt(0.5), 2))
    assert r.unadjusted.abs_effect == pytest.approx(4.0)


def _data(seed=0, n=3000, effect=1.0):
    rng = np.random.default_rng(seed)
    xa, xb = rng.gamma(2.0, 25.0, n), rng.gamma(2.0, 25.0, n + 137)
    ya = 5 + 0.8 * xa + rng.normal(0, 20, n)
    yb = 5 + effect + 0.8 * xb + rng.normal(0, 20, n + 137)
    return ya, xa, yb, xb


def _stats(y, x):
    return {"users": len(y), "sum_y": y.sum(), "sumsq_y": (y * y).sum(), "sum_x": x.sum(),
            "sumsq_x": (x * x).sum(), "sum_xy": (x * y).sum()}


def test_sufficient_statistics_give_the_same_answer_as_arrays():
    ya, xa, yb, xb = _data()
    r_arr = cuped(ya, xa, yb, xb)
    r_dict = cuped(stats_a=_stats(ya, xa), stats_b=_stats(yb, xb))
    r_series = cuped(stats_a=pd.Series(_stats(ya, xa)), stats_b=CupedStats.from_arrays(yb, xb))
    for r in (r_dict, r_series):
        assert r.theta == pytest.approx(r_arr.theta, rel=1e-9)
        assert r.abs_effect == pytest.approx(r_arr.abs_effect, rel=1e-8)
        assert r.p_value == pytest.approx(r_arr.p_value, rel=1e-7)
        assert r.adj_var_b == pytest.approx(r_arr.adj_var_b, rel=1e-8)


def test_effect_and_theta_equal_ancova_regression():
    # OLS of y on [1, treatment, x] gives the pooled within-variant slope and the CUPED effect.
    ya, xa, yb, xb = _data(seed=1)
    y = np.concatenate([ya, yb])
    X = np.column_stack([np.ones(len(y)), np.r_[np.zeros(len(ya)), np.ones(len(yb))], np.r_[xa, xb]])
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    r = cuped(ya, xa, yb, xb)
    assert r.theta == pytest.approx(beta[2], rel=1e-9)
    assert r.abs_effect == pytest.approx(beta[1], rel=1e-9)


def test_variance_reduction_close_to_rho_squared_and_unadjusted_matches_welch():
    ya, xa, yb, xb = _data(seed=2, n=20000)
    r = cuped(ya, xa, yb, xb)
    # rho^2 = 0.8^2 * 1250 / (0.8^2 * 1250 + 400) = 2/3
    assert r.variance_reduction == pytest.approx(2 / 3, abs=0.02)
    assert r.theta == pytest.approx(0.8, abs=0.02)
    w = welch_test(len(ya), ya.sum(), (ya**2).sum(), len(yb), yb.sum(), (yb**2).sum())
    assert r.unadjusted.p_value == pytest.approx(w.p_value, rel=1e-7)


def test_constant_covariate_reduces_to_welch():
    ya, _, yb, _ = _data(seed=3, n=500)
    r = cuped(ya, np.zeros_like(ya), yb, np.zeros_like(yb))
    assert r.theta == 0.0 and r.variance_reduction == pytest.approx(0.0)
    assert r.p_value == pytest.approx(r.unadjusted.p_value)


def test_vectorised_statistics():
    runs = [_data(seed=s, n=300) for s in range(4)]
    sa = {k: np.array([_stats(ya, xa)[k] for ya, xa, _, _ in runs]) for k in _stats(*runs[0][:2])}
    sb = {k: np.array([_stats(yb, xb)[k] for _, _, yb, xb in runs]) for k in _stats(*runs[0][:2])}
    r = cuped(stats_a=sa, stats_b=sb)
    assert r.p_value.shape == (4,)
    for i, (ya, xa, yb, xb) in enumerate(runs):
        assert r.p_value[i] == pytest.approx(cuped(ya, xa, yb, xb).p_value, rel=1e-7)


def test_bad_inputs_name_the_argument():
    ya, xa, yb, xb = _data(n=50)
    with pytest.raises(ValueError, match="x_b"):
        cuped(ya, xa, yb, xb[:-1])
    with pytest.raises(ValueError, match="sum_xy"):
        cuped(stats_a={**_stats(ya, xa), "sum_xy": 1e12}, stats_b=_stats(yb, xb))
    bad = _stats(ya, xa)
    del bad["sumsq_x"]
    with pytest.raises(ValueError, match="sumsq_x"):
        cuped(stats_a=bad, stats_b=_stats(yb, xb))
    with pytest.raises(ValueError, match="not both"):
        cuped(ya, xa, yb, xb, stats_a=_stats(ya, xa), stats_b=_stats(yb, xb))
    with pytest.raises(ValueError, match="stats_b"):
        cuped(stats_a=_stats(ya, xa))
