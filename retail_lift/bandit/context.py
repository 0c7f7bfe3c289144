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
        self.__dict__.pop("_one", None)  # lookup tables of the one-context path
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
        ok = np.isfinite(h)
        ang = 2.0 * math.pi * np.where(ok, h, 0.0) / 24.0  # a missing or infinite hour: both 0 below
        blocks.append(np.column_stack([np.where(ok, np.sin(ang), 0.0), np.where(ok, np.cos(ang), 0.0)]))
        return np.hstack(blocks).astype(float)

    def fit_transform(self, contexts) -> np.ndarray:
        return self.fit(contexts).transform(contexts)

    # ------------------------------------------------------------------ one context (serving)
    def _one_tables(self) -> dict:
        """Lookup tables of :meth:`transform_one` / :meth:`segment_id_one`, built once per encoder."""
        tables = self.__dict__.get("_one")
        if tables is None:
            self._check_fitted()
            col, cats = 0, {}
            for f in CATEGORICAL_FIELDS:
                cats[f] = {c: col + i for i, c in enumerate(self.categories_[f])}
                col += len(self.categories_[f])
            seg = []
            for key in self.segment_keys_:
                levels = self._segment_levels(key)
                seg.append((key, key in CATEGORICAL_FIELDS, {lv: i for i, lv in enumerate(levels)}, len(levels)))
            tables = {
                "cats": cats, "binary_col": col, "count_col": col + len(BINARY_FIELDS),
                "binary_mean": np.array([self.binary_mean_[f] for f in BINARY_FIELDS]),
                "caps": np.array([self.caps_[f] for f in COUNT_FIELDS]),
                "means": np.array([self.means_[f] for f in COUNT_FIELDS]),
                "stds": np.array([self.stds_[f] for f in COUNT_FIELDS]),
                "missing_pos": [COUNT_FIELDS.index(f) for f in MISSING_INDICATOR_FIELDS],
                "segments": seg,
            }
            self.__dict__["_one"] = tables
        return tables

    @staticmethod
    def _category_one(value):
        """A categorical value as :func:`parse_contexts` reads it: ``str`` or ``None`` (missing);
        ``False`` for a type the one-context path does not handle."""
        if value is None or (isinstance(value, float) and value != value):
            return None
        if isinstance(value, (str, bool, int, float)):
            return str(value)
        return False

    @staticmethod
    def _number_one(value) -> float | None:
        """A numeric value as :func:`parse_contexts` reads it (``nan`` when missing); ``None`` for a
        type the one-context path does not handle (text is left to pandas' parser)."""
        if value is None:
            return math.nan
        if isinstance(value, (bool, int, float)):
            return float(value)
        return None

    def transform_one(self, context) -> np.ndarray | None:
        """The features of one context given as a dict: ``transform([context])[0]`` without pandas
        (serving). Values of JSON types (``str``, numbers, ``bool``, ``None``) are handled here;
        for anything else (e.g. a number sent as text) it returns ``None`` and the caller uses
        :meth:`transform`. Tested to equal :meth:`transform` bit for bit."""
        t = self._one_tables()
        x = np.zeros(len(self.feature_names_))
        for f in CATEGORICAL_FIELDS:
            v = self._category_one(context.get(f))
            if v is False:
                return None
            if v is not None:
                i = t["cats"][f].get(v)
                if i is not None:
                    x[i] = 1.0
        nums = [self._number_one(context.get(f)) for f in (*BINARY_FIELDS, *COUNT_FIELDS, "hour")]
        if any(v is None for v in nums):
            return None
        nb, nc = len(BINARY_FIELDS), len(COUNT_FIELDS)
        b = np.array(nums[:nb])
        ok = np.isfinite(b)
        c0 = t["binary_col"]
        x[c0:c0 + nb] = np.where(ok, (b > 0).astype(float), t["binary_mean"])
        c = np.array(nums[nb:nb + nc])
        okc = np.isfinite(c)
        # transform uses nan_to_num(nan=0): NaN -> 0 and +-inf -> +-max float, which the clip at
        # [0, cap] maps where it maps +-inf; np.where is the same here and cheaper
        z = (np.log1p(np.clip(np.where(np.isnan(c), 0.0, c), 0.0, t["caps"])) - t["means"]) / t["stds"]
        c1 = t["count_col"]
        x[c1:c1 + nc] = np.where(okc, z, 0.0)
        c2 = c1 + nc
        for j, pos in enumerate(t["missing_pos"]):
            x[c2 + j] = float(not okc[pos])
        h = np.array(nums[-1:])
        if np.isfinite(h[0]):
            ang = 2.0 * math.pi * h / 24.0
            x[-2] = np.sin(ang)[0]
            x[-1] = np.cos(ang)[0]
        return x

    def unseen_values_one(self, context) -> list[str]:
        """The categorical fields of one context (a dict) whose value the encoder never saw when it
        was fitted: such a value takes the unknown bucket (all zeros in its one-hot block, the
        "other" level of a segment key). Missing values are not listed (they are allowed)."""
        cats = self._one_tables()["cats"]
        out = []
        for f in CATEGORICAL_FIELDS:
            v = self._category_one(context.get(f))
            if v is not None and v is not False and v not in cats[f]:
                out.append(f)
        return out

    def segment_id_one(self, context) -> int | None:
        """``segment_ids([context])[0]`` for one context given as a dict, without pandas; ``None``
        for a value type the one-context path does not handle (see :meth:`transform_one`)."""
        seg = 0
        for key, categorical, levels, n_levels in self._one_tables()["segments"]:
            if categorical:
                v = self._category_one(context.get(key))
                if v is False:
                    return None
                code = n_levels if v is None else levels.get(v, n_levels)
            else:
                v = self._number_one(context.get(key))
                if v is None:
                    return None
                code = int(v > 0) if math.isfinite(v) else n_levels
            seg = seg * (n_levels + 1) + code
        return seg

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
