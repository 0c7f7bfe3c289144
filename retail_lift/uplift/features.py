"""The model matrix of the uplift learners: which columns of the training and scoring tables are features, and how.

:data:`CATEGORICAL_FEATURES` are one-hot encoded over the categories seen in the training and scoring
tables (a NULL is all zeros); :data:`NUMERIC_FEATURES` are used with ``log1p`` on counts and amounts, recency
in days capped at :data:`RECENCY_CAP_DAYS` (NULL, i.e. never, is the cap), NULL tenure and discount share as
0. Only these columns are read: the outcome, the arm and the keys never enter a feature. ``extra_features``
(of :func:`~retail_lift.uplift.pipeline.fit_score_uplift` and :func:`build_features`) appends further
numeric columns of both tables as they are (NULL is 0): a score from another system, or, in
``bench/uplift_ceiling.py``, the simulated world's hidden uplift type to measure what the learner makes of
this many exposures when a feature reveals it.

:func:`input_frame` reads a pandas frame, an Arrow table or a DuckDB relation (only the columns used, the
categorical features as codes); :func:`require_columns` names the missing columns of an input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "CATEGORICAL_FEATURES",
    "FEATURES",
    "NUMERIC_FEATURES",
    "RECENCY_CAP_DAYS",
    "build_features",
    "input_frame",
    "require_columns",
]

CATEGORICAL_FEATURES = ("age_band", "gender", "region", "acquisition_channel", "device_preference")

NUMERIC_FEATURES = (
    "follows_page", "heard_of_shop", "tenure_days",
    "orders_before", "orders_30d", "orders_90d", "revenue_before", "revenue_30d", "revenue_90d",
    "discounted_order_share", "days_since_last_order",
    "sessions_30d", "sessions_90d", "views_30d", "views_90d", "carts_30d", "carts_90d",
    "days_since_last_visit",
)

_LOG_FEATURES = (
    "orders_before", "orders_30d", "orders_90d", "revenue_before", "revenue_30d", "revenue_90d",
    "sessions_30d", "sessions_90d", "views_30d", "views_90d", "carts_30d", "carts_90d",
)

_RECENCY_FEATURES = ("days_since_last_order", "days_since_last_visit")

#: Recency features (days since the last order / visit) are capped here; "never" is the cap.
RECENCY_CAP_DAYS = 365.0
FEATURES = list(CATEGORICAL_FEATURES) + list(NUMERIC_FEATURES)


def require_columns(df: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{name} is missing column(s) {', '.join(missing)}; found {', '.join(map(str, df.columns))}")


def _category_codes(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    """``(codes, categories)`` of a column read as strings (``astype("string")``): ``categories`` are the
    distinct non-null values as str, ``codes`` index them (-1 = NULL). A categorical column (the Arrow
    dictionary path) is read through its codes, without a string per row."""
    cat = s.array if isinstance(s.dtype, pd.CategoricalDtype) else pd.Categorical(s)
    names = [str(c) for c in cat.categories]
    uniq = sorted(set(names))
    if len(uniq) == len(names) and uniq == names:
        return np.asarray(cat.codes, dtype=np.int64), names
    remap = np.array([uniq.index(n) for n in names] + [-1], dtype=np.int64)  # categories equal as str
    return remap[np.asarray(cat.codes, dtype=np.int64)], uniq


def _feature_levels(*frames: pd.DataFrame) -> dict[str, list[str]]:
    """The sorted levels of every categorical feature over ``frames`` (as :func:`build_features`)."""
    levels = {}
    for col in CATEGORICAL_FEATURES:
        seen: set = set()
        for frame in frames:
            seen.update(_category_codes(frame[col])[1])
        levels[col] = sorted(seen)
    return levels


def _feature_names(levels: Mapping[str, list[str]], extra: Sequence[str] = ()) -> list[str]:
    return (list(NUMERIC_FEATURES) + [f"{col}={lv}" for col in CATEGORICAL_FEATURES for lv in levels[col]]
            + list(extra))


def _check_extra_features(extra_features: Sequence[str]) -> tuple[str, ...]:
    """``extra_features`` as a tuple of distinct column names that are not already features."""
    if isinstance(extra_features, str):
        raise ValueError(f"extra_features must be a sequence of column names, got the string {extra_features!r}")
    extra = tuple(str(c) for c in extra_features)
    clash = sorted(set(extra) & set(FEATURES))
    if clash:
        raise ValueError(f"extra_features {', '.join(clash)} are already features of the model "
                         "(CATEGORICAL_FEATURES / NUMERIC_FEATURES)")
    repeated = sorted({c for c in extra if extra.count(c) > 1})
    if repeated:
        raise ValueError(f"extra_features names {', '.join(repeated)} more than once")
    return extra


def _feature_matrix(frame: pd.DataFrame, levels: Mapping[str, list[str]], extra: Sequence[str] = (),
                    name: str = "frame") -> np.ndarray:
    """The float model matrix of ``frame`` (columns :func:`_feature_names`), filled column by column."""
    n = len(frame)
    # column-major, like the matrix of the consolidated DataFrame of build_features: the BLAS products of
    # the learners then add in the same order, so the scores do not change in the last bit
    out = np.zeros((n, len(_feature_names(levels, extra))), dtype=float, order="F")
    for j, col in enumerate(NUMERIC_FEATURES):
        v = pd.to_numeric(frame[col], errors="coerce").astype(float).to_numpy()
        if col in _RECENCY_FEATURES:
            v = np.clip(np.where(np.isnan(v), RECENCY_CAP_DAYS, v), 0.0, RECENCY_CAP_DAYS)
        v = np.where(np.isnan(v), 0.0, v)
        if col in _LOG_FEATURES:
            v = np.log1p(np.clip(v, 0.0, None))
        out[:, j] = v
    j = len(NUMERIC_FEATURES)
    for col in CATEGORICAL_FEATURES:
        codes, names = _category_codes(frame[col])
        position = {lv: i for i, lv in enumerate(levels[col])}
        # a level not in ``levels`` (seen after a model was trained on them) is all zeros, as a NULL
        to_level = np.array([position.get(nm, -1) for nm in names] + [-1], dtype=np.int64)[codes]
        for i in range(len(levels[col])):
            out[:, j + i] = to_level == i
        j += len(levels[col])
    for col in extra:
        raw = frame[col]
        v = pd.to_numeric(raw, errors="coerce").astype(float).to_numpy()
        bad = np.isnan(v) & raw.notna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name}: extra feature {col!r} is not numeric at row {i} ({raw.iloc[i]!r})")
        out[:, j] = np.where(np.isnan(v), 0.0, v)
        j += 1
    return out


def build_features(training: pd.DataFrame, scoring: pd.DataFrame,
                   extra_features: Sequence[str] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The model matrices of the training and scoring rows, encoded identically.

    Reads only :data:`CATEGORICAL_FEATURES`, :data:`NUMERIC_FEATURES` and ``extra_features`` (numeric
    columns appended as they are, NULL as 0; see the module docstring for the transformations);
    returns two float DataFrames with the same columns, row order preserved.
    """
    extra = _check_extra_features(extra_features)
    features = list(CATEGORICAL_FEATURES) + list(NUMERIC_FEATURES) + list(extra)
    require_columns(training, "training", features)
    require_columns(scoring, "scoring", features)
    levels = _feature_levels(training, scoring)
    names = _feature_names(levels, extra)
    return tuple(pd.DataFrame(_feature_matrix(frame, levels, extra, label), columns=names)
                 for frame, label in ((training, "training"), (scoring, "scoring")))


