"""Frame helpers shared by the table layer and the evaluation layer: fixed schemas, deterministic row order, dbt log.

Every table a dbt Python model returns has a fixed schema (:func:`typed_frame`), also when it is empty, so
the SQL models and tests downstream never see a missing column; every input is read in a deterministic
row order (:func:`as_frame`), so two builds of the same data give the same tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

__all__ = ["ORDER_KEYS", "as_01", "as_frame", "log_line", "nullable_typed", "object_ids", "typed_frame"]


def log_line(message: str) -> None:
    """Write one line to the dbt log (and console) when running inside dbt, else to Python logging."""
    text = f"retail_lift: {message}"
    try:
        from dbt.events.types import JinjaLogInfo
        from dbt_common.events.functions import fire_event

        fire_event(JinjaLogInfo(msg=text))
    except Exception:  # outside dbt (tests, notebooks): plain logging
        import logging

        logging.getLogger("retail_lift").warning(text)


_DTYPES = {"str": "str", "float": "float64", "int": "Int64", "bool": "boolean", "ts": "datetime64[us]"}


def typed_frame(df: pd.DataFrame | None, schema: Mapping[str, str]) -> pd.DataFrame:
    """``df`` with exactly the columns of ``schema`` (missing ones all-NULL), in order and typed.

    ``schema`` maps a column to ``str``, ``float``, ``int`` (nullable), ``bool`` (nullable) or ``ts``.
    """
    df = pd.DataFrame() if df is None else df
    n = len(df)
    out = {}
    for col, kind in schema.items():
        dtype = _DTYPES[kind]
        if col not in df.columns:
            out[col] = _all_missing(n, kind)
            continue
        s = df[col].reset_index(drop=True)
        if kind == "ts":
            s = pd.to_datetime(s)
            if getattr(s.dt, "tz", None) is not None:
                s = s.dt.tz_convert("UTC").dt.tz_localize(None)
            out[col] = s.astype(dtype)
        elif kind == "str":  # pandas' str dtype keeps missing values missing
            out[col] = s.astype(dtype)
        elif kind == "bool":
            out[col] = (s.astype(dtype) if pd.api.types.is_bool_dtype(s.dtype)
                        else s.astype(object).where(s.notna(), None).astype(dtype))
        else:
            out[col] = pd.to_numeric(s, errors="raise").astype(dtype)
    return pd.DataFrame(out, columns=list(schema))


def _all_missing(n: int, kind: str) -> pd.Series:
    """An all-missing column of ``n`` rows of a :func:`typed_frame` kind (what a column of ``None`` converts to)."""
    if kind == "float":
        return pd.Series(np.full(n, np.nan))
    if kind == "int":
        return pd.Series(pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)))
    if kind == "bool":
        return pd.Series(pd.arrays.BooleanArray(np.zeros(n, dtype=bool), np.ones(n, dtype=bool)))
    if kind == "ts":
        return pd.Series(np.full(n, np.datetime64("NaT"), dtype="datetime64[us]"))
    return pd.Series(np.full(n, None, dtype=object)).astype(_DTYPES[kind])


ORDER_KEYS = ("snapshot_role", "experiment_id", "customer_id", "top_level_category_id", "category_id",
               "order_id", "line_number", "product_id", "promotion_id", "decision_id", "exposed_at")


def as_frame(data) -> pd.DataFrame:
    """pandas from a DataFrame or an Arrow table (as dbt hands refs over), in a deterministic row order.

    DuckDB returns rows of a parallel scan in no fixed order; splits, folds and ties would follow it,
    and two builds of the same data would differ. Rows are sorted by the key columns present."""
    if isinstance(data, pd.DataFrame):
        df = data
    elif hasattr(data, "to_pandas"):
        df = data.to_pandas()
    else:
        raise ValueError(f"expected a pandas DataFrame or a pyarrow Table, got {type(data).__name__}")
    keys = [c for c in ORDER_KEYS if c in df.columns]
    if keys and len(df) > 1:
        df = df.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)
    # sums of doubles in a parallel SQL aggregation differ in the last bits from run to run
    # (88.73 vs 88.72999999999999); rounding to 9 decimals makes the inputs, and so the models, repeatable
    floats = [c for c in df.columns if pd.api.types.is_float_dtype(df[c])]
    if floats:
        df = df.assign(**{c: df[c].round(9) for c in floats})
    return df


def object_ids(df: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """Id columns as Python objects: pandas' Arrow-backed strings make ``isin`` on them several times slower."""
    present = [c for c in columns if c in df.columns]
    return df.assign(**{c: df[c].astype(object) for c in present}) if present else df


def as_01(s: pd.Series) -> pd.Series:
    """A nullable 0/1 float series from booleans / numbers (missing stays missing)."""
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        v = s.to_numpy(dtype=float, na_value=np.nan)
        return pd.Series(np.where(np.isnan(v), np.nan, (v != 0).astype(float)), index=s.index, name=s.name)
    return s.astype(object).map(lambda v: np.nan if pd.isna(v) else float(bool(v))).astype(float)


def nullable_typed(df: pd.DataFrame, dtypes: Mapping[str, str], default: str = "float64") -> pd.DataFrame:
    """A copy of ``df`` with every column cast to its pandas dtype in ``dtypes`` (``"string"``, ``"Int64"``,
    ``"boolean"``, ...; ``default`` for a column not in it, numbers coerced), so that an empty table still has
    typed columns when a dbt model writes it. Unlike :func:`typed_frame` it keeps ``df``'s columns as they are."""
    out = df.copy()
    for col in out.columns:
        dtype = dtypes.get(col, default)
        if dtype == "float64":
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
        elif dtype == "string":
            out[col] = out[col].astype("string")
        else:
            out[col] = out[col].astype(dtype)
    return out
