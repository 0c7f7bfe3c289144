"""Two-proportion z test and Welch test against hand-computed / closed-form references."""

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from retail_lift.experiments import two_proportion_test, welch_test


def test_two_proportion_reference_case():
    # 100/1000 vs 125/1000: pooled p = 0.1125, SE0 = sqrt(0.1125*0.8875*0.002) = 0.0141310,
    # z = 0.025 / 0.0141310 = 1.76915, two-sided p = 0.0769.
    r = two_proportion_test(100, 1000, 125, 1000)
    assert r.rate_a == pytest.approx(0.100)
    assert r.rate_b == pytest.approx(0.125)
    assert r.pooled_rate == pytest.approx(0.1125)
    assert r.abs_effect == pytest.approx(0.025)
    assert r.z == pytest.approx(1.769150, abs=1e-5)
    assert round(r.p_value, 4) == 0.0769
    assert r.significant is False
    # Unpooled Wald SE = sqrt(0.09/1000 + 0.109375/1000) = 0.0141200
    assert r.abs_se == pytest.approx(math.sqrt(0.000199375))
    assert r.abs_ci_low == pytest.approx(0.025 - 1.959964 * 0.0141200, abs=1e-6)
    assert r.abs_ci_high == pytest.approx(0.025 + 1.959964 * 0.0141200, abs=1e-6)
    # Delta method: Var(R) = 0.000109375/0.01 + 0.015625*0.00009/0.0001 = 0.025 -> SE 0.158114
    assert r.rel_effect == pytest.approx(0.25)
    assert r.rel_se == pytest.approx(math.sqrt(0.025))
    assert r.rel_ci_low == pytest.approx(0.25 - 1.959964 * 0.158114, abs=1e-5)
    assert r.rel_ci_high == pytest.approx(0.25 + 1.959964 * 0.158114, abs=1e-5)


def test_two_proportion_matches_chi_square_without_correction():
    # The squared pooled z statistic is Pearson's chi-square of the 2x2 table.
    r = two_proportion_test(230, 2000, 270, 2100)
    chi2, p, _, _ = stats.chi2_contingency([[230, 1770], [270, 1830]], correction=False)
    assert r.z**2 == pytest.approx(chi2, rel=1e-10)
    assert r.p_value == pytest.approx(p, rel=1e-10)


def test_two_proportion_alpha_changes_interval_only():
    r90 = two_proportion_test(100, 1000, 125, 1000, alpha=0.10)
    assert r90.significant is True  # p = 0.0769 < 0.10
    assert r90.abs_ci_high - r90.abs_ci_low == pytest.approx(2 * 1.644854 * r90.abs_se, rel=1e-6)


def test_two_proportion_vectorised_equals_scalar_calls():
    xa, xb = np.array([100, 50, 0]), np.array([125, 40, 0])
    r = two_proportion_test(xa, 1000, xb, 800)
    assert isinstance(r.p_value, np.ndarray) and r.p_value.shape == (3,)
    for i in range(3):
        ri = two_proportion_test(int(xa[i]), 1000, int(xb[i]), 800)
        assert r.p_value[i] == pytest.approx(ri.p_value)
        assert r.abs_ci_low[i] == pytest.approx(ri.abs_ci_low)


def test_two_proportion_degenerate_rates():
    r = two_proportion_test(0, 500, 0, 500)
    assert r.z == 0.0 and r.p_value == 1.0 and r.abs_effect == 0.0
    assert math.isnan(r.rel_effect)  # undefined relative effect with a zero control rate


def test_two_proportion_to_dict_is_plain():
    d = two_proportion_test(100, 1000, 125, 1000).to_dict()
    assert set(d) >= {"rate_a", "rate_b", "abs_effect", "abs_ci_low", "abs_ci_high", "rel_effect",
                      "rel_ci_low", "rel_ci_high", "z", "p_value"}
    assert round(d["p_value"], 4) == 0.0769
    with pytest.raises(dataclasses.FrozenInstanceError):
        two_proportion_test(1, 10, 2, 10).rate_a = 0.5  # frozen


@pytest.mark.parametrize("args, name", [
    ((11, 10, 2, 10), "x_a"),
    ((1, 10, 2.5, 10), "x_b"),
    ((1, 0, 2, 10), "n_a"),
    ((-1, 10, 2, 10), "x_a"),
    ((1, 10, float("nan"), 10), "x_b"),
])
def test_two_proportion_rejects_bad_input_naming_argument(args, name):
    with pytest.raises(ValueError, match=name):
        two_proportion_test(*args)


def test_two_proportion_rejects_bad_alpha():
    with pytest.raises(ValueError, match="alpha"):
        two_proportion_test(1, 10, 2, 10, alpha=1.5)


def _sums(y):
    y = np.asarray(y, float)
    return len(y), y.sum(), (y**2).sum()


def test_welch_hand_computed_example():
    # a = [1,2,3,4]: mean 2.5, var 5/3; b = [2,4,6,8]: mean 5, var 20/3.
    # v_a = 5/12, v_b = 20/12, t = 2.5 / sqrt(25/12) = sqrt(3), df = (25/12)^2 / (425/432) = 75/17.
    r = welch_test(*_sums([1, 2, 3, 4]), *_sums([2, 4, 6, 8]))
    assert r.mean_a == pytest.approx(2.5) and r.mean_b == pytest.approx(5.0)
    assert r.var_a == pytest.approx(5 / 3) and r.var_b == pytest.approx(20 / 3)
    assert r.t == pytest.approx(math.sqrt(3))
    assert r.df == pytest.approx(75 / 17)
    assert r.p_value == pytest.approx(2 * stats.t.sf(math.sqrt(3), 75 / 17))
    q = stats.t.ppf(0.975, 75 / 17)
    assert r.abs_ci_low == pytest.approx(2.5 - q * math.sqrt(25 / 12))
    assert r.rel_effect == pytest.approx(1.0)
    # delta method: v_b/m_a^2 + m_b^2 v_a/m_a^4 = (20/12)/6.25 + 25*(5/12)/39.0625
    assert r.rel_se == pytest.approx(math.sqrt((20 / 12) / 6.25 + 25 * (5 / 12) / 39.0625))


def test_welch_matches_scipy_on_random_revenue():
    rng = np.random.default_rng(3)
    a = rng.exponential(20.0, 700) * (rng.random(700) < 0.3)
    b = rng.exponential(23.0, 650) * (rng.random(650) < 0.3)
    r = welch_test(*_sums(a), *_sums(b))
    ref = stats.ttest_ind(b, a, equal_var=False)
    assert r.t == pytest.approx(ref.statistic, rel=1e-9)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-8)
    assert r.df == pytest.approx(ref.df, rel=1e-9)


def test_welch_zero_variance_and_inconsistent_sums():
    r = welch_test(10, 50.0, 250.0, 10, 50.0, 250.0)  # every user spent exactly 5
    assert r.t == 0.0 and r.p_value == 1.0
    with pytest.raises(ValueError, match="sumsq_b"):
        welch_test(10, 50.0, 250.0, 10, 50.0, 100.0)  # sum of squares below sum^2/n
    with pytest.raises(ValueError, match="n_a"):
        welch_test(1, 5.0, 25.0, 10, 50.0, 300.0)
