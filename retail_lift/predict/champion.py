"""A classifier's registered champion: what a training records and what a score-only build loads.

:class:`ClassifierRegistry` ties one classifier fit table (:func:`~retail_lift.predict.fit_table.classifier_fit_table`)
to a :class:`~retail_lift.registry.ModelRegistry`:

* :meth:`~ClassifierRegistry.decide` loads the champion (model file checked against its SHA-256), compares its
  feature spec with the current one, measures the drift of the rows scored now against the champion's training
  rows, and asks :func:`~retail_lift.registry.training_decision` whether to train or score;
* :meth:`~ClassifierRegistry.register` records a training: the fitted model with its feature spec, chosen kind
  and threshold (one pickle), the parameters, the metrics of every compared kind, the feature spec (column
  names and kinds, in order), the training-data fingerprint, the code version (by the registry) and the
  model-card inputs; artifacts: the fit table's training rows (``run``, ``holdout``, ``metric``, ``drift``,
  ``importance``) and a seeded sample of the refit rows' source features (the drift reference).

A score-only build repeats the training rows as they were recorded and recomputes the ``score`` rows (and the
``drift`` rows, against the reference); both carry ``model_version`` and ``trained_at``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retail_lift.predict.drift import feature_drift
from retail_lift.registry import (
    CHAMPION,
    ModelFileError,
    ModelRegistry,
    ModelVersion,
    RegistrySettings,
    TrainingDecision,
    frame_fingerprint,
    spec_differences,
    training_decision,
)

__all__ = ["ClassifierRegistry", "Champion", "RegistrySettings"]

#: at most this many refit rows are kept as the drift reference (a seeded sample above it)
REFERENCE_ROWS = 500_000
_DEFAULT_SETTINGS = RegistrySettings()


@dataclass
class Champion:
    """What a score-only build needs of the champion: its version and the loaded payload and artifacts."""

    version: ModelVersion
    model: object
    spec: object
    kind: str
    threshold: float
    training_rows: pd.DataFrame
    reference: pd.DataFrame


class ClassifierRegistry:
    """The registry of one classifier fit table (module docstring). ``name``: the registered model's name
    (the dbt model's); ``params``: the settings recorded with a training."""

    def __init__(self, store: ModelRegistry, name: str, settings: RegistrySettings = _DEFAULT_SETTINGS,
                 params: Mapping | None = None):
        self.store = store
        self.name = name
        self.settings = settings
        self.params = dict(params or {})
        self.champion: Champion | None = None
        self.decision: TrainingDecision | None = None
        #: the drift of the rows scored now against the champion's training rows (feature_drift's table),
        #: measured by decide and reused for the drift rows of a score-only fit table
        self.drift_table: pd.DataFrame | None = None

    # ---- score or train --------------------------------------------------------------------------

    def _load(self, version: ModelVersion) -> Champion:
        payload = self.store.load_model(version)
        if not isinstance(payload, Mapping) or not {"model", "spec", "kind", "threshold"} <= set(payload):
            raise ModelFileError(f"{self.name} version {version.version}: {version.model_file} does not hold a "
                                 f"classifier payload")
        return Champion(version=version, model=payload["model"], spec=payload["spec"], kind=payload["kind"],
                        threshold=float(payload["threshold"]),
                        training_rows=self.store.load_artifact(version, "training_rows"),
                        reference=self.store.load_artifact(version, "drift_reference"))

    def needs_score_rows(self) -> bool:
        """Whether :meth:`decide` reads the score rows: only against a registered champion (its drift), so the
        first training and ``retrain`` need none of them."""
        return not self.settings.retrain and self.store.get_alias(self.name, CHAMPION) is not None

    def decide(self, score_frame: pd.DataFrame, spec_now: Sequence[Mapping]) -> TrainingDecision:
        """Train or score (:func:`~retail_lift.registry.training_decision`), given the rows to score now and
        the current feature spec. When it scores, :attr:`champion` holds the loaded champion."""
        s = self.settings
        version = None if s.retrain else self.store.get_alias(self.name, CHAMPION)
        champion, error, diff, drift, before = None, None, (), None, None
        if version is not None:
            diff = spec_differences(version.feature_spec, spec_now)
            try:
                champion = self._load(version)
            except ModelFileError as exc:
                error = str(exc)
            if champion is not None and not diff and len(score_frame) and len(champion.reference):
                table = feature_drift(champion.spec, champion.reference, score_frame)
                self.drift_table = table
                drift = dict(zip(table["feature"], table["psi"].astype(float), strict=True))
                rows = champion.training_rows
                rows = rows[rows["record_type"] == "drift"]
                before = dict(zip(rows["feature"], rows["value"].astype(float), strict=True))
        self.decision = training_decision(
            self.name, champion=version, retrain=s.retrain, model_error=error, spec_diff=diff,
            max_model_age_days=s.max_model_age_days, now=s.now, drift=drift, drift_at_training=before,
            psi_threshold=s.psi_threshold, on_mismatch=s.on_mismatch)
        self.champion = champion if not self.decision.trains else None
        return self.decision

    # ---- record a training -----------------------------------------------------------------------

    def register(self, result, *, refit_rows: pd.DataFrame, spec_now: Sequence[Mapping],
                 training_rows: pd.DataFrame, classifier: str) -> ModelVersion:
        """Register the training ``result`` (a :class:`~retail_lift.predict.train.TrainResult`); ``refit_rows``:
        the labelled train rows the chosen model was refitted on; ``training_rows``: the fit table without
        its score rows."""
        spec = result.feature_spec
        source = list(spec.source_columns)
        reference = refit_rows[source]
        if len(reference) > REFERENCE_ROWS:
            keep = np.sort(np.random.default_rng(0).choice(len(reference), REFERENCE_ROWS, replace=False))
            reference = reference.iloc[keep]
        reference = reference.reset_index(drop=True)
        m = result.metrics
        metrics = {f"{r.model}.{r.split}.{r.metric}": float(r.value) for r in m.itertuples(index=False)}
        record = {
            "classifier": classifier,
            "kind": result.chosen_model,
            "label": result.label,
            "threshold": float(result.threshold),
            "validation": result.validation,
            "params": self.params,
            "metrics": metrics,
            "feature_spec": list(spec_now),
            "model_features": source,
            "encoded_features": list(result.feature_columns),
            "training_data": frame_fingerprint(refit_rows),
            "splits": [{k: (None if pd.isna(v) else str(v) if isinstance(v, pd.Timestamp) else v)
                        for k, v in row.items()} for row in result.splits.to_dict("records")],
            "model_card": {
                "intended_use": f"{classifier}: probability of {result.label} for the score snapshot",
                "chosen_model": result.chosen_model,
                "compared_models": sorted(set(m["model"])),
                "top_features": result.feature_importance.head(10)["feature"].tolist(),
                "refit_rows": int(len(refit_rows)),
                "refit_positives": int(pd.to_numeric(refit_rows[result.label]).sum()),
            },
            "training_reason": self.decision.reason if self.decision is not None else "trained without a decision",
        }
        payload = {"model": result.model, "spec": spec, "kind": result.chosen_model,
                   "threshold": float(result.threshold)}
        return self.store.register(self.name, payload, record=record, alias=self.settings.alias,
                                   artifacts={"training_rows": training_rows, "drift_reference": reference})
