"""Logistic Thompson sampling (Chapelle & Li 2011): Laplace posterior checked against references."""

from __future__ import annotations

import numpy as np
from scipy import optimize
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from retail_lift.bandit import LogisticTS, Random
from retail_lift.bandit.logistic import laplace_logistic_update


def test_intercept_only_mode_solves_the_map_equation():
    # one arm, no features: 3 conversions out of 10, prior N(0, 1/2)
    # MAP w solves 2 w + 10 sigmoid(w) - 3 = 0
    policy = LogisticTS(1, reg_lambda=2.0).fit(np.zeros((10, 0)), np.zeros(10, int), [1, 1, 1] + [0] * 7)
    w = optimize.brentq(lambda w: 2 * w + 10 * expit(w) - 3, -10, 10)
    np.testing.assert_allclose(policy.m_[0], [w], rtol=1e-9)
    p = expit(w)
    np.testing.assert_allclose(policy.Q_[0], [[2 + 10 * p * (1 - p)]], rtol=1e-9)


def test_posterior_mode_equals_l2_logistic_regression(logistic_world):
    world = logistic_world(n_arms=3, n_features=4, seed=5)
    X = world.contexts(3000)
    a = Random(3).select(X, np.random.default_rng(0))
    y = world.rewards(X, a)
    lam = 0.5
    policy = LogisticTS(3, reg_lambda=lam).fit(X, a, y)
    for k in range(3):
        Z = np.hstack([X[a == k], np.ones(((a == k).sum(), 1))])  # penalised intercept, as in the prior
        ref = LogisticRegression(C=1 / lam, fit_intercept=False, tol=1e-12, max_iter=10_000).fit(Z, y[a == k])
        np.testing.assert_allclose(policy.m_[k], ref.coef_[0], atol=1e-5)
        p = expit(Z @ policy.m_[k])
        np.testing.assert_allclose(policy.Q_[k], lam * np.eye(5) + (Z * (p * (1 - p))[:, None]).T @ Z,
                                   rtol=1e-10)
    np.testing.assert_allclose(policy.expected_rewards(X[:3]), expit(np.hstack([X[:3], np.ones((3, 1))])
                                                                     @ policy.m_.T))


def test_diagonal_variant_keeps_the_papers_diagonal_precision(logistic_world):
    world = logistic_world(n_arms=1, n_features=3, seed=2)
    X = world.contexts(500)
    y = world.rewards(X, np.zeros(500, int))
    policy = LogisticTS(1, diagonal=True, reg_lambda=1.0).fit(X, np.zeros(500, int), y)
    Z = np.hstack([X, np.ones((500, 1))])
    p = expit(Z @ policy.m_[0])
    np.testing.assert_allclose(policy.Q_[0], np.diag(1.0 + (Z**2 * (p * (1 - p))[:, None]).sum(axis=0)))


def test_sequential_laplace_updates_track_the_batch_posterior(logistic_world):
    world = logistic_world(n_arms=1, n_features=3, seed=7)
    X = world.contexts(4000)
    a = np.zeros(4000, int)
    y = world.rewards(X, a)
    batch = LogisticTS(1).fit(X, a, y)
    online = LogisticTS(1)
    for idx in np.array_split(np.arange(4000), 8):
        online.partial_fit(X[idx], a[idx], y[idx])
    sd = np.sqrt(np.diag(np.linalg.inv(batch.Q_[0])))
    # the sequential approximation stays well within one posterior standard deviation
    assert np.all(np.abs(online.m_[0] - batch.m_[0]) < 0.5 * sd)


def test_newton_handles_separable_data():
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([0.0, 0.0, 1.0, 1.0])
    w, Q = laplace_logistic_update(X, y, np.zeros(1), np.eye(1) * 1e-3)
    grad = 1e-3 * w + X.T @ (expit(X @ w) - y)
    assert np.all(np.isfinite(w)) and np.abs(grad).max() < 1e-6


def test_logistic_ts_learns(logistic_world, online):
    world = logistic_world(n_arms=4, n_features=5, seed=11, base=-1.5, scale=1.0)
    policy = LogisticTS(4, n_mc_draws=300, random_state=0)
    online(policy, world, n_batches=25, batch_size=200)
    Xe = world.contexts(20_000)
    mu = world.means(Xe)
    learned = (policy.action_probabilities(Xe) * mu).sum(axis=1).mean()
    oracle, random = mu.max(axis=1).mean(), mu.mean()
    assert learned > random + 0.8 * (oracle - random)


def test_new_arm_gets_traffic_then_loses_it(logistic_world):
    world = logistic_world(n_arms=3, n_features=4, seed=1, base=-3.0, scale=0.3)
    X = world.contexts(6000)
    a = Random(3).select(X, np.random.default_rng(0))
    policy = LogisticTS(3, n_mc_draws=1000, random_state=0).fit(X, a, world.rewards(X, a))
    k = policy.add_arm("gift_card")  # prior N(0, I): logit ~ 0 +- |x|, vs known rates near 5%
    Xn = world.contexts(2000)
    share = np.mean(policy.select(Xn, rng=1) == k)
    assert share > 0.5
    policy.partial_fit(Xn, np.full(2000, k), np.zeros(2000))
    assert policy.action_probabilities(Xn)[:, k].mean() < 0.05
