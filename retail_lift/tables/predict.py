"""``python_models/ml/predict/``: the four classifier fit tables and the fairness of the purchase propensity.

One function per dbt Python model, named like it, and one typed config each (its defaults; the model's yml
states the same). What is *table wiring* and stays here: which mart each classifier reads, its rows (the
returning customers' population), its label (derived from ``acquisition_channel`` for the look-alike model)
and the columns it leaves out, the settings of each use case, and which rows and columns of a relation are
read. The training itself (train, compare, score once, degrade on small data, cap the train rows, stack
into the fit table) and the fairness table computed from a fit table are algorithms of the ``predict``
family (:mod:`retail_lift.predict.fit_table`): they know nothing of the warehouse or dbt.

Model store: the four fit functions take ``store``, a :class:`~retail_lift.registry.ModelRegistry` (the dbt
models open the one beside the warehouse file, :func:`retail_lift.tables.model_store`). With a store, a call
scores with the registered champion and trains only when :func:`~retail_lift.registry.training_decision`
says so (config keys ``retrain``, ``max_model_age_days``, ``registry_on_mismatch``, from the dbt vars of the
same names); the training is then registered as the new champion. ``store=None`` trains in every call.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import pandas as pd

from retail_lift.frames import as_frame
from retail_lift.model_gate import heavy
from retail_lift.predict import MODEL_KINDS, derive_label
from retail_lift.predict.champion import ClassifierRegistry
from retail_lift.predict.fit_table import LABELLED_ROLES, classifier_fit_table, fairness_table
from retail_lift.registry import ModelRegistry
from retail_lift.tables._config import RegistryKeys, check_registry_settings, check_store, read_relation

__all__ = [
    "CATEGORY_PARAMS",
    "FAST_PARAMS",
    "USE_CASES",
    "CategoryPropensityFitConfig",
    "FacebookAcquisitionFitConfig",
    "PurchasePropensityFairnessConfig",
    "PurchasePropensityFitConfig",
    "ReturningCustomerFitConfig",
    "UseCase",
    "ml_category_propensity_fit",
    "ml_facebook_acquisition_fit",
    "ml_purchase_propensity_fairness",
    "ml_purchase_propensity_fit",
    "ml_returning_customer_fit",
]

#: Hyper-parameters for the 2-core build budget (see the report in the models' yml): fewer, larger
#: boosting steps than the package defaults; measured to lose < 0.002 holdout AUC on the default world.
FAST_PARAMS: dict[str, dict] = {
    "xgboost": {"n_estimators": 150, "learning_rate": 0.1},
    "catboost": {"iterations": 150, "depth": 4, "learning_rate": 0.15},
}
#: The customer x category model has ~300k train rows: a shallow, short xgboost and 2 calibration folds
#: (measured on the default world: 19 -> 13 CPU seconds, holdout AUC 0.832 either way).
CATEGORY_PARAMS: dict[str, dict] = {"xgboost": {"n_estimators": 60, "learning_rate": 0.2, "max_depth": 3}}

#: the channel of the look-alike model ml_facebook_acquisition_fit (its label is ``is_<channel>_acquired``)
ACQUISITION_CHANNEL = "facebook"


@dataclass(frozen=True)
class UseCase:
    """What a classifier is (not a setting): its name, the mart column it predicts, the columns it leaves out."""

    classifier: str
    label: str
    exclude: tuple[str, ...]
    id_cols: tuple[str, ...] = ("customer_id",)
    id_features: tuple[str, ...] = ()


#: the four classifiers, by their ``classifier`` value in the fit tables
USE_CASES: Mapping[str, UseCase] = {
    "purchase_propensity": UseCase("purchase_propensity", "purchased_next_30d", ("orders_next_30d",)),
    "category_propensity": UseCase("category_propensity", "purchased_category_next_30d", ("spend_next_30d",),
                                   id_cols=("customer_id", "top_level_category_id"),
                                   id_features=("top_level_category_id",)),
    "returning_customer": UseCase("returning_customer", "returned", ("orders_next_30d",)),
    "facebook_acquisition": UseCase("facebook_acquisition", f"is_{ACQUISITION_CHANNEL}_acquired",
                                    ("orders_next_30d", "acquisition_channel")),
}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _fail(model: str, key: str, what: str, value) -> None:
    raise ValueError(f"{model}: {key} must be {what}, got {value!r}")


@dataclass(frozen=True)
class _ClassifierFitConfig(RegistryKeys):
    """The settings every classifier fit shares (each model's subclass holds its defaults; the registry's keys
    are :class:`~retail_lift.tables._config.RegistryKeys`)."""

    MODEL: ClassVar[str] = ""

    #: the model kinds compared (logistic, xgboost, catboost); the best by validation log loss is kept
    model_kinds: tuple[str, ...] = ("xgboost",)
    #: hyper-parameters per model kind (a kind not compared is ignored)
    model_params: Mapping[str, Mapping] = field(default_factory=lambda: copy.deepcopy(FAST_PARAMS))
    #: each class needs at least this many labelled train rows, else the fit table is just the run row
    min_class_rows: int = 10
    #: a seeded sample of at most this many labelled rows per snapshot trains (each class in proportion)
    max_train_rows: int | None = 1_000_000
    #: class weights: true (balanced), false, or auto (balanced below a 20 % minority class)
    balance: bool | str = "auto"
    #: calibration folds
    cv: int = 3

    def __post_init__(self):
        m = self.MODEL
        check_registry_settings(self, m)
        kinds = self.model_kinds
        if isinstance(kinds, str) or not isinstance(kinds, list | tuple) or not kinds \
                or any(k not in MODEL_KINDS for k in kinds) or len(set(kinds)) != len(kinds):
            _fail(m, "model_kinds", f"a non-empty list of distinct model kinds among {list(MODEL_KINDS)}", kinds)
        object.__setattr__(self, "model_kinds", tuple(kinds))
        params = self.model_params
        if not isinstance(params, Mapping) or any(k not in MODEL_KINDS or not isinstance(v, Mapping)
                                                  for k, v in params.items()):
            _fail(m, "model_params", f"a mapping from a model kind among {list(MODEL_KINDS)} to its parameters",
                  params)
        object.__setattr__(self, "model_params", {k: dict(v) for k, v in params.items()})
        if not _is_int(self.min_class_rows) or self.min_class_rows < 1:
            _fail(m, "min_class_rows", "an integer >= 1", self.min_class_rows)
        if self.max_train_rows is not None and (not _is_int(self.max_train_rows) or self.max_train_rows < 1):
            _fail(m, "max_train_rows", "an integer >= 1 (or None in Python: no cap)", self.max_train_rows)
        if not (isinstance(self.balance, bool) or self.balance == "auto"):
            _fail(m, "balance", "true, false or auto", self.balance)
        if not _is_int(self.cv) or self.cv < 2:
            _fail(m, "cv", "an integer >= 2", self.cv)


@dataclass(frozen=True)
class PurchasePropensityFitConfig(_ClassifierFitConfig):
    """The settings of ``ml_purchase_propensity_fit`` and their defaults (its yml states the same)."""

    MODEL: ClassVar[str] = "ml_purchase_propensity_fit"
    model_kinds: tuple[str, ...] = ("logistic", "xgboost", "catboost")


@dataclass(frozen=True)
class CategoryPropensityFitConfig(_ClassifierFitConfig):
    """The settings of ``ml_category_propensity_fit`` and their defaults (its yml states the same)."""

    MODEL: ClassVar[str] = "ml_category_propensity_fit"
    model_params: Mapping[str, Mapping] = field(default_factory=lambda: copy.deepcopy(CATEGORY_PARAMS))
    cv: int = 2


@dataclass(frozen=True)
class ReturningCustomerFitConfig(_ClassifierFitConfig):
    """The settings of ``ml_returning_customer_fit`` and their defaults (its yml states the same)."""

    MODEL: ClassVar[str] = "ml_returning_customer_fit"
    balance: bool | str = True


@dataclass(frozen=True)
class FacebookAcquisitionFitConfig(_ClassifierFitConfig):
    """The settings of ``ml_facebook_acquisition_fit`` and their defaults (its yml states the same)."""

    MODEL: ClassVar[str] = "ml_facebook_acquisition_fit"
    balance: bool | str = True


def _registry(store, config: _ClassifierFitConfig) -> ClassifierRegistry | None:
    """The classifier's registry in ``store`` (None: no store, train in every call)."""
    if store is None:
        return None
    if not isinstance(store, ModelRegistry):
        raise TypeError(f"{config.MODEL}: store must be a retail_lift.registry.ModelRegistry or None, "
                        f"got {type(store).__name__}")
    settings = config.registry_settings()
    params = {"model_kinds": list(config.model_kinds), "model_params": config.model_params,
              "min_class_rows": config.min_class_rows, "max_train_rows": config.max_train_rows,
              "balance": config.balance, "cv": config.cv}
    return ClassifierRegistry(store, config.MODEL, settings, params=params)


