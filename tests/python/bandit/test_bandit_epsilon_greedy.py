"""EpsilonGreedy and Random: exact, hand-computed probabilities."""

from __future__ import annotations

import numpy as np

from retail_lift.bandit import EpsilonGreedy, Random


def test_hand_computed_means_and_probabilities():
    # arm means: 0 -> 1/2, 1 -> 1, 2 -> 2/3; greedy arm 1
    policy = EpsilonGreedy(3, epsilon=0.3).fit(None, [0, 0, 1, 2, 2, 2], [1, 0, 1, 0, 1, 1])
    np.testing.assert_allclose(policy.means_, [0.5, 1.0, 2 / 3])
    np.testing.assert_allclose(policy.action_probabilities(np.zeros((2, 5))), [[0.1, 0.8, 0.1]] * 2)
    # context-free: None is one row
    np.testing.assert_allclose(policy.action_probabilities(None), [[0.1, 0.8, 0.1]])


def test_ties_share_the_greedy_mass():
    policy = EpsilonGreedy(3, epsilon=0.3).fit(None, [0, 1, 2], [1, 1, 0])
    np.testing.assert_allclose(policy.action_probabilities(None), [[0.45, 0.45, 0.1]])


def test_real_valued_rewards():
    policy = EpsilonGreedy(2, epsilon=0.0).fit(None, [0, 0, 1], [12.5, 7.5, 9.0])
    np.testing.assert_allclose(policy.means_, [10.0, 9.0])
    np.testing.assert_allclose(policy.action_probabilities(None), [[1.0, 0.0]])


def test_untried_arm_takes_the_greedy_share():
    policy = EpsilonGreedy(3, epsilon=0.3).fit(None, [0, 0, 1], [1, 1, 1])
    # arm 2 has never been played: it counts as best until its first reward
    np.testing.assert_allclose(policy.action_probabilities(None), [[0.1, 0.1, 0.8]])


def test_prior_pseudo_observations():
    # prior: 4 pseudo-rewards of mean 0.25 on every arm
    policy = EpsilonGreedy(2, epsilon=0.0, prior={"mean": 0.25, "count": 4}).fit(None, [0], [1.0])
    np.testing.assert_allclose(policy.means_, [(1.0 + 1.0) / 5, 0.25])


def test_new_arm_gets_the_greedy_share_then_loses_it():
    policy = EpsilonGreedy(3, epsilon=0.1, random_state=0)
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, 3000)
    r = (rng.random(3000) < np.array([0.05, 0.08, 0.06])[a]).astype(float)
    policy.fit(None, a, r)
    k = policy.add_arm("bundle_deal")
    share = np.bincount(policy.select(np.zeros((4000, 1)), rng=1), minlength=4)[k] / 4000
    assert share > 0.85  # 0.9 greedy + 0.025 uniform, within sampling noise
    # 200 non-converting plays: the new arm's mean is 0 and it drops back to exploration traffic
    policy.partial_fit(None, np.full(200, k), np.zeros(200))
    np.testing.assert_allclose(policy.action_probabilities(None)[0, k], 0.1 / 4)


def test_new_arm_with_pessimistic_prior_waits():
    policy = EpsilonGreedy(2, epsilon=0.2).fit(None, [0, 1], [0.5, 0.2])
    k = policy.add_arm("x", prior=(0.0, 10))
    np.testing.assert_allclose(policy.action_probabilities(None)[0], [0.8 + 0.2 / 3, 0.2 / 3, 0.2 / 3])
    assert k == 2


def test_random_is_uniform_and_learns_nothing():
    policy = Random(4, random_state=0).fit(np.ones((3, 2)), [0, 1, 2], [1, 1, 1])
    np.testing.assert_allclose(policy.action_probabilities(np.ones((5, 2))), 0.25)
    policy.add_arm("e")
    np.testing.assert_allclose(policy.action_probabilities(None), 0.2)
