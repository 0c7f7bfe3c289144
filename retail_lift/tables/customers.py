"""``python_models/ml/customers/``: customer lifetime value and its parameters.

Both tables come from one fit, :func:`retail_lift.clv.lifetime_value_table` (the CLV family's step: the
BG/NBD and Gamma-Gamma fits with named statuses; :mod:`retail_lift.evaluation` calls it too, so it stays in
the family). ``ml_customer_lifetime_value`` keeps the scores of the deterministic fit (no bootstrap);
``ml_customer_lifetime_value_params`` refits with the same ``discount_rate`` and ``penalizer``, adds the
bootstrap and keeps the parameter rows. The two configs share those two settings and their defaults
(:class:`CustomerLifetimeValueParamsConfig` extends :class:`CustomerLifetimeValueConfig`).

Model store (``store``, a :class:`~retail_lift.registry.ModelRegistry`; the dbt models open the one beside the
warehouse file): ``ml_customer_lifetime_value_params`` is the registered model
(:mod:`retail_lift.clv_champion`). It trains (fit + bootstrap, registered as the new champion) only when
:func:`~retail_lift.registry.training_decision` says so (config keys ``retrain``, ``max_model_age_days``,
``registry_on_mismatch``, ``registry_alias`` from the dbt vars of the same names) or its fit settings changed;
otherwise it repeats the champion's parameters table. ``ml_customer_lifetime_value`` (built after it) applies
the champion's parameters to the current customers; with no champion (or ``store=None``) it fits as before.
Both tables carry ``model_version`` and ``trained_at``; the parameters table also ``registry_action`` and
``registry_reason``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from retail_lift.clv import fit_lifetime_value, lifetime_value_table, score_lifetime_value
from retail_lift.clv_champion import CLVRegistry
from retail_lift.model_gate import heavy
from retail_lift.tables._config import number, read_relation, set_fields
from retail_lift.tables._registry import NO_STORE, RegisteredModelConfig, check_registry_store, stamp

__all__ = ["CustomerLifetimeValueConfig", "CustomerLifetimeValueParamsConfig", "ml_customer_lifetime_value",
           "ml_customer_lifetime_value_params"]


@dataclass(frozen=True)
class CustomerLifetimeValueConfig:
    """The settings of ``ml_customer_lifetime_value`` and their defaults (its yml states the same)."""

    _model: ClassVar[str] = "ml_customer_lifetime_value"  # named in the errors

    #: monthly discount rate of the 12-month CLV
    discount_rate: float = 0.01
    #: L2 penalty of the fits (0: plain maximum likelihood; unit-free, opt-in)
    penalizer: float = 0.0

    def __post_init__(self):
        m = self._model
        set_fields(self, discount_rate=number(m, "discount_rate", self.discount_rate, low=0),
                   penalizer=number(m, "penalizer", self.penalizer, low=0))


@dataclass(frozen=True)
class CustomerLifetimeValueParamsConfig(CustomerLifetimeValueConfig, RegisteredModelConfig):
    """The settings of ``ml_customer_lifetime_value_params`` and their defaults (its yml states the same):
    those of ``ml_customer_lifetime_value`` (the same fit), the bootstrap's and the registry's
    (:class:`~retail_lift.tables._registry.RegisteredModelConfig`)."""

    _model: ClassVar[str] = "ml_customer_lifetime_value_params"

    #: bootstrap resamples of customers (each refitted) for the intervals (0: no intervals)
    n_bootstrap: int = 100
    #: level of the percentile intervals
    ci_level: float = 0.95
    #: seed of the bootstrap
    random_state: int = 0

    def __post_init__(self):
        super().__post_init__()
        m = self._model
        set_fields(self, n_bootstrap=number(m, "n_bootstrap", self.n_bootstrap, integer=True, low=0),
                   ci_level=number(m, "ci_level", self.ci_level, low=0, high=1, low_open=True, high_open=True),
                   random_state=number(m, "random_state", self.random_state, integer=True, low=0))
        self.check_registry_settings()

    def fit_settings(self) -> dict:
        """The settings a training records: a champion trained with others is retrained."""
        return {"discount_rate": self.discount_rate, "penalizer": self.penalizer, "n_bootstrap": self.n_bootstrap,
                "ci_level": self.ci_level, "random_state": self.random_state}


def ml_customer_lifetime_value(relations: Mapping[str, object],
                               config: CustomerLifetimeValueConfig = CustomerLifetimeValueConfig(), *,
                               store=None) -> pd.DataFrame:
    """One row per customer of ``fct_customer_ltv_inputs``: expected purchases, P(alive), expected spend and
    12-month revenue and margin CLV with the fit's status (the scores of :func:`~retail_lift.clv.lifetime_value_table`,
    no bootstrap)."""
    model = "ml_customer_lifetime_value"
    check_registry_store(store, model)
    inputs = read_relation(relations["fct_customer_ltv_inputs"])
    champion = CLVRegistry(store).champion_for_scoring(inputs) if store is not None else None
    if champion is None:  # no store or nothing registered yet: the deterministic fit, as without a registry
        scores, _params = lifetime_value_table(inputs, discount_rate=config.discount_rate,
                                               penalizer=config.penalizer, n_bootstrap=0)
        return stamp(scores, None)
    trained = float(champion.payload["penalizer"])
    if trained != config.penalizer:
        raise ValueError(f"{model}: penalizer {config.penalizer:g} differs from the {champion.version.name} "
                         f"champion's ({trained:g}, version {champion.version.version}): set the same "
                         f"penalizer on both CLV models")
    scores = score_lifetime_value(inputs, champion.payload, discount_rate=config.discount_rate)
    return stamp(scores, champion.version)


@heavy
def ml_customer_lifetime_value_params(relations: Mapping[str, object],
                                      config: CustomerLifetimeValueParamsConfig = CustomerLifetimeValueParamsConfig(),
                                      *, store=None) -> pd.DataFrame:
    """One row per CLV model x parameter of the same fit as :func:`ml_customer_lifetime_value`, with percentile
    bootstrap intervals (``n_bootstrap`` resamples at ``ci_level``, seeded by ``random_state``) and statuses."""
    model = "ml_customer_lifetime_value_params"
    check_registry_store(store, model)
    inputs = read_relation(relations["fct_customer_ltv_inputs"])
    registry = None
    if store is not None:
        registry = CLVRegistry(store, config.registry_settings(), params=config.fit_settings())
        decision = registry.decide(inputs)
        if not decision.trains:
            return stamp(registry.champion.artifacts["params"], registry.champion.version, registry_action="score",
                         registry_reason=decision.reason)
    _scores, params, state = fit_lifetime_value(inputs, discount_rate=config.discount_rate,
                                                penalizer=config.penalizer, n_bootstrap=config.n_bootstrap,
                                                ci_level=config.ci_level, random_state=config.random_state)
    if registry is None:
        return stamp(params, None, registry_action="train", registry_reason=NO_STORE)
    version = registry.register_fit(inputs, state, params)
    return stamp(params, version, registry_action="train", registry_reason=registry.decision.reason)
