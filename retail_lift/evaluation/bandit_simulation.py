"""Closed-loop simulation of promotion policies against the simulated world's true response.

The world knows, for every customer, moment and promotion, the true probability that the customer
orders within the attribution window. :class:`~retail_lift.world.truth.SimulationWorld` (the world's
public truth interface) rebuilds the latent customers of a generated world in memory and exposes what
a policy may see (the decision context, as the decision log records it) and what only the simulation
may see (the true conversion probability of every arm).

This module lives in :mod:`retail_lift.evaluation`, not in the bandit family: it measures the family's
policies against the truth (regret against the oracle arm, lift against the control group), and only
the evaluation layer may read the truth (``make lint``). It is not part of :mod:`retail_lift.world`
either: the world knows nothing of the algorithms it is used to evaluate. It was
``retail_lift.bandit.simulate`` before issue 22.

:func:`simulate_closed_loop` then runs every policy for ``days`` days:

1. **Traffic.** Each day a batch of active registered customers is drawn (decision times between
   08:00 and 22:00, as in the world's decision log). A random ``control_share`` of the batch is
   held out as the control group and gets a uniformly random available promotion; the rest is
   the policy traffic, *the same customers for every policy* (a paired comparison).
2. **Decisions.** Each policy computes its action probabilities for the policy traffic with its
   current state and samples an arm (its own random stream).
3. **Rewards.** A decision converts when ``u_i < p(x_i, a)`` with one uniform ``u_i`` per decision
   shared by all policies (common random numbers: two policies that choose the same arm for the
   same decision get the same outcome), i.e. a Bernoulli draw from the true probability.
4. **Delayed feedback.** A conversion is an order within the attribution window (the world's 14
   days); a promotion-driven order lands after a log-normal delay (median 2.5 days, as the world
   draws them). Each morning every policy learns from its own log (``partial_fit`` of the rows that
   became observable: for the linear and Beta policies that equals refitting the whole log):

   - ``feedback="delay_corrected"`` (default): the *settled* decisions (window closed, as
     ``is_pending`` works in the ledger) as they are, plus the decisions whose window is still
     open, on a copy of that state: a conversion already landed counts as a conversion, a decision
     not converted yet counts as a non-conversion of weight ``F(e) (1 - p0) / (1 - p0 F(e))``
     (:func:`open_window_weight`; ``F`` the share of conversions landing within ``e`` days, taken
     from the delays of the settled conversions, ``p0`` the settled conversion rate). Nothing is
     thrown away and nothing is counted as a failure before its time: a decision half-way through
     its delay distribution counts as about half an observation (the censoring correction of
     delayed-conversion models, Chapelle 2014), so the policy learns within days instead of after
     the whole window;
   - ``feedback="window"``: only settled decisions (the policy waits 14 days for any reward);
   - ``feedback="conversion"``: a conversion when its order lands, a non-conversion when the window
     closes (fast, but recent decisions look better than they are).
5. **Warm start.** A deployed policy does not start from nothing: the warehouse already holds the
   ledger of the policy that was serving (the world's logging policy ``rules_eps30_v1``, a rule
   with 30 % uniform exploration). ``warm_start_days`` (default 28) days of that ledger, logged
   before day 0 over the arms launched then, with rewards and delays drawn from the truth like the
   run's, are every learner's first rows: what has settled by day 0 is its offline ``fit``, the
   rest arrives through the delayed-feedback rule above. The encoder is fitted on these logged
   contexts, as the pipeline fits it on the ledger. ``warm_start_days=0`` starts from the priors.
6. **Cold start.** ``new_arm`` (default ``free_shipping``) is unavailable until ``new_arm_day`` and
   is then added to every policy with ``add_arm`` and a prior: Beta policies centred on their
   pooled conversion rate (weight ``prior_strength`` observations), linear / logistic policies
   with the mean of the existing arms' coefficients and the default (wide) precision. The prior
   alone earns it traffic until its first rewards arrive.

Measured per policy and day (truth-based measures are exact expectations, free of Bernoulli
noise): decisions, realised conversions, expected conversions ``sum_i sum_a pi(a|x_i) p(x_i, a)``,
regret against the oracle (per decision the available arm with the highest true ``p``), lift
against the control group and against the best single arm (the arm with the highest mean true
``p`` over the run, known only in hindsight), and the arm mix (share of decisions and mean action
probability per arm). The summary adds the regret of each third of the run and the regret growth
exponent (:func:`regret_growth_exponent`: the slope of log cumulative regret on log days, 1 for a
policy that never learns, below 1 when regret grows sublinearly). :func:`plot_simulation` draws
cumulative regret, the arm mix over time and cumulative conversions.

Contexts come from the world's organic history (orders, views); promotions given in the
simulation do not feed back into later contexts, and a customer may be drawn again while an
earlier window is open (each exposure is scored independently, as in the world's truth).

:func:`simulate_ledger` writes a decision ledger in the ``fct_decision_ledger`` format from the
world's own logging policy (the epsilon-greedy rule of the generator's decision log) with rewards drawn
from the truth, plus the truth itself: the test bed of the off-policy evaluation.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from retail_lift.bandit.base import BasePolicy
from retail_lift.bandit.context import ContextEncoder
from retail_lift.bandit.linear import LinTS, LinUCB
from retail_lift.bandit.logistic import LogisticTS
from retail_lift.bandit.pipeline import CANDIDATE_NAMES, make_candidate
from retail_lift.bandit.thompson import BernoulliTS, SegmentBernoulliTS
from retail_lift.world.presets import Preset
from retail_lift.world.truth import (
    AGE_BANDS,
    ARM_DISCOUNT,
    ARM_IDS,
    ATTRIBUTION_DAYS,
    DAY,
    LOGGING_EPSILON,
    LOGGING_POLICY_ID,
    PERIOD_START,
    SimulationWorld,
)

__all__ = [
    "CONTROL",
    "DEFAULT_POLICIES",
    "SimulatedLedger",
    "SimulationResult",
    "SimulationWorld",
    "logging_probabilities",
    "plot_simulation",
    "simulate_closed_loop",
    "simulate_ledger",
]

DEFAULT_POLICIES = ("thompson_segment", "linucb", "lints", "logistic_ts", "best_single_arm", "random")
BASELINES = ("best_single_arm", "random")
CONTROL = "control_group"
#: the hyper-parameters the closed loop uses (one batch of decisions per day, retrained every morning)
SIM_PARAMS: dict[str, dict] = {
    "linucb": {"alpha": 0.5, "epsilon": 0.0},
    "lints": {"v": 0.3},
    "logistic_ts": {"alpha": 1.0},
    "thompson_segment": {"alpha": 1.0, "beta": 1.0},
    "thompson": {"alpha": 1.0, "beta": 1.0},
    "epsilon_greedy": {"epsilon": 0.1, "prior": None},
}
#: conversion delay of a promotion-driven order: log-normal, median 2.5 days (as in the world)
DELAY_MEDIAN_DAYS = 2.5
DELAY_SIGMA = 0.9
#: when rewards become observable (see the module docstring)
FEEDBACK_MODES = ("window", "conversion", "delay_corrected")
#: settled conversions needed before ``feedback="delay_corrected"`` trusts its delay distribution
MIN_SETTLED_CONVERSIONS = 50
def _as_world(world, seed) -> SimulationWorld:
    if isinstance(world, SimulationWorld):
        return world
    if isinstance(world, (str, Preset)):
        return SimulationWorld(world, seed=seed)
    raise ValueError(f"world must be a preset name, a Preset or a SimulationWorld, got {type(world).__name__}")


def _timestamps(seconds: np.ndarray) -> pd.DatetimeIndex:
    return pd.to_datetime(PERIOD_START.astype("datetime64[s]").astype("int64") + np.floor(seconds).astype("int64"),
                          unit="s")


# ----------------------------------------------------------------------------------------------
# a logged ledger for off-policy evaluation
# ----------------------------------------------------------------------------------------------


@dataclass
class SimulatedLedger:
    """A ledger in the ``fct_decision_ledger`` format and its ground truth."""

    ledger: pd.DataFrame
    #: ``truth_exposures`` format: ``exposure_kind``, ``exposure_id``, ``customer_id``,
    #: ``promotion_id``, ``p_convert`` (one row per decision x arm)
    truth: pd.DataFrame
    arm_names: list[str]
    world: SimulationWorld


def logging_probabilities(contexts: pd.DataFrame, t: np.ndarray, arm_launch: np.ndarray) -> np.ndarray:
    """The world's logging policy (the generator's decision log): a rule (banner for customers under 35,
    10 % e-mail for page followers, plain e-mail otherwise) mixed with ``LOGGING_EPSILON`` uniform
    exploration over the arms launched at ``t``."""
    young = contexts["age_band"].isin(AGE_BANDS[:2]).to_numpy()
    follows = contexts["follows_page"].to_numpy() == 1
    rule = np.where(young, ARM_IDS.index("banner_limited_time"),
                    np.where(follows, ARM_IDS.index("email_10pct"), ARM_IDS.index("email_no_discount")))
    avail = t[:, None] >= arm_launch[None, :]
    probs = np.where(avail, LOGGING_EPSILON / avail.sum(axis=1, keepdims=True), 0.0)
    probs[np.arange(len(t)), rule] += 1 - LOGGING_EPSILON
    return probs


def simulate_ledger(world="tiny", days: int = 40, decisions_per_day: int = 1000, pending_days: int = 3,
                    seed: int = 0, world_seed: int = 42) -> SimulatedLedger:
    """A decision ledger logged by the world's epsilon-greedy rule over the last ``days`` days of
    the world, rewards drawn from the true conversion probabilities.

    ``free_shipping`` is available from the world's launch date (20 days before the end). The
    decisions of the last ``pending_days`` days are pending (window still open: ``is_pending``
    true, ``is_converted`` and ``revenue`` NULL). ``revenue`` of a conversion is the customer's
    mean order value after the promotion's discount.
    """
    w = _as_world(world, world_seed)
    rng = np.random.default_rng(seed)
    start = w.check_period(days)
    cust, t, _ = w.draw_decisions(rng, start, days, decisions_per_day)
    n = cust.size
    ctx_json = w.context_json(cust, t)
    ctx = w.contexts(cust, t)
    probs = logging_probabilities(ctx, t, w.arm_launch)
    arm = np.minimum((rng.random(n)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1), len(ARM_IDS) - 1)
    p = w.true_p(cust, t)
    converted = (rng.random(n) < p[np.arange(n), arm]).astype(float)
    pending = t > w.end_s - pending_days * DAY
    revenue = converted * w.mean_order_value(cust) * (1.0 - ARM_DISCOUNT[arm])
    decision_ids = np.char.add("SIM", np.char.zfill(np.arange(n).astype(str), 8))
    prob_json = [json.dumps({a: round(float(q), 6) for a, q in zip(ARM_IDS, row, strict=True) if q > 0},
                            separators=(",", ":")) for row in probs]
    ids = w.customer_ids(cust)
    ledger = pd.DataFrame({
        "decision_id": decision_ids,
        "customer_id": ids,
        "decided_at": _timestamps(t),
        "policy_id": LOGGING_POLICY_ID,
        "promotion_id": np.array(ARM_IDS, dtype=object)[arm],
        "propensity": np.round(probs[np.arange(n), arm], 6),
        "action_probabilities": prob_json,
        "context": ctx_json,
        "is_pending": pending,
        "is_converted": pd.array(np.where(pending, np.nan, converted), dtype="Int64"),
        "revenue": np.where(pending, np.nan, np.round(revenue, 2)),
    })
    k = len(ARM_IDS)
    truth = pd.DataFrame({
        "exposure_kind": "decision",
        "exposure_id": np.repeat(decision_ids, k),
        "customer_id": np.repeat(ids, k),
        "promotion_id": np.tile(np.array(ARM_IDS, dtype=object), n),
        "p_convert": p.ravel(),
    })
    return SimulatedLedger(ledger, truth, list(ARM_IDS), w)


# ----------------------------------------------------------------------------------------------
# the closed loop
# ----------------------------------------------------------------------------------------------


@dataclass
class SimulationResult:
    """Output of :func:`simulate_closed_loop`.

    ``daily``: one row per policy x day (the control group as ``control_group``); ``arm_mix``: one
    row per policy x day x arm; ``summary``: one row per policy over the whole run.
    """

    daily: pd.DataFrame
    arm_mix: pd.DataFrame
    summary: pd.DataFrame
    best_arm: str
    arm_names: list[str]
    new_arm: str | None
    new_arm_day: int | None
    config: dict = field(default_factory=dict)
    policies: dict = field(default_factory=dict)


class _Learner:
    """A policy in the loop: its object, its log and its label bookkeeping."""

    def __init__(self, name: str, policy: BasePolicy | None, rng: np.random.Generator):
        self.name = name
        self.base = policy      # learned from the settled rewards (every feedback mode)
        self.policy = policy    # what decides today (``feedback="delay_corrected"``: base + open windows)
        self.rng = rng
        self.rows: list[np.ndarray] = []        # decision indices, per day
        self.arms: list[np.ndarray] = []        # arm (world column) per decision, per day
        self.learned = 0
        self.learned_conversions = 0


def _new_arm_prior(policy: BasePolicy, strength: float):
    """Prior of an arm added mid-run: an "average promotion" (see the module docstring)."""
    if isinstance(policy, (BernoulliTS, SegmentBernoulliTS)):
        if not policy.is_initialized:
            return None
        a, b = np.sum(policy.alpha_), np.sum(policy.beta_)
        rate = float(np.clip(a / (a + b), 0.01, 0.99))
        return {"alpha": rate * strength, "beta": (1.0 - rate) * strength}
    if isinstance(policy, (LinUCB, LinTS)):
        if not policy.is_initialized:
            return None
        return {"mean": policy.theta_.mean(axis=0).tolist()}
    if isinstance(policy, LogisticTS):
        if not policy.is_initialized:
            return None
        return {"mean": policy.m_.mean(axis=0).tolist()}
    if getattr(policy, "counts_", None) is not None and policy.counts_.sum() > 0:  # EpsilonGreedy
        return {"mean": float(policy.sums_.sum() / policy.counts_.sum()), "count": 1.0}
    return None


def simulate_closed_loop(world="tiny", days: int = 30, decisions_per_day: int = 2000,  # noqa: PLR0913 - one keyword per option of the closed loop
                         policies: Sequence[str] = DEFAULT_POLICIES, control_share: float = 0.1, seed: int = 0, *,
                         world_seed: int = 42, new_arm: str | None = "free_shipping", new_arm_day: int | None = None,
                         feedback: str = "delay_corrected", prior_strength: float = 10.0, n_mc_draws: int = 300,
                         warm_start_days: int = 28,
                         policy_params: Mapping[str, Mapping] | None = None) -> SimulationResult:
    """Run policies against the true response for ``days`` days (see the module docstring).

    Parameters
    ----------
    world : preset name (``"tiny"``, ``"default"``; rebuilt in memory with ``world_seed``), a
        :class:`~retail_lift.world.presets.Preset` or a :class:`SimulationWorld`.
    days : simulated days (the last ``days`` days of the world's period).
    decisions_per_day : customers drawn per day (control group included).
    policies : names from :data:`~retail_lift.bandit.pipeline.CANDIDATE_NAMES` plus the baselines
        ``best_single_arm`` (the hindsight-best arm available that day) and ``random``.
    control_share : share of each day's customers held out as a uniformly random control group.
    seed : seed of the traffic, rewards and every policy's stream.
    new_arm, new_arm_day : the arm launched mid-run (default ``free_shipping`` on day
        ``days // 2``); ``None`` launches nothing (every arm from day 0).
    feedback : ``"delay_corrected"``, ``"window"`` or ``"conversion"`` (when rewards become observable
        and how open windows are used; see the module docstring).
    prior_strength : weight (observations) of the new arm's Beta prior.
    n_mc_draws : Monte Carlo draws of the Thompson-sampling probabilities.
    warm_start_days : days of history logged by the world's logging policy before day 0 (the
        decision ledger the warehouse already has; ``decisions_per_day`` a day, the new arm not
        launched). Every learning policy starts from it: what has settled by day 0 is its offline
        ``fit``, the rest arrives as the windows close (or per ``feedback``). ``0``: start from
        the priors alone.
    policy_params : constructor overrides per policy, on top of :data:`SIM_PARAMS`.
    """
    warm_start_days, policies = _check_loop_options(feedback, control_share, days, decisions_per_day,
                                                    warm_start_days, policies)
    policy_params = dict(policy_params or {})
    arm_names = list(ARM_IDS)
    new_arm_day, new_col, initial_cols = _arm_launch(arm_names, new_arm, new_arm_day, days)

    w = _as_world(world, world_seed)
    start = w.check_period(days, warm_start_days)
    ss = np.random.SeedSequence(seed)
    traffic_rng, reward_rng, control_rng, *policy_seeds = ss.spawn(3 + len(policies))
    traffic_rng, reward_rng, control_rng = (np.random.default_rng(s) for s in (traffic_rng, reward_rng, control_rng))
    history_rng = np.random.default_rng(ss.spawn(1)[0])  # spawned last: the other streams do not depend on it

    s = _Loop(arm_names=arm_names, initial_cols=initial_cols, new_col=new_col, new_arm_day=new_arm_day,
              feedback=feedback, prior_strength=prior_strength, start=start, control_rng=control_rng)
    _draw_traffic(s, w, traffic_rng, reward_rng, days, decisions_per_day, control_share)
    hist = _warm_start(s, w, history_rng, warm_start_days, decisions_per_day)
    learners = _make_learners(s, policies, policy_seeds, policy_params, n_mc_draws, hist)
    s.record(learners, days)
    for d in range(days):
        _simulate_day(s, d, learners)

    daily, mix = _outcome_tables(s, days)
    summary = _summary(daily, days)
    n, n_hist = s.u.size, s.n_hist
    config = dict(world=repr(w), days=days, decisions_per_day=decisions_per_day, policies=policies,
                  control_share=control_share, seed=seed, new_arm=new_arm, new_arm_day=new_arm_day,
                  feedback=feedback, prior_strength=prior_strength, n_mc_draws=n_mc_draws,
                  warm_start_days=warm_start_days, n_warm_start_decisions=int(n_hist),
                  n_warm_start_conversions=int((hist["u"] < hist["p_true"][np.arange(n_hist), hist["arm"]]).sum()),
                  attribution_days=ATTRIBUTION_DAYS, n_decisions=int(n), encoder=s.encoder.to_dict())
    return SimulationResult(daily, mix, summary, s.best_arm, arm_names, new_arm, new_arm_day, config,
                            {lr.name: lr.policy for lr in learners if lr.policy is not None})


def _check_loop_options(feedback, control_share, days, decisions_per_day, warm_start_days,
                        policies) -> tuple[int, list[str]]:
    """A ValueError naming the first bad option of :func:`simulate_closed_loop`; the warm-start days as an int
    and the policies as a list."""
    if feedback not in FEEDBACK_MODES:
        raise ValueError(f"feedback must be one of {FEEDBACK_MODES}, got {feedback!r}")
    if isinstance(control_share, bool) or not 0.0 < float(control_share) < 1.0:
        raise ValueError(f"control_share must lie in (0, 1), got {control_share!r}")
    if int(days) < 2 or int(decisions_per_day) < 10:
        raise ValueError("days must be >= 2 and decisions_per_day >= 10")
    if isinstance(warm_start_days, bool) or int(warm_start_days) != warm_start_days or warm_start_days < 0:
        raise ValueError(f"warm_start_days must be an integer >= 0, got {warm_start_days!r}")
    policies = list(policies)
    known = set(CANDIDATE_NAMES) | set(BASELINES)
    bad = [p for p in policies if p not in known]
    if bad or not policies or len(set(policies)) != len(policies):
        raise ValueError(f"policies must be distinct names from {sorted(known)}, got {policies}")
    return int(warm_start_days), policies


def _arm_launch(arm_names: list[str], new_arm: str | None, new_arm_day: int | None,
                days: int) -> tuple[int | None, int | None, list[int]]:
    """``(new_arm_day, its world column, the columns available from day 0)``; no new arm: every column."""
    if new_arm is None:
        return None, None, list(range(len(arm_names)))
    if new_arm not in arm_names:
        raise ValueError(f"new_arm {new_arm!r} is not an arm of the world {arm_names}")
    new_arm_day = days // 2 if new_arm_day is None else int(new_arm_day)
    if not 0 < new_arm_day < days:
        raise ValueError(f"new_arm_day must lie in (0, {days}), got {new_arm_day}")
    new_col = arm_names.index(new_arm)
    return new_arm_day, new_col, [c for c in range(len(arm_names)) if c != new_col]


@dataclass
class _Loop:
    """The state of one closed-loop run that its steps share.

    The run's traffic (set by :func:`_draw_traffic`, it does not depend on the policies): decision time
    ``t`` and ``day``, ``p_true`` (decisions × arms, world arm order), the common random numbers ``u`` of the
    rewards, conversion ``delay``, ``is_control``, ``available`` arms, the ``oracle``'s expected reward and the
    hindsight ``arm_rank``, and the decisions' ``contexts`` until the learners' ``inputs`` are built. What
    the learners read, history first (decision i of the run is learning row ``n_hist + i``; set by
    :func:`_warm_start`). What every policy did (set by :meth:`record`)."""

    arm_names: list[str]
    initial_cols: list[int]
    new_col: int | None
    new_arm_day: int | None
    feedback: str
    prior_strength: float
    start: float
    control_rng: np.random.Generator
    t: np.ndarray | None = None
    day: np.ndarray | None = None
    p_true: np.ndarray | None = None
    u: np.ndarray | None = None
    delay: np.ndarray | None = None
    is_control: np.ndarray | None = None
    available: np.ndarray | None = None
    oracle: np.ndarray | None = None
    arm_rank: np.ndarray | None = None
    best_arm: str | None = None
    contexts: pd.DataFrame | None = None
    n_hist: int = 0
    encoder: ContextEncoder | None = None
    inputs: _Inputs | None = None
    learn: tuple = ()
    chosen: dict = field(default_factory=dict)
    expected: dict = field(default_factory=dict)
    mean_prob: dict = field(default_factory=dict)
    labels_seen: dict = field(default_factory=dict)
    conversions_seen: dict = field(default_factory=dict)
    control_arm: np.ndarray | None = None
    day_start: np.ndarray | None = None

    def record(self, learners: list[_Learner], days: int) -> None:
        """Per policy: arm (world column) and expected reward of every decision of its traffic, the mean action
        probabilities and the labels and conversions learned from, per day; the control group's arms."""
        n, k_all = self.u.size, len(self.arm_names)
        self.chosen = {lr.name: np.full(n, -1) for lr in learners}
        self.expected = {lr.name: np.full(n, np.nan) for lr in learners}
        self.mean_prob = {lr.name: np.zeros((days, k_all)) for lr in learners}
        self.labels_seen = {lr.name: np.zeros(days, dtype=np.int64) for lr in learners}
        self.conversions_seen = {lr.name: np.zeros(days, dtype=np.int64) for lr in learners}
        self.control_arm = np.full(n, -1)
        self.day_start = np.searchsorted(self.day, np.arange(days + 1))


def _draw_traffic(s: _Loop, w: SimulationWorld, traffic_rng, reward_rng, days: int, decisions_per_day: int,
                  control_share: float) -> None:
    """Traffic, contexts and truth for the whole run (they do not depend on the policies)."""
    k_all = len(s.arm_names)
    cust, s.t, s.day = w.draw_decisions(traffic_rng, s.start, days, decisions_per_day)
    n = cust.size
    contexts = w.contexts(cust, s.t)
    s.p_true = w.true_p(cust, s.t)                   # (n, k_all), world arm order
    s.u = reward_rng.random(n)                       # common random numbers of the rewards
    s.delay = np.clip(np.exp(reward_rng.normal(np.log(DELAY_MEDIAN_DAYS), DELAY_SIGMA, n)), 1.0 / 24,
                      ATTRIBUTION_DAYS - 1e-6)
    s.is_control = reward_rng.random(n) < control_share
    s.available = np.ones((n, k_all), dtype=bool)
    if s.new_col is not None:
        s.available[:, s.new_col] = s.day >= s.new_arm_day
    p_avail = np.where(s.available, s.p_true, -np.inf)
    s.oracle = p_avail.max(axis=1)
    # hindsight-best single arm: highest mean true p over the policy traffic; on days when it is
    # not available, the best available one in that ranking
    s.arm_rank = np.argsort(-s.p_true[~s.is_control].mean(axis=0), kind="stable")
    s.best_arm = s.arm_names[int(s.arm_rank[0])]
    s.contexts = contexts


def _warm_start(s: _Loop, w: SimulationWorld, history_rng, warm_start_days: int, decisions_per_day: int) -> dict:
    """The warm-start ledger (the world's logging policy over the days before day 0), the context encoder and
    what the learners read, history first; returns the ledger."""
    hist = _history(w, history_rng, s.start, warm_start_days, decisions_per_day, s.initial_cols, len(s.arm_names))
    s.n_hist = n_hist = hist["n"]
    contexts = s.contexts
    if n_hist:
        # encoder fitted on the logged contexts, as the pipeline fits it on the ledger
        s.encoder = ContextEncoder().fit(hist["contexts"])
    else:
        # encoder fitted on the customers active when the simulation starts (no look-ahead)
        pre = w.active_customers(s.start)
        s.encoder = ContextEncoder().fit(w.contexts(pre, np.full(pre.size, s.start)))
    # what the learners read, history first: decision i of the run is learning row n_hist + i
    s.inputs = _Inputs(s.encoder, pd.concat([hist["contexts"], contexts], ignore_index=True) if n_hist else contexts)
    s.learn = (np.vstack([hist["p_true"], s.p_true]), np.concatenate([hist["u"], s.u]),
               np.concatenate([hist["delay"], s.delay]), np.concatenate([hist["day"], s.day]),
               np.concatenate([hist["t"], s.t]))
    s.contexts = None
    return hist


def _make_learners(s: _Loop, policies: list[str], policy_seeds, policy_params: dict, n_mc_draws: int,
                   hist: dict) -> list[_Learner]:
    """One learner per policy (baselines without a policy object), each with its own stream; the learning
    policies start from the warm-start ledger."""
    learners: list[_Learner] = []
    for name, seq in zip(policies, policy_seeds, strict=True):
        policy = None
        if name not in BASELINES:
            params = {**SIM_PARAMS.get(name, {}), **dict(policy_params.get(name, {}))}
            policy = make_candidate(name, [s.arm_names[c] for c in s.initial_cols],
                                    n_segments=s.encoder.n_segments_, n_mc_draws=n_mc_draws,
                                    random_state=int(seq.generate_state(1)[0] % (2**31)), params=params)
        lr = _Learner(name, policy, np.random.default_rng(seq))
        if policy is not None and s.n_hist:
            lr.rows.append(np.arange(s.n_hist))
            lr.arms.append(hist["arm"])
        learners.append(lr)
    return learners


def _simulate_day(s: _Loop, d: int, learners: list[_Learner]) -> None:
    """Day ``d``: the control group's arms, then each policy learns what it can by this morning and decides."""
    rows = np.arange(s.day_start[d], s.day_start[d + 1])
    ctl = rows[s.is_control[rows]]
    traffic = rows[~s.is_control[rows]]
    avail_cols = np.flatnonzero(s.available[rows[0]]) if rows.size else np.array(s.initial_cols)
    # control group: uniform over the available arms
    if ctl.size:
        s.control_arm[ctl] = avail_cols[s.control_rng.integers(0, avail_cols.size, ctl.size)]
    for lr in learners:
        _morning(s, d, lr)
        s.labels_seen[lr.name][d] = lr.learned
        s.conversions_seen[lr.name][d] = lr.learned_conversions
        if traffic.size:
            _decide(s, d, lr, traffic, avail_cols)


def _morning(s: _Loop, d: int, lr: _Learner) -> None:
    """What a learning policy knows on the morning of day ``d`` (``lr.policy``)."""
    base = lr.base
    pol = base
    if base is None:
        return
    learn_p, learn_u, learn_delay, learn_day, learn_t = s.learn
    # 1. learn from the rewards observed by this morning
    _learn(lr, base, d, s.inputs, learn_p, learn_u, learn_delay, learn_day, s.feedback)
    # 2. launch the new arm
    if s.new_col is not None and d == s.new_arm_day:
        base.add_arm(s.arm_names[s.new_col], prior=_new_arm_prior(base, s.prior_strength))
    # 3. delay-corrected: today's policy also learns from the open windows
    if s.feedback == "delay_corrected":
        pol = _with_open_windows(lr, base, s.start + d * DAY, d, s.inputs, learn_p, learn_u, learn_delay,
                                 learn_day, learn_t)
    lr.policy = pol


def _decide(s: _Loop, d: int, lr: _Learner, traffic: np.ndarray, avail_cols: np.ndarray) -> None:
    """4. decide for today's traffic: the policy's action probabilities, one arm drawn per decision."""
    pol = lr.policy
    cols = np.array(s.initial_cols + ([s.new_col] if s.new_col is not None and d >= s.new_arm_day else []))
    if lr.name == "random":
        P = np.full((traffic.size, avail_cols.size), 1.0 / avail_cols.size)
        cols = avail_cols
    elif lr.name == "best_single_arm":
        best = next(int(c) for c in s.arm_rank if s.available[traffic[0], c])
        cols = np.array([best])
        P = np.ones((traffic.size, 1))
    else:
        P = pol.action_probabilities(s.inputs(pol, s.n_hist + traffic))
    idx = _sample(P, lr.rng)
    arm = cols[idx]
    s.chosen[lr.name][traffic] = arm
    s.expected[lr.name][traffic] = (P * s.p_true[traffic][:, cols]).sum(axis=1)
    s.mean_prob[lr.name][d, cols] = P.mean(axis=0)
    lr.rows.append(s.n_hist + traffic)
    lr.arms.append(arm)


def _outcome_tables(s: _Loop, days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The realised rewards of every policy, the control group and the hindsight-best arm: the daily and
    mix tables."""
    n, p_true, u, available, arm_rank = s.u.size, s.p_true, s.u, s.available, s.arm_rank
    realised = {name: np.where(chosen >= 0, u < p_true[np.arange(n), np.maximum(chosen, 0)], False)
                for name, chosen in s.chosen.items()}
    control_expected = np.where(available, p_true, 0.0).sum(axis=1) / available.sum(axis=1)
    control_realised = u < p_true[np.arange(n), np.maximum(s.control_arm, 0)]
    best_col = arm_rank[np.argmax(available[:, arm_rank], axis=1)]  # first available arm in the ranking
    best_expected = p_true[np.arange(n), best_col]
    return _daily_tables(days, s.day, s.is_control, s.chosen, s.expected, realised, s.oracle, s.control_arm,
                         control_expected, control_realised, best_expected, s.mean_prob, available,
                         s.labels_seen, s.conversions_seen, s.arm_names)


def _history(w: SimulationWorld, rng: np.random.Generator, start: float, days: int, per_day: int,
             initial_cols: Sequence[int], k_all: int) -> dict:
    """The warm-start ledger: ``per_day`` decisions a day over the ``days`` days before ``start``,
    logged by the world's logging policy (:func:`logging_probabilities`, the rule of
    ``rules_eps30_v1`` with its uniform exploration) over the arms launched before day 0, rewards
    and conversion delays drawn from the truth as in the run. ``day`` is negative (-days .. -1)."""
    k = k_all
    if days == 0:
        return {"n": 0, "contexts": pd.DataFrame(), "p_true": np.empty((0, k)), "u": np.empty(0),
                "delay": np.empty(0), "day": np.empty(0, dtype=np.int64), "arm": np.empty(0, dtype=np.int64),
                "t": np.empty(0)}
    cust, t, day = w.draw_decisions(rng, start - days * DAY, days, per_day)
    ctx = w.contexts(cust, t)
    launch = np.full(k, np.inf)
    launch[list(initial_cols)] = -np.inf
    arm = _sample(logging_probabilities(ctx, t, launch), rng)
    n = cust.size
    return {"n": n, "contexts": ctx, "p_true": w.true_p(cust, t), "u": rng.random(n),
            "delay": np.clip(np.exp(rng.normal(np.log(DELAY_MEDIAN_DAYS), DELAY_SIGMA, n)), 1.0 / 24,
                             ATTRIBUTION_DAYS - 1e-6),
            "day": day.astype(np.int64) - days, "arm": arm.astype(np.int64), "t": t}


def _sample(P: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cdf = np.cumsum(P, axis=1)
    x = rng.random(P.shape[0]) * cdf[:, -1]
    return (cdf <= x[:, None]).sum(axis=1).clip(max=P.shape[1] - 1)


class _Inputs:
    """The encoded features and segment ids of every decision of the run, computed once."""

    def __init__(self, encoder: ContextEncoder, contexts: pd.DataFrame):
        self.X = encoder.transform(contexts)
        self.segments = encoder.segment_ids(contexts)

    def __call__(self, policy: BasePolicy, rows: np.ndarray) -> np.ndarray:
        if isinstance(policy, SegmentBernoulliTS):
            return self.segments[rows]
        if policy.context_free:
            return np.zeros((len(rows), 1))
        return self.X[rows]


def _with_open_windows(lr: _Learner, base: BasePolicy, morning_s: float, d: int, inputs: _Inputs, p_true, u, delay,
                       day, t) -> BasePolicy:
    """``feedback="delay_corrected"``: a copy of ``base`` (every settled reward) updated with the
    decisions whose attribution window is still open, each weighted by how much of its outcome is
    already known (see the module docstring). Returns ``base`` itself while there is nothing to add
    or too few settled conversions to estimate the delay distribution."""
    if not lr.rows:
        return base
    rows = np.concatenate(lr.rows)
    arms = np.concatenate(lr.arms)
    reward = u[rows] < p_true[rows, arms]
    settled = day[rows] + ATTRIBUTION_DAYS <= d
    open_ = ~settled & (t[rows] < morning_s)
    delays = np.sort(delay[rows[settled & reward]])  # conversion delays, known once the order landed
    if not open_.any() or delays.size < MIN_SETTLED_CONVERSIONS:
        return base
    p0 = float(reward[settled].mean())
    o_rows, o_arms = rows[open_], arms[open_]
    elapsed = (morning_s - t[o_rows]) / DAY
    seen = reward[open_] & (delay[o_rows] <= elapsed)
    weight = np.where(seen, 1.0, open_window_weight(elapsed, delays, p0))
    lookup = np.array([base.arm_names_.index(a) if a in base.arm_names_ else -1 for a in ARM_IDS])
    pol = copy.deepcopy(base)
    pol.partial_fit(inputs(pol, o_rows), lookup[o_arms], seen.astype(float), sample_weight=weight)
    return pol


def open_window_weight(elapsed_days, conversion_delays, base_rate: float) -> np.ndarray:
    """Weight of a decision whose attribution window is open and that has not converted yet.

    ``F(e)`` is the share of conversions that land within ``e`` days of the decision (the empirical
    distribution of ``conversion_delays``, days from decision to order of settled conversions) and
    ``p0`` the conversion rate of settled decisions. A decision with conversion probability ``p``
    has converted by ``e`` with probability ``p F(e)``; counting those as conversions of weight 1
    and the not-yet-converted ones as non-conversions of weight
    ``w(e) = F(e) (1 - p0) / (1 - p0 F(e))`` makes the expected weighted conversion rate
    ``p F / (p F + (1 - p F) w)``: exactly ``p`` at ``p = p0``, off by ``p (p - p0) (1 - F) / (1 - p0 F)``
    elsewhere (shrunk towards ``p0``, never reordered: it increases with ``p``), and the row counts
    as ``F(e)`` observations in expectation: nothing is known at ``e = 0`` (weight 0), everything when
    the window closes (``F = 1``, weight 1)."""
    e = np.asarray(elapsed_days, dtype=float)
    dl = np.sort(np.asarray(conversion_delays, dtype=float))
    if dl.size == 0:
        raise ValueError("conversion_delays must not be empty")
    if not 0.0 <= float(base_rate) < 1.0:
        raise ValueError(f"base_rate must lie in [0, 1), got {base_rate!r}")
    F = np.searchsorted(dl, e, side="right") / dl.size
    return F * (1.0 - base_rate) / (1.0 - base_rate * F)


def _learn(lr: _Learner, pol: BasePolicy, d: int, inputs: _Inputs, p_true, u, delay, day, feedback) -> None:
    """``partial_fit`` the rows of the policy's log whose reward became observable by day ``d``."""
    if not lr.rows:
        return
    rows = np.concatenate(lr.rows)
    arms = np.concatenate(lr.arms)
    reward = u[rows] < p_true[rows, arms]
    label_day = day[rows] + ATTRIBUTION_DAYS
    if feedback == "conversion":
        label_day = np.where(reward, day[rows] + np.ceil(delay[rows]).astype(int), label_day)
    # a row is learned exactly once: on the first morning its label is observable
    seen_before = label_day <= d - 1
    new = (label_day <= d) & ~seen_before
    if not new.any():
        return
    r_rows, r_arms = rows[new], arms[new]
    lookup = np.array([pol.arm_names_.index(a) if a in pol.arm_names_ else -1 for a in ARM_IDS])
    a_idx = lookup[r_arms]
    pol.partial_fit(inputs(pol, r_rows), a_idx, reward[new].astype(float))
    lr.learned += int(new.sum())
    lr.learned_conversions += int(reward[new].sum())


def _daily_tables(days, day, is_control, chosen, expected, realised, oracle, control_arm, control_expected,  # noqa: PLR0913 - the daily arrays of the loop, passed as they are
                  control_realised, best_expected, mean_prob, available, labels_seen, conversions_seen, arm_names):
    traffic = ~is_control
    k = len(arm_names)

    def agg(x, mask):
        return np.bincount(day[mask], weights=np.asarray(x, dtype=float)[mask], minlength=days)

    n_tr = np.bincount(day[traffic], minlength=days).astype(float)
    n_ctl = np.bincount(day[is_control], minlength=days).astype(float)
    ctl_exp = agg(control_expected, is_control)
    ctl_real = agg(control_realised, is_control)
    best_exp = agg(best_expected, traffic)
    frames, mixes = [], []
    for name in [*chosen, CONTROL]:
        if name == CONTROL:
            mask, arms = is_control, control_arm
            exp_c, real_c, n_d = ctl_exp, ctl_real, n_ctl
            best_d = agg(best_expected, is_control)
            seen, conv_seen = np.zeros(days, dtype=np.int64), np.zeros(days, dtype=np.int64)
            probs = np.zeros((days, k))
            for d in range(days):
                av = available[day == d][0] if (day == d).any() else np.ones(k, dtype=bool)
                probs[d] = av / av.sum()
        else:
            mask, arms = traffic, chosen[name]
            exp_c, real_c, n_d = agg(expected[name], traffic), agg(realised[name], traffic), n_tr
            best_d = best_exp
            seen, conv_seen, probs = labels_seen[name], conversions_seen[name], mean_prob[name]
        orc = agg(oracle, mask)
        with np.errstate(invalid="ignore", divide="ignore"):
            er = exp_c / n_d
            f = pd.DataFrame({
                "policy": name, "day": np.arange(days), "decisions": n_d.astype(int),
                "conversions": real_c.astype(int), "conversion_rate": real_c / n_d,
                "expected_conversions": exp_c, "expected_reward": er, "oracle_reward": orc / n_d,
                "regret": orc - exp_c,
                "lift_vs_control": er / (ctl_exp / n_ctl) - 1.0,
                "lift_vs_control_realised": (real_c / n_d) / (ctl_real / n_ctl) - 1.0,
                "lift_vs_best_arm": exp_c / best_d - 1.0,
                "labels_observed": seen, "conversions_observed": conv_seen,
            })
        f["cum_decisions"] = f["decisions"].cumsum()
        f["cum_conversions"] = f["conversions"].cumsum()
        f["cum_expected_conversions"] = f["expected_conversions"].cumsum()
        f["cum_regret"] = f["regret"].cumsum()
        frames.append(f)
        counts = np.zeros((days, k))
        sel = mask & (arms >= 0)
        np.add.at(counts, (day[sel], arms[sel]), 1.0)
        share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
        mixes.append(pd.DataFrame({
            "policy": name, "day": np.repeat(np.arange(days), k),
            "promotion_id": np.tile(np.array(arm_names, dtype=object), days),
            "decisions": counts.ravel().astype(int), "share": share.ravel(),
            "mean_probability": probs.ravel(),
        }))
    return pd.concat(frames, ignore_index=True), pd.concat(mixes, ignore_index=True)


def regret_growth_exponent(daily_regret) -> float:
    """Least-squares slope of ``log R(T)`` on ``log T``, where ``R(T)`` is the cumulative regret
    after ``T = 1 .. days`` days: ``R(T) ~ c T^b`` gives ``b`` (1 = regret grows linearly, as for a
    policy that never learns; below 1 = sublinearly: the regret per day falls). ``nan`` when fewer
    than three days have positive cumulative regret."""
    r = np.cumsum(np.asarray(daily_regret, dtype=float))
    T = np.arange(1, r.size + 1, dtype=float)
    ok = r > 0
    if ok.sum() < 3:
        return float("nan")
    return float(np.polyfit(np.log(T[ok]), np.log(r[ok]), 1)[0])


def _summary(daily: pd.DataFrame, days: int) -> pd.DataFrame:
    half = days // 2
    ctl = daily.loc[daily["policy"] == CONTROL]
    rows = []
    for name, g in daily.groupby("policy", sort=False):
        out = {"policy": name}
        for label, sel in (("", slice(None)), ("_2nd_half", g["day"] >= half)):
            gg = g.loc[sel]
            cc = ctl.loc[sel if label == "" else ctl["day"] >= half]
            dec, conv, exp_c = gg["decisions"].sum(), gg["conversions"].sum(), gg["expected_conversions"].sum()
            best = (gg["expected_conversions"] / (1.0 + gg["lift_vs_best_arm"])).sum()
            c_er = cc["expected_conversions"].sum() / cc["decisions"].sum()
            c_cr = cc["conversions"].sum() / cc["decisions"].sum()
            out[f"decisions{label}"] = int(dec)
            out[f"conversion_rate{label}"] = conv / dec
            out[f"expected_reward{label}"] = exp_c / dec
            out[f"regret_per_decision{label}"] = gg["regret"].sum() / dec
            out[f"lift_vs_control{label}"] = (exp_c / dec) / c_er - 1.0
            out[f"lift_vs_control_realised{label}"] = (conv / dec) / c_cr - 1.0
            out[f"lift_vs_best_arm{label}"] = exp_c / best - 1.0
            if label == "":
                out["conversions"] = int(conv)
                out["oracle_reward"] = (gg["oracle_reward"] * gg["decisions"]).sum() / dec
                out["cum_regret"] = float(gg["regret"].sum())
                out["regret_1st_half"] = float(g.loc[g["day"] < half, "regret"].sum())
                out["regret_2nd_half"] = float(g.loc[g["day"] >= half, "regret"].sum())
                third = g["day"].to_numpy() * 3 // days
                for i, lab in enumerate(("1st", "2nd", "3rd")):
                    out[f"regret_{lab}_third"] = float(g.loc[third == i, "regret"].sum())
                out["regret_growth_exponent"] = regret_growth_exponent(g["regret"].to_numpy())
        rows.append(out)
    first = ["policy", "decisions", "conversions", "conversion_rate", "expected_reward", "oracle_reward", "cum_regret",
             "regret_1st_half", "regret_2nd_half", "regret_1st_third", "regret_2nd_third", "regret_3rd_third",
             "regret_growth_exponent", "regret_per_decision", "lift_vs_control",
             "lift_vs_control_realised", "lift_vs_best_arm"]
    s = pd.DataFrame(rows)
    return s[first + [c for c in s.columns if c not in first]]


# ----------------------------------------------------------------------------------------------
# plots
# ----------------------------------------------------------------------------------------------


def plot_simulation(result: SimulationResult, out_dir) -> list[Path]:
    """Write ``cumulative_regret.png``, ``arm_mix.png`` and ``cumulative_conversions.png`` to
    ``out_dir`` (created if needed) and return their paths. Uses matplotlib's Agg canvas (no
    display, no global pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    daily = result.daily
    names = [p for p in daily["policy"].unique() if p != CONTROL]
    paths = []

    def save(fig, name):
        FigureCanvasAgg(fig)
        path = out / name
        fig.savefig(path, dpi=110, bbox_inches="tight")
        paths.append(path)

    def launch_line(ax):
        if result.new_arm_day is not None:
            ax.axvline(result.new_arm_day, color="grey", ls=":", lw=1)

    # cumulative regret
    fig = Figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    traffic = daily.loc[daily["policy"] == names[0], "decisions"].to_numpy()
    for name in names:
        g = daily.loc[daily["policy"] == name]
        ax.plot(g["day"], g["cum_regret"], label=name)
    g = daily.loc[daily["policy"] == CONTROL]
    scaled = (g["regret"].to_numpy() * traffic / np.maximum(g["decisions"].to_numpy(), 1)).cumsum()
    ax.plot(g["day"], scaled, label="control group (scaled)", ls="--", color="black")
    launch_line(ax)
    ax.set_xlabel("day")
    ax.set_ylabel("cumulative regret (expected conversions)")
    when = {"window": f"learned when the {ATTRIBUTION_DAYS}-day window closes",
            "conversion": "conversions learned when they land",
            "delay_corrected": "open windows learned with delay-corrected weights"}[result.config.get("feedback",
                                                                                                    "window")]
    warm = result.config.get("warm_start_days", 0)
    warm = f"; warm start: {warm} days of logged history" if warm else "; no warm start"
    ax.set_title(f"Cumulative regret against the oracle arm (rewards {when}{warm})", fontsize=9)
    ax.legend(fontsize=8)
    save(fig, "cumulative_regret.png")

    # arm mix over time, one panel per policy
    mix = result.arm_mix
    panels = [*names, CONTROL]
    ncol = 3
    nrow = int(np.ceil(len(panels) / ncol))
    fig = Figure(figsize=(4.2 * ncol, 3.0 * nrow))
    colors = {a: c for a, c in zip(result.arm_names, [f"C{i}" for i in range(len(result.arm_names))], strict=True)}
    for i, name in enumerate(panels):
        ax = fig.add_subplot(nrow, ncol, i + 1)
        g = mix.loc[mix["policy"] == name].pivot(index="day", columns="promotion_id", values="share")
        g = g[[a for a in result.arm_names if a in g.columns]]
        ax.stackplot(g.index, g.T.to_numpy(), labels=g.columns, colors=[colors[a] for a in g.columns])
        launch_line(ax)
        ax.set_title(name, fontsize=9)
        ax.set_ylim(0, 1)
        ax.set_xlabel("day", fontsize=8)
        if i == 0:
            fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=len(result.arm_names), fontsize=8)
    fig.suptitle(f"Arm mix over time (share of decisions); {result.new_arm} launches on day {result.new_arm_day}")
    fig.subplots_adjust(bottom=0.14, hspace=0.45)
    save(fig, "arm_mix.png")

    # cumulative conversions (the control group scaled to the policy traffic)
    fig = Figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    for name in names:
        g = daily.loc[daily["policy"] == name]
        ax.plot(g["day"], g["cum_conversions"], label=name)
    g = daily.loc[daily["policy"] == CONTROL]
    scaled = (g["conversions"].to_numpy() * traffic / np.maximum(g["decisions"].to_numpy(), 1)).cumsum()
    ax.plot(g["day"], scaled, label="control group (scaled)", ls="--", color="black")
    launch_line(ax)
    ax.set_xlabel("day")
    ax.set_ylabel("cumulative conversions (realised)")
    ax.set_title("Cumulative conversions")
    ax.legend(fontsize=8)
    save(fig, "cumulative_conversions.png")
    return paths
