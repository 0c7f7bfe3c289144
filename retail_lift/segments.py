"""Customer segments: k-means on standardised customer features, k chosen by a stated criterion, rule-based names.

Pipeline of :func:`fit_segments`
--------------------------------
1. **Transform.** Each feature column is optionally passed through ``log1p`` first. With
   ``log_columns="auto"`` (the default) a column is log-transformed when it is non-negative and
   right-skewed (sample skewness > 1): spend, order value and order counts usually are, and without the
   transform a few very large customers would become clusters of their own. Pass a list to choose the
   columns yourself, or ``None`` / ``[]`` for no transform. Then every column is standardised
   (mean 0, standard deviation 1; a constant column becomes 0).
2. **Fit.** :class:`sklearn.cluster.KMeans` (k-means++ initialisation, ``n_init`` restarts, seeded by
   ``random_state``) for every ``k`` in ``k_range``.
3. **Choose k.** For every ``k`` the table :attr:`SegmentResult.scores` reports the inertia (within-cluster
   sum of squares, for an elbow plot), the silhouette, the Calinski-Harabasz and the Davies-Bouldin
   index. ``criterion`` picks ``k``:

   - ``"silhouette"`` (default): the largest mean silhouette. The silhouette costs O(s^2), so it is
     computed on a seeded random sample of ``sample_size`` customers (all of them when there are fewer);
   - ``"calinski_harabasz"``: the largest Calinski-Harabasz index (all customers);
   - ``"davies_bouldin"``: the smallest Davies-Bouldin index (all customers);
   - ``"elbow"``: the knee of the inertia curve (Satopaa et al. 2011, "kneedle"): with k and inertia both
     rescaled to [0, 1], the k furthest below the straight line joining the first and the last point.
     Needs at least three values of k.

   Ties go to the smaller k. A one-element ``k_range`` fixes k.
4. **Relabel and profile.** Segments are numbered 0, 1, ... from the largest to the smallest (ties by
   the first feature's centroid), so ids do not depend on k-means' arbitrary labels. A segment's
   *centroid* in :attr:`SegmentResult.profiles` is the **mean of each feature over its members, in
   original units** (for a log-transformed column this is the arithmetic mean, not ``expm1`` of the
   k-means centre, so size-weighted centroids add up to the population mean).
5. **Name.** :func:`name_segments` (rules below).

Naming rules (:func:`name_segments`)
------------------------------------
A segment is compared with the population through the **ratio of its centroid to the overall mean**
(the size-weighted mean of the centroids), one ratio per *role*. Roles and the feature columns that
fill them by default (the first present wins; pass ``roles={...}`` to map your own names):

=============  ============================================================  ==============================
role           default column names (first present wins)                     meaning
=============  ============================================================  ==============================
``monetary``   ``monetary_value``, ``revenue_all``, ``total_spend``,           how much the customer spends
               ``total_amount``, ``monetary``, ``avg_order_value``
``frequency``  ``frequency``, ``orders_all``, ``order_count``, ``n_orders``,   how often they buy
               ``purchase_days``
``recency``    ``days_since_last_order``, ``days_since_last_purchase``,       days since the last purchase
               ``recency_days``
``tenure``     ``days_since_first_order``, ``days_since_first_purchase``,     days since the first purchase
               ``tenure_days``
``young``      ``young_share``, ``is_young``, ``share_young``                 share of young customers
=============  ============================================================  ==============================

(The BTYD column ``recency`` of ``fct_customer_ltv_inputs`` is first-to-last purchase, not days since
the last one, so it is deliberately not a default.) The first rule that matches names the segment;
a rule whose role has no column is skipped. With the defaults ``high=1.25``, ``low=0.75``,
``new_tenure=0.5``, ``lapsed_recency=1.5``:

==  ===========================  =========================================================
#   name                         rule (ratios to the overall mean)
==  ===========================  =========================================================
1   ``new``                      tenure <= 0.5 (first purchase recent)
2   ``lapsed``                   recency >= 1.5 (long time since the last purchase)
3   ``high-value loyal``         monetary >= 1.25 and frequency >= 1.25
4   ``big spenders``             monetary >= 1.25
5   ``frequent shoppers``        frequency >= 1.25
6   ``budget-conscious young``   monetary <= 0.75 and young >= 1.25
7   ``budget-conscious``         monetary <= 0.75
8   ``occasional``               frequency <= 0.75
9   ``core``                     none of the above
==  ===========================  =========================================================

A ratio is taken as 1 (neutral) when the overall mean of its column is 0. Roles should be non-negative
quantities (amounts, counts, days, shares) for ratios to make sense. Names are unique: when several
segments get the same name they are numbered in ``segment_id`` order (largest first), e.g.
``"core 1"``, ``"core 2"``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import skew
from sklearn.cluster import KMeans
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

from retail_lift.campaign._frames import id_column as _id_column
from retail_lift.campaign._frames import numeric_column, require_columns, require_frame
from retail_lift.frames import log_line, typed_frame
from retail_lift.validation import check_positive_int

__all__ = ["SegmentModel", "SegmentResult", "fit_segments", "name_segments", "score_segment_table",
           "segment_fit", "segment_fit_columns", "segment_fit_table", "segment_profiles", "ROLE_COLUMNS", "CRITERIA"]

CRITERIA = ("silhouette", "calinski_harabasz", "davies_bouldin", "elbow")

ROLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "monetary": ("monetary_value", "revenue_all", "total_spend", "total_amount", "monetary", "avg_order_value"),
    "frequency": ("frequency", "orders_all", "order_count", "n_orders", "purchase_days"),
    "recency": ("days_since_last_order", "days_since_last_purchase", "recency_days"),
    "tenure": ("days_since_first_order", "days_since_first_purchase", "tenure_days"),
    "young": ("young_share", "is_young", "share_young"),
}

_SKEW_THRESHOLD = 1.0


@dataclasses.dataclass(frozen=True)
class SegmentModel:
    """What assigns customers to fitted segments (no fit): the transform, the k-means of the chosen k, the
    k-means label -> segment id map and the segment names by id. The model registry stores it
    (:func:`segment_fit`); ``fill_values``: what a missing feature value takes (the training medians of
    :func:`segment_fit_table`; empty for :func:`fit_segments`)."""

    columns: list[str]
    log_columns: list[str]
    center: np.ndarray
    scale: np.ndarray
    model: KMeans
    label_map: np.ndarray
    names: list[str]
    fill_values: Mapping[str, float] = dataclasses.field(default_factory=dict)

    @property
    def k(self) -> int:
        return len(self.names)

    def assign(self, features: pd.DataFrame) -> np.ndarray:
        """The segment id of every row of ``features`` (which holds :attr:`columns`)."""
        require_columns(features, "features", self.columns)
        if len(features) == 0:
            return np.empty(0, dtype=int)
        z = (_raw_matrix(features, self.columns, self.log_columns) - self.center) / self.scale
        return self.label_map[self.model.predict(z)]


@dataclasses.dataclass(frozen=True)
class SegmentResult:
    """What :func:`fit_segments` returns.

    Attributes
    ----------
    k : the chosen number of segments.
    criterion : the criterion that chose it.
    columns : the feature columns, in order.
    log_columns : the columns that were ``log1p``-transformed before standardising.
    assignments : one row per customer: ``<id_column>``, ``segment_id``, ``segment_name``.
    profiles : one row per segment: ``segment_id``, ``segment_name``, ``size``, ``share`` and the
        centroid (member mean, original units) of every feature column, then of every profile column.
    scores : one row per k tried: ``k``, ``inertia``, ``silhouette``, ``calinski_harabasz``,
        ``davies_bouldin``, ``is_chosen``.
    model : the fitted k-means of the chosen k (on the transformed, standardised features).
    center, scale : the standardisation (mean and standard deviation of the transformed columns).
    id_column : the customer id column.
    """

    k: int
    criterion: str
    columns: list[str]
    log_columns: list[str]
    assignments: pd.DataFrame
    profiles: pd.DataFrame
    scores: pd.DataFrame
    model: KMeans
    center: np.ndarray
    scale: np.ndarray
    id_column: str
    _label_map: np.ndarray = dataclasses.field(repr=False)

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        """The transformed, standardised feature matrix the model works on."""
        require_columns(features, "features", self.columns)
        return (_raw_matrix(features, self.columns, self.log_columns) - self.center) / self.scale

    def segment_model(self, fill_values: Mapping[str, float] | None = None) -> SegmentModel:
        """The fitted model without the customers (what the model registry stores)."""
        return SegmentModel(columns=list(self.columns), log_columns=list(self.log_columns), center=self.center,
                            scale=self.scale, model=self.model, label_map=self._label_map,
                            names=self.profiles.sort_values("segment_id")["segment_name"].tolist(),
                            fill_values=dict(fill_values or {}))

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Assign (new) customers to the fitted segments: ``<id_column>``, ``segment_id``, ``segment_name``."""
        require_columns(features, "features", [self.id_column, *self.columns])
        ids = _id_column(features, "features", self.id_column)
        seg = self.segment_model().assign(features)
        names = self.profiles.set_index("segment_id")["segment_name"]
        return pd.DataFrame({
            self.id_column: ids.to_numpy(),
            "segment_id": seg,
            "segment_name": names.reindex(seg).to_numpy(),
        })


