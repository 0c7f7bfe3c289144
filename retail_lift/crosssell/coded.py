"""Cross-sell on integer-coded ids: the order lines of a large shop without a Python string per line.

Cross-sell only counts, joins and sorts ids, so it can run on integer codes and decode its outputs: the
same tables as on the string ids (:func:`id_codes`: the codes sort and tie-break exactly like the ids),
for millions of order lines. :func:`mine_rules` mines :func:`~retail_lift.crosssell.rules.association_rules`
with a minimum count of orders per pair as well as a minimum share (so tiny data mines no noise), and
:func:`popularity_recommendations` is the baseline the rules are compared with (the most bought items the
customer does not own), formed in customer blocks so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from retail_lift.crosssell.rules import association_rules

__all__ = ["ITEM_LEVELS", "POPULARITY_BLOCK_ROWS", "coded_lines", "decode", "id_codes", "level_item_column",
           "mine_rules", "popularity_recommendations", "present", "support_threshold"]

#: item level -> the item column of the order lines (fct_customer_order_lines)
ITEM_LEVELS = {"product": "product_id", "category": "category_id", "top_level_category": "top_level_category_id"}
#: Candidate rows (customer x popular item) formed at a time by the popularity baseline.
POPULARITY_BLOCK_ROWS = 4_000_000


def level_item_column(item_level: str) -> str:
    """The item column of ``item_level`` (:data:`ITEM_LEVELS`); an unknown level is an error naming the known ones."""
    if item_level not in ITEM_LEVELS:
        raise ValueError(f"item_level must be one of {list(ITEM_LEVELS)}, got {item_level!r}")
    return ITEM_LEVELS[item_level]


def support_threshold(n_orders: int, min_support: float, min_pair_orders: int) -> float:
    """The larger of a share of orders and a minimum count of orders (so tiny data mines no noise)."""
    return max(float(min_support), min(1.0, min_pair_orders / n_orders)) if n_orders else 1.0


def id_codes(values) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of an id column (a pandas Series or an Arrow array) and its distinct values.

    The codes are the positions of the values among the sorted distinct values (missing: -1), so codes
    compare, sort and tie-break exactly like the ids (strings by code point, as Python and Arrow both do);
    the distinct values come back as a NumPy array (strings as Python ``str``) to decode with."""
    if isinstance(values, pd.Series):
        codes, uniques = pd.factorize(values, sort=True)
        uniques = np.asarray(uniques.astype(object) if not isinstance(uniques, np.ndarray) else uniques)
    else:
        import pyarrow as pa
        import pyarrow.compute as pc

        if isinstance(values, pa.ChunkedArray) and pa.types.is_dictionary(values.type):
            values = values.cast(values.type.value_type)
        distinct = pc.unique(values).drop_null()
        distinct = distinct.take(pc.sort_indices(distinct))
        codes = pc.fill_null(pc.index_in(values, value_set=distinct), -1).to_numpy()
        uniques = distinct.to_numpy(zero_copy_only=False)  # strings: an object array of str
    dtype = np.int32 if len(uniques) < 2**31 - 1 else np.int64
    return np.asarray(codes).astype(dtype, copy=False), uniques


