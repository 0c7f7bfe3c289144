"""Campaign target lists: per-customer expected economics, ranking, selection by budget or top-K, CSV export.

Economics of contacting one customer (:func:`expected_economics`)
------------------------------------------------------------------
For a customer with purchase probability ``p`` (if contacted with the offer), order value ``v`` at full
price (``avg_order_value``), discount rate ``d`` and the campaign's ``contact_cost`` ``c`` and gross
``margin_rate`` ``m`` (margin as a share of the full price, so goods cost ``v * (1 - m)``)::

    expected_conversions   = p
    expected_revenue       = p * v * (1 - d)                 what the customer pays
    expected_discount_cost = p * v * d                       margin given away to buyers
    expected_cost          = c + expected_discount_cost
    expected_margin        = p * v * m                       gross margin at full price
    expected_profit        = expected_margin - expected_cost  = p * v * (m - d) - c
    roi                    = expected_profit / expected_cost  (NaN when the cost is 0)

A discount at or above the margin rate makes every sale lose money, so such customers never have a
positive expected profit.

**Incremental variant.** ``p`` from a purchase-propensity model includes customers who would buy anyway
("sure things"); the profit above is then *attributed*, not incremental. With a
``baseline_probability`` ``p0`` (the probability of buying without the contact, e.g. from the
uplift models in :mod:`retail_lift.uplift`), the same columns become incremental: conversions
``p - p0``, revenue ``p * v * (1 - d) - p0 * v``, margin ``(p - p0) * v * m``; the discount is still
paid to every buyer (``p * v * d``), so profit ``= (p - p0) * v * m - c - p * v * d``.

Selection (:func:`build_target_list`)
-------------------------------------
Customers are ranked by ``rank_by`` (``"expected_profit"``, the default, or ``"roi"``, the greedy
knapsack order when a money budget binds and costs differ), ties by higher probability, then customer
id. Walking down that ranking, a customer is **selected** unless

- their id is in ``exclude`` (e.g. fatigued or opted-out customers), or
- their expected profit is not strictly positive (unless ``allow_negative_profit=True``: a forced
  campaign, e.g. a retention message that must reach the top-K whatever the arithmetic says), or
- the cumulative expected cost of the selected customers would exceed ``budget`` (costs are
  non-negative, so the selection under a budget is the top of the ranking up to the first customer who
  does not fit), or
- ``k`` customers are already selected.

With neither ``budget`` nor ``k``, every customer with positive expected profit is selected. ``rank``
is the position in the full ranking (1 = best), so skipped customers leave gaps.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from retail_lift.campaign._frames import (
    fraction,
    id_column,
    non_negative_number,
    ranged_column,
    require_columns,
    require_frame,
    value_or_column,
)
from retail_lift.validation import as_1d_float, check_in_range, check_positive_int, check_same_length

__all__ = ["expected_economics", "build_target_list", "export_target_list", "TARGET_LIST_COLUMNS"]

#: Column order of a target list (and of :func:`export_target_list`); the customer id column comes first
#: under its own name, ``baseline_probability`` only when given, ``status`` only with ``include_unselected``.
TARGET_LIST_COLUMNS = [
    "customer_id",
    "rank",
    "purchase_probability",
    "baseline_probability",
    "discount_rate",
    "best_weekday",
    "best_hour",
    "avg_order_value",
    "expected_conversions",
    "expected_revenue",
    "expected_discount_cost",
    "expected_cost",
    "expected_margin",
    "expected_profit",
    "roi",
    "cumulative_cost",
    "status",
]

ECONOMICS_COLUMNS = ["expected_conversions", "expected_revenue", "expected_discount_cost", "expected_cost",
                     "expected_margin", "expected_profit", "roi"]


def _broadcast(x, name: str, like: np.ndarray) -> np.ndarray:
    """``x`` as a float array of ``like``'s length (a scalar or one-element input is repeated)."""
    arr = as_1d_float(np.atleast_1d(x), name)
    if arr.size == 1:
        return np.full(like.shape, arr[0])
    check_same_length(probability=like, **{name: arr})
    return arr


