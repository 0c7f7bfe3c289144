"""``python_models/ml/uplift/``: the uplift models, trained once, scored every build (``ml_uplift_run``).

``ml_uplift_run`` returns every output table of :func:`retail_lift.uplift.pipeline.fit_score_uplift`
stacked into one (:func:`long_table`; one row per output record, ``table_name`` says which table), and the
SQL models ``ml_customer_uplift``, ``ml_uplift_holdout_predictions``, ``ml_uplift_metrics``,
``ml_uplift_segments`` and ``ml_uplift_incremental_roi`` select their rows back out: the learners are
trained once, not five times. The table goes to the warehouse as Arrow (:func:`arrow_table`: the same
columns and types, built column by column without a wide pandas copy; the ``scores`` table has one row per
customer x arm).

Model store: ``ml_uplift_run`` takes ``store``, a :class:`~retail_lift.registry.ModelRegistry` (the dbt model
opens the one beside the warehouse file, :func:`retail_lift.tables.model_store`). With a store it scores with
the registered champion (the fitted learners of every experiment, one version) and trains only when
:meth:`~retail_lift.uplift.champion.UpliftRegistry.decide` says so (config keys ``retrain``,
``max_model_age_days``, ``registry_on_mismatch``, ``registry_alias``, from the dbt vars of the same names);
every row carries ``model_version``, ``trained_at``, ``registry_action`` and ``registry_reason``.
``store=None`` trains in every call.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retail_lift.frames import nullable_typed
from retail_lift.model_gate import heavy
from retail_lift.tables._config import REGISTRY_KEYS, RegistryKeys, check_registry_settings, read_relation
from retail_lift.uplift.champion import UpliftRegistry, uplift_run
from retail_lift.uplift.economics import promotions_by_id
from retail_lift.uplift.pipeline import UpliftResult, fit_score_uplift

__all__ = ["LONG_TYPES", "REGISTRY_COLUMNS", "REGISTRY_SETTINGS", "UpliftRunConfig", "arrow_table", "long_table",
           "ml_uplift_run", "typed_table", "uplift_run_table"]

#: the settings of :class:`UpliftRunConfig` that are the registry's (not ``fit_score_uplift``'s keywords)
REGISTRY_SETTINGS = REGISTRY_KEYS
#: the columns every row of ``ml_uplift_run`` carries: the version that made it, when it was trained, and
#: whether this build trained or scored, and why
REGISTRY_COLUMNS = ("model_version", "trained_at", "registry_action", "registry_reason")


@dataclass(frozen=True)
class UpliftRunConfig(RegistryKeys):
    """The settings of ``ml_uplift_run`` and their defaults (its yml states the same); each is the keyword of
    :func:`~retail_lift.uplift.pipeline.fit_score_uplift` of the same name (see there)."""

    #: ``"auto"`` (X- and T-learner compared by the nested selection) or ``"t"`` / ``"x"`` / ``"s"``
    learner: str = "auto"
    #: outcome-model family: ``"auto"`` (logistic and boosting compared), ``"logistic"`` or ``"boosting"``
    base_learner: str = "auto"
    #: cross-fitting folds; 0 or null: the single ``holdout`` split
    n_folds: int | None = 5
    #: folds of the inner cross-validation that chooses the learner
    inner_folds: int = 3
    #: share held out per experiment when ``n_folds`` is 0 / null
    holdout: float = 0.3
    #: seed of the folds, the learners and the placebo shuffles
    random_state: int = 0
    #: shares targeted for ``uplift_at_k`` and the ROI table
    k_fractions: tuple[float, ...] = (0.1, 0.2, 0.3)
    #: gross margin as a share of the full price
    margin_rate: float = 0.35
    #: |predicted uplift| below this: a sure thing or a lost cause
    uplift_threshold: float = 0.01
    #: placebo label shuffles per arm (0 skips the placebo)
    n_placebo: int = 100
    #: fewer exposures than this in the control or an arm: the arm is not estimable
    min_group_size: int = 20
    #: fewer conversions than this among an arm's exposures: the arm is not estimable
    min_treated_conversions: int = 10
    #: OpenMP / BLAS threads when scoring (and fitting experiments of 100,000 exposures or more)
    n_threads: int = 2
    #: processes of the placebo shuffles (the result does not depend on it)
    placebo_jobs: int = 1
    #: the nested selection of each fold and arm on at most this many training rows (null: all of them)
    selection_max_rows: int | None = 50_000
    #: the placebo test of an arm on a stratified sample of at most this many rows (null: all of them)
    placebo_max_rows: int | None = 50_000

    def __post_init__(self):
        # the conversions ml_uplift_run applied to its settings (a yml may give "5" or 5.0); the ranges are
        # checked by fit_score_uplift, which names the setting
        kinds = {"learner": str, "base_learner": str, "inner_folds": int, "holdout": float, "random_state": int,
                 "margin_rate": float, "uplift_threshold": float, "n_placebo": int, "min_group_size": int,
                 "min_treated_conversions": int, "n_threads": int, "placebo_jobs": int}
        for name, kind in kinds.items():
            object.__setattr__(self, name, _convert(name, getattr(self, name), kind))
        object.__setattr__(self, "n_folds", _convert("n_folds", self.n_folds, int) if self.n_folds else None)
        for name in ("selection_max_rows", "placebo_max_rows"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _convert(name, getattr(self, name), int))
        k = self.k_fractions
        if isinstance(k, (str, bytes)) or not hasattr(k, "__iter__"):
            raise ValueError(f"ml_uplift_run: k_fractions must be a list of fractions, got {k!r}")
        object.__setattr__(self, "k_fractions", tuple(_convert("k_fractions", v, float) for v in k))
        check_registry_settings(self, "ml_uplift_run")

    def fit_kwargs(self) -> dict:
        """The keywords of :func:`~retail_lift.uplift.pipeline.fit_score_uplift` (every field but the
        registry's, :data:`REGISTRY_SETTINGS`)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in REGISTRY_SETTINGS}


def _convert(name: str, value, kind):
    if kind is not str and (isinstance(value, bool) or value is None):
        raise ValueError(f"ml_uplift_run: {name} must be a number, got {value!r}")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"ml_uplift_run: {name} must be {'a number' if kind is not str else 'a string'}, "
                         f"got {value!r}") from None


