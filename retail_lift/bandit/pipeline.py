"""From the decision ledger to trained candidate policies, their off-policy evaluation and a gate.

The ledger is ``fct_decision_ledger``: one row per decision with ``decision_id``, ``customer_id``,
``decided_at``, ``policy_id``, ``promotion_id`` (the arm played), ``propensity``,
``action_probabilities`` (JSON ``{arm: p}``; an absent arm was not available), ``context`` (JSON),
``is_pending`` (the attribution window has not closed yet), ``is_converted`` (0/1, NULL while
pending) and ``revenue``.

The flow (:func:`run_offline_evaluation` does all of it)::

    train, holdout = time_split(ledger, holdout_fraction=0.3)      # by decided_at
    encoder = fit_encoder(train)
    candidates = train_candidates(train, arm_names, encoder=encoder)
    table, details = evaluate_policies(holdout, candidates, encoder, return_details=True)
    verdicts = ope_gate(details, champion="logging")               # the paired gate (.gate)

Design choices
--------------
* **Pending rows** (``is_pending`` true, or ``is_converted`` NULL) are dropped before training and
  before evaluation: their reward is not known yet, and counting them as non-conversions would
  bias every estimate down (most of all for the newest arm).
* **Time holdout.** Candidates are trained on the earlier part of the ledger and evaluated on the
  later part (:func:`time_split`), as they would be deployed: on customers and a season they have
  not seen. Evaluating on the training rows would reward over-fitting. The reward model of DM / DR
  is fitted on the holdout itself with cross-fitting (out-of-fold predictions, see
  :mod:`.ope`), so it never sees the row it predicts.
* **Arm availability.** An arm with logged probability 0 at a decision was not available then
  (not launched yet, out of stock, ...). A candidate's probabilities are restricted to the
  available arms and renormalised (:func:`mask_probabilities`) before evaluation and
  publication; a row where the candidate puts no mass on any available arm falls back to uniform
  over the available arms. The policy classes are not changed: this is a mask in the pipeline.
* **The logging policy** is evaluated as a candidate named ``"logging"`` whose target
  probabilities are the logged ones: all importance weights are 1, so IPS is the on-policy mean
  reward. It is the default champion of :func:`ope_gate`, which tests each candidate's DR
  *difference* to it on the same holdout decisions (:mod:`.gate`: paired interval, Holm across the
  candidates, minimum ESS, support).
* **Priors.** Arms never logged in the training rows keep their prior, so a new promotion is
  explored from the first day. The Beta priors of the Thompson-sampling candidates are centred on
  the ledger's overall conversion rate with the weight of ``prior_strength`` observations (a flat
  ``Beta(1, 1)`` would claim a 50 % conversion rate and send almost all traffic to any unlogged
  arm).

Ground truth (:func:`true_policy_value`, :func:`truth_matrix`) is read only by evaluation code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .base import BasePolicy
from .context import ContextEncoder, parse_action_probabilities, parse_contexts
from .epsilon_greedy import EpsilonGreedy
from .gate import GateConfig, run_gate
from .linear import LinTS, LinUCB
from .logistic import LogisticTS
from .ope import RewardModel, dm, dr, fit_reward_model, ips, snips, switch_dr
from .thompson import BernoulliTS, SegmentBernoulliTS

__all__ = [
    "CANDIDATE_NAMES",
    "ESTIMATORS",
    "CandidateSet",
    "LedgerArrays",
    "OfflineEvaluation",
    "evaluate_policies",
    "fit_encoder",
    "is_settled",
    "ledger_arrays",
    "make_candidate",
    "mask_probabilities",
    "masked_action_probabilities",
    "ope_gate",
    "policy_inputs",
    "policy_probabilities",
    "run_offline_evaluation",
    "settled_rows",
    "time_split",
    "train_candidates",
    "true_policy_value",
    "truth_matrix",
]

#: the candidates :func:`train_candidates` builds, in this order
CANDIDATE_NAMES = ("linucb", "lints", "logistic_ts", "thompson_segment", "epsilon_greedy", "thompson")
ESTIMATORS = ("ips", "snips", "dm", "dr", "switch_dr")
LOGGING = "logging"

_REQUIRED = ("decided_at", "promotion_id", "propensity", "action_probabilities", "context", "is_converted")


# ----------------------------------------------------------------------------------------------
# ledger handling
# ----------------------------------------------------------------------------------------------


def _check_ledger_columns(ledger: pd.DataFrame, needed=_REQUIRED) -> None:
    if not isinstance(ledger, pd.DataFrame):
        raise ValueError(f"ledger must be a pandas DataFrame, got {type(ledger).__name__}")
    missing = [c for c in needed if c not in ledger.columns]
    if missing:
        raise ValueError(f"the decision ledger lacks column(s) {missing}; it has {list(ledger.columns)}")


def is_settled(ledger: pd.DataFrame) -> np.ndarray:
    """Per row, whether its reward is known: ``is_pending`` false (or absent) and ``is_converted`` not NULL."""
    _check_ledger_columns(ledger, ("decided_at", "is_converted"))
    pending = ledger["is_converted"].isna().to_numpy()
    if "is_pending" in ledger.columns:
        flag = ledger["is_pending"]
        pending = pending | flag.fillna(False).astype(bool).to_numpy()
    return ~pending


def settled_rows(ledger: pd.DataFrame) -> pd.DataFrame:
    """The rows whose reward is known (:func:`is_settled`).

    Returned sorted by ``decided_at`` (then ``decision_id`` when present), index reset.
    """
    out = ledger.loc[is_settled(ledger)].copy()
    out["decided_at"] = pd.to_datetime(out["decided_at"])
    keys = ["decided_at", "decision_id"] if "decision_id" in out.columns else ["decided_at"]
    return out.sort_values(keys, kind="stable").reset_index(drop=True)


def time_split(ledger: pd.DataFrame, holdout_fraction: float = 0.3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the settled rows by time: the earliest ``1 - holdout_fraction`` for training, the rest
    for evaluation. Rows with the same ``decided_at`` stay on the same side. Pending rows are
    dropped (see :func:`settled_rows`)."""
    if isinstance(holdout_fraction, bool) or not isinstance(holdout_fraction, (int, float)) \
            or not 0.0 < holdout_fraction < 1.0:
        raise ValueError(f"holdout_fraction must lie in (0, 1), got {holdout_fraction!r}")
    rows = settled_rows(ledger)
    if len(rows) < 2:
        raise ValueError(f"time_split needs at least two settled rows, got {len(rows)}")
    cut = rows["decided_at"].iloc[int(np.floor((1.0 - holdout_fraction) * len(rows)))]
    train = rows.loc[rows["decided_at"] < cut].reset_index(drop=True)
    holdout = rows.loc[rows["decided_at"] >= cut].reset_index(drop=True)
    if len(train) == 0 or len(holdout) == 0:
        raise ValueError("time_split produced an empty side (all decisions at the same time?)")
    return train, holdout


