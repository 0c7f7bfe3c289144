"""mSPRT: closed-form values, inversion identity, running min / intersection, and validity under peeking."""

import math

import numpy as np
import pytest

from retail_lift.experiments import (
    msprt_from_estimates,
    msprt_means_test,
    msprt_test,
    sequential_test,
    two_proportion_test,
)


def test_single_look_hand_computed():
    # est 0.02, V = 1e-4, tau^2 = 1e-4:
    # Lambda = sqrt(1/2) * exp(1e-4 * 4e-4 / (2 * 1e-4 * 2e-4)) = e / sqrt 2
    r = msprt_from_estimates(0.02, 1e-4, tau=0.01, alpha=0.05)
    assert r.log_lr == pytest.approx(1.0 - 0.5 * math.log(2.0))
    assert r.p_value == pytest.approx(math.sqrt(2.0) / math.e)  # 0.52026
    # half-width sqrt(V (V + tau^2) / tau^2 * (2 log 20 + log 2)) = sqrt(2e-4 * log 800)
    hw = math.sqrt(2e-4 * math.log(800.0))
    assert r.abs_ci_low == pytest.approx(0.02 - hw)
    assert r.abs_ci_high == pytest.approx(0.02 + hw)
    assert r.rejected is False and r.first_rejection_look == -1


def test_confidence_sequence_is_the_inversion_of_the_test():
    r = msprt_from_estimates(0.013, 2.5e-5, tau=0.008, alpha=0.05)
    for edge in (r.abs_ci_low, r.abs_ci_high):
        at_edge = msprt_from_estimates(0.013, 2.5e-5, tau=0.008, alpha=0.05, theta0=edge)
        assert at_edge.p_value == pytest.approx(0.05, rel=1e-9)


def test_running_minimum_and_intersection_over_looks():
    est = np.array([0.05, 0.0, 0.03, 0.01])
    var = np.array([4e-4, 2e-4, 1e-4, 5e-5])
    r = msprt_from_estimates(est, var, tau=0.02)
    single = [msprt_from_estimates(e, v, tau=0.02) for e, v in zip(est, var, strict=True)]
    assert r.p_value.tolist() == pytest.approx(np.minimum.accumulate([s.p_value for s in single]).tolist())
    lows = np.maximum.accumulate([s.abs_ci_low for s in single])
    highs = np.minimum.accumulate([s.abs_ci_high for s in single])
    assert r.abs_ci_low.tolist() == pytest.approx(lows.tolist())
    assert r.abs_ci_high.tolist() == pytest.approx(highs.tolist())
    assert np.all(np.diff(r.p_value) <= 0)


def test_proportion_wrapper_uses_unpooled_plugin_variance():
    xa, na, xb, nb = [40, 95, 150], [500, 1000, 1500], [60, 130, 205], [500, 1000, 1500]
    r = msprt_test(xa, na, xb, nb, tau=0.02)
    pa, pb = np.divide(xa, na), np.divide(xb, nb)
    manual = msprt_from_estimates(pb - pa, pa * (1 - pa) / na + pb * (1 - pb) / nb, tau=0.02)
    assert r.p_value.tolist() == pytest.approx(manual.p_value.tolist())
    assert r.abs_ci_low.tolist() == pytest.approx(manual.abs_ci_low.tolist())
    assert sequential_test is msprt_test
    assert r.metric == "proportion"


def test_rejection_flags_and_first_look():
    r = msprt_test([[50, 100, 150, 200]], [[500, 1000, 1500, 2000]], [[75, 160, 250, 330]],
                   [[500, 1000, 1500, 2000]], tau=0.03)
    assert r.p_value.shape == (1, 4)
    first = int(np.argmax(r.p_value[0] < 0.05))
    assert r.rejected[0] and r.first_rejection_look[0] == first
    assert r.abs_ci_low[0, -1] > 0  # 0 excluded once rejected


def _cum_sums(rng, sims, looks, mean):
    y = rng.normal(mean, 1.0, size=(sims, looks[-1]))
    c1, c2 = np.cumsum(y, axis=1), np.cumsum(y * y, axis=1)
    return c1[:, looks - 1], c2[:, looks - 1]


def test_validity_under_continuous_monitoring_for_means():
    # 2,000 A/A experiments, 60 looks each (every 10 users per arm up to 600).
    # mSPRT: P(ever reject) <= alpha; the fixed-horizon test peeked 60 times is far above alpha.
    rng = np.random.default_rng(11)
    sims, looks = 2000, np.arange(10, 601, 10)
    sa, qa = _cum_sums(rng, sims, looks, 0.0)
    sb, qb = _cum_sums(rng, sims, looks, 0.0)
    seq = msprt_means_test(looks, sa, qa, looks, sb, qb, tau=0.2, alpha=0.05)
    fpr = float(np.mean(seq.rejected))
    # upper end of the binomial 99.9% band for a rate of 0.05 with 2000 trials is ~0.066
    assert fpr <= 0.066
    covered = (seq.abs_ci_low[:, -1] <= 0) & (0 <= seq.abs_ci_high[:, -1])
    assert np.mean(covered) >= 0.934  # simultaneous coverage over all 60 looks >= 95% (band)
    from retail_lift.experiments import welch_test

    fixed = welch_test(looks, sa, qa, looks, sb, qb)
    assert np.mean(fixed.significant.any(axis=1)) > 0.15  # known inflation (~0.3 for 60 looks)


def test_sequential_detects_a_real_effect():
    rng = np.random.default_rng(5)
    looks = np.arange(50, 2001, 50)
    sa, qa = _cum_sums(rng, 300, looks, 0.0)
    sb, qb = _cum_sums(rng, 300, looks, 0.25)
    r = msprt_means_test(looks, sa, qa, looks, sb, qb, tau=0.25)
    assert np.mean(r.rejected) > 0.9  # power at n=2000 with effect 0.25 sd is essentially 1
    assert np.all(r.abs_effect[r.rejected, -1] > 0)


def test_scalar_look_agrees_with_fixed_test_direction():
    r = msprt_test(100, 1000, 125, 1000, tau=0.02)
    f = two_proportion_test(100, 1000, 125, 1000)
    assert r.abs_effect == pytest.approx(f.abs_effect)
    assert r.p_value > f.p_value  # always-valid p-values are more conservative


def test_bad_tau_and_variance():
    with pytest.raises(ValueError, match="tau"):
        msprt_test(1, 10, 2, 10, tau=0.0)
    with pytest.raises(ValueError, match="variance"):
        msprt_from_estimates(0.1, -1.0, tau=0.1)
    with pytest.raises(ValueError, match="x_b"):
        msprt_test(1, 10, 20, 10, tau=0.1)