def fit_score_uplift_defaults() -> dict:
    """The defaults of :func:`~retail_lift.uplift.pipeline.fit_score_uplift`'s keywords that are settings of
    ``ml_uplift_run`` (the family's own defaults; ``tests/python/test_tables.py`` checks they are the config's,
    so a direct call of the family and the dbt model agree)."""
    params = inspect.signature(fit_score_uplift).parameters
    return {f.name: params[f.name].default for f in dataclasses.fields(UpliftRunConfig)
            if f.name not in REGISTRY_SETTINGS}


#: Column types of the long table of :func:`long_table` (pandas nullable dtypes; float64 for any other column).
LONG_TYPES = {
    "table_name": "string", "customer_id": "string", "exposure_id": "string", "promotion_id": "string",
    "experiment_id": "string", "variant": "string", "learner": "string", "base_learner": "string",
    "segment": "string",
    "evaluation_method": "string", "fold": "Int64",
    "strategy": "string", "metric_name": "string", "note": "string",
    "is_treated": "boolean", "is_converted": "boolean", "is_selected_learner": "boolean",
    "uplift_rank": "Int64", "propensity_rank": "Int64", "customers": "Int64", "customers_targeted": "Int64",
    "n_treated": "Int64", "n_control": "Int64", "meets_target": "boolean",
}


def _arrow_types() -> dict:
    import pyarrow as pa

    return {"string": pa.string(), "Int64": pa.int64(), "boolean": pa.bool_(), "float64": pa.float64()}


class _LazyArrowTypes(dict):
    def __missing__(self, key):
        self.update(_arrow_types())
        return dict.__getitem__(self, key)


_ARROW_TYPES = _LazyArrowTypes()


def _arrow_column(s: pd.Series, dtype: str, arrow_type):
    """One column of :func:`arrow_table`: the values :func:`typed_table` gives, as Arrow (NaN -> null)."""
    import pyarrow as pa

    if dtype == "float64":
        values = s.to_numpy() if s.dtype == np.float64 else \
            pd.to_numeric(s, errors="coerce").astype("float64").to_numpy()
        return pa.array(values, type=arrow_type, from_pandas=True)
    if dtype == "string" and s.dtype == object:
        try:  # str values (and None / NaN) convert as they are; anything else as typed_table converts it
            return pa.array(s.to_numpy(), type=arrow_type, from_pandas=True)
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            pass
    return pa.array(s.astype(dtype), type=arrow_type, from_pandas=True)


def typed_table(df: pd.DataFrame) -> pd.DataFrame:
    """Columns cast to the nullable types of :data:`LONG_TYPES` (float64 otherwise), so that an empty
    table still has typed columns when a dbt model writes it."""
    return nullable_typed(df, LONG_TYPES)


def long_table(result: UpliftResult) -> pd.DataFrame:
    """The five tables of ``result`` stacked into one, with a ``table_name`` column and the union of their columns.

    A dbt Python model returns one table; ``ml_uplift_run`` returns this one and SQL models select
    each table back out of it (``where table_name = 'scores'``), so the learners are trained once.
    Columns a table does not have are NULL in its rows.
    """
    columns = ["table_name"]
    for name in UpliftResult.TABLES:
        columns += [c for c in getattr(result, name).columns if c not in columns]
    parts = []
    for name in UpliftResult.TABLES:
        part = getattr(result, name).copy()
        part.insert(0, "table_name", name)
        parts.append(part.reindex(columns=columns))
    return typed_table(pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True))