@dataclass
class LedgerArrays:
    """The numeric view of settled ledger rows that training and evaluation use."""

    contexts: pd.DataFrame      # parsed contexts
    actions: np.ndarray         # arm index played
    rewards: np.ndarray         # 0/1
    pscore: np.ndarray          # logged propensity of the played arm
    logged_probs: np.ndarray    # (n, n_arms) logged action probabilities (0 = unavailable)

    @property
    def available(self) -> np.ndarray:
        return self.logged_probs > 0


def ledger_arrays(ledger: pd.DataFrame, arm_names: Sequence[str], *, settled: bool = True) -> LedgerArrays:
    """Parse ledger rows into arrays (``settled=True`` first drops pending rows).

    Checks that every ``promotion_id`` is in ``arm_names``, that the logged propensity is in
    (0, 1] and equals the logged probability of the played arm (tolerance 1e-4).
    """
    _check_ledger_columns(ledger)
    rows = settled_rows(ledger) if settled else ledger.reset_index(drop=True)
    names = [str(a) for a in arm_names]
    index = {a: k for k, a in enumerate(names)}
    promo = rows["promotion_id"].astype(str).to_numpy()
    unknown = sorted(set(promo) - set(index))
    if unknown:
        raise ValueError(f"promotion_id values {unknown} are not in arm_names {names}")
    actions = np.array([index[a] for a in promo], dtype=np.int64)
    rewards = pd.to_numeric(rows["is_converted"], errors="coerce").to_numpy(dtype=float)
    if settled and not np.isin(rewards, (0.0, 1.0)).all():
        raise ValueError("is_converted must be 0 or 1 on settled rows")
    pscore = pd.to_numeric(rows["propensity"], errors="coerce").to_numpy(dtype=float)
    if len(pscore) and (~np.isfinite(pscore) | (pscore <= 0) | (pscore > 1)).any():
        raise ValueError("propensity must lie in (0, 1] on every row")
    probs = parse_action_probabilities(rows["action_probabilities"], names)
    if len(actions):
        gap = np.abs(probs[np.arange(len(actions)), actions] - pscore)
        if (gap > 1e-4).any():
            i = int(np.argmax(gap))
            raise ValueError(f"row {i}: propensity {pscore[i]} differs from the logged probability "
                             f"{probs[i, actions[i]]} of the played arm {names[actions[i]]!r}")
    return LedgerArrays(parse_contexts(rows["context"]), actions, rewards, pscore, probs)


