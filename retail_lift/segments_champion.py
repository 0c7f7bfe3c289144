"""The customer segments' registered champion: train = fit the scaler and k-means for every k and choose k;
score = assign every buyer with the champion (:class:`~retail_lift.segments.SegmentModel`).

``ml_customer_segments_fit`` asks :meth:`SegmentsRegistry.decide` whether to train
(:class:`~retail_lift.champion.FrameRegistry`: retrain var, no champion, bad file, spec, age, drift, changed fit
settings). Training registers the :class:`~retail_lift.segments.SegmentModel` (transform, k-means of the
chosen k, label map, segment names, the medians missing values take) as ``model.pkl``, the fit table's
``run`` and ``k_score`` rows (artifact ``training_rows``: the k choice) and the buyers' clustering features
(artifact ``drift_reference``). Scoring repeats those rows and assigns the buyers of this build
(:func:`~retail_lift.segments.score_segment_table`).

What the spec is: the buyers' columns the fit reads (``customer_id``, the clustering and the profile columns),
names and kinds in order. What drift is: the PSI of the clustering columns of the buyers now against those
the champion was fitted on (missing values as a bin of their own).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from retail_lift.champion import FrameRegistry, metrics_of
from retail_lift.registry import ModelRegistry, ModelVersion, RegistrySettings
from retail_lift.segments import SegmentModel

__all__ = ["SEGMENTS_MODEL", "SegmentsRegistry"]

#: the registered model of the segments (the dbt model that trains)
SEGMENTS_MODEL = "ml_customer_segments_fit"


class SegmentsRegistry(FrameRegistry):
    """The segments model in a store (module docstring); ``columns``: the clustering columns,
    ``profile_columns``: the columns the segments are described by."""

    name = SEGMENTS_MODEL
    family = "segments"
    artifact_names = ("training_rows",)

    def __init__(self, store: ModelRegistry, settings: RegistrySettings | None = None, params: Mapping | None = None,
                 *, columns: Sequence[str], profile_columns: Sequence[str]):
        super().__init__(store, settings, params)
        self.columns = tuple(columns)
        self.spec_columns = ("customer_id", *columns, *profile_columns)

    def check_payload(self, payload) -> bool:
        return isinstance(payload, SegmentModel)

    def drift_frame(self, inputs: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({c: pd.to_numeric(inputs[c], errors="coerce").astype(float) for c in self.columns})

    def register_fit(self, buyers: pd.DataFrame, model: SegmentModel, table: pd.DataFrame) -> ModelVersion:
        """Register a training of ``buyers``: the ``model`` and the fit ``table``'s run and k_score rows."""
        kind = table["record_type"].astype(str)
        rows = table[kind.isin(["run", "k_score"])].reset_index(drop=True)
        scores = rows[rows["record_type"] == "k_score"]
        metrics = [(f"k{int(r.k)}.{m}", getattr(r, m)) for r in scores.itertuples(index=False)
                   for m in ("inertia", "silhouette", "calinski_harabasz", "davies_bouldin")]
        profiles = table[kind == "profile"]
        return self.register(
            buyers, model, artifacts={"training_rows": rows}, metrics=metrics_of(metrics),
            model_card={
                "intended_use": "customer segments: k-means on scaled RFM and tenure, k by silhouette",
                "k": model.k, "segments": list(model.names), "buyers": int(len(buyers)),
                "segment_sizes": [int(v) for v in profiles["size"]],
                "log_columns": list(model.log_columns),
            })
