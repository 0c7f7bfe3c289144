"""Sample size and power against hand-computed textbook values."""

import math

import pytest
from scipy import stats

from retail_lift.experiments import power_means, power_proportions, sample_size_means, sample_size_proportions


def test_sample_size_proportions_hand_computed():
    # 10% -> 12%: pbar = 0.11; [1.959964*sqrt(2*0.11*0.89) + 0.841621*sqrt(0.09 + 0.1056)]^2 / 0.02^2
    # = (0.867270 + 0.372221)^2 / 0.0004 = 3840.8 -> 3841 per arm (also Evan Miller's calculator)
    assert sample_size_proportions(0.10, 0.02, relative=False) == 3841
    assert sample_size_proportions(0.10, 0.20, relative=True) == 3841  # same effect, relative form
    za, zb = stats.norm.ppf(0.975), stats.norm.ppf(0.8)
    n = (za * math.sqrt(2 * 0.105 * 0.895) + zb * math.sqrt(0.1 * 0.9 + 0.11 * 0.89)) ** 2 / 0.01**2
    assert sample_size_proportions(0.10, 0.10) == math.ceil(n) == 14751


def test_sample_size_means_hand_computed():
    # 2 (1.959964 + 0.841621)^2 * 1^2 / 0.2^2 = 392.44 -> 393
    assert sample_size_means(1.0, 0.2) == 393
    assert sample_size_means(10.0, 2.0) == 393  # scale invariant
    assert sample_size_means(1.0, 0.2, alpha=0.01, power=0.9) == math.ceil(
        2 * (stats.norm.ppf(0.995) + stats.norm.ppf(0.9)) ** 2 / 0.04)


def test_power_is_the_inverse_of_sample_size():
    assert power_proportions(0.10, 0.02, 3841, relative=False) == pytest.approx(0.80, abs=5e-4)
    assert power_proportions(0.10, 0.02, 3840, relative=False) < 0.8 < power_proportions(
        0.10, 0.02, 3841, relative=False)
    assert power_means(1.0, 0.2, 393) == pytest.approx(0.80, abs=1e-3)
    # tiny sample: power approaches alpha
    assert power_means(1.0, 1e-6, 10) == pytest.approx(0.05, abs=1e-6)


def test_negative_mde_is_symmetric_for_means():
    assert sample_size_means(1.0, -0.2) == 393


@pytest.mark.parametrize("call, name", [
    (lambda: sample_size_proportions(1.2, 0.1), "baseline"),
    (lambda: sample_size_proportions(0.1, 0.0), "mde"),
    (lambda: sample_size_proportions(0.6, 1.0), "mde"),
    (lambda: sample_size_proportions(0.1, 0.1, power=1.0), "power"),
    (lambda: sample_size_means(-1.0, 0.1), "sd"),
    (lambda: power_proportions(0.1, 0.1, 0), "n_per_arm"),
])
def test_bad_inputs(call, name):
    with pytest.raises(ValueError, match=name):
        call()