def arrow_table(result: UpliftResult):
    """:func:`long_table` as a ``pyarrow.Table`` (same columns, same types; NaN and missing values are
    nulls, as when the warehouse reads the pandas table), built table by table and column by column,
    without the wide intermediate pandas frames of :func:`long_table` (the ``scores`` table has one row
    per customer x arm)."""
    import pyarrow as pa

    columns = ["table_name"]
    for name in UpliftResult.TABLES:
        columns += [c for c in getattr(result, name).columns if c not in columns]
    schema = pa.schema([(c, _ARROW_TYPES[LONG_TYPES.get(c, "float64")]) for c in columns])
    parts = []
    for name in UpliftResult.TABLES:
        df = getattr(result, name)
        n = len(df)
        if not n:
            continue
        arrays = []
        for col, field in zip(columns, schema, strict=True):
            if col == "table_name":
                arrays.append(pa.array(np.full(n, name, dtype=object), type=field.type))
            elif col not in df.columns:
                arrays.append(pa.nulls(n, type=field.type))
            else:
                arrays.append(_arrow_column(df[col], LONG_TYPES.get(col, "float64"), field.type))
        parts.append(pa.Table.from_arrays(arrays, schema=schema))
    return pa.concat_tables(parts) if parts else schema.empty_table()


def uplift_run_table(training, scoring, srm: pd.DataFrame | None = None,
                     promotions: pd.DataFrame | Mapping | None = None, *, as_arrow: bool = False,
                     **kwargs) -> pd.DataFrame:
    """:func:`~retail_lift.uplift.pipeline.fit_score_uplift` as one long table (:func:`long_table`).

    ``training`` / ``scoring`` may be Arrow tables or DuckDB relations (see ``fit_score_uplift``);
    ``as_arrow=True`` returns the same table as a ``pyarrow.Table`` (:func:`arrow_table`), which
    ``ml_uplift_run`` hands to the warehouse without a wide pandas copy.

    ``promotions`` may be the promotions table (``promotion_id``, ``discount_rate``, ``contact_cost``);
    it is turned into the dict ``fit_score_uplift`` takes (:func:`~retail_lift.uplift.economics.promotions_by_id`).
    Other keyword arguments are passed on (``k_fractions`` may be a list); a keyword not given takes
    ``fit_score_uplift``'s default, which is :class:`UpliftRunConfig`'s.
    """
    if isinstance(promotions, pd.DataFrame):
        promotions = promotions_by_id(promotions)
    if "k_fractions" in kwargs and kwargs["k_fractions"] is not None:
        kwargs["k_fractions"] = tuple(float(k) for k in kwargs["k_fractions"])
    result = fit_score_uplift(training, scoring, srm=srm, promotions=promotions, **kwargs)
    return arrow_table(result) if as_arrow else long_table(result)


def _with_registry_columns(table, version: int | None, trained_at, action: str, reason: str):
    """``table`` (Arrow) with :data:`REGISTRY_COLUMNS`, the same on every row."""
    import pyarrow as pa

    n = table.num_rows
    when = None if trained_at is None else pd.Timestamp(trained_at).to_pydatetime()
    columns = {"model_version": pa.array([version] * n, type=pa.int64()),
               "trained_at": pa.array([when] * n, type=pa.timestamp("us")),
               "registry_action": pa.array([action] * n, type=pa.string()),
               "registry_reason": pa.array([reason] * n, type=pa.string())}
    for name, column in columns.items():
        table = table.append_column(name, column)
    return table


@heavy
def ml_uplift_run(relations: Mapping[str, object], config: UpliftRunConfig = UpliftRunConfig(), *, store=None):
    """``ml_uplift_run``'s table as a ``pyarrow.Table``: :func:`arrow_table` of the run with ``config``, and the
    :data:`REGISTRY_COLUMNS` on every row.

    ``relations``: ``fct_uplift_training_exposures`` and ``fct_uplift_scoring_customers`` (DuckDB relations
    are read column by column, only the columns used, the categorical features as codes),
    ``fct_experiment_srm`` and ``stg_shop__promotions``. ``store``: the model registry (None: train in this
    call; module docstring).
    """
    registry = None if store is None else UpliftRegistry(store, "ml_uplift_run", config.registry_settings(),
                                                         params=config.fit_kwargs())
    kwargs = config.fit_kwargs()
    run = uplift_run(
        relations["fct_uplift_training_exposures"],
        relations["fct_uplift_scoring_customers"],
        srm=read_relation(relations["fct_experiment_srm"]),
        promotions=promotions_by_id(read_relation(relations["stg_shop__promotions"])),
        registry=registry,
        **kwargs,
    )
    return _with_registry_columns(arrow_table(run.result), run.version, run.trained_at, run.action, run.reason)
