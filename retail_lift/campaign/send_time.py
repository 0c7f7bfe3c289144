"""Best send time: each customer's most active hour and weekday, shrunk towards the global peak.

Rule (:func:`best_send_time`)
-----------------------------
Hour and weekday are chosen **independently**, each from its own marginal distribution (a 7 x 24 grid
is too sparse for most customers). For the hour, with ``n_c(h)`` the customer's activity at hour ``h``
(events: sessions, opens, orders, ... as given), ``p(h)`` the share of **all** activity at hour ``h``
and ``alpha = prior_strength``::

    posterior_c(h) = n_c(h) + alpha * p(h)          best_hour = argmax_h posterior_c(h)

i.e. the global profile acts as ``alpha`` pseudo-events. A customer without activity gets the global
peak hour; one with a few events gets their own mode only when it beats the global profile's weight
(with ``alpha = 10``, a global peak at 20:00 holding 30 % of activity and 2 % at 03:00, a single
event at 03:00 scores 1 + 10 * 0.02 = 1.2 against 10 * 0.30 = 3 at 20:00, so 20:00 is chosen; three
events at 03:00 score 3.2 and win); a customer with many events gets their own mode. Ties go to the
hour with more global activity, then to the earlier hour. The weekday is chosen the same way over the
weekday values present in the data (0-6 or 1-7, whichever convention the caller uses).

``customer_weight = n_c / (n_c + alpha)`` (``n_c`` the customer's total events) says how much the
choice rests on the customer's own history (0 = pure global fallback).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from retail_lift.campaign._frames import id_column, non_negative_number, numeric_column, require_columns

__all__ = ["best_send_time"]


def _integer_values(df: pd.DataFrame, column: str) -> np.ndarray:
    v = numeric_column(df, "activity", column)
    frac = v != np.round(v)
    if frac.any():
        i = int(np.flatnonzero(frac)[0])
        raise ValueError(f"activity[{column!r}] must hold whole numbers; row {i} is {v[i]!r}")
    return v.astype(np.int64)


def _best(codes_c: np.ndarray, codes_v: np.ndarray, weight: np.ndarray, n_customers: int, values: np.ndarray,
          alpha: float) -> tuple[np.ndarray, np.ndarray]:
    k = len(values)
    counts = np.zeros((n_customers, k))
    np.add.at(counts, (codes_c, codes_v), weight)
    total = counts.sum(axis=0)
    p = total / total.sum() if total.sum() > 0 else np.full(k, 1.0 / k)
    post = counts + alpha * p
    # ties: more global activity first, then the smaller value -> order columns by (-p, value)
    order = np.lexsort((values, -p))
    best = order[np.argmax(post[:, order], axis=1)]
    return values[best], p


def best_send_time(
    activity: pd.DataFrame,
    *,
    prior_strength: float = 10.0,
    customers: Iterable | None = None,
    customer_column: str = "customer_id",
    weekday_column: str = "weekday",
    hour_column: str = "hour",
    events_column: str = "events",
) -> pd.DataFrame:
    """Each customer's best weekday and hour to receive a campaign (rule in the module docstring).

    Parameters
    ----------
    activity : rows ``[customer_id, weekday, hour, events]`` (any number of rows per customer and slot;
        they are summed). ``hour`` in 0-23, ``weekday`` whole numbers, ``events`` >= 0.
    prior_strength : ``alpha``, the weight of the global profile in pseudo-events (>= 0; 0 = the
        customer's raw mode, ties and customers without events resolved by the global profile).
    customers : optional ids to return a row for even without activity (they get the global peak);
        by default, the customers present in ``activity``.

    Returns
    -------
    DataFrame ``[customer_id, best_weekday, best_hour, events, customer_weight]`` sorted by customer
    id; ``attrs`` holds ``global_peak_weekday`` and ``global_peak_hour``.
    """
    require_columns(activity, "activity", [customer_column, weekday_column, hour_column, events_column])
    alpha = non_negative_number(prior_strength, "prior_strength")
    ids = id_column(activity, "activity", customer_column)
    hour = _integer_values(activity, hour_column)
    bad = (hour < 0) | (hour > 23)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"activity[{hour_column!r}] must lie in 0-23; row {i} is {hour[i]}")
    weekday = _integer_values(activity, weekday_column)
    events = numeric_column(activity, "activity", events_column)
    if (events < 0).any():
        i = int(np.flatnonzero(events < 0)[0])
        raise ValueError(f"activity[{events_column!r}] must be >= 0; row {i} is {events[i]!r}")

    present = pd.Index(pd.unique(ids))
    if customers is not None:
        extra = pd.Index(list(customers))
        if extra.hasnans:
            raise ValueError("customers must not contain missing ids")
        present = present.union(extra.difference(present), sort=False)
    try:
        index = present.sort_values()
    except TypeError:  # mixed id types: keep first-seen order
        index = present
    codes_c = index.get_indexer(ids)

    hours = np.arange(24)
    weekdays = np.unique(weekday) if weekday.size else np.arange(7)
    best_hour, p_hour = _best(codes_c, hour, events, len(index), hours, alpha)
    best_day, p_day = _best(codes_c, np.searchsorted(weekdays, weekday), events, len(index), weekdays, alpha)
    n_c = np.bincount(codes_c, weights=events, minlength=len(index)).astype(float)
    weight = np.divide(n_c, n_c + alpha, out=np.zeros_like(n_c), where=(n_c + alpha) > 0)

    out = pd.DataFrame({
        customer_column: index.to_numpy(),
        "best_weekday": best_day.astype(np.int64),
        "best_hour": best_hour.astype(np.int64),
        "events": n_c,
        "customer_weight": weight,
    })
    out.attrs["global_peak_hour"] = int(hours[np.lexsort((hours, -p_hour))[0]])
    out.attrs["global_peak_weekday"] = int(weekdays[np.lexsort((weekdays, -p_day))[0]])
    return out
