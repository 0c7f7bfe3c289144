"""``python_models/ml/bandit/``: the contextual-bandit tables of the build, each from a typed config.

===================================  =============================================================
dbt model                            built by
===================================  =============================================================
``ml_bandit_holdout_probabilities``  :func:`ml_bandit_holdout_probabilities` -> :func:`holdout_probabilities`
                                     (trains the candidates once, on the earlier settled decisions)
``ml_bandit_policy_evaluation``      :func:`ml_bandit_policy_evaluation` -> :func:`policy_evaluation`
                                     (trains once more, identically: same split, same seed; a dbt
                                     test reconciles the two)
``ml_bandit_published_policy``       :func:`ml_bandit_published_policy` -> :func:`published_policies`
                                     (refits every candidate on all settled decisions; the gate's
                                     choice is the active version)
``ml_bandit_policy``                 :func:`ml_bandit_policy` -> :func:`customer_probabilities` (no
                                     training: loads the active version)
===================================  =============================================================

The policies, their training, the off-policy evaluation, the gate and the fallback are the bandit
family's (:mod:`retail_lift.bandit.pipeline`, :mod:`retail_lift.bandit.gate`,
:mod:`retail_lift.bandit.fallback`); serving a published version is :mod:`retail_lift.bandit.publish`'s
(the module docstring there says what a version, the champion and the fallback are). A ledger with fewer
than ``min_settled_decisions`` settled decisions gives empty tables of the same shape (:data:`SCHEMAS`),
except ``ml_bandit_published_policy``, which still publishes the logging policy (active) and the fallback
when the ledger has any decision.

Model store: the three models that train take ``store``, a :class:`~retail_lift.registry.ModelRegistry` (the
dbt models open the one beside the warehouse file, :func:`retail_lift.tables.model_store`), and are
registered under their own names. With a store a call trains the candidates (and reruns the off-policy
evaluation and the gate) only when :class:`~retail_lift.bandit.champion.BanditRegistry` says so: the
classifiers' triggers (:func:`~retail_lift.registry.training_decision`: config keys ``retrain``,
``max_model_age_days``, ``registry_on_mismatch``, ``registry_alias``), other settings, or another decision
ledger (:func:`~retail_lift.bandit.champion.ledger_fingerprint`: new decisions, settled rewards), arm list or
evaluation; otherwise it republishes the table the champion recorded. Every row carries
:data:`REGISTRY_COLUMNS` (``model_version``, ``trained_at``, ``registry_action`` train / reuse,
``registry_reason``); ``ml_bandit_policy`` carries the active published row's ``model_version`` and
``trained_at``. ``store=None`` trains in every call.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from retail_lift.bandit.base import BasePolicy
from retail_lift.bandit.champion import BanditRegistry, ledger_fingerprint, table_fingerprint
from retail_lift.bandit.context import ContextEncoder, parse_action_probabilities
from retail_lift.bandit.fallback import FALLBACK_ID, fit_fallback
from retail_lift.bandit.gate import GateConfig
from retail_lift.bandit.pipeline import (
    CANDIDATE_NAMES,
    LOGGING,
    is_settled,
    ledger_arrays,
    masked_action_probabilities,
    policy_probabilities,
    run_offline_evaluation,
    settled_rows,
    time_split,
    train_candidates,
)
from retail_lift.bandit.publish import LOGGED_CLASS, version_from_row, version_label
from retail_lift.model_gate import heavy
from retail_lift.registry import ModelRegistry, TrainingDecision, feature_spec_of
from retail_lift.tables._config import REGISTRY_KEYS, RegistryKeys, check_registry_settings, check_store, read_relation

__all__ = [
    "LEDGER_COLUMNS",
    "NO_STORE",
    "REGISTRY_COLUMNS",
    "SCHEMAS",
    "BanditHoldoutProbabilitiesConfig",
    "BanditPolicyConfig",
    "BanditPolicyEvaluationConfig",
    "BanditPublishedPolicyConfig",
    "customer_probabilities",
    "empty_table",
    "has_enough_decisions",
    "holdout_probabilities",
    "latest_contexts",
    "ml_bandit_holdout_probabilities",
    "ml_bandit_policy",
    "ml_bandit_policy_evaluation",
    "ml_bandit_published_policy",
    "policy_evaluation",
    "published_arms",
    "published_policies",
]

#: the ledger columns the bandit models read (``fct_decision_ledger``)
LEDGER_COLUMNS = ("decision_id", "customer_id", "decided_at", "policy_id", "promotion_id", "propensity",
                  "action_probabilities", "context", "is_pending", "is_converted", "data_ends_at")


# ----------------------------------------------------------------------------------------------
# the configs
# ----------------------------------------------------------------------------------------------


def _number(model: str, name: str, value, kind):
    """``value`` converted as the dbt models converted their settings (``int(...)``, ``float(...)``), or an
    error naming the model and the setting."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{model}: {name} must be a number, got {value!r}")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{model}: {name} must be a number, got {value!r}") from None