def input_frame(data, name: str, required: Sequence[str], optional: Sequence[str] = ()) -> pd.DataFrame:
    """A pandas DataFrame from a DataFrame (as it is), an Arrow table or a DuckDB relation.

    From Arrow / a relation only ``required`` and the present ``optional`` columns are read, one column at
    a time, and the string columns of :data:`CATEGORICAL_FEATURES` become pandas categoricals (a code per
    row instead of a Python string per row): at a million customers the full table as pandas objects
    takes several GiB.
    """
    if isinstance(data, pd.DataFrame):
        return data
    import pyarrow as pa

    if not isinstance(data, pa.Table):
        if not hasattr(data, "to_arrow_table"):
            raise ValueError(f"{name} must be a pandas DataFrame, a pyarrow Table or a DuckDB relation, "
                             f"got {type(data).__name__}")
        present = set(data.columns)
        cols = [c for c in dict.fromkeys([*required, *optional]) if c in present]
        if set(required) <= present:
            data = data.select(*[f'"{c}"' for c in cols])
        data = data.to_arrow_table()
    missing = [c for c in required if c not in data.column_names]
    if missing:
        raise ValueError(f"{name} is missing column(s) {', '.join(missing)}; found {', '.join(data.column_names)}")
    out = {}
    for col in dict.fromkeys([*required, *[c for c in optional if c in data.column_names]]):
        arr = data.column(col)
        if col in CATEGORICAL_FEATURES and (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            arr = arr.dictionary_encode()
        out[col] = arr.to_pandas()
    return pd.DataFrame(out)