def expected_economics(
    probability,
    avg_order_value,
    discount_rate,
    *,
    contact_cost: float,
    margin_rate: float,
    baseline_probability=None,
) -> pd.DataFrame:
    """Expected conversions, revenue, discount cost, cost, margin, profit and ROI per customer.

    Array-like inputs of equal length (scalars broadcast); formulas in the module docstring. Also used
    with realised 0/1 outcomes in place of ``probability`` (see :mod:`retail_lift.campaign.roi`).
    """
    p = check_in_range(as_1d_float(np.atleast_1d(probability), "probability"), "probability", 0.0, 1.0)
    v = check_in_range(_broadcast(avg_order_value, "avg_order_value", p), "avg_order_value", 0.0, np.inf)
    d = check_in_range(_broadcast(discount_rate, "discount_rate", p), "discount_rate", 0.0, 1.0,
                       high_inclusive=False)
    c = non_negative_number(contact_cost, "contact_cost")
    m = fraction(margin_rate, "margin_rate")
    if baseline_probability is None:
        p0 = np.zeros_like(p)
    else:
        p0 = check_in_range(_broadcast(baseline_probability, "baseline_probability", p), "baseline_probability",
                            0.0, 1.0)
    discount_cost = p * v * d
    cost = c + discount_cost
    margin = (p - p0) * v * m
    profit = margin - cost
    with np.errstate(invalid="ignore", divide="ignore"):
        roi = np.where(cost > 0, profit / np.where(cost > 0, cost, 1.0), np.nan)
    return pd.DataFrame({
        "expected_conversions": p - p0,
        "expected_revenue": p * v * (1 - d) - p0 * v,
        "expected_discount_cost": discount_cost,
        "expected_cost": cost,
        "expected_margin": margin,
        "expected_profit": profit,
        "roi": roi,
    })


def _send_columns(scores: pd.DataFrame, send_times: pd.DataFrame | None, customer_column: str,
                  ids: pd.Series) -> tuple[pd.Series, pd.Series]:
    src = None
    if send_times is not None:
        require_columns(send_times, "send_times", [customer_column, "best_weekday", "best_hour"])
        id_column(send_times, "send_times", customer_column, unique=True)
        src = send_times.set_index(customer_column).reindex(ids.to_numpy())
    elif {"best_weekday", "best_hour"} <= set(scores.columns):
        src = scores.set_index(ids.to_numpy())
    if src is None:
        na = pd.Series(pd.array([pd.NA] * len(ids), dtype="Int64"))
        return na, na.copy()
    return (pd.Series(pd.array(src["best_weekday"].to_numpy(), dtype="Int64")),
            pd.Series(pd.array(src["best_hour"].to_numpy(), dtype="Int64")))


