"""The CLV models' registered champion: train = fit BG/NBD and Gamma-Gamma (and the bootstrap), score = apply.

One registered model, ``ml_customer_lifetime_value_params`` (the dbt model that trains), serves both CLV tables:

* ``ml_customer_lifetime_value_params`` asks :func:`~retail_lift.registry.training_decision` whether to train
  (:meth:`CLVRegistry.decide`). Training fits the parameters and the bootstrap
  (:func:`retail_lift.clv.fit_lifetime_value`) and registers the fitted state (the pickled ``model.pkl``),
  the parameters table (artifact ``params``) and the RFM summaries it was fitted on (artifact
  ``drift_reference``, a seeded sample above :data:`REFERENCE_ROWS`). Scoring repeats the registered
  parameters table as it was recorded.
* ``ml_customer_lifetime_value`` applies the champion's state to the current customers
  (:func:`retail_lift.clv.score_lifetime_value`): no fit.

What the spec is: the LTV-input columns the fit reads (``customer_id``, ``frequency``, ``recency``, ``T``,
``monetary_value`` and, when present, ``total_amount`` and ``cost_of_goods`` for the margin rate), names and
kinds in order. What drift is: the PSI of the RFM summary columns (:data:`DRIFT_COLUMNS`) of the customers
now against those the champion was fitted on. The fit is on every customer, so the PSI at training is 0 by
construction: any column above the threshold retrains. The fit settings (``penalizer``, ``n_bootstrap``,
``ci_level``, ``random_state``, ``discount_rate``) are recorded; a build whose settings differ from the
champion's trains (the parameters table would not be what the settings say).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retail_lift.predict.champion import RegistrySettings
from retail_lift.predict.drift import population_stability_index
from retail_lift.registry import (
    CHAMPION,
    ModelFileError,
    ModelRegistry,
    ModelVersion,
    TrainingDecision,
    feature_spec_of,
    frame_fingerprint,
    spec_differences,
    training_decision,
)

__all__ = ["CLV_MODEL", "DRIFT_COLUMNS", "REFERENCE_ROWS", "SPEC_COLUMNS", "CLVChampion", "CLVRegistry",
           "clv_spec"]

#: the registered model of both CLV tables (the dbt model that trains)
CLV_MODEL = "ml_customer_lifetime_value_params"
#: the RFM summary columns whose PSI is the drift trigger
DRIFT_COLUMNS = ("frequency", "recency", "T", "monetary_value")
#: the input columns of the fit, in order (the last two only when present)
SPEC_COLUMNS = ("customer_id", "frequency", "recency", "T", "monetary_value", "total_amount", "cost_of_goods")
#: at most this many customers' summaries are kept as the drift reference (a seeded sample above it)
REFERENCE_ROWS = 500_000
_STATE_FIELDS = {"bg", "gg", "boundary", "bg_status", "gg_status", "penalizer"}


def clv_spec(inputs: pd.DataFrame) -> list[dict]:
    """The feature spec of the LTV inputs (:data:`SPEC_COLUMNS` present in ``inputs``)."""
    return feature_spec_of(inputs, [c for c in SPEC_COLUMNS if c in inputs.columns])


@dataclass
class CLVChampion:
    """The champion a score-only build applies: its version, the fitted state and the recorded parameters."""

    version: ModelVersion
    state: dict
    params: pd.DataFrame


class CLVRegistry:
    """The CLV model in ``store`` (module docstring); ``settings``: the build's registry settings; ``params``:
    the fit settings recorded with a training (a champion trained with other settings is retrained)."""

    def __init__(self, store: ModelRegistry, settings: RegistrySettings | None = None,
                 params: Mapping | None = None, name: str = CLV_MODEL):
        self.store = store
        self.name = name
        self.settings = settings if settings is not None else RegistrySettings()
        self.params = dict(params or {})
        self.champion: CLVChampion | None = None
        self.decision: TrainingDecision | None = None
        #: PSI per drift column of the customers now against the champion's (measured by decide)
        self.drift: dict[str, float] | None = None

    def load(self, version: ModelVersion) -> CLVChampion:
        state = self.store.load_model(version)
        if not isinstance(state, Mapping) or not _STATE_FIELDS <= set(state):
            raise ModelFileError(f"{self.name} version {version.version}: {version.model_file} does not hold a "
                                 f"CLV state")
        return CLVChampion(version=version, state=dict(state), params=self.store.load_artifact(version, "params"))

    def champion_for_scoring(self, inputs: pd.DataFrame) -> CLVChampion | None:
        """The champion ``ml_customer_lifetime_value`` applies to ``inputs`` (None: none registered). Raises
        :class:`~retail_lift.registry.ModelMismatchError`-like errors naming the model when the champion's
        file is unusable or its spec differs (its trainer, ``ml_customer_lifetime_value_params``, runs first
        in a build and retrains in both cases: this only happens when the scores are built alone)."""
        from retail_lift.registry import ModelMismatchError

        version = self.store.get_alias(self.name, CHAMPION)
        if version is None:
            return None
        diff = spec_differences(version.feature_spec, clv_spec(inputs))
        if diff:
            raise ModelMismatchError(f"{self.name} champion version {version.version} was trained on other "
                                     f"inputs than the current ones: {'; '.join(diff)} (build "
                                     f"{self.name} first: it retrains)")
        try:
            return self.load(version)
        except ModelFileError as exc:
            raise ModelMismatchError(f"{exc} (build {self.name} first: it retrains)") from exc

    def decide(self, inputs: pd.DataFrame) -> TrainingDecision:
        """Train or score, given the current LTV inputs. When it scores, :attr:`champion` is loaded."""
        s = self.settings
        version = None if s.retrain else self.store.get_alias(self.name, CHAMPION)
        champion, error, diff, drift = None, None, (), None
        if version is not None:
            diff = spec_differences(version.feature_spec, clv_spec(inputs))
            try:
                champion = self.load(version)
                reference = self.store.load_artifact(version, "drift_reference")
            except ModelFileError as exc:
                champion, error = None, str(exc)
            if champion is not None and not diff and len(inputs) and len(reference):
                drift = {c: population_stability_index(reference[c], inputs[c]) for c in DRIFT_COLUMNS}
                self.drift = drift
        decision = training_decision(
            self.name, champion=version, retrain=s.retrain, model_error=error, spec_diff=diff,
            max_model_age_days=s.max_model_age_days, now=s.now, drift=drift, drift_at_training=None,
            psi_threshold=s.psi_threshold, on_mismatch=s.on_mismatch)
        if not decision.trains and version is not None:
            recorded = dict(version.record.get("params", {}))
            changed = [f"{k} {recorded.get(k)!r} -> {v!r}" for k, v in self.params.items() if recorded.get(k) != v]
            if changed:
                decision = TrainingDecision("train", f"settings changed since version {version.version}: "
                                                     f"{', '.join(changed)}")
        self.decision = decision
        self.champion = champion if not decision.trains else None
        return decision

    def register(self, inputs: pd.DataFrame, state: Mapping, params_table: pd.DataFrame) -> ModelVersion:
        """Register a training: the fitted ``state``, the parameters table and the inputs' RFM summaries."""
        reference = inputs[list(DRIFT_COLUMNS)]
        if len(reference) > REFERENCE_ROWS:
            keep = np.sort(np.random.default_rng(0).choice(len(reference), REFERENCE_ROWS, replace=False))
            reference = reference.iloc[keep]
        reference = reference.reset_index(drop=True)
        values = params_table.set_index(["model", "parameter"])["value"]
        metrics = {f"{mdl}.{par}": (None if pd.isna(v) else float(v)) for (mdl, par), v in values.items()}
        record = {
            "family": "clv",
            "params": self.params,
            "metrics": metrics,
            "feature_spec": clv_spec(inputs),
            "training_data": frame_fingerprint(inputs[[c for c in SPEC_COLUMNS if c in inputs.columns]]),
            "model_card": {
                "intended_use": "12-month customer lifetime value: BG/NBD purchases x Gamma-Gamma spend",
                "bg_nbd_status": state["bg_status"], "gamma_gamma_status": state["gg_status"],
                "customers": int(len(inputs)),
                "repeat_buyers": int((pd.to_numeric(inputs["frequency"]) > 0).sum()),
            },
            "training_reason": self.decision.reason if self.decision is not None else "trained without a decision",
        }
        return self.store.register(self.name, dict(state), record=record, alias=self.settings.alias,
                                   artifacts={"params": params_table, "drift_reference": reference})