def _fit(use_case: UseCase, features, config: _ClassifierFitConfig, float_rounds: int = 1, store=None) -> pd.DataFrame:
    """:func:`~retail_lift.predict.fit_table.classifier_fit_table` of ``use_case`` with ``config`` (and the
    classifier's registry in ``store``)."""
    params = {k: v for k, v in config.model_params.items() if k in config.model_kinds} or None
    return classifier_fit_table(
        features, use_case.label, classifier=use_case.classifier, id_cols=use_case.id_cols,
        models=config.model_kinds, min_class_rows=config.min_class_rows, max_train_rows=config.max_train_rows,
        float_rounds=float_rounds, exclude=use_case.exclude, id_features=use_case.id_features,
        model_params=params, balance=config.balance, cv=config.cv, registry=_registry(store, config))


def _arrow_input(data):
    """An Arrow table from an Arrow table or a DuckDB relation; None for pandas (and anything else)."""
    import pyarrow as pa

    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.Table):
        return data
    if not isinstance(data, pd.DataFrame) and hasattr(data, "to_arrow_table"):
        return data.to_arrow_table()
    return None


@heavy
def ml_purchase_propensity_fit(relations: Mapping[str, object],
                               config: PurchasePropensityFitConfig = PurchasePropensityFitConfig(), *,
                               store=None) -> pd.DataFrame:
    """Purchase in the next 30 days per customer (``fct_customer_features``): the model kinds compared on the
    out-of-time snapshots, the best by log loss refitted on the train snapshot and scored.

    ``relations``: ``fct_customer_features`` (a DuckDB relation is read as Arrow; only the rows that train
    or are scored become pandas)."""
    return _fit(USE_CASES["purchase_propensity"], relations["fct_customer_features"], config, store=store)