def coded_lines(order_lines, columns: Sequence[str], *, ordered_at: bool = False,
                required: Sequence[str] = ()) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The id ``columns`` of ``fct_customer_order_lines`` (pandas or Arrow) as integer codes (see
    :func:`id_codes`; missing items -1) and ``ordered_at`` as is; with each column's distinct ids.

    Columns not in the input are left out; ``required`` columns (``order_id``, ``customer_id``: the keys)
    must have no missing values, as :func:`~retail_lift.crosssell.rules.association_rules` /
    :func:`~retail_lift.crosssell.rules.recommend` demand."""
    if isinstance(order_lines, pd.DataFrame):
        names = list(order_lines.columns)
        get = order_lines.__getitem__
    elif hasattr(order_lines, "column") and hasattr(order_lines, "schema"):
        names = list(order_lines.schema.names)
        get = order_lines.column
    else:
        raise ValueError(f"expected a pandas DataFrame or a pyarrow Table, got {type(order_lines).__name__}")
    out, uniques = {}, {}
    for c in columns:
        if c not in names:
            if c in required:
                raise ValueError(f"order_lines has no column {c!r}; columns are {names}")
            continue
        out[c], uniques[c] = id_codes(get(c))
        if c in required and (out[c] < 0).any():
            raise ValueError(f"order_lines[{c!r}] has {int((out[c] < 0).sum())} missing value(s)")
    if ordered_at:
        when = get("ordered_at")
        out["ordered_at"] = when if isinstance(when, pd.Series) else when.to_pandas()
    return pd.DataFrame(out).reset_index(drop=True), uniques


def decode(codes, uniques: np.ndarray) -> np.ndarray:
    """The ids of ``codes`` (:func:`id_codes`' distinct values ``uniques``)."""
    return uniques[np.asarray(codes, dtype=np.int64)]


def present(s: pd.Series) -> np.ndarray:
    """Rows with an item: not missing, and not the code -1 of a missing id (:func:`coded_lines`)."""
    ok = s.notna().to_numpy()
    if pd.api.types.is_integer_dtype(s.dtype):
        ok = ok & (s.to_numpy() >= 0)
    return ok


def mine_rules(lines: pd.DataFrame, item: str, *, min_support: float, min_pair_orders: int, min_confidence: float,
               min_lift: float) -> pd.DataFrame:
    """:func:`~retail_lift.crosssell.rules.association_rules` over the lines with an item: a pair must be in
    at least ``max(min_support * orders, min_pair_orders)`` orders (:func:`support_threshold`)."""
    lines = lines[present(lines[item])]
    n_orders = lines["order_id"].nunique()
    return association_rules(lines, min_support=support_threshold(n_orders, min_support, min_pair_orders),
                             min_confidence=min_confidence, min_lift=min_lift, item_column=item)


def popularity_recommendations(train: pd.DataFrame, customers: pd.Index, item: str, n: int, *,
                               block_rows: int = POPULARITY_BLOCK_ROWS) -> pd.DataFrame:
    """Baseline: the items bought in most orders before the cutoff, minus those the customer owns.

    Each customer walks down the popularity list past the items they own: their top ``n`` lie within the
    first ``n + owned`` items. Candidates are formed for blocks of customers of about ``block_rows`` rows
    (the result does not depend on it)."""
    pop = train.groupby(item)["order_id"].nunique().sort_values(ascending=False, kind="mergesort")
    owned = train.loc[train["customer_id"].isin(customers), ["customer_id", item]].drop_duplicates()
    cust = np.sort(pd.unique(np.asarray(customers)))
    n_owned = owned.groupby("customer_id").size().reindex(cust, fill_value=0).to_numpy(np.int64)
    depth = np.minimum(len(pop), n + n_owned)
    empty = pd.DataFrame({"customer_id": cust[:0], item: pop.index[:0], "rank": np.zeros(0, dtype=np.int64)})
    if not len(cust) or not len(pop):
        return empty
    block = (np.cumsum(depth) - depth) // max(int(block_rows), 1)
    bounds = np.searchsorted(block, np.unique(block), side="left").tolist() + [len(cust)]
    pop_items = pop.index.to_numpy()
    parts = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        d = depth[lo:hi]
        rows = np.repeat(np.arange(lo, hi), d)
        pop_rank = np.arange(len(rows)) - np.repeat(np.cumsum(d) - d, d)
        cand = pd.DataFrame({"customer_id": cust[rows], item: pop_items[pop_rank], "pop_rank": pop_rank})
        mine = owned[owned["customer_id"].isin(cust[lo:hi])]
        cand = cand.merge(mine.assign(_owned=True), on=["customer_id", item], how="left")
        cand = cand[cand["_owned"].isna()].sort_values(["customer_id", "pop_rank"], kind="mergesort")
        cand["rank"] = cand.groupby("customer_id").cumcount() + 1
        parts.append(cand[cand["rank"] <= n][["customer_id", item, "rank"]])
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
