"""Serving the promotion policies a build published to the warehouse (``ml_bandit_published_policy``).

:func:`load_published_policy` loads one (the active version, its declared fallback, or a version by
name) as a :class:`PublishedPolicy`, which decides for single contexts (:func:`.serve.score_decision`).
The tables of the dbt models of ``python_models/ml/bandit/`` are built by :mod:`retail_lift.tables.bandit`
from the family's pipeline (:mod:`.pipeline`: training, masking, off-policy evaluation and the gate).

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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..warehouse import read_only
from .base import BasePolicy
from .context import ContextEncoder, parse_contexts
from .pipeline import policy_inputs
from .serve import apply_floor, draw_arm

__all__ = [
    "LOGGED_CLASS",
    "PUBLISHED_TABLE",
    "NoServablePolicyError",
    "PublishedPolicy",
    "load_published_policy",
    "version_from_row",
    "version_label",
]

#: where ``load_published_policy`` reads the versions (schema ``ml`` of the dbt build)
PUBLISHED_TABLE = "ml.ml_bandit_published_policy"
#: ``policy_class`` of the champion row when it is the logging policy (served outside the warehouse)
LOGGED_CLASS = "logged"


class NoServablePolicyError(LookupError):
    """The requested (or active) version has no policy JSON: it is the logging policy, served elsewhere."""


def version_label(created_at) -> str:
    """``v`` + the creation date as ``YYYYMMDD`` (deterministic: the build's data end date)."""
    return "v" + pd.Timestamp(created_at).strftime("%Y%m%d")


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


def version_from_row(row, served_as: str = "active", reason: str | None = None) -> PublishedPolicy:
    """A :class:`PublishedPolicy` from a row of ``ml_bandit_published_policy`` with a policy JSON."""
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
            return version_from_row(fallback_row, served_as="fallback", reason=reason)
        raise NoServablePolicyError(
            f"version {row['policy_id']!r} {row['version']} ({logged}) has no policy to load: {why}, served by the "
            f"system that logs the decisions. Load a candidate by name for shadow scoring (policy_id=...); "
            f"learned versions: {available}")
    return version_from_row(row, served_as="active" if policy_id is None else "requested")