# ----------------------------------------------------------------------------------------------
# fitting
# ----------------------------------------------------------------------------------------------


def _raw_matrix(features: pd.DataFrame, columns: Sequence[str], log_columns: Sequence[str]) -> np.ndarray:
    cols = []
    for c in columns:
        v = numeric_column(features, "features", c)
        if c in log_columns:
            if (v < 0).any():
                i = int(np.flatnonzero(v < 0)[0])
                raise ValueError(f"features[{c!r}] is log-transformed and must be >= 0; row {i} is {v[i]!r}")
            v = np.log1p(v)
        cols.append(v)
    return np.column_stack(cols) if cols else np.empty((len(features), 0))


def _auto_log_columns(features: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    out = []
    for c in columns:
        v = numeric_column(features, "features", c)
        if v.size > 2 and v.min() >= 0 and np.ptp(v) > 0 and skew(v) > _SKEW_THRESHOLD:
            out.append(c)
    return out


def _knee(ks: np.ndarray, inertia: np.ndarray) -> int:
    """Kneedle on a decreasing curve: the index furthest below the chord from the first to the last point."""
    x = (ks - ks[0]) / (ks[-1] - ks[0])
    span = inertia[0] - inertia[-1]
    y = (inertia - inertia[-1]) / span if span > 0 else np.zeros_like(inertia)
    return int(np.argmax((1.0 - x) - y))


def _check_log_columns(features: pd.DataFrame, columns: list[str], log_columns) -> list[str]:
    """The columns to ``log1p`` before standardising (``"auto"``: non-negative and skewed; None: none)."""
    if log_columns == "auto":
        return _auto_log_columns(features, columns)
    if log_columns is None:
        return []
    if isinstance(log_columns, str):
        raise ValueError(f"log_columns must be 'auto', None or a list of column names, got {log_columns!r}")
    logs = list(log_columns)
    unknown = [c for c in logs if c not in columns]
    if unknown:
        raise ValueError(f"log_columns names column(s) not in columns: {unknown!r}")
    return logs


def _check_ks(k_range: Iterable[int], n: int, criterion: str) -> list[int]:
    ks = sorted({check_positive_int(k, "k_range values") for k in k_range})
    if not ks:
        raise ValueError("k_range must hold at least one k")
    bad = [k for k in ks if k < 2 or k >= n]
    if bad:
        raise ValueError(f"k_range values must lie in [2, {n - 1}] for {n} customers; got {bad!r}")
    if criterion == "elbow" and len(ks) < 3:
        raise ValueError("criterion='elbow' needs at least three values in k_range")
    return ks


def _k_score(Z: np.ndarray, km: KMeans, k: int, sample_size: int, random_state: int) -> dict:
    """The row of :attr:`SegmentResult.scores` of one fitted k."""
    labels = km.labels_
    n = len(Z)
    sil = ch = db = np.nan
    if len(np.unique(labels)) >= 2:  # all points identical: no clustering possible
        try:
            sil = float(silhouette_score(Z, labels, sample_size=sample_size if n > sample_size else None,
                                         random_state=random_state))
        except ValueError:  # the sample happened to hold a single segment
            sil = np.nan
        ch = float(calinski_harabasz_score(Z, labels))
        db = float(davies_bouldin_score(Z, labels))
    return {"k": k, "inertia": float(km.inertia_), "silhouette": sil, "calinski_harabasz": ch,
            "davies_bouldin": db}


def _choose_k(scores: pd.DataFrame, criterion: str) -> int:
    """The position in ``scores`` of the chosen k (ties to the smaller k)."""
    if criterion == "elbow":
        return _knee(scores["k"].to_numpy(float), scores["inertia"].to_numpy(float))
    vals = scores[criterion].to_numpy(float)
    if np.isnan(vals).all():
        return 0
    vals = np.where(np.isnan(vals), np.inf if criterion == "davies_bouldin" else -np.inf, vals)
    return int(np.argmin(vals) if criterion == "davies_bouldin" else np.argmax(vals))


def _label_map(labels: np.ndarray, first_feature: np.ndarray, k: int) -> np.ndarray:
    """k-means label -> segment id: the largest segment first; ties by the first feature's member mean."""
    sizes = np.bincount(labels, minlength=k)
    first_mean = np.array([first_feature[labels == j].mean() if sizes[j] else np.inf for j in range(k)])
    order = np.lexsort((first_mean, -sizes))  # primary key: size descending
    label_map = np.empty(k, dtype=int)
    label_map[order] = np.arange(k)
    return label_map


def segment_profiles(features: pd.DataFrame, described: Sequence[str], seg: np.ndarray, k: int) -> pd.DataFrame:
    """One row per segment id 0..k-1: ``segment_id``, ``size``, ``share`` and the member mean of every
    ``described`` column (original units; NaN for a segment without members)."""
    n = len(seg)
    centroids = (
        pd.DataFrame(_raw_matrix(features, described, []), columns=list(described))
        .assign(segment_id=seg)
        .groupby("segment_id", sort=True)[list(described)].mean()
    )
    size = np.bincount(seg, minlength=k)
    profiles = pd.DataFrame({"segment_id": np.arange(k), "size": size, "share": size / n if n else np.nan})
    return profiles.join(centroids.reindex(range(k)), on="segment_id")


def fit_segments(
    features: pd.DataFrame,
    columns: list[str],
    k_range: Iterable[int] = range(2, 9),
    criterion: str = "silhouette",
    random_state: int = 0,
    *,
    id_column: str = "customer_id",
    log_columns: str | Sequence[str] | None = "auto",
    sample_size: int = 5000,
    n_init: int = 4,
    roles: Mapping[str, str] | None = None,
    profile_columns: Sequence[str] = (),
) -> SegmentResult:
    """Segment customers with k-means on standardised features; choose k; profile and name the segments.

    Parameters
    ----------
    features : one row per customer with ``id_column`` and every column of ``columns`` (numeric, no NaN).
    columns : the feature columns to cluster on.
    k_range : the numbers of segments to try (each >= 2 and < the number of customers).
    criterion : ``"silhouette"`` (default), ``"calinski_harabasz"``, ``"davies_bouldin"`` or ``"elbow"``
        (see the module docstring).
    random_state : seeds k-means and the silhouette sample.
    id_column : the customer id column (copied into ``assignments``).
    log_columns : ``"auto"`` (non-negative columns with skewness > 1), a list of columns, or ``None``.
    sample_size : customers sampled for the silhouette (all when fewer).
    n_init : k-means restarts per k.
    roles : role -> column mapping for :func:`name_segments`.
    profile_columns : further numeric columns described in ``profiles`` (member means) and usable by the
        naming rules, but not clustered on, e.g. a 0/1 ``is_young`` flag: cluster on behaviour, describe
        by demographics (a 0/1 column clustered on tends to split every segment in two).

    Returns
    -------
    SegmentResult
    """
    require_frame(features, "features")
    if isinstance(columns, str) or not isinstance(columns, Sequence) or len(columns) == 0:
        raise ValueError(f"columns must be a non-empty list of column names, got {columns!r}")
    columns = list(columns)
    if len(set(columns)) != len(columns):
        raise ValueError(f"columns must not repeat a name, got {columns!r}")
    profile_columns = [c for c in profile_columns if c not in columns]
    require_columns(features, "features", [id_column, *columns, *profile_columns])
    ids = _id_column(features, "features", id_column, unique=True)
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(CRITERIA)}; got {criterion!r}")
    sample_size = check_positive_int(sample_size, "sample_size")
    n_init = check_positive_int(n_init, "n_init")
    logs = _check_log_columns(features, columns, log_columns)
    original = _raw_matrix(features, columns, [])
    X = _raw_matrix(features, columns, logs)
    center = X.mean(axis=0)
    scale = X.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    Z = (X - center) / scale
    ks = _check_ks(k_range, len(features), criterion)

    models = {k: KMeans(n_clusters=k, n_init=n_init, random_state=random_state).fit(Z) for k in ks}
    scores = pd.DataFrame([_k_score(Z, models[k], k, sample_size, random_state) for k in ks])
    k = ks[_choose_k(scores, criterion)]
    scores["is_chosen"] = scores["k"] == k
    model = models[k]
    label_map = _label_map(model.labels_, original[:, 0], k)
    seg = label_map[model.labels_]
    profiles = segment_profiles(features, columns + profile_columns, seg, k)
    profiles.insert(1, "segment_name", name_segments(profiles, roles=roles).to_numpy())

    names = profiles["segment_name"].to_numpy()
    assignments = pd.DataFrame({id_column: ids.to_numpy(), "segment_id": seg, "segment_name": names[seg]})
    return SegmentResult(k=k, criterion=criterion, columns=columns, log_columns=logs, assignments=assignments,
                         profiles=profiles, scores=scores, model=model, center=center, scale=scale,
                         id_column=id_column, _label_map=label_map)


