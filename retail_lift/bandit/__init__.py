"""Contextual-bandit promotion policies and off-policy evaluation (modelled on Open Bandit Pipeline).

Policies (one module per family, shared base class :class:`BasePolicy`):

- :class:`EpsilonGreedy`, :class:`Random`            context-free (``epsilon_greedy``)
- :class:`BernoulliTS`, :class:`SegmentBernoulliTS`  Beta-Bernoulli Thompson sampling (``thompson``)
- :class:`LinUCB`, :class:`LinTS`                    per-arm ridge posteriors (``linear``)
- :class:`LogisticTS`                                Laplace logistic Thompson sampling (``logistic``)
- :class:`LoggedArmShares`                           the logging policy's arm shares: the declared
  fallback the decision API serves when the gate keeps the logging policy (``fallback``)

Every policy: ``fit`` / ``partial_fit(contexts, actions, rewards, sample_weight=None)``,
``action_probabilities``, ``select`` / ``select_with_propensity``, ``add_arm``, ``to_dict`` /
``from_dict`` and pickle.

Off-policy evaluation (``ope``): :func:`ips`, :func:`snips`, :func:`dm`, :func:`dr`,
:func:`switch_dr`, :func:`evaluate_all`, :func:`prepare_ope_inputs`, :func:`fit_reward_model`.

Serving (``serve``): :func:`score_decision` for one in-process decision (with an optional exploration
floor, ``serve.apply_floor``);
``publish.load_published_policy(warehouse).decide(context_dict)`` encodes the context without
pandas (``ContextEncoder.transform_one``), equal to the batch path.

Example::

    policy = LinUCB(n_arms=3, arm_names=["email_10pct", "banner", "none"], epsilon=0.05, random_state=0)
    policy.fit(X_log, actions_log, rewards_log)               # offline, from the decision ledger
    arms, propensities = policy.select_with_propensity(X_new)  # log both
    policy.partial_fit(X_new, arms, observed_rewards)          # online update
    policy.add_arm("free_shipping")                           # cold start: explored via its prior

    # would the policy beat the logger? evaluate it on the logged data
    pi = policy.action_probabilities(X_log)
    q = fit_reward_model(X_log, actions_log, rewards_log, n_arms=4).cross_fitted_
    inp = prepare_ope_inputs(pi, actions_log, q)
    dr(rewards_log, pscore_log, inp["target_prob"], inp["q_logged"], inp["q_target"])
"""

from .base import BasePolicy
from .epsilon_greedy import EpsilonGreedy, Random
from .fallback import LoggedArmShares
from .linear import LinTS, LinUCB
from .logistic import LogisticTS
from .ope import (
    OPEResult,
    RewardModel,
    dm,
    dr,
    evaluate_all,
    fit_reward_model,
    ips,
    prepare_ope_inputs,
    snips,
    switch_dr,
)
from .serve import score_decision
from .thompson import BernoulliTS, SegmentBernoulliTS

__all__ = [
    "BasePolicy",
    "BernoulliTS",
    "EpsilonGreedy",
    "LinTS",
    "LinUCB",
    "LoggedArmShares",
    "LogisticTS",
    "OPEResult",
    "Random",
    "RewardModel",
    "SegmentBernoulliTS",
    "dm",
    "dr",
    "evaluate_all",
    "fit_reward_model",
    "ips",
    "prepare_ope_inputs",
    "score_decision",
    "snips",
    "switch_dr",
]
