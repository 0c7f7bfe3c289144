"""``python_models/ml/customers/``: customer lifetime value and its parameters.

Both tables come from one fit, :func:`retail_lift.clv.lifetime_value_table` (the CLV family's step: the
BG/NBD and Gamma-Gamma fits with named statuses; :mod:`retail_lift.evaluation` calls it too, so it stays in
the family). ``ml_customer_lifetime_value`` keeps the scores of the deterministic fit (no bootstrap);
``ml_customer_lifetime_value_params`` refits with the same ``discount_rate`` and ``penalizer``, adds the
bootstrap and keeps the parameter rows. The two configs share those two settings and their defaults
(:class:`CustomerLifetimeValueParamsConfig` extends :class:`CustomerLifetimeValueConfig`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from retail_lift.clv import lifetime_value_table
from retail_lift.tables._config import check_store, number, read_relation, set_fields

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
class CustomerLifetimeValueParamsConfig(CustomerLifetimeValueConfig):
    """The settings of ``ml_customer_lifetime_value_params`` and their defaults (its yml states the same):
    those of ``ml_customer_lifetime_value`` (the same fit) and the bootstrap's."""

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


def ml_customer_lifetime_value(relations: Mapping[str, object],
                               config: CustomerLifetimeValueConfig = CustomerLifetimeValueConfig(), *,
                               store=None) -> pd.DataFrame:
    """One row per customer of ``fct_customer_ltv_inputs``: expected purchases, P(alive), expected spend and
    12-month revenue and margin CLV with the fit's status (the scores of :func:`~retail_lift.clv.lifetime_value_table`,
    no bootstrap)."""
    check_store(store, "ml_customer_lifetime_value")
    inputs = read_relation(relations["fct_customer_ltv_inputs"])
    scores, _params = lifetime_value_table(inputs, discount_rate=config.discount_rate, penalizer=config.penalizer,
                                           n_bootstrap=0)
    return scores


def ml_customer_lifetime_value_params(relations: Mapping[str, object],
                                      config: CustomerLifetimeValueParamsConfig = CustomerLifetimeValueParamsConfig(),
                                      *, store=None) -> pd.DataFrame:
    """One row per CLV model x parameter of the same fit as :func:`ml_customer_lifetime_value`, with percentile
    bootstrap intervals (``n_bootstrap`` resamples at ``ci_level``, seeded by ``random_state``) and statuses."""
    check_store(store, "ml_customer_lifetime_value_params")
    inputs = read_relation(relations["fct_customer_ltv_inputs"])
    _scores, params = lifetime_value_table(inputs, discount_rate=config.discount_rate, penalizer=config.penalizer,
                                           n_bootstrap=config.n_bootstrap, ci_level=config.ci_level,
                                           random_state=config.random_state)
    return params