# ----------------------------------------------------------------------------------------------
# naming
# ----------------------------------------------------------------------------------------------


def _resolve_roles(profiles: pd.DataFrame, roles: Mapping[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if roles is not None:
        unknown = sorted(set(roles) - set(ROLE_COLUMNS))
        if unknown:
            raise ValueError(f"roles has unknown role(s) {unknown!r}; known: {sorted(ROLE_COLUMNS)}")
        for role, col in roles.items():
            if col not in profiles.columns:
                raise ValueError(f"roles[{role!r}] names column {col!r}, which profiles does not have")
            out[role] = col
    for role, candidates in ROLE_COLUMNS.items():
        if role not in out:
            for c in candidates:
                if c in profiles.columns:
                    out[role] = c
                    break
    return out


def name_segments(
    profiles: pd.DataFrame,
    *,
    roles: Mapping[str, str] | None = None,
    high: float = 1.25,
    low: float = 0.75,
    new_tenure: float = 0.5,
    lapsed_recency: float = 1.5,
) -> pd.Series:
    """Name segments from their centroids with the rules of the module docstring.

    Parameters
    ----------
    profiles : one row per segment with ``size`` (customers, used to weight the overall mean) and the
        centroid columns (e.g. :attr:`SegmentResult.profiles`).
    roles : role -> column mapping; roles not given are filled from :data:`ROLE_COLUMNS`.
    high, low : ratio to the overall mean at or above which a role is "high", at or below which "low".
    new_tenure : tenure ratio at or below which a segment is ``"new"``.
    lapsed_recency : recency ratio at or above which a segment is ``"lapsed"``.

    Returns
    -------
    pandas.Series of unique names, named ``segment_name``, on the index of ``profiles``.
    """
    require_columns(profiles, "profiles", ["size"])
    if not (0 < low < 1 < high):
        raise ValueError(f"need 0 < low < 1 < high, got low={low!r}, high={high!r}")
    if not (0 < new_tenure < 1 < lapsed_recency):
        raise ValueError(f"need 0 < new_tenure < 1 < lapsed_recency, got {new_tenure!r}, {lapsed_recency!r}")
    size = numeric_column(profiles, "profiles", "size")
    if (size < 0).any() or size.sum() <= 0:
        raise ValueError("profiles['size'] must be non-negative with a positive total")
    found = _resolve_roles(profiles, roles)

    ratio: dict[str, np.ndarray] = {}
    for role, col in found.items():
        v = numeric_column(profiles, "profiles", col)
        mean = float(np.sum(v * size) / size.sum())
        ratio[role] = v / mean if mean != 0 else np.ones_like(v)

    def has(role: str, test) -> np.ndarray:
        return test(ratio[role]) if role in ratio else np.zeros(len(profiles), dtype=bool)

    m_high = has("monetary", lambda r: r >= high)
    m_low = has("monetary", lambda r: r <= low)
    f_high = has("frequency", lambda r: r >= high)
    f_low = has("frequency", lambda r: r <= low)
    rules = [
        ("new", has("tenure", lambda r: r <= new_tenure)),
        ("lapsed", has("recency", lambda r: r >= lapsed_recency)),
        ("high-value loyal", m_high & f_high),
        ("big spenders", m_high),
        ("frequent shoppers", f_high),
        ("budget-conscious young", m_low & has("young", lambda r: r >= high)),
        ("budget-conscious", m_low),
        ("occasional", f_low),
    ]
    names = np.full(len(profiles), "core", dtype=object)
    assigned = np.zeros(len(profiles), dtype=bool)
    for name, mask in rules:
        take = mask & ~assigned
        names[take] = name
        assigned |= take

    order = (np.argsort(profiles["segment_id"].to_numpy(), kind="stable") if "segment_id" in profiles
             else np.arange(len(profiles)))
    counts = pd.Series(names).value_counts()
    seen: dict[str, int] = {}
    unique = names.copy()
    for i in order:
        base = names[i]
        if counts[base] > 1:
            seen[base] = seen.get(base, 0) + 1
            unique[i] = f"{base} {seen[base]}"
    return pd.Series(unique, index=profiles.index, name="segment_name", dtype=object)


# ----------------------------------------------------------------------------------------------
# the segment fit table
# ----------------------------------------------------------------------------------------------

_FIT_BASE_COLUMNS = {
    "record_type": "str", "customer_id": "str", "segment_id": "int", "segment_name": "str", "k": "int",
    "is_chosen": "bool", "inertia": "float", "silhouette": "float", "calinski_harabasz": "float",
    "davies_bouldin": "float", "size": "int", "share": "float",
}


def segment_fit_columns(columns: Sequence[str], profile_columns: Sequence[str]) -> dict[str, str]:
    """The schema of :func:`segment_fit_table` (``typed_frame`` kinds) with these feature and profile columns."""
    return {**_FIT_BASE_COLUMNS, **{c: "float" for c in (*columns, *profile_columns)}, "status": "str",
            "message": "str"}


def _filled(buyers: pd.DataFrame, cols: Sequence[str], fill_values: Mapping[str, float] | None = None
            ) -> tuple[pd.DataFrame, dict[str, float]]:
    """``buyers`` with ``cols`` numeric, a missing value filled with ``fill_values`` (default: the column's
    median, 0 when the column is all missing), and the values used."""
    df = buyers.copy()
    used = {}
    for c in cols:
        v = pd.to_numeric(df[c], errors="coerce").astype(float)
        if fill_values is None:
            used[c] = float(v.median()) if v.notna().any() else 0.0
        else:
            used[c] = float(fill_values[c])
        df[c] = v.fillna(used[c])
    return df, used


def segment_fit(buyers: pd.DataFrame, columns: Sequence[str], *, profile_columns: Sequence[str],
                k_range: Iterable[int], random_state: int, sample_size: int, n_init: int
                ) -> tuple[pd.DataFrame, SegmentModel | None]:
    """:func:`segment_fit_table` and the fitted :class:`SegmentModel` (None when skipped), whose
    ``fill_values`` are the medians the table filled missing values with."""
    t0 = time.perf_counter()
    schema = segment_fit_columns(columns, profile_columns)
    cols = [*columns, *profile_columns]
    df, fill = _filled(buyers, cols)
    n = len(df)
    ks = [k for k in k_range if 2 <= k < n]
    if not ks:
        message = f"segments skipped: {n} buyers, too few for k in {list(k_range)}"
        log_line(message)
        return typed_frame(pd.DataFrame([{"record_type": "run", "status": "skipped", "message": message}]),
                           schema), None
    res = fit_segments(df, list(columns), k_range=ks, criterion="silhouette", random_state=random_state,
                       sample_size=sample_size, n_init=n_init, profile_columns=list(profile_columns))
    names = ", ".join(res.profiles["segment_name"])
    chosen = res.scores[res.scores["is_chosen"]].iloc[0]
    message = f"segments: {n} buyers, k = {res.k} by silhouette ({chosen['silhouette']:.3f}): {names}"
    log_line(f"{message}; {time.perf_counter() - t0:.1f} s")
    run = pd.DataFrame([{"record_type": "run", "k": res.k, "silhouette": chosen["silhouette"], "status": "trained",
                         "message": message}])
    kscore = res.scores.copy()
    kscore["record_type"] = "k_score"
    table = _stack(run, res.assignments, res.profiles, kscore, df, cols, res.k, schema)
    return table, res.segment_model(fill)


def _stack(run, assignments, profiles, kscore, df, cols, k, schema) -> pd.DataFrame:
    """The fit table: the run row, one assignment row per buyer (with its features), the profiles, the k scores."""
    assign = assignments.merge(df[["customer_id", *cols]], on="customer_id", how="left")
    assign["record_type"] = "assignment"
    assign["k"] = k
    prof = profiles.copy()
    prof["record_type"] = "profile"
    prof["k"] = k
    return typed_frame(pd.concat([run, assign, prof, kscore], ignore_index=True), schema)


def segment_fit_table(buyers: pd.DataFrame, columns: Sequence[str], *, profile_columns: Sequence[str],
                      k_range: Iterable[int], random_state: int, sample_size: int, n_init: int) -> pd.DataFrame:
    """K-means segments of ``buyers`` (:func:`fit_segments`, k by silhouette) stacked into one fit table.

    ``buyers``: one row per customer (``customer_id``) with ``columns`` (clustered on) and ``profile_columns``
    (described by, e.g. the ``young_share`` of the naming rules); a missing value takes the column's median
    (0 when the column is all missing). Every k of ``k_range`` with 2 <= k < the number of buyers is tried;
    with none, the table is one ``run`` row with ``status = 'skipped'`` and the reason (also in the dbt log).
    Otherwise: one ``run`` row (k, silhouette, a message naming the segments), one ``assignment`` row per
    buyer (its segment and features), one ``profile`` row per segment and one ``k_score`` row per k tried;
    columns :func:`segment_fit_columns`.
    """
    return segment_fit(buyers, columns, profile_columns=profile_columns, k_range=k_range,
                       random_state=random_state, sample_size=sample_size, n_init=n_init)[0]


def score_segment_table(buyers: pd.DataFrame, model: SegmentModel, training_rows: pd.DataFrame, *,
                        profile_columns: Sequence[str]) -> pd.DataFrame:
    """The fit table of ``buyers`` assigned by a fitted ``model`` (no fit): the ``run`` and ``k_score`` rows
    of its training (``training_rows``) as they were recorded; one ``assignment`` row per buyer (missing
    values filled with the model's ``fill_values``); one ``profile`` row per segment of the model, its name,
    and the size, share and member means of the buyers assigned to it now (NaN means for a segment without
    members). On the buyers the model was fitted on, the table equals :func:`segment_fit_table`'s."""
    columns = list(model.columns)
    profile_columns = [c for c in profile_columns if c not in columns]
    cols = [*columns, *profile_columns]
    schema = segment_fit_columns(columns, profile_columns)
    df, _fill = _filled(buyers, cols, model.fill_values)
    seg = model.assign(df)
    names = np.asarray(model.names, dtype=object)
    ids = _id_column(df, "buyers", "customer_id", unique=True)
    assignments = pd.DataFrame({"customer_id": ids.to_numpy(), "segment_id": seg,
                                "segment_name": names[seg]})
    profiles = segment_profiles(df, cols, seg, model.k)
    profiles.insert(1, "segment_name", names)
    kind = training_rows["record_type"].astype(str)
    run, kscore = training_rows[kind == "run"], training_rows[kind == "k_score"]
    return _stack(run, assignments, profiles, kscore, df, cols, model.k, schema)
