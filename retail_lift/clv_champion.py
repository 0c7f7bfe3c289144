"""The CLV models' registered champion: train = fit BG/NBD and Gamma-Gamma (and the bootstrap), score = apply.

One registered model, ``ml_customer_lifetime_value_params`` (the dbt model that trains), serves both CLV tables:

* ``ml_customer_lifetime_value_params`` asks :meth:`CLVRegistry.decide` whether to train
  (:class:`~retail_lift.champion.FrameRegistry`: retrain var, no champion, bad file, spec, age, drift, changed
  fit settings). Training fits the parameters and the bootstrap (:func:`retail_lift.clv.fit_lifetime_value`)
  and registers the fitted state (the pickled ``model.pkl``), the parameters table (artifact ``params``) and
  the RFM summaries it was fitted on (artifact ``drift_reference``). Scoring repeats the registered
  parameters table as it was recorded.
* ``ml_customer_lifetime_value`` applies the champion's state to the current customers
  (:func:`retail_lift.clv.score_lifetime_value`): no fit.

What the spec is: the LTV-input columns the fit reads (``customer_id``, ``frequency``, ``recency``, ``T``,
``monetary_value`` and, when present, ``total_amount`` and ``cost_of_goods`` for the margin rate), names and
kinds in order. What drift is: the PSI of the time-invariant RFM summaries (:data:`DRIFT_COLUMNS`: repeat
purchases per day of tenure, ``frequency / T``, and the mean order value) of the customers now against those
the champion was fitted on. ``T`` and ``recency`` themselves grow with the calendar for every customer, so
their PSI crosses 0.2 from time alone (after 7 days on CDNOW, 14 on the simulated world) while a refit
predicts no better (bench/results/registry_age_drift.md); the age rule covers time.
The fit settings (``penalizer``, ``n_bootstrap``, ``ci_level``,
``random_state``, ``discount_rate``) are recorded.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from retail_lift.champion import FrameRegistry, metrics_of
from retail_lift.clv import STATE_KEYS
from retail_lift.registry import ModelVersion

__all__ = ["CLV_MODEL", "DRIFT_COLUMNS", "SPEC_COLUMNS", "CLVRegistry"]

#: the registered model of both CLV tables (the dbt model that trains)
CLV_MODEL = "ml_customer_lifetime_value_params"
#: the drift trigger's columns: repeat purchases per day of tenure (``frequency / T``, NULL at ``T`` 0) and the
#: mean order value; unlike ``T`` and ``recency`` they do not move when only time passes (module docstring)
DRIFT_COLUMNS = ("repeat_rate", "monetary_value")
#: the input columns of the fit, in order (the last two only when present)
SPEC_COLUMNS = ("customer_id", "frequency", "recency", "T", "monetary_value", "total_amount", "cost_of_goods")


class CLVRegistry(FrameRegistry):
    """The CLV model in a store (module docstring)."""

    name = CLV_MODEL
    family = "clv"
    spec_columns = SPEC_COLUMNS
    artifact_names = ("params",)

    def check_payload(self, payload) -> bool:
        return isinstance(payload, Mapping) and set(STATE_KEYS) <= set(payload)

    def drift_frame(self, inputs: pd.DataFrame) -> pd.DataFrame:
        tenure = pd.to_numeric(inputs["T"], errors="coerce")
        rate = pd.to_numeric(inputs["frequency"], errors="coerce") / tenure.where(tenure > 0)
        return pd.DataFrame({"repeat_rate": rate.astype(float),
                             "monetary_value": pd.to_numeric(inputs["monetary_value"], errors="coerce")})

    def register_fit(self, inputs: pd.DataFrame, state: Mapping, params_table: pd.DataFrame) -> ModelVersion:
        """Register a training: the fitted ``state``, the parameters table and the inputs' RFM summaries."""
        values = params_table.set_index(["model", "parameter"])["value"]
        return self.register(
            inputs, dict(state), artifacts={"params": params_table},
            metrics=metrics_of((f"{mdl}.{par}", v) for (mdl, par), v in values.items()),
            model_card={
                "intended_use": "12-month customer lifetime value: BG/NBD purchases x Gamma-Gamma spend",
                "bg_nbd_status": state["bg_status"], "gamma_gamma_status": state["gg_status"],
                "customers": int(len(inputs)),
                "repeat_buyers": int((pd.to_numeric(inputs["frequency"]) > 0).sum()),
            })

