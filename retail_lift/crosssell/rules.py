"""Cross-sell: pairwise association rules from baskets, top-N recommendations, and their time-holdout evaluation.

Association rules (:func:`association_rules`)
---------------------------------------------
A basket is the set of distinct items (products, or categories) of one order. With ``N`` orders and
``n(X)`` the number of orders holding every item of ``X``, a rule ``A -> B`` between two items has

- ``support    = n(A and B) / N``                     how common the pair is;
- ``confidence = n(A and B) / n(A)``                  P(B in basket | A in basket);
- ``lift       = confidence / (n(B) / N)``            = n(A and B) * N / (n(A) * n(B)); 1 = independence,
  above 1 = A makes B more likely.

Only pairs (one antecedent, one consequent) are mined; both directions of a pair are reported. The
counts come from one sparse matrix product: with ``X`` the 0/1 order x item matrix, ``X.T @ X`` holds
every pair count. Items whose own support is below ``min_support`` are dropped first (a pair is never
more frequent than its items: the Apriori property), so the product stays small; the cost is about
``sum over orders of (basket size)^2``, a few seconds for millions of order lines. ``max_items`` drops
orders with more distinct items than that (bulk or business baskets, which dominate that cost and say
little about cross-sell) from every count, ``N`` included, so all measures refer to the same orders.

Recommendations (:func:`recommend`)
-----------------------------------
Every rule ``A -> B`` whose antecedent ``A`` a customer owns votes for ``B`` with weight
``confidence * lift`` (confidence favours likely items, lift discounts items that are popular with
everyone). A candidate's **score** is the **maximum** vote (``score="max"``, the default: "the single
strongest reason") or the **sum** of votes (``score="sum"``: many owned items pointing to the same
item add up). Items the customer already owns are excluded (``exclude_owned=True``). Each customer gets
their top ``n`` by score (ties by item id), with the antecedent of the strongest rule as the
explanation (``because_item``). Customers none of whose items appear as an antecedent get no rows.
The votes are formed for blocks of customers at a time (``max_votes`` vote rows per block, about): every
customer's recommendations depend only on their own items, so the blocks give the same table as one pass
over everyone, with memory bounded on shops with a million customers.

Evaluation (:func:`evaluate_recommendations`, :func:`time_holdout`)
-------------------------------------------------------------------
Train the rules and build the customers' owned items from purchases **before** a cutoff, recommend,
and compare with the items each customer bought **on or after** it (by default only items new to the
customer, as owned items are never recommended). Over the customers with at least one holdout item:

- ``precision_at_n`` = mean of hits / n (a customer with fewer than n recommendations is still divided by n);
- ``recall_at_n``    = mean of hits / (number of the customer's holdout items);
- ``hit_rate_at_n``  = share of customers with at least one hit;
- ``coverage``       = share of customers who received at least one recommendation,

where hits = holdout items among the customer's top n recommendations.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import sparse

from retail_lift.campaign._frames import (
    first_present,
    fraction,
    id_column,
    non_negative_number,
    require_columns,
    require_frame,
    time_column,
)
from retail_lift.validation import check_positive_int

__all__ = ["association_rules", "recommend", "evaluate_recommendations", "time_holdout", "RULE_COLUMNS",
           "MAX_VOTES"]

ITEM_COLUMNS = ("product_id", "category_id")
RULE_COLUMNS = ["antecedent", "consequent", "pair_count", "antecedent_count", "consequent_count",
                "support", "confidence", "lift"]
_EPS = 1e-12
#: Vote rows (owned item x rule with that antecedent) formed at a time by :func:`recommend`.
MAX_VOTES = 4_000_000


def _pair_keys(left: pd.DataFrame, right: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """One int64 key per row of ``left`` and of ``right`` for the pair of ``columns``: equal keys, equal pairs.

    Each column is factorised over both frames together, so any hashable ids work; the keys replace
    ``pd.MultiIndex.isin`` (several times the memory on millions of rows) with the same answer."""
    n_left = len(left)
    key_l = np.zeros(n_left, dtype=np.int64)
    key_r = np.zeros(len(right), dtype=np.int64)
    for c in columns:
        codes, uniques = pd.factorize(pd.concat([left[c], right[c]], ignore_index=True), use_na_sentinel=False)
        base = max(len(uniques), 1)
        key_l = key_l * base + codes[:n_left]
        key_r = key_r * base + codes[n_left:]
    return key_l, key_r


def _pairs_isin(left: pd.DataFrame, right: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Boolean mask over ``left``: is the row's pair of ``columns`` also a pair of ``right``?"""
    key_l, key_r = _pair_keys(left, right, columns)
    return pd.Index(key_l).isin(key_r) if len(key_l) else np.zeros(0, dtype=bool)


