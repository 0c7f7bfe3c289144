"""Contract every policy honours: probabilities, sampling, propensities, serialisation, checks."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from retail_lift.bandit import (
    BasePolicy,
    BernoulliTS,
    EpsilonGreedy,
    LinTS,
    LinUCB,
    LogisticTS,
    SegmentBernoulliTS,
)


def test_probabilities_are_distributions(fitted_policy):
    policy, C = fitted_policy
    P = policy.action_probabilities(C)
    assert P.shape == (50, policy.n_arms)
    assert ((P >= 0) & (P <= 1)).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)


def test_probabilities_are_reproducible_and_batch_independent(fitted_policy):
    policy, C = fitted_policy
    P = policy.action_probabilities(C)
    np.testing.assert_array_equal(P, policy.action_probabilities(C))
    # a row's probabilities do not depend on the other rows of the call (fixed Monte Carlo draws)
    np.testing.assert_array_equal(P[7], policy.action_probabilities(C[7:8])[0])
    np.testing.assert_array_equal(P[3:9], policy.action_probabilities(C[3:9]))


def test_select_with_propensity_is_consistent(fitted_policy):
    policy, C = fitted_policy
    P = policy.action_probabilities(C)
    arms, props = policy.select_with_propensity(C, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(props, P[np.arange(len(arms)), arms])
    assert (props > 0).all()  # an arm of probability 0 is never drawn
    # same int seed -> same choices
    np.testing.assert_array_equal(policy.select(C, rng=5), policy.select(C, rng=5))


def test_select_frequencies_match_probabilities(fitted_policy):
    policy, C = fitted_policy
    n = 20_000
    row = C[:1]
    reps = np.repeat(row, n, axis=0)
    p = policy.action_probabilities(row)[0]
    arms = policy.select(reps, rng=np.random.default_rng(2))
    freq = np.bincount(arms, minlength=policy.n_arms) / n
    # each frequency within 5 binomial standard deviations (plus rounding slack)
    assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-9)
    assert np.all(freq[p == 0] == 0)


def test_epsilon_floor_keeps_every_arm_loggable(fitted_policy):
    policy, C = fitted_policy
    if "epsilon" not in policy.get_params():  # the uniform policy: already 1 / n_arms everywhere
        np.testing.assert_allclose(policy.action_probabilities(C), 1 / policy.n_arms)
        return
    policy.epsilon = 0.3
    P = policy.action_probabilities(C)
    assert P.min() >= 0.3 / policy.n_arms - 1e-12
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)


def test_pickle_round_trip(fitted_policy):
    policy, C = fitted_policy
    clone = pickle.loads(pickle.dumps(policy))
    np.testing.assert_array_equal(clone.action_probabilities(C), policy.action_probabilities(C))


def test_json_round_trip_including_added_arm(fitted_policy):
    policy, C = fitted_policy
    policy.add_arm("spring_sale")
    text = json.dumps(policy.to_dict())
    clone = BasePolicy.from_dict(json.loads(text))
    assert type(clone) is type(policy)
    assert clone.get_params() == policy.get_params()
    assert clone.arm_names_[-1] == "spring_sale" and clone.n_arms == 4
    np.testing.assert_allclose(clone.action_probabilities(C), policy.action_probabilities(C), rtol=0,
                               atol=1e-12)
    # the restored policy keeps learning exactly like the original
    arms = np.zeros(len(C), dtype=int)
    rewards = np.ones(len(C))
    policy.partial_fit(C, arms, rewards)
    clone.partial_fit(C, arms, rewards)
    np.testing.assert_allclose(clone.action_probabilities(C), policy.action_probabilities(C), atol=1e-12)


def test_unfitted_policy_serialises_and_acts_from_prior():
    policy = LinUCB(3, arm_names=["a", "b", "c"], random_state=3)
    clone = BasePolicy.from_dict(json.loads(json.dumps(policy.to_dict())))
    assert clone.to_dict()["state"] is None
    # all arms share the prior: ties split evenly
    np.testing.assert_allclose(clone.action_probabilities(np.ones((2, 4))), 1 / 3)


def test_from_dict_rejects_wrong_class():
    data = EpsilonGreedy(2).to_dict()
    with pytest.raises(ValueError, match="not a LinUCB"):
        LinUCB.from_dict(data)
    with pytest.raises(ValueError, match="unknown policy class"):
        BasePolicy.from_dict({**data, "class": "Nope"})


def test_get_params_stores_constructor_arguments_only():
    policy = LinTS(4, v=0.3, reg_lambda=2.0, random_state=7)
    assert policy.get_params() == {"n_arms": 4, "arm_names": None, "v": 0.3, "reg_lambda": 2.0,
                                   "fit_intercept": True, "n_mc_draws": 1000, "epsilon": 0.0,
                                   "random_state": 7}
    # __init__ validates nothing; fit does
    bad = LinUCB(0)
    with pytest.raises(ValueError, match="n_arms must be a positive integer"):
        bad.fit(np.zeros((2, 1)), [0, 0], [1, 0])


# ------------------------------------------------------------------ input checks


@pytest.mark.parametrize("make", [lambda: LinUCB(3), lambda: EpsilonGreedy(3), lambda: LogisticTS(3)])
def test_ledger_checks_name_the_argument_and_position(make):
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match=r"actions must lie in \[0, 2\].*position 2"):
        make().fit(X, [0, 1, 3, 0], [0, 1, 1, 0])
    with pytest.raises(ValueError, match="actions must contain integer arm indices; .*position 1"):
        make().fit(X, [0, 1.5, 2, 0], [0, 1, 1, 0])
    with pytest.raises(ValueError, match="rewards contains 1 NaN .*position 3"):
        make().fit(X, [0, 1, 2, 0], [0, 1, 1, np.nan])
    with pytest.raises(ValueError, match="equal lengths"):
        make().fit(X, [0, 1, 2], [0, 1, 1])


def test_context_width_is_fixed_after_learning():
    policy = LinUCB(2).fit(np.zeros((3, 2)), [0, 1, 0], [1, 0, 1])
    with pytest.raises(ValueError, match="contexts must have 2 columns"):
        policy.action_probabilities(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="contexts contains 1 NaN .*row 0, column 1"):
        policy.action_probabilities([[0.0, np.nan]])


def test_reward_checks_per_family():
    with pytest.raises(ValueError, match=r"rewards must lie in \[0.0, 1.0\].*position 1"):
        BernoulliTS(2).fit(None, [0, 1], [1, 2])
    with pytest.raises(ValueError, match="rewards must contain only 0 and 1; .*position 0"):
        LogisticTS(2).fit(np.zeros((2, 1)), [0, 1], [0.5, 1])
    with pytest.raises(ValueError, match="segment ids.*position 1"):
        SegmentBernoulliTS(2, n_segments=3).fit([0, 3], [0, 1], [1, 0])
    with pytest.raises(ValueError, match="integer segment ids; .*position 0"):
        SegmentBernoulliTS(2, n_segments=3).fit([0.5, 1], [0, 1], [1, 0])


@pytest.mark.parametrize("kwargs, message", [
    ({"epsilon": 1.5}, "epsilon must be a number in"),
    ({"arm_names": ["a"]}, "arm_names must have n_arms=2 entries"),
    ({"arm_names": ["a", "a"]}, "arm_names must be unique"),
    ({"alpha": -1.0}, "alpha must be a finite number >= 0"),
    ({"reg_lambda": 0.0}, "reg_lambda must be a positive finite number"),
    ({"random_state": "x"}, "random_state must be None or a non-negative int"),
])
def test_parameter_checks(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LinUCB(2, **kwargs).fit(np.zeros((1, 1)), [0], [1.0])


def test_add_arm_checks():
    policy = BernoulliTS(2, arm_names=["a", "b"])
    with pytest.raises(ValueError, match="already exists"):
        policy.add_arm("a")
    with pytest.raises(ValueError, match="prior beta must be a positive"):
        policy.add_arm("c", prior=(1.0, 0.0))
    assert policy.add_arm() == 2 and policy.arm_names_ == ["a", "b", "arm_2"]
    lin = LinUCB(2).fit(np.zeros((2, 3)), [0, 1], [1, 0])
    with pytest.raises(ValueError, match="prior mean must have 4 entries"):
        lin.add_arm("c", prior={"mean": [0.0, 1.0]})


@pytest.mark.parametrize("make", [
    lambda: EpsilonGreedy(3, epsilon=0.1),
    lambda: BernoulliTS(3),
    lambda: SegmentBernoulliTS(3, n_segments=2),
    lambda: LinUCB(3),
    lambda: LinTS(3),
])
def test_fit_equals_chunked_partial_fit(make, ledger):
    """Sufficient-statistic policies: one batch or many chunks give the same state."""
    X, a, r = ledger(n=300)
    if isinstance(make(), SegmentBernoulliTS):
        X = (X[:, 0] > 0).astype(int)
    full = make().fit(X, a, r)
    chunked = make()
    for idx in np.array_split(np.arange(300), 7):
        chunked.partial_fit(X[idx], a[idx], r[idx])
    for name in type(full)._state_attrs:
        np.testing.assert_allclose(getattr(chunked, name), getattr(full, name), rtol=1e-10, atol=1e-10)
    assert chunked.n_updates_ == full.n_updates_ == 300


def test_refit_resets_but_keeps_added_arm_priors():
    policy = BernoulliTS(2, random_state=0)
    policy.add_arm("new", prior={"alpha": 5.0, "beta": 1.0})
    policy.fit(None, [0, 2], [1, 0])
    np.testing.assert_allclose(policy.alpha_, [2.0, 1.0, 5.0])
    np.testing.assert_allclose(policy.beta_, [1.0, 1.0, 2.0])
    policy.fit(None, [1], [1])
    np.testing.assert_allclose(policy.alpha_, [1.0, 2.0, 5.0])
    np.testing.assert_allclose(policy.beta_, [1.0, 1.0, 1.0])


WEIGHTED = {
    "epsilon_greedy": lambda: EpsilonGreedy(3, epsilon=0.2, random_state=0),
    "bernoulli_ts": lambda: BernoulliTS(3, n_mc_draws=100, random_state=0),
    "segment_ts": lambda: SegmentBernoulliTS(3, n_segments=4, n_mc_draws=100, random_state=0),
    "linucb": lambda: LinUCB(3, alpha=0.5, random_state=0),
    "lints": lambda: LinTS(3, v=0.5, n_mc_draws=100, random_state=0),
    "logistic_ts": lambda: LogisticTS(3, n_mc_draws=100, random_state=0),
}


@pytest.mark.parametrize("name", sorted(WEIGHTED))
def test_sample_weights_count_rows_that_many_times(name, ledger):
    """An integer weight equals repeating the row; weight 1 is the unweighted update bit for bit;
    weight 0 drops the row (LogisticTS: the same Laplace posterior up to Newton's tolerance)."""
    X, a, r = ledger(n=240)
    make = WEIGHTED[name]
    if isinstance(make(), SegmentBernoulliTS):
        X = (np.abs(X[:, 0] * 2).astype(int)).clip(0, 3)
    w = np.tile([0.0, 1.0, 2.0, 3.0], 60)
    rep = np.repeat(np.arange(240), w.astype(int))
    weighted = make().fit(X, a, r, sample_weight=w)
    repeated = make().fit(X[rep], a[rep], r[rep])
    ones = make().fit(X, a, r, sample_weight=np.ones(240))
    plain = make().fit(X, a, r)
    for attr in type(weighted)._state_attrs:
        np.testing.assert_allclose(getattr(weighted, attr), getattr(repeated, attr), rtol=1e-7, atol=1e-8)
        np.testing.assert_array_equal(getattr(ones, attr), getattr(plain, attr))
    # partial_fit takes weights too (fractional ones: the delay-corrected rows of the closed loop)
    online = make().partial_fit(X[:120], a[:120], r[:120]).partial_fit(X[120:], a[120:], r[120:],
                                                                      sample_weight=np.full(120, 0.5))
    assert online.n_updates_ == 240
    with pytest.raises(ValueError, match="sample_weight"):
        make().fit(X, a, r, sample_weight=-w)
    with pytest.raises(ValueError, match="sample_weight"):
        make().fit(X, a, r, sample_weight=w[:10])


def test_argmax_last_axis_equals_numpy_argmax_including_ties():
    from retail_lift.bandit.base import argmax_last_axis

    rng = np.random.default_rng(0)
    for scores in (rng.normal(size=(3, 500, 7)), np.round(rng.normal(size=(4, 300, 5)), 1),
                   np.zeros((2, 3, 4)), rng.normal(size=(6, 1))):
        np.testing.assert_array_equal(argmax_last_axis(scores), scores.argmax(axis=-1))