@dataclass(frozen=True)
class _BanditTrainingConfig(RegistryKeys):
    """The settings every model that trains the candidates shares (the yml's ``bandit_training`` anchor; the
    registry's keys are :class:`~retail_lift.tables._config.RegistryKeys`: the feature spec they compare is
    the ledger columns read)."""

    #: seed of the candidates' training, the Monte Carlo draws and the bootstraps
    random_state: int = 0
    #: Monte Carlo draws of the Thompson-sampling policies' arm probabilities
    n_mc_draws: int = 1000
    #: fewer settled decisions than this and the tables are built empty (an orders-only warehouse)
    min_settled_decisions: int = 100
    #: per candidate, parameters of its constructor ({} : every candidate with its defaults)
    candidate_params: Mapping = field(default_factory=dict)

    def __post_init__(self):
        model = _MODEL_OF[type(self).__name__]
        check_registry_settings(self, model)
        for f in _INTS.get(type(self).__name__, ()) + ("random_state", "n_mc_draws", "min_settled_decisions"):
            object.__setattr__(self, f, _number(model, f, getattr(self, f), int))
        for f in _FLOATS.get(type(self).__name__, ()):
            object.__setattr__(self, f, _number(model, f, getattr(self, f), float))
        if not isinstance(self.candidate_params, Mapping) or not all(
                isinstance(v, Mapping) for v in self.candidate_params.values()):
            raise ValueError(f"{model}: candidate_params must map a candidate name to its parameters, "
                             f"got {self.candidate_params!r}")
        unknown = sorted(set(self.candidate_params) - set(CANDIDATE_NAMES))
        if unknown:
            raise ValueError(f"{model}: candidate_params names unknown candidate(s) {unknown}; "
                             f"known: {list(CANDIDATE_NAMES)}")

    @property
    def params(self) -> dict | None:
        """``candidate_params`` as the family takes them (``None``: no parameters set)."""
        return dict(self.candidate_params) or None

    def recorded_params(self) -> dict:
        """The settings a registered version is computed with (every key but the registry's): a build with
        other settings trains again."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in REGISTRY_KEYS}


@dataclass(frozen=True)
class BanditHoldoutProbabilitiesConfig(_BanditTrainingConfig):
    """The settings of ``ml_bandit_holdout_probabilities`` and their defaults (its yml states the same)."""

    #: the latest share of the settled decisions is the time holdout the policies are evaluated on
    holdout_fraction: float = 0.3


@dataclass(frozen=True)
class BanditPolicyEvaluationConfig(BanditHoldoutProbabilitiesConfig):
    """The settings of ``ml_bandit_policy_evaluation`` and their defaults (its yml states the same).

    The ``gate_*`` settings are the paired OPE gate's (:class:`retail_lift.bandit.gate.GateConfig`, whose
    defaults they are; ``tests/python/test_tables_bandit.py`` checks it); its seed is ``random_state``.
    """

    #: bootstrap resamples of each estimator's interval
    n_bootstrap: int = 200
    #: the DM / DR reward model
    reward_model: str = "logistic"
    #: the gate's family-wise one-sided level (Holm)
    gate_alpha: float = 0.025
    #: the gate's minimum effective sample size
    gate_min_ess: float = 100
    #: the gate's largest share of probability on (cell, arm) pairs the logging policy never played
    gate_max_unsupported_share: float = 0.05
    #: the gate's paired bootstrap resamples
    gate_n_bootstrap: int = 1000
    #: the gate's interval kind (bootstrap or influence)
    gate_interval: str = "bootstrap"

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "reward_model", str(self.reward_model))
        self.gate()  # GateConfig checks the gate's settings (its errors name them)

    def gate(self) -> GateConfig:
        """The gate's config: the ``gate_*`` settings and ``random_state``."""
        return GateConfig.from_mapping({
            "alpha": self.gate_alpha, "min_ess": self.gate_min_ess,
            "max_unsupported_share": self.gate_max_unsupported_share, "n_bootstrap": self.gate_n_bootstrap,
            "interval": self.gate_interval, "random_state": self.random_state,
        })


