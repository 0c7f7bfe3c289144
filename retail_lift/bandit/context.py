"""From the decision ledger's JSON columns to what the policies consume.

The ledger (``fct_decision_ledger``) stores each decision's context and the logging policy's
action probabilities as JSON text::

    context              {"age_band":"25-34","device":"mobile","acquisition_channel":"facebook",
                          "follows_page":1,"heard_of_shop":0,"orders_90d":2,
                          "days_since_last_order":12.5,"views_30d":7,"hour":19}
    action_probabilities {"control":0.05,"email_10pct":0.75, ...}   (arms absent = unavailable)

:func:`parse_contexts` turns the contexts into a DataFrame with one typed column per field,
:func:`parse_action_probabilities` the probabilities into an ``(n, n_arms)`` array, and
:class:`ContextEncoder` turns parsed contexts into the float matrix of the linear / logistic
policies and into the integer segment ids of :class:`~retail_lift.bandit.SegmentBernoulliTS`.

Features of the encoder (the column order is fixed, see ``feature_names_``):

- one-hot of each categorical field (``age_band=25-34``; categories learned by ``fit``, sorted;
  an unseen or missing category gives all zeros in that block);
- the binary flags ``follows_page`` and ``heard_of_shop`` as 0/1 (missing: the training mean);
- ``orders_90d``, ``views_30d`` and ``days_since_last_order`` as ``log1p(clip(x, 0, cap))``
  standardised with the training mean and standard deviation, where ``cap`` is the training
  99th percentile (a customer with 400 views is not 50 times as informative as one with 8);
  a missing value becomes the training mean (0 after standardising);
- ``days_since_last_order_missing`` (1 when the customer never ordered: the value is NULL);
- the hour of the decision as ``hour_sin`` / ``hour_cos`` (23:00 is next to 00:00).

The state (``to_dict``) is plain JSON, so a policy version can be stored with the exact encoder
that produced its features.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "BINARY_FIELDS",
    "CATEGORICAL_FIELDS",
    "CONTEXT_FIELDS",
    "COUNT_FIELDS",
    "ContextEncoder",
    "parse_action_probabilities",
    "parse_contexts",
]

CATEGORICAL_FIELDS = ("age_band", "device", "acquisition_channel")
BINARY_FIELDS = ("follows_page", "heard_of_shop")
#: non-negative skewed numbers, encoded as standardised log1p of the clipped value
COUNT_FIELDS = ("orders_90d", "views_30d", "days_since_last_order")
#: the field whose absence carries information (the customer never ordered)
MISSING_INDICATOR_FIELDS = ("days_since_last_order",)
CONTEXT_FIELDS = (*CATEGORICAL_FIELDS, *BINARY_FIELDS, *COUNT_FIELDS, "hour")

ENCODER_FORMAT_VERSION = 1


def _is_missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _as_str_array(col) -> np.ndarray:
    """A column as an object array of ``str``, missing values as ``None`` (vectorised)."""
    vals = pd.Series(col).astype(object).to_numpy()
    miss = pd.isna(vals)
    out = np.where(miss, None, vals.astype(str)).astype(object)
    return out


def _load_json_rows(json_strings, name: str) -> list[dict]:
    """Each entry a JSON object (text), an already-parsed dict, or missing (an empty dict).

    The texts are parsed in one call of the C parser (as one JSON array); only when that fails
    are they parsed one by one, to name the offending row.
    """
    if isinstance(json_strings, (str, bytes)):
        raise ValueError(f"{name} must be a sequence of JSON texts, not a single string")
    items = list(json_strings)
    if all(isinstance(s, str) for s in items):
        try:
            rows = json.loads("[" + ",".join(items) + "]") if items else []
        except ValueError:
            rows = None
        if rows is not None and len(rows) == len(items) and all(isinstance(d, dict) for d in rows):
            return rows
    out = []
    for i, s in enumerate(items):
        if isinstance(s, dict):
            out.append(s)
            continue
        if _is_missing(s):
            out.append({})
            continue
        try:
            d = json.loads(s)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: row {i} is not valid JSON ({exc}): {str(s)[:80]!r}") from None
        if not isinstance(d, dict):
            raise ValueError(f"{name}: row {i} must be a JSON object, got {type(d).__name__}")
        out.append(d)
    return out


def parse_contexts(json_strings) -> pd.DataFrame:
    """Decision contexts (JSON text, one per decision) as a DataFrame, one row per decision.

    The columns are :data:`CONTEXT_FIELDS` in that order (categoricals as strings, the rest as
    floats; a missing key or JSON ``null`` is NA), followed by any other keys found, in sorted
    order. The index is ``0 .. n-1``. A missing context (NULL) gives a row of NA.
    """
    rows = _load_json_rows(json_strings, "contexts")
    df = pd.DataFrame.from_records(rows, columns=None) if rows else pd.DataFrame()
    df = df.reindex(range(len(rows)))
    out = {}
    for f in CATEGORICAL_FIELDS:
        col = df[f] if f in df else pd.Series([None] * len(rows), dtype=object)
        out[f] = pd.Series([None if _is_missing(v) else str(v) for v in col], dtype=object)
    for f in (*BINARY_FIELDS, *COUNT_FIELDS, "hour"):
        col = df[f] if f in df else pd.Series(np.nan, index=range(len(rows)))
        out[f] = pd.to_numeric(col, errors="coerce").astype(float).reset_index(drop=True)
    extra = sorted(c for c in df.columns if c not in CONTEXT_FIELDS)
    for c in extra:
        out[c] = df[c].reset_index(drop=True)
    return pd.DataFrame(out, index=pd.RangeIndex(len(rows)))


def parse_action_probabilities(json_strings, arm_names: Sequence[str]) -> np.ndarray:
    """Logged action probabilities (JSON text ``{arm: p}``) as an ``(n, n_arms)`` float array.

    Columns follow ``arm_names``; an arm absent from a row's JSON gets probability 0 (it was not
    available at that decision). An arm that is not in ``arm_names`` raises ``ValueError``
    (silently dropping it would lose probability mass), as does a negative probability or a row
    that does not sum to one (tolerance 1e-4: the world rounds to six decimals).
    """
    names = [str(a) for a in arm_names]
    if len(set(names)) != len(names):
        raise ValueError(f"arm_names must be unique, got {names}")
    rows = _load_json_rows(json_strings, "action_probabilities")
    frame = pd.DataFrame.from_records(rows) if rows else pd.DataFrame()
    unknown = [str(c) for c in frame.columns if str(c) not in names]
    if unknown:
        i = int(np.flatnonzero(frame[unknown[0]].notna().to_numpy())[0])
        raise ValueError(f"action_probabilities: row {i} has arm {unknown[0]!r}, which is not in arm_names {names}")
    frame.columns = [str(c) for c in frame.columns]
    out = frame.reindex(index=range(len(rows)), columns=names).to_numpy(dtype=float, na_value=np.nan)
    out = np.where(np.isnan(out), 0.0, out) if out.size else np.zeros((len(rows), len(names)))
    if (out < 0).any() or not np.isfinite(out).all():
        i = int(np.flatnonzero(~((out >= 0) & np.isfinite(out)).all(axis=1))[0])
        raise ValueError(f"action_probabilities: row {i} has a negative or non-finite probability")
    sums = out.sum(axis=1)
    bad = np.abs(sums - 1.0) > 1e-4
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"action_probabilities: row {i} sums to {sums[i]:.6f}, not 1")
    return out


class ContextEncoder:
    """Parsed contexts → float feature matrix (and segment ids). See the module docstring.

    Parameters
    ----------
    segment_keys : sequence of categorical / binary field names
        Fields whose combination defines the segment of :meth:`segment_ids` (default: age band,
        follows the page, heard of the shop: the traits that best separate the customers who
        respond to a promotion from those it puts off). Each key gets one extra level for
        "unseen or missing".
    clip_quantile : float
        Upper clipping quantile of the count fields (learned by ``fit``).
    """

    def __init__(self, segment_keys: Sequence[str] = ("age_band", "follows_page", "heard_of_shop"),
                 clip_quantile: float = 0.99):
        self.segment_keys = segment_keys
        self.clip_quantile = clip_quantile

    # ------------------------------------------------------------------ fit
    @staticmethod
    def _as_frame(contexts) -> pd.DataFrame:
        if isinstance(contexts, pd.DataFrame):
            missing = [f for f in CONTEXT_FIELDS if f not in contexts]
            if not missing:
                return contexts.reset_index(drop=True)
            if "context" in contexts and len(missing) == len(CONTEXT_FIELDS):
                return parse_contexts(contexts["context"])
            # partial frames: the absent fields count as missing
            return contexts.reset_index(drop=True).reindex(
                columns=list(dict.fromkeys([*CONTEXT_FIELDS, *contexts.columns])))
        if isinstance(contexts, pd.Series) or isinstance(contexts, Iterable):
            return parse_contexts(contexts)
        raise ValueError(f"contexts must be a DataFrame of parsed contexts or JSON texts, got {type(contexts)}")

    def fit(self, contexts) -> ContextEncoder:
        """Learn categories, clipping caps, means and standard deviations. Returns ``self``."""
        keys = [str(k) for k in self.segment_keys]
        for k in keys:
            if k not in CATEGORICAL_FIELDS and k not in BINARY_FIELDS:
                raise ValueError(f"segment_keys must be categorical or binary fields "
                                 f"{CATEGORICAL_FIELDS + BINARY_FIELDS}, got {k!r}")
        q = self.clip_quantile
        if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0.5 <= q <= 1.0:
            raise ValueError(f"clip_quantile must lie in [0.5, 1], got {q!r}")
        df = self._as_frame(contexts)
        if len(df) == 0:
            raise ValueError("cannot fit a ContextEncoder on zero contexts")
        self.categories_ = {}
        for f in CATEGORICAL_FIELDS:
            vals = _as_str_array(df[f])
            self.categories_[f] = sorted({v for v in pd.unique(vals) if v is not None})
        self.binary_mean_ = {}
        for f in BINARY_FIELDS:
            x = pd.to_numeric(df[f], errors="coerce").to_numpy(dtype=float)
            self.binary_mean_[f] = float(np.nanmean(x)) if np.isfinite(x).any() else 0.0
        self.caps_, self.means_, self.stds_ = {}, {}, {}
        for f in COUNT_FIELDS:
            x = pd.to_numeric(df[f], errors="coerce").to_numpy(dtype=float)
            x = x[np.isfinite(x)]
            cap = float(np.quantile(np.clip(x, 0, None), q)) if x.size else 1.0
            cap = max(cap, 1.0)
            z = np.log1p(np.clip(x, 0.0, cap))
            self.caps_[f] = cap
            self.means_[f] = float(z.mean()) if z.size else 0.0
            sd = float(z.std()) if z.size > 1 else 0.0
            self.stds_[f] = sd if sd > 1e-9 else 1.0
        self.segment_keys_ = keys
        self.feature_names_ = self._feature_names()
        return self

    def _feature_names(self) -> list[str]:
        names = []
        for f in CATEGORICAL_FIELDS:
            names += [f"{f}={c}" for c in self.categories_[f]]
        names += list(BINARY_FIELDS)
        names += [f"{f}_log1p" for f in COUNT_FIELDS]
        names += [f"{f}_missing" for f in MISSING_INDICATOR_FIELDS]
        names += ["hour_sin", "hour_cos"]
        return names

    def _check_fitted(self):
        if not hasattr(self, "feature_names_"):
            raise ValueError("this ContextEncoder is not fitted yet; call fit(contexts) first")

    @property
    def n_features_(self) -> int:
        self._check_fitted()
        return len(self.feature_names_)

    # ------------------------------------------------------------------ transform
    def transform(self, contexts) -> np.ndarray:
        """``(n, n_features_)`` float matrix, columns in ``feature_names_`` order; never NaN."""
        self._check_fitted()
        df = self._as_frame(contexts)
        n = len(df)
        blocks = []
        for f in CATEGORICAL_FIELDS:
            cats = self.categories_[f]
            vals = _as_str_array(df[f])
            blocks.append((vals[:, None] == np.array(cats, dtype=object)[None, :]).astype(float)
                          if cats else np.empty((n, 0)))
        for f in BINARY_FIELDS:
            x = pd.to_numeric(df[f], errors="coerce").to_numpy(dtype=float)
            blocks.append(np.where(np.isfinite(x), (x > 0).astype(float), self.binary_mean_[f])[:, None])
        for f in COUNT_FIELDS:
            x = pd.to_numeric(df[f], errors="coerce").to_numpy(dtype=float)
            z = (np.log1p(np.clip(np.nan_to_num(x, nan=0.0), 0.0, self.caps_[f])) - self.means_[f]) / self.stds_[f]
            blocks.append(np.where(np.isfinite(x), z, 0.0)[:, None])
        for f in MISSING_INDICATOR_FIELDS:
            x = pd.to_numeric(df[f], errors="coerce").to_numpy(dtype=float)
            blocks.append((~np.isfinite(x)).astype(float)[:, None])
        h = pd.to_numeric(df["hour"], errors="coerce").to_numpy(dtype=float)
        ang = 2.0 * math.pi * np.nan_to_num(h, nan=0.0) / 24.0
        ok = np.isfinite(h)
        blocks.append(np.column_stack([np.where(ok, np.sin(ang), 0.0), np.where(ok, np.cos(ang), 0.0)]))
        return np.hstack(blocks).astype(float)

    def fit_transform(self, contexts) -> np.ndarray:
        return self.fit(contexts).transform(contexts)

    # ------------------------------------------------------------------ segments
    def _segment_levels(self, key: str) -> list[str]:
        if key in CATEGORICAL_FIELDS:
            return list(self.categories_[key])
        return ["0", "1"]

    @property
    def n_segments_(self) -> int:
        """Number of segment ids (every level of every key, plus one "other" level per key)."""
        self._check_fitted()
        return int(np.prod([len(self._segment_levels(k)) + 1 for k in self.segment_keys_]))

    def segment_ids(self, contexts) -> np.ndarray:
        """Integer segment id in ``[0, n_segments_)`` per context (mixed radix over ``segment_keys_``;
        an unseen or missing value takes the key's last level, "other")."""
        self._check_fitted()
        df = self._as_frame(contexts)
        ids = np.zeros(len(df), dtype=np.int64)
        for key in self.segment_keys_:
            levels = self._segment_levels(key)
            radix = len(levels) + 1
            if key in CATEGORICAL_FIELDS:
                vals = _as_str_array(df[key])
                hit = vals[:, None] == np.array(levels, dtype=object)[None, :]
                codes = np.where(hit.any(axis=1), hit.argmax(axis=1), len(levels)).astype(np.int64)
            else:
                x = pd.to_numeric(df[key], errors="coerce").to_numpy(dtype=float)
                codes = np.where(np.isfinite(x), (x > 0).astype(np.int64), len(levels))
            ids = ids * radix + codes
        return ids

    def segment_labels(self) -> list[str]:
        """Readable label of every segment id, e.g. ``age_band=25-34|follows_page=1|heard_of_shop=other``."""
        self._check_fitted()
        labels = [""]
        for key in self.segment_keys_:
            levels = [*self._segment_levels(key), "other"]
            labels = [f"{lab}|{key}={lv}" if lab else f"{key}={lv}" for lab in labels for lv in levels]
        return labels

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict:
        """JSON-safe state (``json.dumps`` works on it)."""
        self._check_fitted()
        out = {
            "class": "ContextEncoder",
            "format_version": ENCODER_FORMAT_VERSION,
            "params": {"segment_keys": list(self.segment_keys_), "clip_quantile": float(self.clip_quantile)},
            "state": {
                "categories": {k: list(v) for k, v in self.categories_.items()},
                "binary_mean": dict(self.binary_mean_),
                "caps": dict(self.caps_),
                "means": dict(self.means_),
                "stds": dict(self.stds_),
                "feature_names": list(self.feature_names_),
            },
        }
        json.dumps(out)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> ContextEncoder:
        if data.get("class") != "ContextEncoder" or data.get("format_version") != ENCODER_FORMAT_VERSION:
            raise ValueError(f"not a ContextEncoder state of format {ENCODER_FORMAT_VERSION}: "
                             f"{data.get('class')!r} v{data.get('format_version')!r}")
        enc = cls(**data["params"])
        s = data["state"]
        enc.categories_ = {k: list(v) for k, v in s["categories"].items()}
        enc.binary_mean_ = {k: float(v) for k, v in s["binary_mean"].items()}
        enc.caps_ = {k: float(v) for k, v in s["caps"].items()}
        enc.means_ = {k: float(v) for k, v in s["means"].items()}
        enc.stds_ = {k: float(v) for k, v in s["stds"].items()}
        enc.segment_keys_ = list(data["params"]["segment_keys"])
        enc.feature_names_ = enc._feature_names()
        if enc.feature_names_ != list(s["feature_names"]):
            raise ValueError("stored feature_names do not match the stored categories")
        return enc

    def __repr__(self) -> str:
        return f"ContextEncoder(segment_keys={list(self.segment_keys)!r}, clip_quantile={self.clip_quantile!r})"
