"""SRM chi-square test and Holm / Benjamini-Hochberg adjustments (hand-computed)."""

import math

import numpy as np
import pytest

from retail_lift.experiments import benjamini_hochberg, holm, srm_test


def test_srm_two_variants_closed_form():
    # [1000, 1100] vs 50/50: E = 1050, chi2 = 2 * 50^2 / 1050 = 100/21; df 1 -> p = 2 * (1 - Phi(sqrt chi2))
    r = srm_test([1000, 1100], [0.5, 0.5])
    assert r.chi2 == pytest.approx(100 / 21)
    assert r.df == 1
    assert r.p_value == pytest.approx(math.erfc(math.sqrt(100 / 21) / math.sqrt(2)))  # 0.02910
    assert round(r.p_value, 4) == 0.0291
    assert r.is_srm is False  # default threshold 0.001
    assert srm_test([1000, 1100], threshold=0.05).is_srm is True


def test_srm_three_variants_closed_form():
    # 50/25/25 design, observed [5000, 2600, 2400]: chi2 = 0 + 4 + 4 = 8; with 2 df, p = exp(-8/2)
    r = srm_test([5000, 2600, 2400], [50, 25, 25])
    assert r.expected == pytest.approx([5000, 2500, 2500])
    assert r.chi2 == pytest.approx(8.0)
    assert r.p_value == pytest.approx(math.exp(-4.0))


def test_srm_flags_a_real_mismatch_and_vectorises():
    r = srm_test(np.array([[50_000, 50_100], [50_000, 51_500]]))
    assert r.is_srm.tolist() == [False, True]
    assert r.chi2[1] == pytest.approx(2 * 750**2 / 50_750)


@pytest.mark.parametrize("obs, ratios, name", [
    ([10], None, "observed_counts"),
    ([10, -1], None, "observed_counts"),
    ([10, 10], [1, 0], "expected_ratios"),
    ([10, 10], [1, 1, 1], "expected_ratios"),
])
def test_srm_bad_input(obs, ratios, name):
    with pytest.raises(ValueError, match=name):
        srm_test(obs, ratios)


def test_holm_hand_example():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max
    # 0.02, 0.03, 0.06, 0.06 -> back to the input order
    assert holm([0.01, 0.04, 0.03, 0.005]).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # 0.01..0.05: 0.05, 0.08, 0.09, 0.08, 0.05 -> running max 0.05, 0.08, 0.09, 0.09, 0.09
    assert holm([0.01, 0.02, 0.03, 0.04, 0.05]).tolist() == pytest.approx([0.05, 0.08, 0.09, 0.09, 0.09])
    assert holm([0.5, 0.6]).tolist() == [1.0, 1.0]  # capped at 1


def test_benjamini_hochberg_hand_example():
    # sorted p * m / rank: 0.02, 0.02, 0.04, 0.04 -> running min from the top
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.005]).tolist() == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert benjamini_hochberg([0.01, 0.02, 0.03, 0.04, 0.05]).tolist() == pytest.approx([0.05] * 5)
    assert benjamini_hochberg([0.5, 0.6]).tolist() == pytest.approx([0.6, 0.6])
    # step-up: a large p-value can be pulled down by a later one: [0.03, 0.031] -> both 0.031*2/2
    assert benjamini_hochberg([0.03, 0.031]).tolist() == pytest.approx([0.031, 0.031])


def test_adjustments_never_decrease_p_and_single_p_unchanged():
    p = np.random.default_rng(0).random(20)
    assert np.all(holm(p) >= p) and np.all(benjamini_hochberg(p) >= p)
    assert np.all(holm(p) >= benjamini_hochberg(p) - 1e-15)
    assert holm([0.2]).tolist() == [0.2] and benjamini_hochberg([0.2]).tolist() == [0.2]


def test_adjustment_bad_input():
    with pytest.raises(ValueError, match="p_values"):
        holm([0.1, 1.2])
    with pytest.raises(ValueError, match="p_values"):
        benjamini_hochberg([])
