"""``python_models/ml/segments/``: the customer segments (``ml_customer_segments_fit``).

Model store (``store``, a :class:`~retail_lift.registry.ModelRegistry`; the dbt model opens the one beside the
warehouse file): ``ml_customer_segments_fit`` is a registered model (:mod:`retail_lift.segments_champion`). It
trains (scaler, k-means for every k, the k choice; registered as the new champion) only when
:func:`~retail_lift.registry.training_decision` says so (config keys ``retrain``, ``max_model_age_days``,
``registry_on_mismatch``, ``registry_alias`` from the dbt vars of the same names) or its fit settings changed;
otherwise the champion assigns this build's buyers (:func:`~retail_lift.segments.score_segment_table`). Every
row carries ``model_version`` and ``trained_at``, the run row ``registry_action`` and ``registry_reason``.
``store=None`` trains in every call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from retail_lift.frames import as_frame, log_line
from retail_lift.model_gate import heavy
from retail_lift.segments import score_segment_table, segment_fit, segment_fit_columns
from retail_lift.segments_champion import SegmentsRegistry
from retail_lift.tables._config import read_relation
from retail_lift.tables._registry import NO_STORE, RegisteredModelConfig, check_registry_store, stamp_fit_table

__all__ = ["SEGMENT_FEATURES", "SEGMENT_FIT_COLUMNS", "SEGMENT_PROFILE_FEATURES", "CustomerSegmentsFitConfig",
           "ml_customer_segments_fit"]

#: the columns of fct_customer_features the segments use (the table has 50; a million customers in two snapshots)
FEATURE_COLUMNS = ("customer_id", "snapshot_role", "days_since_first_order", "avg_order_value", "sessions_all",
                   "discounted_order_share", "online_order_share", "age_band")
#: clustered on: recency, frequency and monetary of dim_customer_rfm, the tenure of the score snapshot
SEGMENT_FEATURES = ("recency_days", "frequency", "monetary", "days_since_first_order")
#: described by (``young_share`` = share aged 18-34 feeds the ``budget-conscious young`` naming rule)
SEGMENT_PROFILE_FEATURES = ("avg_order_value", "sessions_all", "discounted_order_share", "online_order_share",
                            "young_share")
YOUNG_AGE_BANDS = ("18-24", "25-34")
#: the columns of ml_customer_segments_fit
SEGMENT_FIT_COLUMNS = {**segment_fit_columns(SEGMENT_FEATURES, SEGMENT_PROFILE_FEATURES), "model_version": "int",
                       "trained_at": "ts", "registry_action": "str", "registry_reason": "str"}


@dataclass(frozen=True)
class CustomerSegmentsFitConfig(RegisteredModelConfig):
    """The settings of ``ml_customer_segments_fit`` and their defaults (its yml states the same), with the
    registry's (:class:`~retail_lift.tables._registry.RegisteredModelConfig`)."""

    _model: ClassVar[str] = "ml_customer_segments_fit"

    #: the smallest and the largest k tried (both included); k is chosen by the mean silhouette
    k_range: tuple[int, int] = (2, 8)
    #: seed of k-means and of the silhouette sample
    random_state: int = 0
    #: buyers in the seeded sample the silhouette is computed on
    sample_size: int = 5000
    #: k-means restarts (k-means++)
    n_init: int = 4

    def __post_init__(self):
        k = tuple(self.k_range)
        if len(k) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in k) or not 2 <= k[0] <= k[1]:
            raise ValueError(f"ml_customer_segments_fit: k_range must be two integers 2 <= k_min <= k_max, "
                             f"got {self.k_range!r}")
        object.__setattr__(self, "k_range", k)
        for name in ("random_state", "sample_size", "n_init"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < (0 if name == "random_state" else 1):
                raise ValueError(f"ml_customer_segments_fit: {name} must be an integer "
                                 f"{'>= 0' if name == 'random_state' else '>= 1'}, got {value!r}")
        self.check_registry_settings()

    def fit_settings(self) -> dict:
        """The settings a training records: a champion trained with others is retrained."""
        return {"k_range": list(self.k_range), "random_state": self.random_state, "sample_size": self.sample_size,
                "n_init": self.n_init}


@heavy
def ml_customer_segments_fit(relations: Mapping[str, object],
                             config: CustomerSegmentsFitConfig = CustomerSegmentsFitConfig(), *,
                             store=None) -> pd.DataFrame:
    """The segmentation fit table (:func:`retail_lift.segments.segment_fit_table`) of the buyers.

    ``relations``: ``dim_customer_rfm`` (the population: customers with at least one order by the snapshot
    date; recency, frequency, monetary) and ``fct_customer_features`` (only :data:`FEATURE_COLUMNS` read; its
    score snapshot gives the tenure and the profile columns). Clustered on :data:`SEGMENT_FEATURES`,
    described by :data:`SEGMENT_PROFILE_FEATURES`; columns :data:`SEGMENT_FIT_COLUMNS`.
    """
    model = "ml_customer_segments_fit"
    check_registry_store(store, model)
    buyers = _buyers(relations)
    registry = None
    if store is not None:
        registry = SegmentsRegistry(store, config.registry_settings(), params=config.fit_settings(),
                                    columns=SEGMENT_FEATURES, profile_columns=SEGMENT_PROFILE_FEATURES)
        decision = registry.decide(buyers)
        if not decision.trains:
            champion = registry.champion
            table = score_segment_table(buyers, champion.payload, champion.artifacts["training_rows"],
                                        profile_columns=SEGMENT_PROFILE_FEATURES)
            log_line(f"{model}: {decision.reason}; {len(buyers)} buyers assigned")
            return stamp_fit_table(table, champion.version, "score", decision.reason)
    k_min, k_max = config.k_range
    table, fitted = segment_fit(buyers, SEGMENT_FEATURES, profile_columns=SEGMENT_PROFILE_FEATURES,
                                k_range=range(k_min, k_max + 1), random_state=config.random_state,
                                sample_size=config.sample_size, n_init=config.n_init)
    if registry is None:
        return stamp_fit_table(table, None, "train", NO_STORE)
    version = registry.register_fit(buyers, fitted, table) if fitted is not None else None
    return stamp_fit_table(table, version, "train", registry.decision.reason)


def _buyers(relations: Mapping[str, object]) -> pd.DataFrame:
    """The buyers of ``dim_customer_rfm`` with their score-snapshot features (:data:`FEATURE_COLUMNS`)."""
    rfm = as_frame(read_relation(relations["dim_customer_rfm"]))[["customer_id", "recency_days", "frequency",
                                                                  "monetary"]]
    f = as_frame(read_relation(relations["fct_customer_features"], FEATURE_COLUMNS))
    f = f[f["snapshot_role"] == "score"]
    f = f[["customer_id", "days_since_first_order", "avg_order_value", "sessions_all", "discounted_order_share",
           "online_order_share", "age_band"]]
    buyers = rfm.merge(f, on="customer_id", how="left")
    buyers["young_share"] = buyers["age_band"].isin(YOUNG_AGE_BANDS).astype(float)
    return buyers