def _item_column(df: pd.DataFrame, name: str, item_column: str | None) -> str:
    if item_column is None:
        return first_present(df, name, ITEM_COLUMNS, "item")
    require_columns(df, name, [item_column])
    return item_column


def association_rules(
    order_lines: pd.DataFrame,
    min_support: float = 0.01,
    min_confidence: float = 0.1,
    max_items: int | None = None,
    *,
    min_lift: float = 0.0,
    order_column: str = "order_id",
    item_column: str | None = None,
) -> pd.DataFrame:
    """Mine pairwise rules ``A -> B`` from order lines.

    Parameters
    ----------
    order_lines : one row per order line with ``order_column`` and the item column (``product_id`` or
        ``category_id``, auto-detected in that order unless ``item_column`` is given). Repeated items
        in an order count once.
    min_support : keep pairs with ``support >= min_support`` (a share of orders, in [0, 1]).
    min_confidence : keep rules with ``confidence >= min_confidence``.
    max_items : drop orders with more than this many distinct items before counting (``None``: keep all).
    min_lift : keep rules with ``lift >= min_lift`` (0: no filter; 1: only positive association).

    Returns
    -------
    DataFrame with :data:`RULE_COLUMNS` (``antecedent``, ``consequent``, ``pair_count``,
    ``antecedent_count``, ``consequent_count``, ``support``, ``confidence``, ``lift``), one row per rule,
    sorted by lift, confidence (descending), then antecedent and consequent. ``attrs`` holds
    ``n_orders`` (N), ``n_orders_dropped`` (by ``max_items``) and ``item_column``.
    """
    require_frame(order_lines, "order_lines")
    item = _item_column(order_lines, "order_lines", item_column)
    require_columns(order_lines, "order_lines", [order_column])
    min_support = fraction(min_support, "min_support")
    min_confidence = fraction(min_confidence, "min_confidence")
    min_lift = non_negative_number(min_lift, "min_lift")
    if max_items is not None:
        max_items = check_positive_int(max_items, "max_items")
    id_column(order_lines, "order_lines", order_column)
    id_column(order_lines, "order_lines", item)

    baskets = order_lines[[order_column, item]].drop_duplicates()
    o_codes, _ = pd.factorize(baskets[order_column], sort=False)
    n_all = int(o_codes.max()) + 1 if len(o_codes) else 0
    dropped = 0
    if max_items is not None and n_all:
        keep_order = np.bincount(o_codes, minlength=n_all) <= max_items
        dropped = int((~keep_order).sum())
        baskets = baskets[keep_order[o_codes]]
        o_codes, _ = pd.factorize(baskets[order_column], sort=False)
    n_orders = n_all - dropped
    i_codes, items = pd.factorize(baskets[item], sort=True)

    empty = pd.DataFrame({c: pd.Series(dtype=float) for c in RULE_COLUMNS})
    empty["antecedent"] = pd.Series(dtype=items.dtype if len(items) else object)
    empty["consequent"] = pd.Series(dtype=items.dtype if len(items) else object)
    attrs = {"n_orders": n_orders, "n_orders_dropped": dropped, "item_column": item}
    if n_orders == 0:
        empty.attrs.update(attrs)
        return empty

    item_count = np.bincount(i_codes, minlength=len(items))
    min_count = max(1, math.ceil(min_support * n_orders - 1e-9))
    frequent = np.flatnonzero(item_count >= min_count)
    remap = np.full(len(items), -1)
    remap[frequent] = np.arange(len(frequent))
    keep = remap[i_codes] >= 0
    X = sparse.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.int64), (o_codes[keep], remap[i_codes[keep]])),
        shape=(n_orders, len(frequent)),
    )
    co = (X.T @ X).tocoo()
    a, b, n_ab = co.row, co.col, co.data.astype(np.int64)
    sel = (a != b) & (n_ab >= min_count)
    a, b, n_ab = frequent[a[sel]], frequent[b[sel]], n_ab[sel]
    n_a, n_b = item_count[a], item_count[b]
    confidence = n_ab / n_a
    lift = n_ab * n_orders / (n_a * n_b)
    ok = (confidence >= min_confidence - _EPS) & (lift >= min_lift - _EPS)

    rules = pd.DataFrame({
        "antecedent": items[a[ok]],
        "consequent": items[b[ok]],
        "pair_count": n_ab[ok],
        "antecedent_count": n_a[ok],
        "consequent_count": n_b[ok],
        "support": n_ab[ok] / n_orders,
        "confidence": confidence[ok],
        "lift": lift[ok],
    })
    rules = rules.sort_values(["lift", "confidence", "antecedent", "consequent"],
                              ascending=[False, False, True, True], kind="mergesort").reset_index(drop=True)
    rules.attrs.update(attrs)
    return rules