@heavy
def ml_category_propensity_fit(relations: Mapping[str, object],
                               config: CategoryPropensityFitConfig = CategoryPropensityFitConfig(), *,
                               store=None) -> pd.DataFrame:
    """Purchase in a top-level category in the next 30 days per customer x category; the category is also a
    feature. ``relations``: ``fct_customer_category_features``."""
    return _fit(USE_CASES["category_propensity"], relations["fct_customer_category_features"], config,
                store=store)


@heavy
def ml_returning_customer_fit(relations: Mapping[str, object],
                              config: ReturningCustomerFitConfig = ReturningCustomerFitConfig(), *,
                              store=None) -> pd.DataFrame:
    """Second order within 30 days for first-time buyers: trained on the labelled snapshots' first-time buyers
    (``returned`` not missing), scored on the score snapshot's customers with exactly one order.
    ``relations``: ``fct_customer_features``."""
    use_case = USE_CASES["returning_customer"]
    features = relations["fct_customer_features"]
    table = _arrow_input(features)
    if table is not None:  # Arrow / a DuckDB relation: filtered in Arrow, the rest as classifier_fit_table's
        import pyarrow as pa
        import pyarrow.compute as pc

        role = table.column("snapshot_role")
        labelled_role = pc.is_in(role, value_set=pa.array(list(LABELLED_ROLES)))
        keep = pc.or_(pc.and_(labelled_role, pc.is_valid(table.column("returned"))),
                      pc.and_(pc.equal(role, "score"), pc.equal(table.column("orders_all"), 1)))
        table = table.filter(pc.fill_null(keep, False))
        return _fit(use_case, table, config, float_rounds=2, store=store)
    frame = as_frame(features)
    roles = frame["snapshot_role"].astype(object)
    keep = (roles.isin(LABELLED_ROLES) & frame["returned"].notna()) | ((roles == "score") & (frame["orders_all"] == 1))
    return _fit(use_case, frame[keep.to_numpy()].reset_index(drop=True), config, store=store)


