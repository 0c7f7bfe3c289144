"""A registered model fitted on one input frame: CLV, segments and cross-sell rules (the classifiers have their
own, :mod:`retail_lift.predict.champion`).

:class:`FrameRegistry` ties such a model to a :class:`~retail_lift.registry.ModelRegistry`:

* :meth:`~FrameRegistry.decide` asks :func:`~retail_lift.registry.training_decision` whether to train or
  score: the champion's file is loaded (and checked), its spec (:attr:`~FrameRegistry.spec_columns` of the
  input frame, names and kinds in order) compared with the current one, and its drift measured (the PSI of
  the columns of the frame :meth:`~FrameRegistry.drift_frame` returns against the reference recorded at
  training). The models are fitted on every input row, so the PSI at training is 0 by construction: any
  column above the threshold retrains. The fit settings are recorded; a build whose settings differ from
  the champion's trains (its tables would not be what the settings say).
* :meth:`~FrameRegistry.register` records a training: the payload (one pickle), its named artifacts, the
  drift reference (a seeded sample above :data:`REFERENCE_ROWS`), metrics, the spec, the input fingerprint
  and the model-card inputs.
* :meth:`~FrameRegistry.champion_for_scoring` is the champion of a table built from the trainer's model
  (e.g. the CLV scores): it never trains; a spec mismatch or a bad file stops, naming the model that retrains.

A family subclass names the model, its spec and drift columns and checks its payload (:meth:`check_payload`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retail_lift.predict.drift import population_stability_index
from retail_lift.registry import (
    CHAMPION,
    ModelFileError,
    ModelMismatchError,
    ModelRegistry,
    ModelVersion,
    RegistrySettings,
    TrainingDecision,
    feature_spec_of,
    frame_fingerprint,
    spec_differences,
    training_decision,
)

__all__ = ["REFERENCE_ROWS", "FrameChampion", "FrameRegistry", "metrics_of"]

#: at most this many rows are kept as the drift reference (a seeded sample above it)
REFERENCE_ROWS = 500_000


@dataclass
class FrameChampion:
    """The champion a score-only build applies: its version, the loaded payload and its artifacts."""

    version: ModelVersion
    payload: object
    artifacts: dict[str, pd.DataFrame]


class FrameRegistry:
    """One registered model fitted on an input frame (module docstring). ``settings``: the build's registry
    settings; ``params``: the fit settings recorded with a training (a champion trained with others retrains)."""

    #: the registered model's name (the dbt model that trains)
    name: str = ""
    #: the family written to the record
    family: str = ""
    #: the input columns the spec is made of, in order (those present)
    spec_columns: tuple[str, ...] = ()
    #: the artifacts a champion is loaded with (besides ``drift_reference``)
    artifact_names: tuple[str, ...] = ()

    def __init__(self, store: ModelRegistry, settings: RegistrySettings | None = None, params: Mapping | None = None):
        self.store = store
        self.settings = settings if settings is not None else RegistrySettings()
        self.params = dict(params or {})
        self.champion: FrameChampion | None = None
        self.decision: TrainingDecision | None = None
        #: PSI per drift column of the rows now against the champion's (measured by decide)
        self.drift: dict[str, float] | None = None

    # ---- what a family says ----------------------------------------------------------------------

    def check_payload(self, payload) -> bool:
        """Whether a loaded model file holds this family's payload."""
        raise NotImplementedError

    def drift_frame(self, inputs: pd.DataFrame) -> pd.DataFrame:
        """The numeric columns whose PSI is the drift trigger (one row per input row, or per item)."""
        raise NotImplementedError

    def spec(self, inputs: pd.DataFrame) -> list[dict]:
        """The input spec: :attr:`spec_columns` of ``inputs`` (those present), names and kinds in order."""
        return feature_spec_of(inputs, [c for c in self.spec_columns if c in inputs.columns])

    def fingerprint(self, inputs: pd.DataFrame) -> dict:
        """The training data's fingerprint (of :attr:`spec_columns`)."""
        return frame_fingerprint(inputs[[c for c in self.spec_columns if c in inputs.columns]])

    def drift_reference(self, inputs: pd.DataFrame) -> pd.DataFrame:
        """What a training records to measure drift against: :meth:`drift_frame` (a seeded sample of
        :data:`REFERENCE_ROWS` above it)."""
        reference = self.drift_frame(inputs)
        if len(reference) > REFERENCE_ROWS:
            keep = np.sort(np.random.default_rng(0).choice(len(reference), REFERENCE_ROWS, replace=False))
            reference = reference.iloc[keep]
        return reference.reset_index(drop=True)

    def measure_drift(self, reference: pd.DataFrame, inputs: pd.DataFrame) -> dict[str, float]:
        """PSI per column of the current :meth:`drift_frame` against the recorded ``reference``, over the columns
        both have (a champion recorded by an older version of the drift columns is measured on those it shares)."""
        now = self.drift_frame(inputs)
        return {c: population_stability_index(reference[c], now[c]) for c in reference.columns if c in now.columns}

    # ---- score or train --------------------------------------------------------------------------

    def load(self, version: ModelVersion) -> FrameChampion:
        payload = self.store.load_model(version)
        if not self.check_payload(payload):
            raise ModelFileError(f"{self.name} version {version.version}: {version.model_file} does not hold a "
                                 f"{self.family} model")
        artifacts = {a: self.store.load_artifact(version, a) for a in (*self.artifact_names, "drift_reference")}
        return FrameChampion(version=version, payload=payload, artifacts=artifacts)

    def champion_for_scoring(self, inputs: pd.DataFrame) -> FrameChampion | None:
        """The champion a table built from this model applies to ``inputs`` (None: none registered). A spec
        mismatch or an unusable file raises :class:`~retail_lift.registry.ModelMismatchError` naming the model
        (its trainer runs first in a build and retrains in both cases: this only happens when such a table is
        built alone)."""
        version = self.store.get_alias(self.name, CHAMPION)
        if version is None:
            return None
        diff = spec_differences(version.feature_spec, self.spec(inputs))
        if diff:
            raise ModelMismatchError(f"{self.name} champion version {version.version} was trained on other "
                                     f"inputs than the current ones: {'; '.join(diff)} (build "
                                     f"{self.name} first: it retrains)")
        try:
            return self.load(version)
        except ModelFileError as exc:
            raise ModelMismatchError(f"{exc} (build {self.name} first: it retrains)") from exc

    def decide(self, inputs: pd.DataFrame) -> TrainingDecision:
        """Train or score, given the current inputs. When it scores, :attr:`champion` is loaded."""
        s = self.settings
        version = None if s.retrain else self.store.get_alias(self.name, CHAMPION)
        champion, error, diff, drift = None, None, (), None
        if version is not None:
            diff = spec_differences(version.feature_spec, self.spec(inputs))
            try:
                champion = self.load(version)
            except ModelFileError as exc:
                champion, error = None, str(exc)
            reference = champion.artifacts["drift_reference"] if champion is not None else None
            if champion is not None and not diff and len(inputs) and len(reference):
                drift = self.drift = self.measure_drift(reference, inputs)
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

    # ---- record a training -----------------------------------------------------------------------

    def register(self, inputs: pd.DataFrame, payload, *, artifacts: Mapping[str, pd.DataFrame],
                 metrics: Mapping[str, float | None], model_card: Mapping) -> ModelVersion:
        """Register a training of ``inputs``: the ``payload``, its ``artifacts``, the drift reference, the
        ``metrics`` and the ``model_card`` inputs."""
        record = {
            "family": self.family,
            "params": self.params,
            "metrics": dict(metrics),
            "feature_spec": self.spec(inputs),
            "training_data": self.fingerprint(inputs),
            "model_card": dict(model_card),
            "training_reason": self.decision.reason if self.decision is not None else "trained without a decision",
        }
        return self.store.register(self.name, payload, record=record, alias=self.settings.alias,
                                   artifacts={**artifacts, "drift_reference": self.drift_reference(inputs)})


def metrics_of(values: Sequence[tuple[str, object]]) -> dict[str, float | None]:
    """JSON-able metrics: NaN and missing values as None."""
    return {k: (None if v is None or pd.isna(v) else float(v)) for k, v in values}