def fit_encoder(ledger: pd.DataFrame, **encoder_params) -> ContextEncoder:
    """A :class:`ContextEncoder` fitted on the contexts of the ledger's settled rows."""
    _check_ledger_columns(ledger, ("decided_at", "is_converted", "context"))
    return ContextEncoder(**encoder_params).fit(parse_contexts(settled_rows(ledger)["context"]))


# ----------------------------------------------------------------------------------------------
# policies and their inputs
# ----------------------------------------------------------------------------------------------


def policy_inputs(policy: BasePolicy, encoder: ContextEncoder, contexts: pd.DataFrame) -> np.ndarray:
    """What ``policy`` takes as contexts: segment ids for :class:`SegmentBernoulliTS`, the encoded
    feature matrix otherwise (context-free policies only use its row count)."""
    if policy.uses_segments:
        return encoder.segment_ids(contexts)
    if policy.context_free:
        return np.zeros((len(contexts), 1))
    return encoder.transform(contexts)


class CandidateSet(dict):
    """``dict[name, policy]`` returned by :func:`train_candidates`, plus the ``encoder`` and
    ``arm_names`` the policies were trained with and the number of training rows."""

    def __init__(self, policies, encoder: ContextEncoder, arm_names: Sequence[str], n_train: int):
        super().__init__(policies)
        self.encoder = encoder
        self.arm_names = list(arm_names)
        self.n_train = int(n_train)


def _beta_prior(rate: float, strength: float) -> tuple[float, float]:
    rate = float(np.clip(rate, 0.01, 0.99))
    return rate * strength, (1.0 - rate) * strength


def make_candidate(name: str, arm_names: Sequence[str], *, n_segments: int = 1, base_rate: float = 0.5,
                   prior_strength: float = 10.0, n_mc_draws: int = 1000, random_state=0,
                   params: Mapping | None = None) -> BasePolicy:
    """An untrained policy of one of :data:`CANDIDATE_NAMES` with the pipeline's defaults
    (``params`` overrides constructor arguments)."""
    k = len(arm_names)
    a, b = _beta_prior(base_rate, prior_strength)
    defaults = {
        "linucb": (LinUCB, dict(alpha=0.5, reg_lambda=1.0, epsilon=0.05)),
        "lints": (LinTS, dict(v=0.4, reg_lambda=1.0, n_mc_draws=n_mc_draws)),
        "logistic_ts": (LogisticTS, dict(alpha=1.0, reg_lambda=1.0, n_mc_draws=n_mc_draws)),
        "thompson_segment": (SegmentBernoulliTS, dict(n_segments=n_segments, alpha=a, beta=b, n_mc_draws=n_mc_draws)),
        "epsilon_greedy": (EpsilonGreedy, dict(epsilon=0.1, prior={"mean": base_rate, "count": 1.0})),
        "thompson": (BernoulliTS, dict(alpha=a, beta=b, n_mc_draws=n_mc_draws)),
    }
    if name not in defaults:
        raise ValueError(f"unknown candidate {name!r}; choose from {CANDIDATE_NAMES}")
    cls, kw = defaults[name]
    kw = {**kw, **dict(params or {})}
    return cls(k, arm_names=list(arm_names), random_state=random_state, **kw)