@dataclass(frozen=True)
class BanditPublishedPolicyConfig(_BanditTrainingConfig):
    """The settings of ``ml_bandit_published_policy`` and their defaults (its yml states the same)."""

    #: a segment needs this many logged decisions for its own arm shares in the fallback
    fallback_min_decisions: int = 100


@dataclass(frozen=True)
class BanditPolicyConfig:
    """``ml_bandit_policy`` has no settings: it loads the active version of ``ml_bandit_published_policy``."""


_MODEL_OF = {"BanditHoldoutProbabilitiesConfig": "ml_bandit_holdout_probabilities",
             "BanditPolicyEvaluationConfig": "ml_bandit_policy_evaluation",
             "BanditPublishedPolicyConfig": "ml_bandit_published_policy"}
_INTS = {"BanditPolicyEvaluationConfig": ("n_bootstrap",), "BanditPublishedPolicyConfig": ("fallback_min_decisions",)}
_FLOATS = {"BanditHoldoutProbabilitiesConfig": ("holdout_fraction",),
           "BanditPolicyEvaluationConfig": ("holdout_fraction",)}
_HOLDOUT = BanditHoldoutProbabilitiesConfig()
_EVALUATION = BanditPolicyEvaluationConfig()
_PUBLISHED = BanditPublishedPolicyConfig()


# ----------------------------------------------------------------------------------------------
# the tables of the dbt models
# ----------------------------------------------------------------------------------------------


def _ledger_and_promotions(relations: Mapping[str, object]) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (read_relation(relations["fct_decision_ledger"], LEDGER_COLUMNS),
            read_relation(relations["stg_shop__promotions"], ("promotion_id", "launched_at")))


def _check_store(store, model: str) -> None:
    if store is not None and not isinstance(store, ModelRegistry):
        raise TypeError(f"{model}: store must be a retail_lift.registry.ModelRegistry or None, "
                        f"got {type(store).__name__}")


def _registered(model: str, store, config: _BanditTrainingConfig, name: str, train, *, ledger: pd.DataFrame,
                inputs: Mapping, describe) -> pd.DataFrame:
    """The table ``name`` of ``model``: ``train()`` (which returns the table and the fitted policy states) in
    every call without a ``store``; with one, only when the registry's decision says train (the training is
    then registered), else the champion's table republished (:mod:`retail_lift.bandit.champion`). The table
    carries the :data:`REGISTRY_COLUMNS`. ``describe(table)``: the metrics and model-card inputs recorded."""
    if store is None:
        table, _ = train()
        return _stamp(table, None, TrainingDecision("train", NO_STORE))
    registry = BanditRegistry(store, model, config.registry_settings(), params=config.recorded_params(),
                              columns=list(SCHEMAS[name]))
    spec = feature_spec_of(ledger)
    inputs = {"ledger": ledger_fingerprint(ledger), **inputs}
    decision = registry.decide(spec, inputs)
    if not decision.trains:
        champion = registry.champion
        return _stamp(_conform(champion.table, name), champion.version, decision)
    table, fitted = train()
    metrics, card = describe(table)
    version = registry.register(fitted, table, spec_now=spec, inputs=inputs, metrics=metrics, model_card=card)
    return _stamp(table, version, decision)


