"""LinUCB and LinTS: hand-computed ridge statistics, bounds and probabilities; learning; cold start."""

from __future__ import annotations

import numpy as np
from scipy import stats

from retail_lift.bandit import LinTS, LinUCB, Random

# arm 0 sees x = 1, 2 with rewards 1, 1; arm 1 sees x = 1 with reward 2 (one feature, no intercept)
X_HAND = np.array([[1.0], [2.0], [1.0]])
A_HAND = np.array([0, 0, 1])
R_HAND = np.array([1.0, 1.0, 2.0])


def test_linucb_by_hand():
    # arm 0: A = 1 + 1 + 4 = 6, b = 3, theta = 0.5;  arm 1: A = 1 + 1 = 2, b = 2, theta = 1
    policy = LinUCB(2, alpha=1.0, reg_lambda=1.0, fit_intercept=False).fit(X_HAND, A_HAND, R_HAND)
    np.testing.assert_allclose(policy.A_[:, 0, 0], [6.0, 2.0])
    np.testing.assert_allclose(policy.theta_[:, 0], [0.5, 1.0])
    ucb = policy.ucb([[1.0], [-1.0]])
    expected = [[0.5 + 1 / np.sqrt(6), 1 + 1 / np.sqrt(2)], [-0.5 + 1 / np.sqrt(6), -1 + 1 / np.sqrt(2)]]
    np.testing.assert_allclose(ucb, expected)
    np.testing.assert_allclose(policy.action_probabilities([[1.0], [-1.0]]), [[0, 1], [1, 0]])
    policy.epsilon = 0.2
    np.testing.assert_allclose(policy.action_probabilities([[1.0], [-1.0]]), [[0.1, 0.9], [0.9, 0.1]])
    np.testing.assert_allclose(policy.expected_rewards([[2.0]]), [[1.0, 2.0]])


def test_linucb_matches_closed_form_ridge_with_intercept(ledger):
    X, a, r = ledger(n=400, d=3, k=3)
    policy = LinUCB(3, alpha=0.7, reg_lambda=2.0).fit(X, a, r)
    x = np.array([[0.3, -1.2, 0.5]])
    for k in range(3):
        Z = np.hstack([X[a == k], np.ones(((a == k).sum(), 1))])
        A = 2.0 * np.eye(4) + Z.T @ Z
        theta = np.linalg.solve(A, Z.T @ r[a == k])
        z = np.append(x[0], 1.0)
        bound = z @ theta + 0.7 * np.sqrt(z @ np.linalg.solve(A, z))
        np.testing.assert_allclose(policy.ucb(x)[0, k], bound, rtol=1e-10)


def test_linucb_ties_split_before_any_data():
    np.testing.assert_allclose(LinUCB(4).action_probabilities(np.ones((3, 2))), 0.25)


def test_lints_probability_matches_gaussian_formula():
    # theta_0 ~ N(0.5, 1/6), theta_1 ~ N(1, 1/2): at x = 1, P(arm 1) = Phi(0.5 / sqrt(2/3))
    policy = LinTS(2, v=1.0, fit_intercept=False, n_mc_draws=40_000, random_state=0)
    policy.fit(X_HAND, A_HAND, R_HAND)
    exact = stats.norm.cdf(0.5 / np.sqrt(1 / 6 + 1 / 2))  # 0.7299
    P = policy.action_probabilities([[1.0], [-1.0], [3.0]])
    tol = 5 * np.sqrt(exact * (1 - exact) / 40_000)
    assert abs(P[0, 1] - exact) < tol
    assert abs(P[1, 1] - (1 - exact)) < tol  # the sign of x flips the ordering
    assert abs(P[2, 1] - exact) < tol  # scaling x leaves the probability unchanged


def test_lints_draws_have_the_posterior_moments(ledger):
    X, a, r = ledger(n=300, d=2, k=2)
    policy = LinTS(2, v=0.5, n_mc_draws=20_000, random_state=1).fit(X, a, r)
    draws = policy.posterior_draws()
    assert draws.shape == (20_000, 2, 3)
    for k in range(2):
        cov = 0.25 * np.linalg.inv(policy.A_[k])
        sd = np.sqrt(np.diag(cov))
        assert np.all(np.abs(draws[:, k].mean(axis=0) - policy.theta_[k]) < 5 * sd / np.sqrt(20_000))
        # sampling error of a covariance entry is about sd_i sd_j / sqrt(n) (at most sqrt(2) times that)
        err = np.abs(np.cov(draws[:, k].T) - cov) / np.outer(sd, sd)
        assert err.max() < 5 * np.sqrt(2 / 20_000)


def _learning_check(policy, world, online):
    oracle = random = None
    values = online(policy, world, n_batches=30, batch_size=100)
    Xe = world.contexts(20_000)
    mu = world.means(Xe)
    oracle, random = mu.max(axis=1).mean(), mu.mean()
    learned = (policy.action_probabilities(Xe) * mu).sum(axis=1).mean()
    return values, learned, oracle, random


def test_linucb_learns(linear_world, online):
    world = linear_world(n_arms=4, n_features=5, seed=3)
    values, learned, oracle, random = _learning_check(LinUCB(4, alpha=1.0, random_state=0), world, online)
    # the greedy policy after 3000 rounds captures most of the gap between random and oracle
    assert learned > random + 0.9 * (oracle - random)
    assert values[-5:].mean() > values[:2].mean()


def test_lints_learns(linear_world, online):
    world = linear_world(n_arms=4, n_features=5, seed=4)
    policy = LinTS(4, v=0.5, n_mc_draws=300, random_state=0)
    values, learned, oracle, random = _learning_check(policy, world, online)
    assert learned > random + 0.9 * (oracle - random)


def _cold_start_fit(policy, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(5000, 4))
    a = Random(3).select(X, rng)
    means = np.array([0.05, 0.08, 0.06])[a] + 0.02 * X[:, 0]
    r = (rng.random(5000) < means).astype(float)
    return policy.fit(X, a, r), rng.normal(size=(3000, 4))


def test_linucb_new_arm_gets_traffic():
    policy, Xnew = _cold_start_fit(LinUCB(3, alpha=1.0, epsilon=0.05, random_state=0))
    k = policy.add_arm("loyalty_points")  # identity prior: bonus sqrt(x'x + 1) dwarfs the others
    share = np.mean(policy.select(Xnew, rng=0) == k)
    assert share > 0.9
    # once it has been tried and never converts, traffic returns to the old arms
    policy.partial_fit(Xnew, np.full(len(Xnew), k), np.zeros(len(Xnew)))
    assert np.mean(policy.action_probabilities(Xnew)[:, k]) < 0.3


def test_lints_new_arm_gets_traffic():
    policy, Xnew = _cold_start_fit(LinTS(3, v=0.3, n_mc_draws=1000, random_state=0))
    k = policy.add_arm("loyalty_points")
    share = np.mean(policy.select(Xnew, rng=0) == k)
    # N(0, 0.09 (x'x + 1)) exceeds a rate near 0.08 on roughly 40% of draws
    assert share > 0.3
    prior_mean = [0, 0, 0, 0, 0.5]  # optimistic prior mean intercept
    policy2, _ = _cold_start_fit(LinTS(3, v=0.3, n_mc_draws=1000, random_state=0))
    k2 = policy2.add_arm("optimistic", prior={"mean": prior_mean, "precision": 1.0})
    assert np.mean(policy2.action_probabilities(Xnew)[:, k2]) > share
