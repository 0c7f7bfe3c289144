"""Publishing promotion policies to the warehouse, and serving them from it.

Glue between the dbt Python models of ``python_models/ml/bandit/``, the offline pipeline
(:mod:`.pipeline`) and single decisions (:func:`.serve.score_decision`). No policy logic lives
here: training, masking, off-policy evaluation and the gate are the pipeline's.

===================================  =============================================================
dbt model                            built by
===================================  =============================================================
``ml_bandit_holdout_probabilities``  :func:`holdout_probabilities` (trains the candidates once, on
                                     the earlier settled decisions)
``ml_bandit_policy_evaluation``      :func:`policy_evaluation` (trains once more, identically:
                                     same split, same seed; a dbt test reconciles the two)
``ml_bandit_published_policy``       :func:`published_policies` (refits every candidate on all
                                     settled decisions; the gate's choice is the active version)
``ml_bandit_policy``                 :func:`customer_probabilities` (no training: loads the
                                     active version)
===================================  =============================================================

Versions and the champion
-------------------------
The champion of the gate is the policy that logged the evaluated decisions (``"logging"``: its
target probabilities are the logged ones). A candidate replaces it only when the paired gate
(:func:`~.pipeline.ope_gate`, :mod:`.gate`) shows its DR value above the champion's on the same
holdout decisions (Holm across the candidates, minimum ESS, support). ``ml_bandit_published_policy``
holds one row per policy version of the build: the champion (``policy_class = "logged"``; it is
served by the system that logs the decisions, so it has no policy JSON), every candidate refit
on all settled decisions, each with its encoder and policy JSON, and the declared *fallback*
(``policy_id = "fallback"``, ``is_fallback`` true, never active: the logging policy's arm shares,
overall and per segment with enough logged decisions, :mod:`.fallback`). Exactly one row is
active: the promoted candidate, or the champion when no candidate passes. Candidates that are not
active can still be loaded by ``policy_id`` (shadow scoring).

When the active version is the logging policy, :func:`load_published_policy` loads the fallback
instead (``served_as == "fallback"``, with the reason): what the decision API serves. A ledger
with decisions but too few settled ones for the evaluation still gets the logging row (active)
and the fallback; a warehouse without any decision gets an empty table.

Arms: the policies are built with the *published arm list*: the promotions launched by the end
of the data (``launched_at`` missing counts as launched) plus any arm the ledger logged. A
version can only ever choose an arm of its list, so an arm launched later needs a new version.

Serving::

    policy = load_published_policy("warehouse/retail_lift.duckdb")          # the active version (or the fallback)
    policy = load_published_policy("warehouse/retail_lift.duckdb", "thompson")  # a named version
    policy.decide({"age_band": "25-34", "device": "mobile", ...})
    # {"arm": "banner_limited_time", "propensity": 0.81, "policy_id": "thompson",
    #  "version": "v20260706", "probabilities": {"control": 0.0, ...}}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..warehouse import read_only
from .base import BasePolicy
from .context import ContextEncoder, parse_action_probabilities, parse_contexts
from .fallback import FALLBACK_ID, FALLBACK_MIN_DECISIONS, fit_fallback
from .gate import GateConfig
from .pipeline import (
    CANDIDATE_NAMES,
    LOGGING,
    ledger_arrays,
    masked_action_probabilities,
    policy_inputs,
    policy_probabilities,
    run_offline_evaluation,
    settled_rows,
    time_split,
    train_candidates,
)
from .serve import apply_floor, draw_arm

__all__ = [
    "LEDGER_COLUMNS",
    "MIN_SETTLED_DECISIONS",
    "SCHEMAS",
    "PUBLISHED_TABLE",
    "NoServablePolicyError",
    "PublishedPolicy",
    "customer_probabilities",
    "empty_table",
    "has_enough_decisions",
    "holdout_probabilities",
    "latest_contexts",
    "load_published_policy",
    "policy_evaluation",
    "published_arms",
    "published_policies",
    "version_label",
]

#: where ``load_published_policy`` reads the versions (schema ``ml`` of the dbt build)
PUBLISHED_TABLE = "ml.ml_bandit_published_policy"
#: the ledger columns the bandit models read (``fct_decision_ledger``)
LEDGER_COLUMNS = ("decision_id", "customer_id", "decided_at", "policy_id", "promotion_id", "propensity",
                  "action_probabilities", "context", "is_pending", "is_converted", "data_ends_at")
#: ``policy_class`` of the champion row when it is the logging policy (served outside the warehouse)
LOGGED_CLASS = "logged"
#: fewer settled decisions than this and the bandit tables are built empty (an orders-only warehouse)
MIN_SETTLED_DECISIONS = 100

#: column types of every table, so that a warehouse without decisions gets empty tables of the same shape
SCHEMAS: dict[str, dict[str, str]] = {
    "holdout_probabilities": {"decision_id": "string", "policy_id": "string", "promotion_id": "string",
                              "probability": "float64", "is_available": "bool"},
    "policy_evaluation": {"policy_id": "string", "estimator": "string", "value": "float64", "ci_low": "float64",
                          "ci_high": "float64", "ess": "float64", "max_weight": "float64", "n_decisions": "int64",
                          "unavailable_mass": "float64", "is_champion": "bool", "gate_estimator": "string",
                          "champion_value": "float64", "gate_diff": "float64", "gate_snips_diff": "float64",
                          "gate_diff_se": "float64", "gate_diff_ci_low": "float64", "gate_diff_ci_high": "float64",
                          "gate_p_value": "float64", "gate_holm_threshold": "float64",
                          "unsupported_share": "float64", "gate_eligible": "bool", "passes_gate": "bool",
                          "gate_verdict": "string", "gate_reason": "string", "gate_alpha": "float64",
                          "gate_min_ess": "float64", "gate_max_unsupported_share": "float64",
                          "gate_interval": "string", "gate_n_bootstrap": "int64",
                          "n_train_decisions": "int64", "holdout_starts_at": "datetime64[us]"},
    "published_policies": {"policy_id": "string", "version": "string", "created_at": "datetime64[us]",
                           "policy_class": "string", "is_active": "bool", "gate_verdict": "string",
                           "arms": "string", "encoder_json": "string", "policy_json": "string",
                           "n_train_decisions": "Int64", "trained_until": "datetime64[us]",
                           "logged_policy_ids": "string", "is_fallback": "bool"},
    "customer_probabilities": {"customer_id": "string", "promotion_id": "string", "probability": "float64",
                               "policy_id": "string", "version": "string", "context_decision_id": "string",
                               "context_decided_at": "datetime64[us]"},
}


class NoServablePolicyError(LookupError):
    """The requested (or active) version has no policy JSON: it is the logging policy, served elsewhere."""


# ----------------------------------------------------------------------------------------------
# arms, versions, empty tables
# ----------------------------------------------------------------------------------------------


def empty_table(name: str) -> pd.DataFrame:
    """An empty table with the columns and types of :data:`SCHEMAS` ``[name]``."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in SCHEMAS[name].items()})