def train_candidates(ledger: pd.DataFrame, arm_names: Sequence[str], random_state=0, *,
                     encoder: ContextEncoder | None = None, candidates: Sequence[str] = CANDIDATE_NAMES,
                     prior_strength: float = 10.0, n_mc_draws: int = 1000,
                     params: Mapping[str, Mapping] | None = None) -> CandidateSet:
    """Train every candidate policy offline (``fit``) on the settled rows of ``ledger``.

    Parameters
    ----------
    ledger : decision ledger (pending rows are dropped).
    arm_names : every arm the policies can play, in index order; arms never logged keep their prior.
    random_state : seed of every policy (Monte Carlo and ``select`` streams).
    encoder : a fitted :class:`ContextEncoder`; ``None`` fits one on the ledger's settled rows.
    candidates : which of :data:`CANDIDATE_NAMES` to build.
    prior_strength : weight, in observations, of the Beta priors (centred on the overall
        conversion rate of the ledger).
    params : per-candidate constructor overrides, e.g. ``{"linucb": {"alpha": 1.0}}``.

    Returns a :class:`CandidateSet` (``dict[name, policy]`` with ``.encoder``).
    """
    arrays = ledger_arrays(ledger, arm_names)
    if len(arrays.actions) == 0:
        raise ValueError("no settled rows to train on")
    if encoder is None:
        encoder = ContextEncoder().fit(arrays.contexts)
    base_rate = float(arrays.rewards.mean())
    params = dict(params or {})
    unknown = set(params) - set(candidates)
    if unknown:
        raise ValueError(f"params given for candidates that are not built: {sorted(unknown)}")
    out = {}
    for name in candidates:
        policy = make_candidate(name, arm_names, n_segments=encoder.n_segments_, base_rate=base_rate,
                                prior_strength=prior_strength, n_mc_draws=n_mc_draws,
                                random_state=random_state, params=params.get(name))
        policy.fit(policy_inputs(policy, encoder, arrays.contexts), arrays.actions, arrays.rewards)
        out[name] = policy
    return CandidateSet(out, encoder, arm_names, len(arrays.actions))


# ----------------------------------------------------------------------------------------------
# availability mask
# ----------------------------------------------------------------------------------------------