@heavy
def ml_facebook_acquisition_fit(relations: Mapping[str, object],
                                config: FacebookAcquisitionFitConfig = FacebookAcquisitionFitConfig(), *,
                                store=None) -> pd.DataFrame:
    """Did the customer come from facebook? A look-alike classifier on everything but the acquisition channel
    itself (excluded: it *is* the label). ``relations``: ``fct_customer_features``."""
    use_case = USE_CASES["facebook_acquisition"]
    features = relations["fct_customer_features"]
    table = _arrow_input(features)
    if table is not None:  # Arrow / a DuckDB relation: the label derived in Arrow (as derive_label does)
        import pyarrow as pa
        import pyarrow.compute as pc

        src = table.column("acquisition_channel")
        is_channel = pc.if_else(pc.is_null(src), pa.scalar(None, pa.float64()),
                                pc.cast(pc.equal(src, ACQUISITION_CHANNEL), pa.float64()))
        table = table.append_column(use_case.label, is_channel)
        return _fit(use_case, table, config, float_rounds=2, store=store)
    frame = derive_label(as_frame(features), "acquisition_channel", ACQUISITION_CHANNEL, name=use_case.label)
    return _fit(use_case, frame, config, store=store)


# ----------------------------------------------------------------------------------------------
# fairness
# ----------------------------------------------------------------------------------------------

#: the columns of the fit table the fairness table reads (of its holdout rows)
FAIRNESS_FIT_COLUMNS = ("record_type", "is_chosen_model", "customer_id", "model", "label", "is_above_threshold")


@dataclass(frozen=True)
class PurchasePropensityFairnessConfig:
    """The settings of ``ml_purchase_propensity_fairness`` and their defaults (its yml states the same)."""

    MODEL: ClassVar[str] = "ml_purchase_propensity_fairness"

    #: the columns of dim_customers whose groups are compared
    attributes: tuple[str, ...] = ("gender", "age_band")
    #: a gap above it is flagged (is_parity_gap_flagged, is_opportunity_gap_flagged)
    fairness_threshold: float = 0.1
    #: groups with fewer customers (positives, for the TPR gap) are reported but not compared
    min_group_size: int = 30
    #: bootstrap resamples of the gaps' percentile intervals
    bootstrap_resamples: int = 1000
    #: level of the intervals
    ci_level: float = 0.95
    #: seed of the bootstrap
    bootstrap_seed: int = 0

    def __post_init__(self):
        m = self.MODEL
        attrs = self.attributes
        if isinstance(attrs, str) or not isinstance(attrs, list | tuple) or not attrs \
                or not all(isinstance(a, str) and a for a in attrs):
            _fail(m, "attributes", "a non-empty list of column names", attrs)
        object.__setattr__(self, "attributes", tuple(attrs))
        for key, ok, what in (("fairness_threshold", lambda v: v >= 0, "a number >= 0"),
                              ("ci_level", lambda v: 0 < v < 1, "a number between 0 and 1 (exclusive)")):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int | float) or not ok(v):
                _fail(m, key, what, v)
            object.__setattr__(self, key, float(v))
        for key, low in (("min_group_size", 1), ("bootstrap_resamples", 1), ("bootstrap_seed", 0)):
            v = getattr(self, key)
            if not _is_int(v) or v < low:
                _fail(m, key, f"an integer >= {low}", v)


def ml_purchase_propensity_fairness(relations: Mapping[str, object],
                                    config: PurchasePropensityFairnessConfig = PurchasePropensityFairnessConfig(),
                                    *, store=None) -> pd.DataFrame:
    """Targeting rate, precision and TPR by group on the chosen model's holdout customers, gaps with intervals
    (:func:`~retail_lift.predict.fit_table.fairness_table`).

    ``relations``: ``ml_purchase_propensity_fit`` (of a DuckDB relation only the holdout rows and
    :data:`FAIRNESS_FIT_COLUMNS` are read: the fit table also holds every score row) and ``dim_customers``
    (``customer_id`` and the attributes)."""
    check_store(store, PurchasePropensityFairnessConfig.MODEL)
    fit = relations["ml_purchase_propensity_fit"]
    if not isinstance(fit, pd.DataFrame) and hasattr(fit, "project"):  # a DuckDB relation
        fit = fit.filter("record_type = 'holdout'")
    fit = read_relation(fit, FAIRNESS_FIT_COLUMNS)
    customers = read_relation(relations["dim_customers"], list(dict.fromkeys(["customer_id", *config.attributes])))
    return fairness_table(fit, customers, attributes=config.attributes, threshold=config.fairness_threshold,
                          min_group_size=config.min_group_size, n_resamples=config.bootstrap_resamples,
                          ci_level=config.ci_level, random_state=config.bootstrap_seed)
