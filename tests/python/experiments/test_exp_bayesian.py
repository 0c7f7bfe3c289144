"""Beta-Binomial test: exact closed forms against published and hand-derived values."""

import numpy as np
import pytest

from retail_lift.experiments import bayesian_proportion_test, prob_beta_greater


def test_reference_case_four_decimals():
    # 100/1000 vs 125/1000, uniform prior: P(B>A) = 0.9614, loss of shipping B 0.00022,
    # loss of keeping A 0.02517.
    r = bayesian_proportion_test(100, 1000, 125, 1000, prior=(1, 1))
    assert round(r.prob_b_beats_a, 4) == 0.9614
    assert round(r.expected_loss_b, 5) == 0.00022
    assert round(r.expected_loss_a, 5) == 0.02517
    assert (r.alpha_a, r.beta_a, r.alpha_b, r.beta_b) == (101, 901, 126, 876)


def test_losses_satisfy_exact_identity():
    # E[max(B-A,0)] - E[max(A-B,0)] = E[B] - E[A] = 126/1002 - 101/1002
    r = bayesian_proportion_test(100, 1000, 125, 1000)
    assert r.expected_loss_a - r.expected_loss_b == pytest.approx(25 / 1002, abs=1e-12)
    assert r.mean_b - r.mean_a == pytest.approx(25 / 1002)


def test_closed_forms_on_uniform_posteriors():
    # X1, X2 ~ U(0,1): P(X2 > X1) = 1/2 and E[max(X2 - X1, 0)] = E|X2 - X1| / 2 = 1/6.
    assert prob_beta_greater(1, 1, 1, 1) == pytest.approx(0.5, abs=1e-14)
    # X2 ~ Beta(2,1) (density 2p): P(X2 > X1) = E[X2] = 2/3.
    assert prob_beta_greater(1, 1, 2, 1) == pytest.approx(2 / 3, abs=1e-14)
    assert prob_beta_greater(1, 1, 2, 1, method="quad") == pytest.approx(2 / 3, abs=1e-10)


def test_uniform_prior_no_data_losses():
    r = bayesian_proportion_test(0, 1, 0, 1, prior=(1, 1))  # posteriors Beta(1,2) both
    assert r.prob_b_beats_a == pytest.approx(0.5, abs=1e-12)
    assert r.expected_loss_a == pytest.approx(r.expected_loss_b, abs=1e-12)
    # For i.i.d. Beta(1,2) (equivalently 1 - Beta(2,1), density 2u):
    # E|U-V| = 2 * int_0^1 int_0^u (u-v) 4uv dv du = 8 * int_0^1 u^4/6 du = 4/15, so the loss is 2/15.
    assert r.expected_loss_a == pytest.approx(2 / 15, abs=1e-12)


def test_identical_data_gives_one_half():
    r = bayesian_proportion_test(37, 400, 37, 400)
    assert r.prob_b_beats_a == pytest.approx(0.5, abs=1e-12)


def test_sum_and_quadrature_agree_and_non_integer_prior():
    s = prob_beta_greater(101, 901, 126, 876, method="sum")
    q = prob_beta_greater(101, 901, 126, 876, method="quad")
    assert s == pytest.approx(q, abs=1e-9)
    # Jeffreys prior -> non-integer parameters -> quadrature; compare with large Monte Carlo.
    r = bayesian_proportion_test(100, 1000, 125, 1000, prior=(0.5, 0.5))
    rng = np.random.default_rng(1)
    pa = rng.beta(100.5, 900.5, 400_000)
    pb = rng.beta(125.5, 875.5, 400_000)
    assert r.prob_b_beats_a == pytest.approx(np.mean(pb > pa), abs=0.003)
    assert r.expected_loss_a == pytest.approx(np.mean(np.maximum(pb - pa, 0)), abs=3e-4)
    assert r.expected_loss_a - r.expected_loss_b == pytest.approx(r.mean_b - r.mean_a, abs=1e-10)


def test_large_counts_are_stable():
    r = bayesian_proportion_test(50_000, 1_000_000, 50_500, 1_000_000, n_samples=1000)
    # normal approximation: z = 0.0005 / sqrt(2 * 0.05*0.95/1e6) -> P = Phi(1.6222) = 0.9476
    assert r.prob_b_beats_a == pytest.approx(0.9476, abs=0.002)
    assert 0 < r.expected_loss_b < r.expected_loss_a


def test_credible_interval_of_relative_lift_is_seeded_and_sensible():
    r1 = bayesian_proportion_test(100, 1000, 125, 1000, seed=7, n_samples=50_000)
    r2 = bayesian_proportion_test(100, 1000, 125, 1000, seed=7, n_samples=50_000)
    assert r1.rel_lift_ci_low == r2.rel_lift_ci_low
    # Posterior of pB/pA - 1 centres near 0.25 and the 95% interval barely includes 0
    # (consistent with P(B > A) = 0.961 > 0.95 being one-sided).
    assert r1.rel_lift_ci_low == pytest.approx(-0.02, abs=0.015)
    assert r1.rel_lift_ci_high == pytest.approx(0.60, abs=0.03)
    assert r1.rel_lift_ci_low < r1.rel_lift_median < r1.rel_lift_ci_high


@pytest.mark.parametrize("kwargs, name", [
    ({"x_a": 5, "n_a": 4, "x_b": 1, "n_b": 4}, "x_a"),
    ({"x_a": 1, "n_a": 4, "x_b": 1, "n_b": 4, "prior": (0, 1)}, "prior"),
    ({"x_a": 1, "n_a": 4, "x_b": 1, "n_b": 4, "ci": 1.0}, "ci"),
    ({"x_a": [1, 2], "n_a": 4, "x_b": 1, "n_b": 4}, "x_a"),
])
def test_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        bayesian_proportion_test(**kwargs)