@heavy
def ml_bandit_holdout_probabilities(relations: Mapping[str, object],
                                    config: BanditHoldoutProbabilitiesConfig = _HOLDOUT, *,
                                    store=None) -> pd.DataFrame:
    """:func:`holdout_probabilities` with the published arm list; empty below ``min_settled_decisions``.

    ``relations``: ``fct_decision_ledger`` (only :data:`LEDGER_COLUMNS` read) and ``stg_shop__promotions``.
    ``store``: a :class:`~retail_lift.registry.ModelRegistry` (the candidates are trained and the table
    computed only when the ledger, the arms or the settings changed; module docstring) or None (every call).
    """
    _check_store(store, "ml_bandit_holdout_probabilities")
    ledger, promotions = _ledger_and_promotions(relations)
    if not has_enough_decisions(ledger, config.min_settled_decisions):
        return _stamp(empty_table("holdout_probabilities"), None, None)
    arms = published_arms(promotions, ledger, ledger["data_ends_at"].max())

    def train():
        return holdout_probabilities(ledger, arms, holdout_fraction=config.holdout_fraction,
                                     random_state=config.random_state, n_mc_draws=config.n_mc_draws,
                                     params=config.params, return_fitted=True)

    def describe(table):
        return ({"holdout_decisions": int(table["decision_id"].nunique()), "rows": int(len(table))},
                {"intended_use": "the candidates' probabilities on the time holdout (what the OPE weighs)",
                 "candidates": sorted(set(table["policy_id"]) - {LOGGING})})

    return _registered("ml_bandit_holdout_probabilities", store, config, "holdout_probabilities", train,
                       ledger=ledger, inputs={"arms": arms}, describe=describe)


def _describe_evaluation(table: pd.DataFrame) -> tuple[dict, dict]:
    metrics = {f"{r.policy_id}.{r.estimator}": float(r.value) for r in table.itertuples(index=False)}
    gate = table.drop_duplicates("policy_id")
    metrics.update({f"{r.policy_id}.gate_diff": float(r.gate_diff) for r in gate.itertuples(index=False)
                    if pd.notna(r.gate_diff)})
    return metrics, {"intended_use": "off-policy estimates of the candidates and the paired gate's verdicts",
                     "verdicts": dict(zip(gate["policy_id"], gate["gate_verdict"], strict=True)),
                     "holdout_decisions": int(table["n_decisions"].max()) if len(table) else 0}


@heavy
def ml_bandit_policy_evaluation(relations: Mapping[str, object],
                                config: BanditPolicyEvaluationConfig = _EVALUATION, *,
                                store=None) -> pd.DataFrame:
    """:func:`policy_evaluation` (off-policy estimates and the paired gate) with the published arm list;
    empty below ``min_settled_decisions``.

    ``relations``: ``fct_decision_ledger`` (only :data:`LEDGER_COLUMNS` read) and ``stg_shop__promotions``.
    ``store``: a :class:`~retail_lift.registry.ModelRegistry` (the evaluation reruns only when new decisions
    arrived or the candidates changed; otherwise the champion's evaluation is republished; module docstring)
    or None (every call).
    """
    _check_store(store, "ml_bandit_policy_evaluation")
    ledger, promotions = _ledger_and_promotions(relations)
    if not has_enough_decisions(ledger, config.min_settled_decisions):
        return _stamp(empty_table("policy_evaluation"), None, None)
    arms = published_arms(promotions, ledger, ledger["data_ends_at"].max())

    def train():
        return policy_evaluation(ledger, arms, holdout_fraction=config.holdout_fraction,
                                 random_state=config.random_state, n_mc_draws=config.n_mc_draws,
                                 params=config.params, n_bootstrap=config.n_bootstrap,
                                 reward_model=config.reward_model, gate=config.gate(), return_fitted=True)

    return _registered("ml_bandit_policy_evaluation", store, config, "policy_evaluation", train, ledger=ledger,
                       inputs={"arms": arms}, describe=_describe_evaluation)