def _conform(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """``table`` with exactly the columns of :data:`SCHEMAS` ``[name]``, in order and typed (text as
    pandas' string dtype, so that a column of NULLs still lands as VARCHAR in the warehouse)."""
    schema = SCHEMAS[name]
    return table[list(schema)].astype(schema).reset_index(drop=True)


def has_enough_decisions(ledger: pd.DataFrame, minimum: int = MIN_SETTLED_DECISIONS) -> bool:
    """At least ``minimum`` settled decisions (reward known): below that the bandit tables are empty
    (a warehouse built from orders only, or a decision log that has just started)."""
    if ledger is None or len(ledger) == 0:
        return False
    return len(settled_rows(ledger)) >= int(minimum)


def published_arms(promotions: pd.DataFrame, ledger: pd.DataFrame, as_of) -> list[str]:
    """The arm list of a version published at ``as_of``: promotions launched by then (a missing
    ``launched_at`` counts as launched) plus every arm the ledger logged or gave a probability,
    sorted by name."""
    if not {"promotion_id", "launched_at"} <= set(promotions.columns):
        raise ValueError("promotions must have the columns promotion_id and launched_at")
    as_of = pd.Timestamp(as_of)
    launched = pd.to_datetime(promotions["launched_at"])
    arms = set(promotions.loc[launched.isna() | (launched <= as_of), "promotion_id"].astype(str))
    arms |= set(ledger["promotion_id"].dropna().astype(str))
    for text in ledger["action_probabilities"].dropna():
        arms |= set(json.loads(text))
    return sorted(arms)


def version_label(created_at) -> str:
    """``v`` + the creation date as ``YYYYMMDD`` (deterministic: the build's data end date)."""
    return "v" + pd.Timestamp(created_at).strftime("%Y%m%d")


def latest_contexts(ledger: pd.DataFrame) -> pd.DataFrame:
    """The latest decision of every customer (pending ones included: the context is known at
    decision time), one row per customer, sorted by ``customer_id``."""
    cols = ["customer_id", "decision_id", "decided_at", "context", "action_probabilities"]
    rows = ledger.loc[ledger["customer_id"].notna(), cols].copy()
    rows["decided_at"] = pd.to_datetime(rows["decided_at"])
    rows = rows.sort_values(["customer_id", "decided_at", "decision_id"], kind="stable")
    return rows.drop_duplicates("customer_id", keep="last").reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# the tables of the dbt models
# ----------------------------------------------------------------------------------------------


def holdout_probabilities(ledger: pd.DataFrame, arm_names: Sequence[str], *, holdout_fraction: float = 0.3,
                          random_state: int = 0, n_mc_draws: int = 1000,
                          candidates: Sequence[str] = CANDIDATE_NAMES,
                          params: Mapping[str, Mapping] | None = None) -> pd.DataFrame:
    """Target probabilities of the logging policy and of every candidate on the time holdout.

    The candidates are trained on the earlier settled decisions (:func:`~.pipeline.time_split`,
    pending decisions dropped) exactly as :func:`~.pipeline.run_offline_evaluation` trains them, and
    their probabilities are restricted to the arms available at each decision (logged probability
    > 0) and renormalised, as the off-policy evaluation uses them.

    Returns one row per holdout decision x policy x arm: ``decision_id``, ``policy_id``,
    ``promotion_id``, ``probability``, ``is_available``.
    """
    train, holdout = time_split(ledger, holdout_fraction)
    cands = train_candidates(train, arm_names, random_state, candidates=candidates, n_mc_draws=n_mc_draws,
                             params=params)
    arrays = ledger_arrays(holdout, arm_names)
    ids = settled_rows(holdout)["decision_id"].astype(str).to_numpy()
    targets = {LOGGING: arrays.logged_probs}
    for name, policy in cands.items():
        targets[name] = masked_action_probabilities(policy, cands.encoder, arrays.contexts, arrays.available)
    k = len(arm_names)
    arms = np.array([str(a) for a in arm_names], dtype=object)
    avail = arrays.available.ravel()
    frames = [pd.DataFrame({
        "decision_id": np.repeat(ids, k),
        "policy_id": name,
        "promotion_id": np.tile(arms, len(ids)),
        "probability": P.ravel(),
        "is_available": avail,
    }) for name, P in targets.items()]
    return _conform(pd.concat(frames, ignore_index=True), "holdout_probabilities")


def policy_evaluation(ledger: pd.DataFrame, arm_names: Sequence[str], *, holdout_fraction: float = 0.3,
                      random_state: int = 0, n_bootstrap: int = 200, reward_model: str = "logistic",
                      gate: GateConfig | Mapping | None = None, n_mc_draws: int = 1000,
                      candidates: Sequence[str] = CANDIDATE_NAMES,
                      params: Mapping[str, Mapping] | None = None) -> pd.DataFrame:
    """Off-policy estimates of the logging policy and every candidate on the time holdout, with the
    paired gate's verdict (:func:`~.pipeline.run_offline_evaluation`, :mod:`.gate`).

    ``gate``: a :class:`~.gate.GateConfig` or a mapping of its fields (``None``: the defaults).

    Returns one row per policy x estimator: ``policy_id``, ``estimator``, ``value``, ``ci_low``,
    ``ci_high`` (each estimator's own ``n_bootstrap`` interval), ``ess``, ``max_weight``,
    ``n_decisions``, ``unavailable_mass``, then the gate (the same on every estimator row of a
    policy): ``is_champion``, ``gate_estimator`` (``dr``), ``champion_value`` (the champion's DR
    value), ``gate_diff`` (DR value minus the champion's, on the same decisions),
    ``gate_snips_diff``, ``gate_diff_se``, ``gate_diff_ci_low`` / ``gate_diff_ci_high`` (paired
    two-sided ``1 - 2 alpha`` interval), ``gate_p_value`` (one-sided), ``gate_holm_threshold``,
    ``unsupported_share``, ``gate_eligible``, ``passes_gate``, ``gate_verdict``, ``gate_reason``,
    the settings (``gate_alpha``, ``gate_min_ess``, ``gate_max_unsupported_share``,
    ``gate_interval``, ``gate_n_bootstrap``) and the split: ``n_train_decisions``,
    ``holdout_starts_at``.
    """
    cfg = gate if isinstance(gate, GateConfig) else GateConfig.from_mapping(gate)
    ev = run_offline_evaluation(ledger, arm_names, holdout_fraction=holdout_fraction, random_state=random_state,
                                n_bootstrap=n_bootstrap, reward_model=reward_model, champion=LOGGING,
                                gate=cfg, candidates=candidates, n_mc_draws=n_mc_draws, params=params)
    table = ev.evaluation.rename(columns={"policy": "policy_id", "n": "n_decisions"})
    verdicts = ev.gate.rename(columns={
        "policy": "policy_id", "dr_diff": "gate_diff", "snips_diff": "gate_snips_diff", "diff_se": "gate_diff_se",
        "diff_ci_low": "gate_diff_ci_low", "diff_ci_high": "gate_diff_ci_high", "p_value": "gate_p_value",
        "holm_threshold": "gate_holm_threshold", "eligible": "gate_eligible", "passes": "passes_gate",
        "verdict": "gate_verdict", "reason": "gate_reason"})
    champion_value = float(verdicts.loc[verdicts["policy_id"] == LOGGING, "dr_value"].iloc[0])
    verdicts = verdicts[["policy_id", "gate_diff", "gate_snips_diff", "gate_diff_se", "gate_diff_ci_low",
                         "gate_diff_ci_high", "gate_p_value", "gate_holm_threshold", "unsupported_share",
                         "gate_eligible", "passes_gate", "gate_verdict", "gate_reason"]]
    out = table.merge(verdicts, on="policy_id", how="left", validate="many_to_one")
    out["is_champion"] = out["policy_id"] == LOGGING
    out["gate_estimator"] = "dr"
    out["champion_value"] = champion_value
    for field in ("alpha", "min_ess", "max_unsupported_share", "interval", "n_bootstrap"):
        out[f"gate_{field}"] = getattr(cfg, field)
    out["passes_gate"] = out["passes_gate"].astype(bool)
    out["gate_eligible"] = out["gate_eligible"].astype(bool)
    out["n_decisions"] = out["n_decisions"].astype("int64")
    out["n_train_decisions"] = len(ev.train)
    out["holdout_starts_at"] = pd.Timestamp(ev.split_at)
    return _conform(out, "policy_evaluation")


def _gate_choice(evaluation: pd.DataFrame) -> str:
    promoted = evaluation.loc[evaluation["gate_verdict"] == "promote", "policy_id"].unique()
    if len(promoted) > 1:
        raise ValueError(f"the evaluation promotes more than one policy: {sorted(promoted)}")
    if len(promoted) == 1:
        return str(promoted[0])
    champions = evaluation.loc[evaluation["is_champion"].astype(bool), "policy_id"].unique()
    if len(champions) != 1:
        raise ValueError(f"the evaluation must have exactly one champion, found {sorted(champions)}")
    return str(champions[0])


def published_policies(ledger: pd.DataFrame, evaluation: pd.DataFrame, arm_names: Sequence[str], *,
                       created_at=None, random_state: int = 0, n_mc_draws: int = 1000,
                       params: Mapping[str, Mapping] | None = None,
                       fallback_min_decisions: int = FALLBACK_MIN_DECISIONS) -> pd.DataFrame:
    """Every policy version of this build, the gate's choice active (see the module docstring).

    The candidates named in ``evaluation`` (the output of :func:`policy_evaluation`) are refit on
    *all* settled decisions (train and holdout: the version that serves learns from every known
    reward, the late arm's included), with an encoder fitted on the same rows. An empty
    ``evaluation`` (too few settled decisions to evaluate) publishes no candidate: the logging
    policy is active.

    The fallback (``policy_id = "fallback"``, ``is_fallback``) is
    :func:`~retail_lift.bandit.fallback.fit_fallback` on every decision of the ledger, pending ones
    included (``fallback_min_decisions``: decisions a segment needs for its own arm shares); its
    ``n_train_decisions`` counts them and its ``trained_until`` is the latest of them.

    ``created_at``: the version's timestamp (default: the ledger's ``data_ends_at``, so a rebuild
    of the same data gives the same version).

    Returns one row per policy: ``policy_id``, ``version``, ``created_at``, ``policy_class``,
    ``is_active``, ``gate_verdict``, ``arms`` (JSON list), ``encoder_json``, ``policy_json``,
    ``n_train_decisions``, ``trained_until``, ``logged_policy_ids``, ``is_fallback``.
    """
    if created_at is None:
        if "data_ends_at" not in ledger.columns or ledger["data_ends_at"].isna().all():
            raise ValueError("give created_at, or a ledger with a data_ends_at column")
        created_at = pd.to_datetime(ledger["data_ends_at"]).max()
    created_at = pd.Timestamp(created_at)
    version = version_label(created_at)
    evaluated = len(evaluation) > 0
    chosen = _gate_choice(evaluation) if evaluated else LOGGING
    verdicts = evaluation.drop_duplicates("policy_id").set_index("policy_id")["gate_verdict"]
    names = [p for p in verdicts.index if p != LOGGING]
    unknown = sorted(set(names) - set(CANDIDATE_NAMES))
    if unknown:
        raise ValueError(f"the evaluation names policies that are not candidates: {unknown}")
    settled = settled_rows(ledger)
    cands = train_candidates(settled, arm_names, random_state, candidates=names, n_mc_draws=n_mc_draws,
                             params={k: v for k, v in dict(params or {}).items() if k in names}) if names else {}
    arms_json = json.dumps([str(a) for a in arm_names])
    trained_until = settled["decided_at"].max() if len(settled) else pd.NaT
    holdout_start = pd.to_datetime(evaluation["holdout_starts_at"]).min() \
        if "holdout_starts_at" in evaluation.columns else pd.NaT
    recent = settled if pd.isna(holdout_start) else settled.loc[settled["decided_at"] >= holdout_start]
    logged_ids = ",".join(sorted(recent["policy_id"].dropna().astype(str).unique())) \
        if "policy_id" in recent.columns else None
    common = {"version": version, "created_at": created_at, "arms": arms_json, "is_fallback": False}
    rows = [{
        **common, "policy_id": LOGGING, "policy_class": LOGGED_CLASS,
        "is_active": chosen == LOGGING, "gate_verdict": verdicts.get(LOGGING),
        "encoder_json": None, "policy_json": None, "n_train_decisions": None, "trained_until": trained_until,
        "logged_policy_ids": logged_ids or None,
    }]
    for name, policy in cands.items():
        rows.append({
            **common, "policy_id": name, "policy_class": type(policy).__name__,
            "is_active": chosen == name, "gate_verdict": verdicts.get(name), **_policy_json(policy, cands.encoder),
            "n_train_decisions": cands.n_train, "trained_until": trained_until, "logged_policy_ids": None,
        })
    fb = fit_fallback(ledger, arm_names, min_decisions=fallback_min_decisions, random_state=random_state)
    rows.append({
        **common, "policy_id": FALLBACK_ID, "policy_class": type(fb.policy).__name__, "is_fallback": True,
        "is_active": False, "gate_verdict": None, **_policy_json(fb.policy, fb.encoder),
        "n_train_decisions": fb.n_decisions, "trained_until": fb.last_decided_at, "logged_policy_ids": None,
    })
    return _conform(pd.DataFrame(rows), "published_policies")


def _policy_json(policy: BasePolicy, encoder: ContextEncoder) -> dict[str, str]:
    return {"encoder_json": json.dumps(encoder.to_dict(), separators=(",", ":")),
            "policy_json": json.dumps(policy.to_dict(), separators=(",", ":"))}


def customer_probabilities(published: pd.DataFrame, ledger: pd.DataFrame) -> pd.DataFrame:
    """The active version's arm probabilities for every customer's latest decision context.

    A learned version scores the context with its own encoder, restricted to its arm list. The
    champion logging policy (no policy JSON) gives the probabilities it logged at that decision
    (an arm not yet launched then has 0).

    Returns one row per customer x arm of the version: ``customer_id``, ``promotion_id``,
    ``probability``, ``policy_id``, ``version``, ``context_decision_id``, ``context_decided_at``.
    """
    active = published.loc[published["is_active"].astype(bool)]
    if len(active) != 1:
        raise ValueError(f"exactly one published version must be active, found {len(active)}")
    row = active.iloc[0]
    arms = json.loads(row["arms"])
    latest = latest_contexts(ledger)
    n, k = len(latest), len(arms)
    if _is_missing(row["policy_json"]):
        P = parse_action_probabilities(latest["action_probabilities"], arms)
    else:
        version = _version_from_row(row)
        P = policy_probabilities(version.policy, version.encoder, latest[["customer_id", "context"]], arms,
                                 wide=True)[arms].to_numpy(dtype=float)
    return _conform(pd.DataFrame({
        "customer_id": np.repeat(latest["customer_id"].astype(str).to_numpy(), k),
        "promotion_id": np.tile(np.array(arms, dtype=object), n),
        "probability": P.ravel() if n else np.empty(0),
        "policy_id": str(row["policy_id"]),
        "version": str(row["version"]),
        "context_decision_id": np.repeat(latest["decision_id"].astype(str).to_numpy(), k),
        "context_decided_at": np.repeat(latest["decided_at"].to_numpy(), k),
    }), "customer_probabilities")


# ----------------------------------------------------------------------------------------------
# serving
# ----------------------------------------------------------------------------------------------


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


#: ``PublishedPolicy.served_as``: why this version is the one loaded
SERVED_AS = ("active", "fallback", "requested")


@dataclass
class PublishedPolicy:
    """A policy version loaded from the warehouse: the policy, its encoder and its arm list.

    ``served_as``: ``"active"`` (the gate's choice), ``"fallback"`` (the declared fallback, loaded
    because the active version is the logging policy; ``reason`` says so) or ``"requested"``
    (loaded by name)."""

    policy_id: str
    version: str
    created_at: pd.Timestamp
    arms: list[str]
    policy: BasePolicy
    encoder: ContextEncoder
    served_as: str = "active"
    reason: str | None = None

    def __post_init__(self):
        if self.served_as not in SERVED_AS:
            raise ValueError(f"served_as must be one of {SERVED_AS}, got {self.served_as!r}")
        if list(self.policy.arm_names_) != list(self.arms):
            raise ValueError(f"policy {self.policy_id!r} {self.version}: its arms {self.policy.arm_names_} are not "
                             f"the published arm list {self.arms}")

    def _inputs(self, contexts) -> np.ndarray:
        return policy_inputs(self.policy, self.encoder, parse_contexts(contexts))

    def input_one(self, context: Mapping):
        """What the policy takes for one context given as a dict: the feature vector, the segment id
        (policies with ``uses_segments``: :class:`~retail_lift.bandit.SegmentBernoulliTS`, the
        fallback) or ``None`` (context-free policies).

        The fast path of :meth:`decide`: numpy only (:meth:`ContextEncoder.transform_one`,
        :meth:`ContextEncoder.segment_id_one`), equal to the batch path
        ``policy_inputs(policy, encoder, parse_contexts([context]))[0]``, which it falls back to
        for values that are not of JSON types."""
        policy = self.policy
        if policy.context_free:
            return None
        if policy.uses_segments:
            seg = self.encoder.segment_id_one(context)
            return seg if seg is not None else int(self._inputs([dict(context)])[0])
        x = self.encoder.transform_one(context)
        return x if x is not None else self._inputs([dict(context)])[0]

    def action_probabilities(self, contexts) -> np.ndarray:
        """``(n, n_arms)`` probabilities (columns in :attr:`arms` order) for a batch of contexts: dicts,
        JSON texts, or a DataFrame of parsed context fields."""
        if isinstance(contexts, pd.DataFrame):
            return self.policy.action_probabilities(policy_inputs(self.policy, self.encoder, contexts))
        return self.policy.action_probabilities(self._inputs(list(contexts)))

    def probabilities_one(self, context: Mapping, floor: float = 0.0) -> np.ndarray:
        """``(n_arms,)`` probabilities for one context given as a dict, floored
        (:func:`~retail_lift.bandit.serve.apply_floor`): what :meth:`decide` draws from and shadow
        scoring logs.

        Policies whose probabilities depend on a segment id only (``uses_segments``) or on nothing
        (``context_free``) are scored once per segment and floor and then read from a cache (keyed
        on the policy's ``n_updates_`` too, so a policy that learns again is scored again): the
        serving hot path is then a dict lookup. Treat the returned array as read-only."""
        x = self.input_one(context)
        policy = self.policy
        if not (policy.uses_segments or policy.context_free):
            return apply_floor(policy.action_probabilities(np.asarray(x, dtype=float).reshape(1, -1))[0], floor)
        key = (x, float(floor), getattr(policy, "n_updates_", None))
        cache = self.__dict__.setdefault("_one_cache", {})
        probs = cache.get(key)
        if probs is None:
            probs = cache[key] = apply_floor(policy.action_probabilities(None if x is None else np.array([x]))[0],
                                             floor)
        return probs

    def decide(self, context, rng=None, floor: float = 0.0) -> dict:
        """Choose an arm for one context (a dict, or its JSON text).

        Returns ``arm`` (promotion id), ``propensity`` (the probability it was drawn with: log it),
        ``policy_id``, ``version`` and ``probabilities`` (``{arm: p}`` over the published arms).
        ``rng``: ``None`` (the policy's own stream), an int seed or a ``numpy.random.Generator``.
        ``floor``: every arm gets at least this probability, applied before the draw
        (:func:`~retail_lift.bandit.serve.apply_floor`; ``floor * n_arms <= 1``); the returned
        probabilities and propensity are the floored ones.
        """
        if isinstance(context, (str, bytes)):
            context = json.loads(context)
        if not isinstance(context, Mapping):
            raise ValueError(f"context must be a dict or a JSON object, got {type(context).__name__}")
        probs = self.probabilities_one(context, floor)
        arm = draw_arm(probs, self.policy._resolve_rng(rng))
        return {
            "arm": self.arms[arm],
            "propensity": float(probs[arm]),
            "policy_id": self.policy_id,
            "version": self.version,
            "probabilities": dict(zip(self.arms, probs.tolist(), strict=True)),
        }


def _version_from_row(row, served_as: str = "active", reason: str | None = None) -> PublishedPolicy:
    return PublishedPolicy(
        policy_id=str(row["policy_id"]),
        version=str(row["version"]),
        created_at=pd.Timestamp(row["created_at"]),
        arms=[str(a) for a in json.loads(row["arms"])],
        policy=BasePolicy.from_dict(json.loads(row["policy_json"])),
        encoder=ContextEncoder.from_dict(json.loads(row["encoder_json"])),
        served_as=served_as,
        reason=reason,
    )


def load_published_policy(warehouse_path: str | Path, policy_id: str | None = None, *,
                          version: str | None = None, table: str = PUBLISHED_TABLE,
                          fallback: bool = True) -> PublishedPolicy:
    """Load a published version from the warehouse (read-only connection, closed before returning).

    ``policy_id=None`` loads the active version (the gate's choice); a name loads that version
    (latest, or ``version``; ``served_as="requested"``). When the active version is the logging
    policy (no policy JSON: the system that logs the decisions serves it) and ``fallback`` is true,
    the declared fallback of the same version is loaded instead (``served_as="fallback"``, ``reason``
    says why; :mod:`.fallback`). Raises :class:`NoServablePolicyError` when the version is the
    logging policy and there is no fallback to load (``fallback=False``, a table built before the
    fallback existed, or the logging policy asked for by name), and ``LookupError`` when nothing
    matches.
    """
    path = Path(warehouse_path)
    if not path.exists():
        raise FileNotFoundError(f"no warehouse at {path}")
    where, args = [], []
    if policy_id is None:
        where.append("is_active")
    else:
        where.append("policy_id = ?")
        args.append(str(policy_id))
    if version is not None:
        where.append("version = ?")
        args.append(str(version))
    cols = "policy_id, version, created_at, arms, encoder_json, policy_json, logged_policy_ids"
    sql = f"select {cols} from {table} where {' and '.join(where)} order by created_at desc, version desc limit 1"
    fallback_row = None
    with read_only(path) as con:
        found = con.execute(sql, args).fetchdf()
        available = [r[0] for r in con.execute(
            f"select distinct policy_id from {table} where policy_json is not null order by 1").fetchall()]
        has_fallback = "is_fallback" in {r[0] for r in con.execute(f"describe {table}").fetchall()}
        if policy_id is None and fallback and has_fallback and not found.empty \
                and _is_missing(found.iloc[0]["policy_json"]):
            rows = con.execute(f"select {cols} from {table} where is_fallback and version = ? "
                               f"and policy_json is not null limit 1", [str(found.iloc[0]["version"])]).fetchdf()
            fallback_row = None if rows.empty else rows.iloc[0]
    if found.empty:
        what = "an active version" if policy_id is None else f"policy {policy_id!r}"
        what += "" if version is None else f" version {version!r}"
        raise LookupError(f"{table} in {path} has no {what}; learned versions: {available}")
    row = found.iloc[0]
    if _is_missing(row["policy_json"]):
        logged = row["logged_policy_ids"] if not _is_missing(row["logged_policy_ids"]) else "the logging policy"
        why = ("no candidate passed the off-policy gate, so the policy that logged the decisions stays in place"
               if policy_id is None else "it is the policy that logged the decisions")
        if fallback_row is not None:
            reason = (f"the active version {row['policy_id']!r} {row['version']} ({logged}) has no policy to load: "
                      f"{why}; serving the declared fallback {fallback_row['policy_id']!r}, the logging policy's "
                      f"arm shares (overall, and per segment with enough logged decisions)")
            return _version_from_row(fallback_row, served_as="fallback", reason=reason)
        raise NoServablePolicyError(
            f"version {row['policy_id']!r} {row['version']} ({logged}) has no policy to load: {why}, served by the "
            f"system that logs the decisions. Load a candidate by name for shadow scoring (policy_id=...); "
            f"learned versions: {available}")
    return _version_from_row(row, served_as="active" if policy_id is None else "requested")
