"""Shared simulated worlds for the bandit tests (known ground truth, seeded)."""

from __future__ import annotations

import numpy as np
import pytest

from retail_lift.bandit import (
    BernoulliTS,
    EpsilonGreedy,
    LinTS,
    LinUCB,
    LogisticTS,
    Random,
    SegmentBernoulliTS,
)


class LogisticWorld:
    """Conversion probability ``sigmoid(x' beta_a + c_a)`` for standard-normal contexts."""

    def __init__(self, n_arms=4, n_features=5, seed=0, base=-2.0, scale=0.8):
        rng = np.random.default_rng(seed)
        self.n_arms, self.n_features = n_arms, n_features
        self.beta = rng.normal(scale=scale, size=(n_arms, n_features))
        self.c = base + rng.normal(scale=0.3, size=n_arms)
        self.rng = np.random.default_rng(seed + 1)

    def contexts(self, n):
        return self.rng.normal(size=(n, self.n_features))

    def means(self, X):
        return 1.0 / (1.0 + np.exp(-(X @ self.beta.T + self.c)))

    def rewards(self, X, actions):
        p = self.means(X)[np.arange(len(actions)), actions]
        return (self.rng.random(len(actions)) < p).astype(float)


class LinearWorld:
    """Real-valued reward ``x' theta_a + N(0, noise^2)``."""

    def __init__(self, n_arms=4, n_features=5, seed=0, noise=0.5):
        rng = np.random.default_rng(seed)
        self.n_arms, self.n_features, self.noise = n_arms, n_features, noise
        self.theta = rng.normal(size=(n_arms, n_features))
        self.rng = np.random.default_rng(seed + 1)

    def contexts(self, n):
        return self.rng.normal(size=(n, self.n_features))

    def means(self, X):
        return X @ self.theta.T

    def rewards(self, X, actions):
        mu = self.means(X)[np.arange(len(actions)), actions]
        return mu + self.noise * self.rng.normal(size=len(actions))


def run_online(policy, world, n_batches, batch_size, rng_seed=0):
    """Batched online learning: select a batch, observe rewards, partial_fit. Returns the mean true
    expected reward of the choices in each batch."""
    rng = np.random.default_rng(rng_seed)
    values = []
    for _ in range(n_batches):
        X = world.contexts(batch_size)
        arms, props = policy.select_with_propensity(X, rng)
        assert (props > 0).all()
        r = world.rewards(X, arms)
        policy.partial_fit(X, arms, r)
        values.append(world.means(X)[np.arange(batch_size), arms].mean())
    return np.array(values)


@pytest.fixture
def logistic_world():
    return LogisticWorld


@pytest.fixture
def linear_world():
    return LinearWorld


@pytest.fixture
def online():
    return run_online


def _ledger(n=600, d=3, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    a = rng.integers(0, k, n)
    p = 1.0 / (1.0 + np.exp(-(0.8 * X[:, 0] * (a - 1) - 1.0)))
    r = (rng.random(n) < p).astype(float)
    return X, a, r


#: factories of every policy, fitted on a small ledger, keyed by a readable id
POLICY_FACTORIES = {
    "epsilon_greedy": lambda: EpsilonGreedy(3, epsilon=0.2, random_state=0),
    "random": lambda: Random(3, random_state=0),
    "bernoulli_ts": lambda: BernoulliTS(3, n_mc_draws=500, random_state=0),
    "segment_ts": lambda: SegmentBernoulliTS(3, n_segments=4, n_mc_draws=500, random_state=0),
    "linucb": lambda: LinUCB(3, alpha=0.5, epsilon=0.1, random_state=0),
    "lints": lambda: LinTS(3, v=0.5, n_mc_draws=500, random_state=0),
    "logistic_ts": lambda: LogisticTS(3, n_mc_draws=500, random_state=0),
}


def contexts_for(policy, X):
    """Segment policies take segment ids; the others the feature matrix."""
    if isinstance(policy, SegmentBernoulliTS):
        return (np.abs(X[:, 0] * 2).astype(int)).clip(0, 3)
    return X


@pytest.fixture(params=sorted(POLICY_FACTORIES))
def fitted_policy(request):
    X, a, r = _ledger()
    policy = POLICY_FACTORIES[request.param]()
    policy.fit(contexts_for(policy, X), a, r)
    return policy, contexts_for(policy, X[:50])


@pytest.fixture
def ledger():
    return _ledger