def build_target_list(  # noqa: PLR0913 - one keyword per yml config key of the targeting model (typed config: issue 22 item 1)
    scores: pd.DataFrame,
    *,
    budget: float | None = None,
    k: int | None = None,
    contact_cost: float,
    margin_rate: float,
    avg_order_value: str | float = "avg_order_value",
    discount: str | float = 0.0,
    baseline_probability: str | None = None,
    send_times: pd.DataFrame | None = None,
    exclude: Iterable | None = None,
    allow_negative_profit: bool = False,
    rank_by: str = "expected_profit",
    include_unselected: bool = False,
    keep_columns: Sequence[str] = (),
    customer_column: str = "customer_id",
    probability_column: str = "purchase_probability",
) -> pd.DataFrame:
    """Rank customers by expected campaign economics and select the target list (rules in the module docstring).

    Parameters
    ----------
    scores : one row per customer with ``customer_column`` (unique) and ``probability_column`` (in [0, 1]).
    budget : maximum total expected cost (contact + expected discount cost) of the selection (>= 0).
    k : maximum number of customers selected.
    contact_cost : cost of one contact (>= 0).
    margin_rate : gross margin as a share of the full price, in [0, 1].
    avg_order_value : a column of ``scores`` or one value for everyone (full-price order value, >= 0).
    discount : a column of ``scores`` (e.g. from
        :func:`~retail_lift.campaign.discounts.personalised_discount`) or one rate for everyone, in [0, 1).
    baseline_probability : optional column with the probability of buying without contact (incremental
        economics).
    send_times : optional output of :func:`~retail_lift.campaign.send_time.best_send_time`; without it
        ``best_weekday`` / ``best_hour`` are taken from ``scores`` if present, else left missing.
    exclude : customer ids never selected (fatigued, opted out, in a holdout group, ...).
    allow_negative_profit : also select customers whose expected profit is not positive (forced campaign).
    rank_by : ``"expected_profit"`` or ``"roi"``.
    include_unselected : return every customer with ``status`` (``selected``, ``excluded``,
        ``not_profitable``, ``over_budget``, ``beyond_k``) instead of the selected ones only.
    keep_columns : further columns of ``scores`` to carry (e.g. ``segment_name``), after the standard ones.

    Returns
    -------
    DataFrame in :data:`TARGET_LIST_COLUMNS` order (then ``keep_columns``), sorted by rank.
    ``cumulative_cost`` is the running expected cost over the selected rows (NaN on others).
    ``attrs`` holds ``n_candidates``, ``n_selected``, ``total_expected_cost`` and ``total_expected_profit``.
    """
    require_frame(scores, "scores")
    require_columns(scores, "scores", [customer_column, probability_column, *keep_columns])
    ids = id_column(scores, "scores", customer_column, unique=True)
    p = ranged_column(scores, "scores", probability_column, 0.0, 1.0)
    v = value_or_column(scores, "scores", avg_order_value, "avg_order_value", 0.0, np.inf)
    d = value_or_column(scores, "scores", discount, "discount", 0.0, 1.0, high_inclusive=False)
    p0 = None
    if baseline_probability is not None:
        require_columns(scores, "scores", [baseline_probability])
        p0 = ranged_column(scores, "scores", baseline_probability, 0.0, 1.0)
    if budget is not None:
        budget = non_negative_number(budget, "budget", allow_inf=True)
    if k is not None:
        k = check_positive_int(k, "k")
    if rank_by not in ("expected_profit", "roi"):
        raise ValueError(f"rank_by must be 'expected_profit' or 'roi', got {rank_by!r}")
    econ = expected_economics(p, v, d, contact_cost=contact_cost, margin_rate=margin_rate, baseline_probability=p0)
    weekday, hour = _send_columns(scores, send_times, customer_column, ids)

    table = pd.DataFrame({customer_column: ids.to_numpy(), "purchase_probability": p})
    if p0 is not None:
        table["baseline_probability"] = p0
    table["discount_rate"] = d
    table["best_weekday"] = weekday.to_numpy()
    table["best_hour"] = hour.to_numpy()
    table["avg_order_value"] = v
    for c in ECONOMICS_COLUMNS:
        table[c] = econ[c].to_numpy()
    for c in keep_columns:
        table[c] = scores[c].to_numpy()

    # ranking: key descending, then probability descending, then id ascending (stable sorts, last key first)
    key = table[rank_by].to_numpy(float)
    key = np.where(np.isnan(key), -np.inf, key)  # zero-cost rows have no ROI: rank them last
    order = np.arange(len(table))
    try:
        order = order[np.argsort(ids.to_numpy(), kind="stable")]
    except TypeError:
        pass
    order = order[np.argsort(-p[order], kind="stable")]
    order = order[np.argsort(-key[order], kind="stable")]
    table = table.iloc[order].reset_index(drop=True)
    table.insert(1, "rank", np.arange(1, len(table) + 1))

    excluded = np.zeros(len(table), dtype=bool)
    if exclude is not None:
        excluded = table[customer_column].isin(list(exclude)).to_numpy()
    profitable = table["expected_profit"].to_numpy() > 0
    eligible = ~excluded & (profitable | allow_negative_profit)
    cost = table["expected_cost"].to_numpy()
    cum = np.cumsum(np.where(eligible, cost, 0.0))
    fits = cum <= (budget + 1e-9 * max(1.0, budget) if budget is not None and np.isfinite(budget) else np.inf)
    selected = eligible & fits
    beyond_k = np.zeros(len(table), dtype=bool)
    if k is not None:
        beyond_k = selected & (np.cumsum(selected) > k)
        selected &= ~beyond_k
    status = np.select(
        [selected, excluded, ~(profitable | allow_negative_profit), beyond_k],
        ["selected", "excluded", "not_profitable", "beyond_k"],
        default="over_budget",
    )
    table["cumulative_cost"] = np.where(selected, np.cumsum(np.where(selected, cost, 0.0)), np.nan)
    table["status"] = status

    order_cols = [customer_column if c == "customer_id" else c for c in TARGET_LIST_COLUMNS]
    cols = [c for c in order_cols if c in table.columns and not (c == "status" and not include_unselected)]
    cols += [c for c in keep_columns if c not in cols]
    out = table[cols] if include_unselected else table.loc[selected, cols].reset_index(drop=True)
    out.attrs.update({
        "n_candidates": len(table),
        "n_selected": int(selected.sum()),
        "total_expected_cost": float(cost[selected].sum()),
        "total_expected_profit": float(table["expected_profit"].to_numpy()[selected].sum()),
    })
    return out


def export_target_list(df: pd.DataFrame, path, *, customer_column: str = "customer_id") -> Path:
    """Write a target list to CSV with a stable column order and no index; return the path.

    Columns of :data:`TARGET_LIST_COLUMNS` that are present come first in that order, then any other
    columns sorted by name; rows are sorted by ``rank`` when present. Parent folders are created.
    """
    require_frame(df, "df")
    require_columns(df, "df", [customer_column])
    order_cols = [customer_column if c == "customer_id" else c for c in TARGET_LIST_COLUMNS]
    cols = [c for c in order_cols if c in df.columns]
    cols += sorted((c for c in df.columns if c not in cols), key=str)
    out = df[cols]
    if "rank" in out.columns:
        out = out.sort_values("rank", kind="mergesort")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False, lineterminator="\n")
    return path