@heavy
def ml_bandit_published_policy(relations: Mapping[str, object],
                               config: BanditPublishedPolicyConfig = _PUBLISHED, *,
                               store=None) -> pd.DataFrame:
    """:func:`published_policies`: every version of the build, the gate's choice active, and the fallback.

    A ledger with decisions but fewer than ``min_settled_decisions`` settled ones publishes the logging
    policy (active) and the fallback; a ledger without decisions gives an empty table. ``relations``:
    ``fct_decision_ledger`` (only :data:`LEDGER_COLUMNS` read), ``stg_shop__promotions`` and
    ``ml_bandit_policy_evaluation``. ``store``: a :class:`~retail_lift.registry.ModelRegistry` (the
    candidates and the fallback are refit only when the ledger, the arms, the evaluation or the settings
    changed; module docstring) or None (every call).
    """
    _check_store(store, "ml_bandit_published_policy")
    ledger, promotions = _ledger_and_promotions(relations)
    evaluation = read_relation(relations["ml_bandit_policy_evaluation"])
    if ledger.empty:
        return _stamp(empty_table("published_policies"), None, None)
    if not has_enough_decisions(ledger, config.min_settled_decisions):
        evaluation = evaluation.iloc[0:0]
    created_at = ledger["data_ends_at"].max()
    arms = published_arms(promotions, ledger, created_at)

    def train():
        return published_policies(ledger, evaluation, arms, created_at=created_at, random_state=config.random_state,
                                  n_mc_draws=config.n_mc_draws, params=config.params,
                                  fallback_min_decisions=config.fallback_min_decisions, return_fitted=True)

    def describe(table):
        active = table.loc[table["is_active"].astype(bool), "policy_id"]
        return ({"policies": int(len(table))},
                {"intended_use": "the policy versions the decision API serves (the gate's choice active)",
                 "active": str(active.iloc[0]) if len(active) else None,
                 "policies": table["policy_id"].astype(str).tolist()})

    # the evaluation's own columns (not its registry columns: a republished evaluation is the same input)
    judged = table_fingerprint(evaluation[list(SCHEMAS["policy_evaluation"])], ["policy_id", "estimator"]) \
        if len(evaluation) else {"rows": 0}
    inputs = {"arms": arms, "evaluation": judged}
    return _registered("ml_bandit_published_policy", store, config, "published_policies", train, ledger=ledger,
                       inputs=inputs, describe=describe)


def ml_bandit_policy(relations: Mapping[str, object], config: BanditPolicyConfig = BanditPolicyConfig(), *,
                     store=None) -> pd.DataFrame:
    """:func:`customer_probabilities` of the active version (no training); empty without a published version.
    ``model_version`` and ``trained_at`` are the active row's (the registered version of
    ``ml_bandit_published_policy`` it comes from).

    ``relations``: ``ml_bandit_published_policy`` and ``fct_decision_ledger`` (only :data:`LEDGER_COLUMNS`
    read, and only when a version is published).
    """
    check_store(store, "ml_bandit_policy")
    published = read_relation(relations["ml_bandit_published_policy"])
    if published.empty:
        return _with_version(empty_table("customer_probabilities"), published)
    table = customer_probabilities(published, read_relation(relations["fct_decision_ledger"], LEDGER_COLUMNS))
    return _with_version(table, published)