def mask_probabilities(probs, available) -> np.ndarray:
    """Restrict each row of ``probs`` to the ``available`` arms and renormalise.

    A row with no mass on any available arm becomes uniform over its available arms; a row with
    no available arm at all raises ``ValueError``. Unavailable arms always get exactly 0.
    """
    P = np.asarray(probs, dtype=float)
    A = np.asarray(available, dtype=bool)
    if P.shape != A.shape or P.ndim != 2:
        raise ValueError(f"probs and available must be 2-D arrays of the same shape, got {P.shape} and {A.shape}")
    n_avail = A.sum(axis=1)
    if (n_avail == 0).any():
        i = int(np.flatnonzero(n_avail == 0)[0])
        raise ValueError(f"row {i} has no available arm")
    M = np.where(A, P, 0.0)
    s = M.sum(axis=1, keepdims=True)
    uniform = A / n_avail[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(s > 1e-12, M / np.where(s > 0, s, 1.0), uniform)
    return out


def masked_action_probabilities(policy: BasePolicy, encoder: ContextEncoder, contexts: pd.DataFrame,
                                available=None) -> np.ndarray:
    """``policy.action_probabilities`` on parsed ``contexts``, restricted to ``available`` arms
    (``(n, n_arms)`` booleans; ``None`` = every arm available)."""
    P = policy.action_probabilities(policy_inputs(policy, encoder, contexts))
    if available is None:
        return P
    return mask_probabilities(P, available)


# ----------------------------------------------------------------------------------------------
# off-policy evaluation
# ----------------------------------------------------------------------------------------------


def _arm_names_of(policies: Mapping[str, BasePolicy], arm_names) -> list[str]:
    if arm_names is None:
        if hasattr(policies, "arm_names"):
            arm_names = policies.arm_names
        elif policies:
            arm_names = next(iter(policies.values())).arm_names_
        else:
            raise ValueError("give arm_names (no policy to take them from)")
    arm_names = [str(a) for a in arm_names]
    for name, p in policies.items():
        if list(p.arm_names_) != arm_names:
            raise ValueError(f"policy {name!r} has arms {p.arm_names_}, expected {arm_names}")
    return arm_names


def evaluate_policies(ledger: pd.DataFrame, policies: Mapping[str, BasePolicy], encoder: ContextEncoder,
                      reward_model="logistic", n_bootstrap: int = 200, *, arm_names: Sequence[str] | None = None,
                      tau: float = 10.0, alpha: float = 0.05, include_logging: bool = True,
                      n_folds: int = 5, random_state=0, return_details: bool = False):
    """Off-policy estimates of every policy on the settled rows of ``ledger`` (use the time holdout).

    Parameters
    ----------
    ledger : the evaluation rows (pending rows are dropped).
    policies : ``dict[name, policy]``, all with the same ``arm_names`` (the ledger's arms).
    encoder : the :class:`ContextEncoder` the policies were trained with.
    reward_model : ``"logistic"``, ``"gbm"``, ``"ridge"``, ``"auto"``, a scikit-learn estimator (one
        per arm, fitted on these rows with ``n_folds``-fold cross-fitting: DM and DR use the
        out-of-fold predictions), or an already fitted :class:`~retail_lift.bandit.RewardModel`
        (its ``predict`` is used as is).
    n_bootstrap, alpha : percentile bootstrap interval (``1 - alpha``) of every estimate.
    tau : weight threshold of Switch-DR.
    include_logging : add the logging policy as ``"logging"`` (target = logged probabilities).

    Returns
    -------
    DataFrame, one row per policy x estimator (:data:`ESTIMATORS`): ``policy``, ``estimator``,
    ``value``, ``ci_low``, ``ci_high``, ``ess``, ``max_weight``, ``n``, plus
    ``unavailable_mass`` (mean probability the unmasked policy put on unavailable arms).
    ``return_details=True`` also returns a dict with the masked target probabilities per policy,
    the reward-model predictions, the parsed arrays and the context cells (the encoder's segment
    ids): what :func:`ope_gate` reads.
    """
    arm_names = _arm_names_of(policies, arm_names)
    if include_logging and LOGGING in policies:
        raise ValueError(f"a policy may not be named {LOGGING!r} when include_logging=True")
    arrays = ledger_arrays(ledger, arm_names)
    n, k = len(arrays.actions), len(arm_names)
    if n == 0:
        raise ValueError("no settled rows to evaluate on")
    X = encoder.transform(arrays.contexts)
    if isinstance(reward_model, RewardModel):
        q_hat = reward_model.predict(X)
    else:
        rm = fit_reward_model(X, arrays.actions, arrays.rewards, n_arms=k, model=reward_model, n_folds=n_folds,
                              random_state=random_state)
        q_hat = rm.cross_fitted_ if rm.cross_fitted_ is not None else rm.predict(X)
    available = arrays.available
    targets: dict[str, np.ndarray] = {}
    unavailable_mass: dict[str, float] = {}
    if include_logging:
        targets[LOGGING] = arrays.logged_probs
        unavailable_mass[LOGGING] = 0.0
    for name, policy in policies.items():
        raw = policy.action_probabilities(policy_inputs(policy, encoder, arrays.contexts))
        unavailable_mass[name] = float(np.where(available, 0.0, raw).sum(axis=1).mean())
        targets[name] = mask_probabilities(raw, available)
    rows = []
    idx = np.arange(n)
    kw = dict(n_bootstrap=n_bootstrap, alpha=alpha, random_state=random_state)
    r, ps = arrays.rewards, arrays.pscore
    q_logged = q_hat[idx, arrays.actions]
    for name, P in targets.items():
        target_prob = P[idx, arrays.actions]
        q_target = (P * q_hat).sum(axis=1)
        results = [ips(r, ps, target_prob, **kw), snips(r, ps, target_prob, **kw), dm(q_target, **kw),
                   dr(r, ps, target_prob, q_logged, q_target, **kw),
                   switch_dr(r, ps, target_prob, q_logged, q_target, tau, **kw)]
        for res in results:
            rows.append({"policy": name, "estimator": res.estimator, "value": res.value, "ci_low": res.ci_low,
                         "ci_high": res.ci_high, "ess": res.ess, "max_weight": res.max_weight, "n": res.n,
                         "unavailable_mass": unavailable_mass[name]})
    table = pd.DataFrame(rows)
    if return_details:
        return table, {"target_probabilities": targets, "q_hat": q_hat, "arrays": arrays, "arm_names": arm_names,
                       "cells": encoder.segment_ids(arrays.contexts)}
    return table


def ope_gate(details: Mapping, champion: str = LOGGING, config: GateConfig | Mapping | None = None) -> pd.DataFrame:
    """The paired off-policy gate (:mod:`.gate`) on the details of :func:`evaluate_policies`
    (``return_details=True``): every policy's DR difference to ``champion`` on the same holdout
    decisions, its paired interval and one-sided p-value, Holm across the eligible candidates, and
    the verdicts (:func:`~.gate.gate_verdicts`: the champion ``keep`` / ``replace``, a candidate
    ``promote`` / ``pass`` / ``refuse``, each with its ``reason``).

    ``config``: a :class:`~.gate.GateConfig` or a mapping of its fields (``None``: the defaults).
    """
    need = {"target_probabilities", "q_hat", "arrays", "cells"}
    if not isinstance(details, Mapping) or not need <= set(details):
        raise ValueError(f"ope_gate needs the details of evaluate_policies(..., return_details=True) "
                         f"with {sorted(need)}")
    cfg = config if isinstance(config, GateConfig) else GateConfig.from_mapping(config)
    targets = details["target_probabilities"]
    if champion not in targets:
        raise ValueError(f"champion {champion!r} is not among the evaluated policies {sorted(targets)}")
    arrays = details["arrays"]
    return run_gate(arrays.rewards, arrays.actions, arrays.pscore, details["q_hat"], targets, champion,
                    details["cells"], cfg)


# ----------------------------------------------------------------------------------------------
# publishing
# ----------------------------------------------------------------------------------------------


def policy_probabilities(policy: BasePolicy, encoder: ContextEncoder, contexts: pd.DataFrame,
                         available=None, *, wide: bool = False) -> pd.DataFrame:
    """Arm probabilities per customer, for publishing.

    ``contexts``: a DataFrame with ``customer_id`` and either a JSON ``context`` column or the
    parsed context fields. ``available``: optional ``(n, n_arms)`` booleans, or a list of arm names
    available to everybody (unavailable arms get 0, the rest are renormalised).

    Returns one row per customer x arm (``customer_id``, ``promotion_id``, ``probability``), or,
    with ``wide=True``, one row per customer with one column per arm.
    """
    if not isinstance(contexts, pd.DataFrame) or "customer_id" not in contexts.columns:
        raise ValueError("contexts must be a DataFrame with a customer_id column")
    parsed = parse_contexts(contexts["context"]) if "context" in contexts.columns else contexts.reset_index(drop=True)
    names = list(policy.arm_names_)
    if available is not None and not isinstance(available, np.ndarray):
        allowed = [str(a) for a in available]
        unknown = sorted(set(allowed) - set(names))
        if unknown:
            raise ValueError(f"available arms {unknown} are not arms of the policy {names}")
        available = np.broadcast_to(np.isin(names, allowed), (len(parsed), len(names)))
    P = masked_action_probabilities(policy, encoder, parsed, available)
    ids = contexts["customer_id"].astype(str).to_numpy()
    if wide:
        out = pd.DataFrame(P, columns=names)
        out.insert(0, "customer_id", ids)
        return out
    return pd.DataFrame({
        "customer_id": np.repeat(ids, len(names)),
        "promotion_id": np.tile(np.array(names, dtype=object), len(ids)),
        "probability": P.ravel(),
    })


# ----------------------------------------------------------------------------------------------
# ground truth (evaluation only)
# ----------------------------------------------------------------------------------------------


def true_policy_value(action_probs, true_p_convert) -> float:
    """True value of a policy on logged contexts: ``mean_i sum_a pi(a | x_i) p(x_i, a)``.

    ``true_p_convert`` is the decision x arm matrix of true conversion probabilities (e.g. from
    the world's ``truth_exposures`` via :func:`truth_matrix`), columns in the policy's arm order.
    """
    P = np.asarray(action_probs, dtype=float)
    T = np.asarray(true_p_convert, dtype=float)
    if P.shape != T.shape or P.ndim != 2:
        raise ValueError(f"action_probs and true_p_convert must be 2-D of the same shape, got {P.shape} and {T.shape}")
    if len(P) == 0:
        raise ValueError("no decisions")
    if not np.isfinite(T).all():
        raise ValueError("true_p_convert contains NaN or infinite values")
    return float((P * T).sum(axis=1).mean())


def truth_matrix(truth_exposures: pd.DataFrame, decision_ids, arm_names: Sequence[str]) -> np.ndarray:
    """Pivot ``truth_exposures`` (``exposure_id``, ``promotion_id``, ``p_convert``; decisions only)
    into the ``(len(decision_ids), n_arms)`` matrix of true conversion probabilities."""
    need = {"exposure_id", "promotion_id", "p_convert"}
    if not need <= set(truth_exposures.columns):
        raise ValueError(f"truth_exposures lacks columns {sorted(need - set(truth_exposures.columns))}")
    t = truth_exposures
    if "exposure_kind" in t.columns:
        t = t.loc[t["exposure_kind"] == "decision"]
    wide = t.pivot(index="exposure_id", columns="promotion_id", values="p_convert")
    ids = pd.Index(pd.Series(decision_ids).astype(str))
    missing_ids = ids.difference(wide.index)
    if len(missing_ids):
        raise ValueError(f"{len(missing_ids)} decision(s) have no truth, e.g. {missing_ids[0]!r}")
    missing_arms = [a for a in arm_names if a not in wide.columns]
    if missing_arms:
        raise ValueError(f"truth_exposures has no p_convert for arms {missing_arms}")
    return wide.loc[ids, list(arm_names)].to_numpy(dtype=float)


# ----------------------------------------------------------------------------------------------
# the whole offline flow
# ----------------------------------------------------------------------------------------------


@dataclass
class OfflineEvaluation:
    """Everything :func:`run_offline_evaluation` produced."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    encoder: ContextEncoder
    candidates: CandidateSet
    evaluation: pd.DataFrame
    gate: pd.DataFrame
    split_at: pd.Timestamp

    @property
    def promoted(self) -> str | None:
        hit = self.gate.loc[self.gate["verdict"] == "promote", "policy"]
        return None if hit.empty else str(hit.iloc[0])


def run_offline_evaluation(ledger: pd.DataFrame, arm_names: Sequence[str], *, holdout_fraction: float = 0.3,
                           random_state=0, n_bootstrap: int = 200, reward_model="logistic",
                           champion: str = LOGGING, gate: GateConfig | Mapping | None = None,
                           candidates: Sequence[str] = CANDIDATE_NAMES, n_mc_draws: int = 1000,
                           params: Mapping[str, Mapping] | None = None) -> OfflineEvaluation:
    """Time split, encoder, candidates, OPE on the holdout and the paired gate (``gate``: a
    :class:`~.gate.GateConfig` or a mapping of its fields), in one call."""
    train, holdout = time_split(ledger, holdout_fraction)
    cands = train_candidates(train, arm_names, random_state, candidates=candidates, n_mc_draws=n_mc_draws,
                             params=params)
    encoder = cands.encoder
    table, details = evaluate_policies(holdout, cands, encoder, reward_model=reward_model, n_bootstrap=n_bootstrap,
                                       random_state=random_state, return_details=True)
    verdicts = ope_gate(details, champion=champion, config=gate)
    return OfflineEvaluation(train, holdout, encoder, cands, table, verdicts, holdout["decided_at"].min())