def recommend(
    customer_items: pd.DataFrame,
    rules: pd.DataFrame,
    n: int = 5,
    exclude_owned: bool = True,
    *,
    score: str = "max",
    customer_column: str = "customer_id",
    item_column: str | None = None,
    max_votes: int | None = MAX_VOTES,
) -> pd.DataFrame:
    """Top-``n`` cross-sell items per customer from the rules whose antecedent the customer owns.

    Parameters
    ----------
    customer_items : one row per (customer, owned item) with ``customer_column`` and the item column
        (``product_id`` / ``category_id`` auto-detected unless ``item_column`` is given); duplicates are fine.
    rules : output of :func:`association_rules` (needs ``antecedent``, ``consequent``, ``confidence``, ``lift``).
    n : recommendations per customer (at most).
    exclude_owned : never recommend an item the customer already owns.
    score : ``"max"`` (default) or ``"sum"`` of ``confidence * lift`` over the supporting rules.
    max_votes : customers are processed in blocks (in customer order) of about this many vote rows (owned
        item x rule with that antecedent; a customer with more forms a block alone); ``None``: all at once.
        The result does not depend on it (see the module docstring).

    Returns
    -------
    DataFrame ``[customer_column, item_column, rank, score, because_item, n_rules]``, one row per
    recommendation, sorted by customer then rank (1 = best). ``because_item`` is the antecedent of the
    strongest supporting rule, ``n_rules`` how many owned items point to the item.
    """
    require_frame(customer_items, "customer_items")
    item = _item_column(customer_items, "customer_items", item_column)
    require_columns(customer_items, "customer_items", [customer_column])
    require_columns(rules, "rules", ["antecedent", "consequent", "confidence", "lift"])
    n = check_positive_int(n, "n")
    if score not in ("max", "sum"):
        raise ValueError(f"score must be 'max' or 'sum', got {score!r}")
    id_column(customer_items, "customer_items", customer_column)
    id_column(customer_items, "customer_items", item)

    if max_votes is not None:
        max_votes = check_positive_int(max_votes, "max_votes")

    owned = customer_items[[customer_column, item]].drop_duplicates()
    r = rules[["antecedent", "consequent"]].copy()
    r["vote"] = rules["confidence"].to_numpy(float) * rules["lift"].to_numpy(float)
    out_cols = [customer_column, item, "rank", "score", "because_item", "n_rules"]
    parts = [_recommend_block(block, r, n, exclude_owned, score, customer_column, item, out_cols)
             for block in _customer_blocks(owned, r, customer_column, item, max_votes)]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=float if c == "score" else object) for c in out_cols})
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def _customer_blocks(owned: pd.DataFrame, r: pd.DataFrame, customer_column: str, item: str,
                     max_votes: int | None):
    """``owned`` split into blocks of whole customers, in customer order, of about ``max_votes`` votes each."""
    if max_votes is None or len(owned) == 0:
        yield owned
        return
    per_antecedent = r.groupby("antecedent", sort=False).size()
    votes_per_row = owned[item].map(per_antecedent).fillna(0).to_numpy(np.int64)
    if votes_per_row.sum() <= max_votes:
        yield owned
        return
    codes, _ = pd.factorize(owned[customer_column], sort=True)
    per_customer = np.bincount(codes, weights=votes_per_row)
    start = np.cumsum(per_customer) - per_customer  # votes of the customers before each one
    block_of_customer = (start // max_votes).astype(np.int64)
    block = block_of_customer[codes]
    order = np.argsort(block, kind="stable")
    bounds = np.searchsorted(block[order], np.unique(block), side="left").tolist() + [len(order)]
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        yield owned.iloc[order[lo:hi]]


def _recommend_block(owned: pd.DataFrame, r: pd.DataFrame, n: int, exclude_owned: bool, score: str,
                     customer_column: str, item: str, out_cols: list[str]) -> pd.DataFrame:
    votes = owned.merge(r, left_on=item, right_on="antecedent", how="inner")
    if exclude_owned and len(votes):
        votes = votes[~_pairs_isin(votes.rename(columns={"consequent": "_item"}),
                                   owned.rename(columns={item: "_item"}), [customer_column, "_item"])]
    if votes.empty:
        return votes.iloc[:0, :0]

    votes = votes.sort_values([customer_column, "consequent", "vote", "antecedent"],
                              ascending=[True, True, False, True], kind="mergesort")
    g = votes.groupby([customer_column, "consequent"], sort=False)
    cand = g.agg(score=("vote", score), because_item=("antecedent", "first"), n_rules=("vote", "size"))
    cand = cand.reset_index().sort_values([customer_column, "score", "consequent"],
                                          ascending=[True, False, True], kind="mergesort")
    cand["rank"] = cand.groupby(customer_column, sort=False).cumcount() + 1
    cand = cand[cand["rank"] <= n].rename(columns={"consequent": item})
    return cand[out_cols].reset_index(drop=True)


def time_holdout(
    purchases: pd.DataFrame,
    cutoff,
    *,
    time_column_name: str = "ordered_at",
    customer_column: str = "customer_id",
    item_column: str | None = None,
    new_items_only: bool = True,
    known_customers_only: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split purchase lines at ``cutoff`` for a time-holdout evaluation.

    Parameters
    ----------
    purchases : one row per order line with ``order_id``, ``customer_column``, ``time_column_name`` and the
        item column (the warehouse's order lines joined to their orders).
    cutoff : a timestamp; lines strictly before it train, lines at or after it are the holdout.
    new_items_only : keep in the holdout only items the customer did not buy before the cutoff.
    known_customers_only : keep in the holdout only customers who bought before the cutoff (the others
        cannot get association-rule recommendations).

    Returns
    -------
    ``(train, holdout)``: ``train`` the lines before the cutoff (all columns; feed it to
    :func:`association_rules` and, as owned items, to :func:`recommend`); ``holdout`` the distinct
    ``(customer, item)`` pairs bought at or after the cutoff.
    """
    require_frame(purchases, "purchases")
    item = _item_column(purchases, "purchases", item_column)
    require_columns(purchases, "purchases", [customer_column, time_column_name])
    when = time_column(purchases, "purchases", time_column_name)
    try:
        cut = pd.Timestamp(cutoff)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cutoff must be a timestamp: {exc}") from None
    if when.dt.tz is not None and cut.tzinfo is None:
        cut = cut.tz_localize(when.dt.tz)
    before = (when < cut).to_numpy()
    train = purchases[before]
    hold = purchases.loc[~before, [customer_column, item]].drop_duplicates()
    if known_customers_only:
        hold = hold[hold[customer_column].isin(train[customer_column])]
    if new_items_only:
        hold = hold[~_pairs_isin(hold, train, [customer_column, item])]
    return train, hold.reset_index(drop=True)


def evaluate_recommendations(
    recs: pd.DataFrame,
    holdout_purchases: pd.DataFrame,
    n: int,
    *,
    customer_column: str = "customer_id",
    item_column: str | None = None,
) -> dict[str, float]:
    """Precision@n, recall@n, hit rate@n and coverage of recommendations against holdout purchases.

    Parameters
    ----------
    recs : recommendations, e.g. from :func:`recommend`; with a ``rank`` column the top ``n`` by rank are
        used, otherwise the first ``n`` rows of each customer in the given order.
    holdout_purchases : ``(customer, item)`` rows bought after the cutoff (duplicates are fine).
    n : the cut-off N.

    Returns
    -------
    ``{"n", "n_customers", "precision_at_n", "recall_at_n", "hit_rate_at_n", "coverage"}`` over the
    customers with at least one holdout purchase (definitions in the module docstring). With no such
    customers the rates are NaN.
    """
    require_frame(recs, "recs")
    require_frame(holdout_purchases, "holdout_purchases")
    item = _item_column(holdout_purchases, "holdout_purchases", item_column)
    require_columns(recs, "recs", [customer_column, item])
    require_columns(holdout_purchases, "holdout_purchases", [customer_column])
    n = check_positive_int(n, "n")

    hold = holdout_purchases[[customer_column, item]].drop_duplicates()
    if "rank" in recs.columns:
        top = recs.sort_values([customer_column, "rank"], kind="mergesort")
    else:
        top = recs
    top = top[top.groupby(customer_column, sort=False).cumcount() < n][[customer_column, item]].drop_duplicates()

    n_hold = hold.groupby(customer_column).size()
    customers = n_hold.index
    hits = top.merge(hold, on=[customer_column, item], how="inner").groupby(customer_column).size()
    hits = hits.reindex(customers, fill_value=0).to_numpy(float)
    has_rec = customers.isin(top[customer_column])
    m = len(customers)
    if m == 0:
        nan = float("nan")
        return {"n": n, "n_customers": 0, "precision_at_n": nan, "recall_at_n": nan,
                "hit_rate_at_n": nan, "coverage": nan}
    return {
        "n": n,
        "n_customers": m,
        "precision_at_n": float(np.mean(hits / n)),
        "recall_at_n": float(np.mean(hits / n_hold.to_numpy(float))),
        "hit_rate_at_n": float(np.mean(hits > 0)),
        "coverage": float(np.mean(has_rec)),
    }