#: the registry columns of the tables that train (every row; :mod:`retail_lift.bandit.champion`)
REGISTRY_COLUMNS: dict[str, str] = {"model_version": "Int64", "trained_at": "datetime64[us]",
                                    "registry_action": "string", "registry_reason": "string"}
#: ``registry_reason`` of a table computed without a model store
NO_STORE = "no model store: trained in this build"


def _stamp(table: pd.DataFrame, version, decision: TrainingDecision | None) -> pd.DataFrame:
    """``table`` with :data:`REGISTRY_COLUMNS`: the version it comes from (None: none), the decision."""
    values = {"model_version": pd.NA if version is None else version.version,
              "trained_at": pd.NaT if version is None else version.trained_at,
              "registry_action": pd.NA if decision is None else decision.action,
              "registry_reason": pd.NA if decision is None else decision.reason}
    out = table.copy(deep=False)
    for column, dtype in REGISTRY_COLUMNS.items():  # a scalar broadcast: no Python object per row
        out[column] = pd.Series(values[column], dtype=dtype, index=out.index)
    return out


def _with_version(table: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """``table`` with ``model_version`` and ``trained_at`` of the active row of ``published`` (NULL when the
    published table has none)."""
    active = published.loc[published["is_active"].astype(bool)] if len(published) else published
    row = active.iloc[0] if len(active) else pd.Series(dtype=object)
    out = table.copy(deep=False)
    for column, missing in (("model_version", pd.NA), ("trained_at", pd.NaT)):
        value = row.get(column)
        out[column] = pd.Series(missing if value is None or pd.isna(value) else value,
                                dtype=REGISTRY_COLUMNS[column], index=out.index)
    return out


# ----------------------------------------------------------------------------------------------
# the table builders
# ----------------------------------------------------------------------------------------------


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


def empty_table(name: str) -> pd.DataFrame:
    """An empty table with the columns and types of :data:`SCHEMAS` ``[name]``."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in SCHEMAS[name].items()})


def _conform(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """``table`` with exactly the columns of :data:`SCHEMAS` ``[name]``, in order and typed (text as
    pandas' string dtype, so that a column of NULLs still lands as VARCHAR in the warehouse)."""
    schema = SCHEMAS[name]
    return table[list(schema)].astype(schema).reset_index(drop=True)


def has_enough_decisions(ledger: pd.DataFrame, minimum: int = _HOLDOUT.min_settled_decisions) -> bool:
    """At least ``minimum`` settled decisions (reward known): below that the bandit tables are empty
    (a warehouse built from orders only, or a decision log that has just started)."""
    if ledger is None or len(ledger) == 0:
        return False
    return int(is_settled(ledger).sum()) >= int(minimum)


def published_arms(promotions: pd.DataFrame, ledger: pd.DataFrame, as_of) -> list[str]:
    """The arm list of a version published at ``as_of``: promotions launched by then (a missing
    ``launched_at`` counts as launched) plus every arm the ledger logged or gave a probability,
    sorted by name."""
    if not {"promotion_id", "launched_at"} <= set(promotions.columns):
        raise ValueError("promotions must have the columns promotion_id and launched_at")
    as_of = pd.Timestamp(as_of)
    launched = pd.to_datetime(promotions["launched_at"])
    arms = set(promotions.loc[launched.isna() | (launched <= as_of), "promotion_id"].astype(str))
    arms |= set(ledger["promotion_id"].dropna().astype(str).unique())
    for text in ledger["action_probabilities"].dropna().unique():  # a few distinct texts: parsed once each
        arms |= set(json.loads(text))
    return sorted(arms)


def latest_contexts(ledger: pd.DataFrame) -> pd.DataFrame:
    """The latest decision of every customer (pending ones included: the context is known at
    decision time), one row per customer, sorted by ``customer_id``."""
    cols = ["customer_id", "decision_id", "decided_at", "context", "action_probabilities"]
    rows = ledger.loc[ledger["customer_id"].notna(), cols].copy()
    rows["decided_at"] = pd.to_datetime(rows["decided_at"])
    rows = rows.sort_values(["customer_id", "decided_at", "decision_id"], kind="stable")
    return rows.drop_duplicates("customer_id", keep="last").reset_index(drop=True)


def holdout_probabilities(ledger: pd.DataFrame, arm_names: Sequence[str], *,
                          holdout_fraction: float = _HOLDOUT.holdout_fraction,
                          random_state: int = _HOLDOUT.random_state, n_mc_draws: int = _HOLDOUT.n_mc_draws,
                          candidates: Sequence[str] = CANDIDATE_NAMES,
                          params: Mapping[str, Mapping] | None = None, return_fitted: bool = False):
    """Target probabilities of the logging policy and of every candidate on the time holdout.

    The candidates are trained on the earlier settled decisions (:func:`~retail_lift.bandit.pipeline.time_split`,
    pending decisions dropped) exactly as :func:`~retail_lift.bandit.pipeline.run_offline_evaluation` trains them, and
    their probabilities are restricted to the arms available at each decision (logged probability
    > 0) and renormalised, as the off-policy evaluation uses them.

    Returns one row per holdout decision x policy x arm: ``decision_id``, ``policy_id``,
    ``promotion_id``, ``probability``, ``is_available``; with ``return_fitted``, the table and the
    fitted candidates (the :class:`~retail_lift.bandit.pipeline.CandidateSet` a registered version stores).
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
    table = _conform(pd.concat(frames, ignore_index=True), "holdout_probabilities")
    return (table, cands) if return_fitted else table


def policy_evaluation(ledger: pd.DataFrame, arm_names: Sequence[str], *,
                      holdout_fraction: float = _EVALUATION.holdout_fraction,
                      random_state: int = _EVALUATION.random_state, n_bootstrap: int = _EVALUATION.n_bootstrap,
                      reward_model: str = _EVALUATION.reward_model, gate: GateConfig | Mapping | None = None,
                      n_mc_draws: int = _EVALUATION.n_mc_draws,
                      candidates: Sequence[str] = CANDIDATE_NAMES,
                      params: Mapping[str, Mapping] | None = None, return_fitted: bool = False):
    """Off-policy estimates of the logging policy and every candidate on the time holdout, with the
    paired gate's verdict (:func:`~retail_lift.bandit.pipeline.run_offline_evaluation`, :mod:`retail_lift.bandit.gate`).

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
    ``holdout_starts_at``. With ``return_fitted``, the table and the evaluated candidates (their
    :class:`~retail_lift.bandit.pipeline.CandidateSet`).
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
    for name in ("alpha", "min_ess", "max_unsupported_share", "interval", "n_bootstrap"):
        out[f"gate_{name}"] = getattr(cfg, name)
    out["passes_gate"] = out["passes_gate"].astype(bool)
    out["gate_eligible"] = out["gate_eligible"].astype(bool)
    out["n_decisions"] = out["n_decisions"].astype("int64")
    out["n_train_decisions"] = len(ev.train)
    out["holdout_starts_at"] = pd.Timestamp(ev.split_at)
    table = _conform(out, "policy_evaluation")
    return (table, ev.candidates) if return_fitted else table


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
                       created_at=None, random_state: int = _PUBLISHED.random_state,
                       n_mc_draws: int = _PUBLISHED.n_mc_draws, params: Mapping[str, Mapping] | None = None,
                       fallback_min_decisions: int = _PUBLISHED.fallback_min_decisions,
                       return_fitted: bool = False):
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
    ``n_train_decisions``, ``trained_until``, ``logged_policy_ids``, ``is_fallback``. With
    ``return_fitted``, the table and the fitted policy states: ``{"candidates": CandidateSet or {},
    "fallback": the fitted fallback}``.
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
    table = _conform(pd.DataFrame(rows), "published_policies")
    return (table, {"candidates": cands, "fallback": fb}) if return_fitted else table


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
        version = version_from_row(row)
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


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA
