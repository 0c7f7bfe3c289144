"""From a feature mart (``fct_customer_features`` and friends) to model matrices, without leakage.

The marts hold one row per customer (or customer x category) x ``snapshot_role``; id columns,
label columns and features sit side by side. This module decides which columns are features and
encodes them, and it refuses label-like columns as features.

Column roles
------------
- **ids** (``id_cols``, default :data:`DEFAULT_ID_COLS`: ``customer_id``, ``snapshot_role``,
  ``feature_date``): never features.
- **labels**: the ``label`` being modelled and every column of ``label_cols`` (default
  :data:`LABEL_COLUMNS`, the warehouse's outcome columns) are dropped. Any *other* column named like
  ``*_next_*`` (case-insensitive), e.g. a new ``orders_next_30d``, makes :func:`check_no_leakage`
  raise: it looks like an outcome measured after the cutoff, so it has to be declared (``label_cols``)
  or excluded (``exclude``) explicitly.
- **exclude**: further columns that must not be features, e.g. ``acquisition_channel`` when the
  label is derived from it (:func:`derive_label`). Naming a column that does not exist raises, so a
  typo cannot silently leave the source of a label among the features.
- Everything else is a feature, typed from its dtype (pandas or Arrow-backed, or inferred from the
  values of an ``object`` column, e.g. the ``Decimal`` values DuckDB returns for sums):

  - numeric -> float, missing values kept as ``NaN``;
  - boolean -> 1.0 / 0.0, missing as ``NaN``;
  - string / categorical -> one-hot columns ``<column>=<level>`` for the ``max_categories`` most
    frequent levels (ties by level); missing, rarer and unseen levels are all zeros;
  - dates, timestamps and all-missing columns are dropped (listed in ``FeatureSpec.dropped``).

Encodings
---------
``encoding="onehot"`` gives an all-float frame for scikit-learn and xgboost (xgboost handles the
``NaN`` natively; the logistic pipeline of :mod:`retail_lift.predict.classifiers` imputes medians and
adds missing-value indicators, fitted on training rows only). ``encoding="native"`` keeps each
categorical as one string column (missing -> ``"__missing__"``, levels unseen at fit ->
``"__other__"``) for CatBoost's own categorical handling; numeric and boolean columns are as above.

Column order is deterministic and independent of the column order of the input: numeric columns
sorted by name, then booleans sorted by name, then categoricals sorted by name (one-hot levels sorted
within a column). The :class:`FeatureSpec` learned on the training rows encodes the scoring rows, so
both get identical columns.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from retail_lift.validation import check_positive_int

__all__ = [
    "DEFAULT_ID_COLS",
    "LABEL_COLUMNS",
    "LEAKY_NAME_PATTERNS",
    "MISSING_LEVEL",
    "OTHER_LEVEL",
    "FeatureSpec",
    "FeatureMatrix",
    "as_frame",
    "check_no_leakage",
    "derive_label",
    "infer_feature_spec",
    "feature_matrix",
]

DEFAULT_ID_COLS: tuple[str, ...] = ("customer_id", "snapshot_role", "feature_date")
LABEL_COLUMNS: tuple[str, ...] = (
    "purchased_next_30d",
    "revenue_next_30d",
    "returned",
    "purchased_category_next_30d",
)
LEAKY_NAME_PATTERNS: tuple[str, ...] = ("*_next_*",)
MISSING_LEVEL = "__missing__"
OTHER_LEVEL = "__other__"

_NUMERIC_INFERRED = {"integer", "floating", "mixed-integer-float", "decimal"}
_TEMPORAL_INFERRED = {"date", "datetime", "datetime64", "timedelta", "timedelta64", "time", "period"}


def as_frame(data, name: str = "df") -> pd.DataFrame:
    """A pandas DataFrame from a DataFrame or a ``pyarrow.Table`` / ``RecordBatch`` (as dbt hands them)."""
    if isinstance(data, pd.DataFrame):
        return data
    if hasattr(data, "to_pandas") and hasattr(data, "schema"):
        return data.to_pandas()
    raise ValueError(f"{name} must be a pandas DataFrame or a pyarrow Table, got {type(data).__name__}")


def _names(value, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    out = tuple(value)
    for v in out:
        if not isinstance(v, str):
            raise ValueError(f"{name} must hold column names (strings), got {v!r}")
    return out


# ----------------------------------------------------------------------------------------------
# leakage guard
# ----------------------------------------------------------------------------------------------


def check_no_leakage(feature_columns: Iterable[str], *, label: str | None = None,
                     label_cols: Sequence[str] = LABEL_COLUMNS,
                     patterns: Sequence[str] = LEAKY_NAME_PATTERNS) -> None:
    """Raise ``ValueError`` if a feature is the label, a declared label column, or is named like one.

    Args:
        feature_columns: the columns about to be used as features (source column names).
        label: the label being modelled.
        label_cols: every outcome column of the mart.
        patterns: ``fnmatch`` patterns of outcome-like names (default ``*_next_*``), case-insensitive.
    """
    labels = set(_names(label_cols, "label_cols")) | set(_names(label, "label"))
    bad = []
    for col in feature_columns:
        low = str(col).lower()
        if col in labels:
            bad.append(f"{col!r} (a label column)")
        elif any(fnmatch.fnmatchcase(low, pat.lower()) for pat in patterns):
            bad.append(f"{col!r} (named like {' / '.join(patterns)}: an outcome after the cutoff?)")
    if bad:
        raise ValueError(
            "label leakage: feature column(s) " + ", ".join(bad)
            + " must not be features; declare them in label_cols or drop them with exclude"
        )


def derive_label(df, column: str, value, *, name: str | None = None) -> pd.DataFrame:
    """Add a 0/1 label ``column == value`` (missing where ``column`` is missing); return a new frame.

    The default name is ``is_<column>_<value>`` (e.g. ``is_acquisition_channel_facebook``). Exclude
    ``column`` from the features when modelling this label: it *is* the label.
    """
    frame = as_frame(df).copy()
    if column not in frame.columns:
        raise ValueError(f"column {column!r} is not in df; columns are {list(frame.columns)}")
    name = name or f"is_{column}_{value}"
    src = frame[column]
    frame[name] = np.where(src.isna(), np.nan, (src == value).astype(float))
    return frame


# ----------------------------------------------------------------------------------------------
# column typing
# ----------------------------------------------------------------------------------------------


def _kind(s: pd.Series) -> str:
    """'numeric', 'boolean', 'categorical', 'temporal' or 'empty'."""
    if s.notna().sum() == 0:
        return "empty"
    dtype = s.dtype
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        at = dtype.pyarrow_dtype
        if pa.types.is_boolean(at):
            return "boolean"
        if pa.types.is_integer(at) or pa.types.is_floating(at) or pa.types.is_decimal(at):
            return "numeric"
        if pa.types.is_temporal(at):
            return "temporal"
        return "categorical"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype) \
            or isinstance(dtype, pd.PeriodDtype):
        return "temporal"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if not pd.api.types.is_object_dtype(dtype):  # string, categorical and other extension dtypes
        return "categorical"
    inferred = pd.api.types.infer_dtype(s, skipna=True)
    if inferred == "boolean":
        return "boolean"
    if inferred in _NUMERIC_INFERRED:
        return "numeric"
    if inferred in _TEMPORAL_INFERRED:
        return "temporal"
    return "categorical"


def _to_float(s: pd.Series, kind: str, name: str) -> np.ndarray:
    try:
        if isinstance(s.dtype, pd.ArrowDtype):
            import pyarrow as pa

            return s.astype(pd.ArrowDtype(pa.float64())).to_numpy(dtype=float, na_value=np.nan)
        if kind == "boolean":
            out = s.map(lambda v: np.nan if pd.isna(v) else float(bool(v)))
            return out.to_numpy(dtype=float)
        return pd.to_numeric(s, errors="raise").astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"column {name!r} cannot be read as {kind}: {exc}") from None


def _as_levels(s: pd.Series) -> pd.Series:
    """Strings of the values, ``NaN`` where missing (works for every dtype)."""
    return s.astype(object).where(s.notna()).map(lambda v: v if pd.isna(v) else str(v))


# ----------------------------------------------------------------------------------------------
# spec and matrix
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureSpec:
    """Which columns are features and how they are encoded; learned once, applied to any frame.

    Attributes:
        numeric: numeric feature columns, sorted.
        boolean: boolean feature columns, sorted.
        categorical: categorical column -> its one-hot levels (sorted), columns sorted.
        dropped: column -> why it is not a feature (``id``, ``label``, ``exclude``, ``temporal``,
            ``empty``).
    """

    numeric: tuple[str, ...]
    boolean: tuple[str, ...]
    categorical: dict[str, tuple[str, ...]] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def source_columns(self) -> tuple[str, ...]:
        """The input columns used as features, in encoding order."""
        return (*self.numeric, *self.boolean, *self.categorical)

    def feature_names(self, encoding: str = "onehot") -> list[str]:
        """The encoded column names, in order."""
        if encoding == "native":
            return list(self.source_columns)
        _check_encoding(encoding)
        onehot = [f"{c}={lv}" for c, levels in self.categorical.items() for lv in levels]
        return [*self.numeric, *self.boolean, *onehot]

    def source_of(self, encoding: str = "onehot") -> dict[str, str]:
        """Encoded column name -> the input column it comes from."""
        if encoding == "native":
            return {c: c for c in self.source_columns}
        out = {c: c for c in (*self.numeric, *self.boolean)}
        out.update({f"{c}={lv}": c for c, levels in self.categorical.items() for lv in levels})
        return out

    def encode(self, df, encoding: str = "onehot") -> pd.DataFrame:
        """Encode ``df`` (same index) with this spec; raises if a feature column is missing."""
        _check_encoding(encoding)
        frame = as_frame(df)
        missing = [c for c in self.source_columns if c not in frame.columns]
        if missing:
            raise ValueError(f"df lacks feature column(s) {missing} that the feature spec was built with")
        cols: dict[str, np.ndarray | pd.Series] = {}
        for c in self.numeric:
            cols[c] = _to_float(frame[c], "numeric", c)
        for c in self.boolean:
            cols[c] = _to_float(frame[c], "boolean", c)
        for c, levels in self.categorical.items():
            values = _as_levels(frame[c])
            if encoding == "native":
                known = values.isin(levels)
                native = values.where(known | values.isna(), OTHER_LEVEL).fillna(MISSING_LEVEL)
                cols[c] = native.astype(object).to_numpy()
            else:
                for lv in levels:
                    cols[f"{c}={lv}"] = (values == lv).to_numpy(dtype=float)
        return pd.DataFrame(cols, index=frame.index)


@dataclass(frozen=True)
class FeatureMatrix:
    """The result of :func:`feature_matrix`.

    Attributes:
        X: encoded features (same index as the input).
        y: the label as floats (``None`` without a label).
        spec: the :class:`FeatureSpec` (reuse it to encode scoring rows).
        encoding: ``"onehot"`` or ``"native"``.
    """

    X: pd.DataFrame
    y: np.ndarray | None
    spec: FeatureSpec
    encoding: str

    @property
    def feature_columns(self) -> list[str]:
        return list(self.X.columns)

    @property
    def numeric_columns(self) -> list[str]:
        return list(self.spec.numeric)

    @property
    def boolean_columns(self) -> list[str]:
        return list(self.spec.boolean)

    @property
    def categorical_columns(self) -> list[str]:
        return list(self.spec.categorical)


def _check_encoding(encoding: str) -> None:
    if encoding not in ("onehot", "native"):
        raise ValueError(f"encoding must be 'onehot' or 'native', got {encoding!r}")


def infer_feature_spec(df, *, label: str | None = None, id_cols: Sequence[str] = DEFAULT_ID_COLS,
                       exclude: Sequence[str] = (), label_cols: Sequence[str] = LABEL_COLUMNS,
                       max_categories: int = 50) -> FeatureSpec:
    """Decide the feature columns of ``df`` and learn the categorical levels (see the module docstring).

    Raises ``ValueError`` when ``label`` or an ``exclude`` column is not in ``df``, and (through
    :func:`check_no_leakage`) when an undeclared outcome-like column would become a feature.
    """
    frame = as_frame(df)
    max_categories = check_positive_int(max_categories, "max_categories")
    ids, excl, labels = _names(id_cols, "id_cols"), _names(exclude, "exclude"), _names(label_cols, "label_cols")
    if label is not None:
        if not isinstance(label, str):
            raise ValueError(f"label must be a column name, got {label!r}")
        if label not in frame.columns:
            raise ValueError(f"label {label!r} is not a column of df")
    unknown = [c for c in excl if c not in frame.columns]
    if unknown:
        raise ValueError(f"exclude names column(s) {unknown} that are not in df")

    dropped: dict[str, str] = {}
    candidates = []
    for c in frame.columns:
        if c in ids:
            dropped[c] = "id"
        elif c == label or c in labels:
            dropped[c] = "label"
        elif c in excl:
            dropped[c] = "exclude"
        else:
            candidates.append(c)
    check_no_leakage(candidates, label=label, label_cols=labels)

    numeric, boolean, categorical = [], [], {}
    for c in candidates:
        kind = _kind(frame[c])
        if kind == "numeric":
            numeric.append(c)
        elif kind == "boolean":
            boolean.append(c)
        elif kind == "categorical":
            counts = _as_levels(frame[c]).value_counts(dropna=True)
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_categories]
            categorical[c] = tuple(sorted(lv for lv, _ in ranked))
        else:
            dropped[c] = kind
    return FeatureSpec(
        numeric=tuple(sorted(numeric)),
        boolean=tuple(sorted(boolean)),
        categorical={c: categorical[c] for c in sorted(categorical)},
        dropped=dropped,
    )


def feature_matrix(df, label: str | None = None, *, id_cols: Sequence[str] = DEFAULT_ID_COLS,
                   exclude: Sequence[str] = (), label_cols: Sequence[str] = LABEL_COLUMNS,
                   encoding: str = "onehot", max_categories: int = 50,
                   spec: FeatureSpec | None = None) -> FeatureMatrix:
    """Encode the features (and extract the label) of a feature-mart frame.

    Args:
        df: pandas DataFrame or pyarrow Table.
        label: the label column; every row must have it (filter unlabelled rows first). ``None`` for
            scoring rows.
        id_cols, exclude, label_cols, max_categories: see :func:`infer_feature_spec`.
        encoding: ``"onehot"`` (all float) or ``"native"`` (categoricals as strings, for CatBoost).
        spec: a spec learned earlier (on the training rows); ``None`` learns one from ``df``.

    Returns:
        :class:`FeatureMatrix` with ``X``, ``y``, ``spec`` and the column lists.
    """
    _check_encoding(encoding)
    frame = as_frame(df)
    if spec is None:
        spec = infer_feature_spec(frame, label=label, id_cols=id_cols, exclude=exclude,
                                  label_cols=label_cols, max_categories=max_categories)
    else:
        check_no_leakage(spec.source_columns, label=label, label_cols=_names(label_cols, "label_cols"))
    y = None
    if label is not None:
        if label not in frame.columns:
            raise ValueError(f"label {label!r} is not a column of df")
        missing = frame[label].isna()
        if missing.any():
            raise ValueError(f"label {label!r} has {int(missing.sum())} missing value(s); "
                             "keep only labelled rows (e.g. the 'train' snapshot) first")
        y = _to_float(frame[label], "boolean" if _kind(frame[label]) == "boolean" else "numeric", label)
    return FeatureMatrix(X=spec.encode(frame, encoding), y=y, spec=spec, encoding=encoding)
