"""Beta-Bernoulli Thompson sampling: posteriors by hand, Monte Carlo probabilities vs exact integrals."""

from __future__ import annotations

import numpy as np
from scipy import integrate, stats

from retail_lift.bandit import BernoulliTS, SegmentBernoulliTS


def exact_best_arm_probabilities(alpha, beta):
    """P(arm k has the highest Beta draw) by numerical integration."""
    out = []
    for k in range(len(alpha)):
        def integrand(x, k=k):
            val = stats.beta.pdf(x, alpha[k], beta[k])
            for j in range(len(alpha)):
                if j != k:
                    val *= stats.beta.cdf(x, alpha[j], beta[j])
            return val
        out.append(integrate.quad(integrand, 0, 1, limit=200)[0])
    return np.array(out)


def test_posterior_by_hand():
    policy = BernoulliTS(2).fit(None, [0, 0, 0, 1], [1, 1, 0, 1])
    np.testing.assert_allclose(policy.alpha_, [3, 2])
    np.testing.assert_allclose(policy.beta_, [2, 1])
    np.testing.assert_allclose(policy.posterior_mean_, [0.6, 2 / 3])


def test_fractional_rewards_are_fractional_successes():
    policy = BernoulliTS(1, alpha=2.0, beta=3.0).fit(None, [0, 0], [0.25, 1.0])
    np.testing.assert_allclose(policy.alpha_, [3.25])
    np.testing.assert_allclose(policy.beta_, [3.75])


def test_two_arm_probability_matches_closed_form():
    # Beta(3,2) vs Beta(2,1): P(arm 0 best) = E[F_1(X0)] = E[X0^2] = 0.4 exactly
    policy = BernoulliTS(2, n_mc_draws=40_000, random_state=0).fit(None, [0, 0, 0, 1], [1, 1, 0, 1])
    p = policy.action_probabilities(None)[0]
    sd = np.sqrt(0.4 * 0.6 / 40_000)
    assert abs(p[0] - 0.4) < 5 * sd
    assert p.sum() == 1.0


def test_three_arm_probability_matches_integral():
    policy = BernoulliTS(3, n_mc_draws=40_000, random_state=1)
    policy.fit(None, [0] * 20 + [1] * 10 + [2] * 5, [1] * 4 + [0] * 16 + [1] * 3 + [0] * 7 + [1, 0, 0, 0, 0])
    exact = exact_best_arm_probabilities(policy.alpha_, policy.beta_)
    p = policy.action_probabilities(None)[0]
    assert np.all(np.abs(p - exact) < 5 * np.sqrt(exact * (1 - exact) / 40_000) + 1e-3)


def test_seed_fixes_the_estimate_and_state_changes_it():
    a = BernoulliTS(3, random_state=4).fit(None, [0, 1, 2], [1, 0, 0])
    b = BernoulliTS(3, random_state=4).fit(None, [0, 1, 2], [1, 0, 0])
    np.testing.assert_array_equal(a.action_probabilities(None), b.action_probabilities(None))
    before = a.action_probabilities(None)
    a.partial_fit(None, [0] * 10, [0] * 10)
    assert a.action_probabilities(None)[0, 0] < before[0, 0]


def test_new_arm_gets_traffic_from_its_prior():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, 6000)
    r = (rng.random(6000) < np.array([0.04, 0.07, 0.05])[a]).astype(float)
    policy = BernoulliTS(3, n_mc_draws=4000, random_state=0).fit(None, a, r)
    k = policy.add_arm("free_shipping")  # default Beta(1, 1)
    # P(Beta(1,1) draw beats a rate near 0.07) is about 0.93
    exact = exact_best_arm_probabilities(policy.alpha_, policy.beta_)[k]
    assert exact > 0.85
    share = np.mean(policy.select(np.zeros((5000, 1)), rng=3) == k)
    assert share > 0.8
    # pessimistic prior Beta(1, 99): mean 0.01, far fewer draws
    other = BernoulliTS(3, n_mc_draws=4000, random_state=0).fit(None, a, r)
    k2 = other.add_arm("pessimistic", prior={"alpha": 1, "beta": 99})
    assert other.action_probabilities(None)[0, k2] < 0.1
    # after 1000 plays without a conversion, the new arm's share collapses
    policy.partial_fit(None, np.full(1000, k), np.zeros(1000))
    assert policy.action_probabilities(None)[0, k] < 0.01


def test_segment_posteriors_and_probabilities_by_hand():
    policy = SegmentBernoulliTS(2, n_segments=2, n_mc_draws=40_000, random_state=0)
    policy.fit([0, 0, 1, 1], [0, 1, 0, 1], [1, 0, 0, 1])
    np.testing.assert_allclose(policy.alpha_, [[2, 1], [1, 2]])
    np.testing.assert_allclose(policy.beta_, [[1, 2], [2, 1]])
    # Beta(2,1) vs Beta(1,2): P = E[2X - X^2], X ~ Beta(2,1) = 4/3 - 1/2 = 5/6
    P = policy.action_probabilities(np.array([[0], [1]]))
    tol = 5 * np.sqrt(5 / 36 / 40_000)
    assert abs(P[0, 0] - 5 / 6) < tol and abs(P[1, 1] - 5 / 6) < tol


def test_segments_learn_different_winners():
    rng = np.random.default_rng(1)
    n = 8000
    seg = rng.integers(0, 3, n)
    arm = rng.integers(0, 3, n)
    rates = np.array([[0.10, 0.02, 0.02], [0.02, 0.10, 0.02], [0.02, 0.02, 0.10]])
    r = (rng.random(n) < rates[seg, arm]).astype(float)
    policy = SegmentBernoulliTS(3, n_segments=3, random_state=0).fit(seg, arm, r)
    P = policy.action_probabilities([0, 1, 2])
    assert (P.argmax(axis=1) == [0, 1, 2]).all()
    assert P.diagonal().min() > 0.95
    # a segment's estimate does not depend on the other segments in the call
    np.testing.assert_array_equal(policy.action_probabilities([2])[0], P[2])
    # a new arm is added in every segment with the prior
    k = policy.add_arm("new")
    np.testing.assert_allclose(policy.alpha_[:, k], 1.0)
    assert policy.action_probabilities([0, 1, 2])[:, k].min() > 0.3
