"""DataFrame input checks shared by ``retail_lift.segments``, ``retail_lift.crosssell`` and ``retail_lift.campaign``.

They complement :mod:`retail_lift.validation` (which checks arrays) with checks on tables: the argument
is a DataFrame, the required columns are present, a column is numeric / finite / in range, an id column
has no missing values. Every message names the argument and the column, e.g.
``scores['purchase_probability'] must lie in [0.0, 1.0]; ...``.

(These helpers belong in ``retail_lift.validation``; they live here until that module is extended.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from retail_lift.validation import as_1d_float, check_in_range


def require_frame(df, name: str) -> pd.DataFrame:
    """``df`` must be a pandas DataFrame."""
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    return df


def require_columns(df, name: str, columns: Iterable[str]) -> pd.DataFrame:
    """``df`` must be a DataFrame holding every column in ``columns``; the message lists the missing ones."""
    require_frame(df, name)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        have = ", ".join(repr(c) for c in df.columns)
        need = ", ".join(repr(c) for c in missing)
        raise ValueError(f"{name} is missing column(s) {need}; it has: {have or 'no columns'}")
    return df


def first_present(df: pd.DataFrame, name: str, candidates: Sequence[str], what: str) -> str:
    """The first of ``candidates`` that is a column of ``df`` (used to auto-detect e.g. the item column)."""
    for c in candidates:
        if c in df.columns:
            return c
    raise ValueError(
        f"{name} has no {what} column: expected one of {', '.join(repr(c) for c in candidates)} "
        f"(or pass the column name explicitly)"
    )


def numeric_column(df: pd.DataFrame, name: str, column: str) -> np.ndarray:
    """Column ``column`` of ``df`` as a finite float array; the message names ``name['column']``."""
    label = f"{name}[{column!r}]"
    try:
        values = pd.to_numeric(df[column], errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{label} must be numeric: {exc}") from None
    return as_1d_float(values, label)


def ranged_column(df: pd.DataFrame, name: str, column: str, low: float, high: float,
                  low_inclusive: bool = True, high_inclusive: bool = True) -> np.ndarray:
    """A numeric column whose every value lies in the interval."""
    arr = numeric_column(df, name, column)
    return check_in_range(arr, f"{name}[{column!r}]", low, high, low_inclusive, high_inclusive)


def id_column(df: pd.DataFrame, name: str, column: str, unique: bool = False) -> pd.Series:
    """An identifier column with no missing values (and, with ``unique=True``, no duplicates)."""
    s = df[column]
    bad = s.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}[{column!r}] has {int(bad.sum())} missing value(s); first at row {i}")
    if unique:
        dup = s.duplicated().to_numpy()
        if dup.any():
            i = int(np.flatnonzero(dup)[0])
            raise ValueError(f"{name}[{column!r}] must be unique; first duplicate at row {i}: {s.iloc[i]!r}")
    return s


def time_column(df: pd.DataFrame, name: str, column: str) -> pd.Series:
    """A column of timestamps (parsed if given as text) with no missing values."""
    try:
        s = pd.to_datetime(df[column])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}[{column!r}] must hold timestamps: {exc}") from None
    bad = s.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}[{column!r}] has {int(bad.sum())} missing timestamp(s); first at row {i}")
    return s


def value_or_column(df: pd.DataFrame, name: str, spec, param: str, low: float, high: float,
                    high_inclusive: bool = True) -> np.ndarray:
    """A per-row value given either as a column name of ``df`` or as one number for every row.

    ``param`` is the keyword the caller used (named in the error message when the scalar is bad).
    """
    if isinstance(spec, str):
        require_columns(df, name, [spec])
        return ranged_column(df, name, spec, low, high, high_inclusive=high_inclusive)
    if isinstance(spec, bool) or not isinstance(spec, (int, float, np.integer, np.floating)):
        raise ValueError(f"{param} must be a column name or a number, got {spec!r}")
    arr = np.full(len(df), float(spec))
    check_in_range(np.array([float(spec)]), param, low, high, high_inclusive=high_inclusive)
    return arr


def non_negative_number(value, name: str, allow_inf: bool = False) -> float:
    """A finite (or, with ``allow_inf``, possibly infinite) number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if np.isnan(v) or v < 0 or (np.isinf(v) and not allow_inf):
        raise ValueError(f"{name} must be a non-negative {'number' if allow_inf else 'finite number'}, got {value!r}")
    return v


def fraction(value, name: str, low_inclusive: bool = True, high_inclusive: bool = True) -> float:
    """A number in [0, 1] (ends per the flags)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    v = float(value)
    check_in_range(np.array([v]), name, 0.0, 1.0, low_inclusive, high_inclusive)
    return v
