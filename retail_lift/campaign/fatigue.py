"""Promotion fatigue: per-customer flags and the population's response rate by number of prior exposures.

Per-customer flag (:func:`fatigue_flags`)
-----------------------------------------
Exposures after ``as_of`` (default: the latest exposure in the data) are ignored. For each customer,
with exposures in time order:

- ``recent_exposures``: exposures in the last ``window_days`` days, i.e. in ``(as_of - window, as_of]``;
- ``last_n_rate``: conversion rate of the customer's last ``recent_n`` exposures;
- ``earlier_rate``: conversion rate of the exposures before those (NaN when there are none);
- ``baseline_rate``: the earlier rate shrunk towards the population's earlier rate ``p`` (conversions
  over exposures, pooled over everyone's exposures before their own last ``recent_n``; the overall rate
  when nobody has earlier exposures) with ``prior_strength`` pseudo-exposures ``m``::

      baseline_rate = (earlier_conversions + m * p) / (earlier_exposures + m)

  so a customer with little history is compared with the population and one with a long history
  mostly with themselves.

``is_fatigued`` is true when all four hold:

1. the customer has at least ``recent_n`` exposures (a full "last n");
2. ``recent_exposures >= min_recent_exposures`` (they are being contacted now; a rested customer is not
   fatigued);
3. ``last_n_rate < (1 - margin) * baseline_rate`` (response fell by more than ``margin``, default half);
4. ``p_value < alpha`` (default 0.1), where ``p_value = P(X <= last-n conversions)`` for
   ``X ~ Binomial(recent_n, baseline_rate)``: the drop is more than chance explains.

Condition 4 matters: with a steady 20 % response, "no conversion in the last five" happens to a third of
customers by chance (0.8^5 = 0.33), and condition 3 alone would flag them all. With the binomial check,
a customer responding at a steady baseline is flagged with probability of about ``alpha`` at most.
The price is power: at low baselines a short run of misses proves nothing (0 of 5 gives p < 0.1 only
when the baseline exceeds about 0.37), so campaigns with a few percent conversion need a larger
``recent_n``, or the population curve below. Set ``alpha=1`` to use the margin rule alone. Use the
flag to rest customers (exclude them from the next target list).

Fatigue curve (:func:`fatigue_curve`)
-------------------------------------
Every exposure gets its number of **prior** exposures of the same customer (all earlier ones, or only
those in the ``window_days`` before it); the table gives, per prior count ``0, 1, ..., max_prior``
(the last bucket meaning "``max_prior`` or more"), the exposures, conversions, response rate and a
95 % Wilson interval. A falling curve is population-level fatigue. It mixes customers (heavy users
reach high counts), so read it alongside the per-customer flags or a randomized frequency test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binom

from retail_lift.campaign._frames import (
    fraction,
    id_column,
    non_negative_number,
    require_columns,
    time_column,
)
from retail_lift.validation import check_binary, check_positive_int

__all__ = ["fatigue_flags", "fatigue_curve"]

_Z95 = 1.959963984540054


def _prepare(exposures: pd.DataFrame, customer_column: str, time_col: str, converted_column: str) -> pd.DataFrame:
    require_columns(exposures, "exposures", [customer_column, time_col, converted_column])
    ids = id_column(exposures, "exposures", customer_column)
    when = time_column(exposures, "exposures", time_col)
    y = check_binary(pd.to_numeric(exposures[converted_column], errors="coerce").to_numpy(float, na_value=np.nan),
                     f"exposures[{converted_column!r}]")
    df = pd.DataFrame({"customer": ids.to_numpy(), "at": when.to_numpy(), "y": y, "row": np.arange(len(ids))})
    return df.sort_values(["customer", "at", "row"], kind="mergesort").reset_index(drop=True)


def fatigue_flags(
    exposures: pd.DataFrame,
    *,
    as_of=None,
    window_days: float = 30,
    recent_n: int = 5,
    margin: float = 0.5,
    min_recent_exposures: int = 3,
    prior_strength: float = 5.0,
    alpha: float = 0.1,
    customer_column: str = "customer_id",
    time_column_name: str = "exposed_at",
    converted_column: str = "converted",
) -> pd.DataFrame:
    """Per-customer recent exposure count and fatigue flag (rule in the module docstring).

    Parameters
    ----------
    exposures : one row per exposure (a campaign contact) ``[customer_id, exposed_at, converted]``,
        ``converted`` 0/1.
    as_of : the evaluation time (default: the latest ``exposed_at``); later exposures are ignored.
    window_days : the window of ``recent_exposures``, in days (> 0).
    recent_n : how many last exposures make the recent response rate.
    margin : relative drop that counts as fatigue, in [0, 1).
    min_recent_exposures : exposures needed inside the window to flag (>= 0).
    prior_strength : pseudo-exposures of the population rate in the baseline (>= 0).
    alpha : the binomial tail probability below which the drop counts (in (0, 1]; 1 disables the check).

    Returns
    -------
    DataFrame, one row per customer (sorted by id): ``customer_id``, ``n_exposures``, ``conversions``,
    ``recent_exposures``, ``last_n_exposures``, ``last_n_rate``, ``earlier_exposures``, ``earlier_rate``,
    ``baseline_rate``, ``p_value``, ``is_fatigued``. ``attrs`` holds ``as_of`` and ``population_rate`` (``p``).
    """
    df = _prepare(exposures, customer_column, time_column_name, converted_column)
    window = non_negative_number(window_days, "window_days")
    if window <= 0:
        raise ValueError(f"window_days must be > 0, got {window_days!r}")
    recent_n = check_positive_int(recent_n, "recent_n")
    margin = fraction(margin, "margin", high_inclusive=False)
    if isinstance(min_recent_exposures, bool) or not isinstance(min_recent_exposures, (int, np.integer)) \
            or min_recent_exposures < 0:
        raise ValueError(f"min_recent_exposures must be a non-negative integer, got {min_recent_exposures!r}")
    m = non_negative_number(prior_strength, "prior_strength")
    alpha = fraction(alpha, "alpha", low_inclusive=False)
    if as_of is None:
        as_of_ts = df["at"].max() if len(df) else pd.NaT
    else:
        try:
            as_of_ts = pd.Timestamp(as_of)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"as_of must be a timestamp: {exc}") from None
        tz = getattr(df["at"].dt, "tz", None)
        if tz is not None and as_of_ts.tzinfo is None:
            as_of_ts = as_of_ts.tz_localize(tz)
        df = df[df["at"] <= as_of_ts]

    cols = [customer_column, "n_exposures", "conversions", "recent_exposures", "last_n_exposures", "last_n_rate",
            "earlier_exposures", "earlier_rate", "baseline_rate", "p_value", "is_fatigued"]
    if df.empty:
        out = pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
        out.attrs.update({"as_of": as_of_ts, "population_rate": float("nan")})
        return out

    g = df.groupby("customer", sort=False)
    from_end = g.cumcount(ascending=False).to_numpy()
    last = from_end < recent_n
    in_window = (df["at"] > as_of_ts - pd.Timedelta(days=window)).to_numpy()
    y = df["y"].to_numpy()
    per = pd.DataFrame({
        "customer": df["customer"].to_numpy(),
        "one": 1,
        "y": y,
        "last": last.astype(int),
        "last_y": (y * last),
        "win": in_window.astype(int),
    }).groupby("customer", sort=False).sum()
    earlier_n = per["one"] - per["last"]
    earlier_y = per["y"] - per["last_y"]
    p = float(earlier_y.sum() / earlier_n.sum()) if earlier_n.sum() > 0 else float(per["y"].sum() / per["one"].sum())
    last_rate = per["last_y"] / per["last"]
    with np.errstate(invalid="ignore", divide="ignore"):
        earlier_rate = (earlier_y / earlier_n.where(earlier_n > 0)).astype(float)
    denom = earlier_n + m
    baseline = ((earlier_y + m * p) / denom.where(denom > 0)).fillna(p)
    p_value = binom.cdf(per["last_y"].to_numpy(), per["last"].to_numpy(), baseline.to_numpy(float))
    fatigued = (
        (per["one"] >= recent_n)
        & (per["win"] >= min_recent_exposures)
        & (last_rate < (1.0 - margin) * baseline - 1e-12)
        & (p_value < alpha)
    )
    out = pd.DataFrame({
        customer_column: per.index.to_numpy(),
        "n_exposures": per["one"].to_numpy(np.int64),
        "conversions": per["y"].to_numpy(np.int64),
        "recent_exposures": per["win"].to_numpy(np.int64),
        "last_n_exposures": per["last"].to_numpy(np.int64),
        "last_n_rate": last_rate.to_numpy(float),
        "earlier_exposures": earlier_n.to_numpy(np.int64),
        "earlier_rate": earlier_rate.to_numpy(float),
        "baseline_rate": baseline.to_numpy(float),
        "p_value": p_value,
        "is_fatigued": fatigued.to_numpy(bool),
    })
    try:
        out = out.sort_values(customer_column, kind="mergesort").reset_index(drop=True)
    except TypeError:
        pass
    out.attrs.update({"as_of": as_of_ts, "population_rate": p})
    return out


def _wilson(k: np.ndarray, n: np.ndarray, z: float = _Z95) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        phat = k / n
        denom = 1 + z**2 / n
        centre = (phat + z**2 / (2 * n)) / denom
        half = z * np.sqrt(phat * (1 - phat) / n + z**2 / (4 * n**2)) / denom
    return centre - half, centre + half


def fatigue_curve(
    exposures: pd.DataFrame,
    *,
    max_prior: int = 10,
    window_days: float | None = None,
    customer_column: str = "customer_id",
    time_column_name: str = "exposed_at",
    converted_column: str = "converted",
) -> pd.DataFrame:
    """Response rate by number of prior exposures, pooled over customers (the fatigue curve).

    Parameters
    ----------
    exposures : one row per exposure ``[customer_id, exposed_at, converted]``.
    max_prior : the last bucket, meaning "this many prior exposures or more".
    window_days : count only prior exposures in the ``window_days`` days before each exposure
        (``None``: all earlier ones). Exposures at the same instant are ordered as given.

    Returns
    -------
    DataFrame ``[prior_exposures, exposures, conversions, response_rate, ci_low, ci_high]``, one row per
    bucket ``0..max_prior`` that has exposures.
    """
    df = _prepare(exposures, customer_column, time_column_name, converted_column)
    max_prior = check_positive_int(max_prior, "max_prior")
    if window_days is None:
        prior = df.groupby("customer", sort=False).cumcount().to_numpy()
    else:
        w = non_negative_number(window_days, "window_days")
        if w <= 0:
            raise ValueError(f"window_days must be > 0, got {window_days!r}")
        # one sorted key per exposure: customer blocks separated by more than the window, seconds inside
        cust_code = pd.factorize(df["customer"], sort=False)[0].astype(np.int64)
        secs = (df["at"] - df["at"].min()).dt.total_seconds().to_numpy() if len(df) else np.zeros(0)
        w_sec = w * 86400.0
        gap = (secs.max() if len(secs) else 0.0) + w_sec + 1.0
        key = cust_code * gap + secs
        lo = np.searchsorted(key, key - w_sec, side="left")
        prior = np.arange(len(df)) - lo
    bucket = np.minimum(prior, max_prior)
    y = df["y"].to_numpy()
    n = np.bincount(bucket, minlength=max_prior + 1).astype(np.int64) if len(df) else np.zeros(max_prior + 1, int)
    k = np.bincount(bucket, weights=y, minlength=max_prior + 1).astype(np.int64) if len(df) else n.copy()
    lo_ci, hi_ci = _wilson(k.astype(float), n.astype(float))
    out = pd.DataFrame({
        "prior_exposures": np.arange(max_prior + 1),
        "exposures": n,
        "conversions": k,
        "response_rate": np.divide(k, n, out=np.full(len(n), np.nan), where=n > 0),
        "ci_low": lo_ci,
        "ci_high": hi_ci,
    })
    return out[out["exposures"] > 0].reset_index(drop=True)
