"""Personalised discounts: a price-sensitivity score from purchase history, mapped monotonically to a discount level.

Price sensitivity (:func:`estimate_price_sensitivity`)
------------------------------------------------------
From two per-customer columns the warehouse provides:

- ``discount_order_share`` (or ``discounted_order_share``, as ``fct_customer_features`` names it): share
  of the customer's orders that carried a discount, in [0, 1];
- ``avg_discount_rate``: discount as a share of the customer's gross (pre-discount) spend, in [0, 1]
  (from the order facts: ``discount_amount / (revenue + discount_amount)``).

the score is::

    raw = w_share * discount_order_share + w_rate * min(avg_discount_rate / rate_scale, 1)

with weights normalised to sum to 1 (default 0.5 / 0.5) and ``rate_scale = 0.20`` (a customer whose
purchases averaged 20 % off or more counts as fully sensitive on that component). ``raw`` is in [0, 1]
and non-decreasing in both inputs. A missing value (a customer without orders) is replaced by the mean
of that column over the other customers: no history means "typical", not "insensitive".

With an order-count column (``orders_column``) the score is shrunk towards the population mean ``m``
of ``raw`` so that one discounted order does not make a customer "fully sensitive"::

    sensitivity = (n_orders * raw + prior_orders * m) / (n_orders + prior_orders)

(a missing order count counts as 0 orders, i.e. the population mean).

Discount level (:func:`personalised_discount`)
----------------------------------------------
Levels ``l_0 < l_1 < ... < l_{L-1}`` (default 0, 5, 10, 15, 20 %) and cut points
``t_1 < ... < t_{L-1}``; a customer with sensitivity ``s`` gets level ``l_i`` where ``i`` is the number
of cut points ``<= s``. The default cut points split [0, 1] into ``L`` equal bins (0.2, 0.4, 0.6, 0.8
for five levels: ``s < 0.2`` -> 0 %, ``0.2 <= s < 0.4`` -> 5 %, ..., ``s >= 0.8`` -> 20 %);
``thresholds="quantile"`` uses the empirical quantiles of the given scores instead, so each level
goes to about the same share of customers. Either way the mapping is **monotone**: a more
price-sensitive customer never gets a smaller discount. The reasoning: insensitive customers buy at
full price, so a discount only gives margin away; sensitive ones need a larger incentive to convert.
Whether the offer pays for a given customer is then decided by
:func:`retail_lift.campaign.targeting.build_target_list` (expected profit after the discount cost).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from retail_lift.campaign._frames import first_present, non_negative_number, require_columns, require_frame
from retail_lift.validation import as_1d_float, check_in_range

__all__ = ["estimate_price_sensitivity", "personalised_discount", "discount_levels", "DEFAULT_LEVELS"]

DEFAULT_LEVELS = (0.0, 0.05, 0.10, 0.15, 0.20)
SHARE_COLUMNS = ("discount_order_share", "discounted_order_share")


def _fraction_column(features: pd.DataFrame, column: str) -> np.ndarray:
    label = f"features[{column!r}]"
    try:
        v = pd.to_numeric(features[column], errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{label} must be numeric: {exc}") from None
    if np.isinf(v).any():
        raise ValueError(f"{label} contains infinite values")
    finite = ~np.isnan(v)
    check_in_range(v[finite], label, 0.0, 1.0)
    if not finite.any():
        raise ValueError(f"{label} has no non-missing value")
    return np.where(finite, v, v[finite].mean())


def estimate_price_sensitivity(
    features: pd.DataFrame,
    *,
    share_column: str | None = "auto",
    rate_column: str | None = "avg_discount_rate",
    rate_scale: float = 0.20,
    weights: tuple[float, float] = (0.5, 0.5),
    orders_column: str | None = None,
    prior_orders: float = 3.0,
) -> pd.Series:
    """Price-sensitivity score in [0, 1] per customer (rule in the module docstring).

    Parameters
    ----------
    features : one row per customer.
    share_column : column with the share of orders that were discounted; ``"auto"`` (default) takes
        ``discount_order_share`` or else ``discounted_order_share``; ``None`` leaves the component out.
    rate_column : column with the discount share of gross spend (``None`` to leave it out).
    rate_scale : the discount rate that counts as fully sensitive (> 0).
    weights : weights of the share and the rate component (normalised; a left-out column's weight is 0).
    orders_column : optional column with each customer's number of orders, for shrinkage.
    prior_orders : pseudo-orders of the population mean in the shrinkage (>= 0).

    Returns
    -------
    pandas.Series ``price_sensitivity`` on the index of ``features``.
    """
    require_frame(features, "features")
    if share_column == "auto":
        share_column = first_present(features, "features", SHARE_COLUMNS, "discounted-order share")
    if share_column is None and rate_column is None:
        raise ValueError("at least one of share_column and rate_column must be given")
    require_columns(features, "features", [c for c in (share_column, rate_column, orders_column) if c])
    rate_scale = non_negative_number(rate_scale, "rate_scale")
    if rate_scale <= 0:
        raise ValueError(f"rate_scale must be > 0, got {rate_scale!r}")
    w = as_1d_float(weights, "weights")
    if w.shape != (2,) or (w < 0).any():
        raise ValueError(f"weights must be two non-negative numbers, got {weights!r}")
    w = np.where([share_column is not None, rate_column is not None], w, 0.0)
    if w.sum() <= 0:
        raise ValueError(f"weights of the given columns must not all be 0, got {weights!r}")
    w = w / w.sum()
    prior_orders = non_negative_number(prior_orders, "prior_orders")

    raw = np.zeros(len(features))
    if share_column is not None:
        raw += w[0] * _fraction_column(features, share_column)
    if rate_column is not None:
        raw += w[1] * np.minimum(_fraction_column(features, rate_column) / rate_scale, 1.0)
    if orders_column is not None and len(raw):
        n = as_1d_float(pd.to_numeric(features[orders_column], errors="coerce").fillna(0.0).to_numpy(float),
                        f"features[{orders_column!r}]")
        check_in_range(n, f"features[{orders_column!r}]", 0.0, np.inf)
        m = raw.mean()
        denom = n + prior_orders
        raw = np.where(denom > 0, (n * raw + prior_orders * m) / np.where(denom > 0, denom, 1.0), m)
    return pd.Series(np.clip(raw, 0.0, 1.0), index=features.index, name="price_sensitivity")


def personalised_discount(
    price_sensitivity,
    levels: Sequence[float] = DEFAULT_LEVELS,
    *,
    thresholds: Sequence[float] | str | None = None,
):
    """Map price sensitivity to a discount level, monotonically (rule in the module docstring).

    Parameters
    ----------
    price_sensitivity : scores in [0, 1] (array-like or Series).
    levels : the discount levels, strictly increasing, each in [0, 1).
    thresholds : ``None`` (equal-width bins on [0, 1]), ``"quantile"`` (equal-count bins of the given
        scores) or ``len(levels) - 1`` strictly increasing cut points.

    Returns
    -------
    The discount rate per customer: a Series ``discount_rate`` on the input's index when given a Series,
    else a NumPy array.
    """
    s = check_in_range(as_1d_float(price_sensitivity, "price_sensitivity"), "price_sensitivity", 0.0, 1.0)
    lv = as_1d_float(levels, "levels")
    if lv.size == 0:
        raise ValueError("levels must hold at least one discount level")
    check_in_range(lv, "levels", 0.0, 1.0, high_inclusive=False)
    if (np.diff(lv) <= 0).any():
        raise ValueError(f"levels must be strictly increasing, got {list(levels)!r}")
    n_cuts = lv.size - 1
    if thresholds is None:
        cuts = np.arange(1, lv.size) / lv.size
    elif isinstance(thresholds, str):
        if thresholds != "quantile":
            raise ValueError(f"thresholds must be None, 'quantile' or a list of cut points, got {thresholds!r}")
        cuts = np.quantile(s, np.arange(1, lv.size) / lv.size) if s.size else np.arange(1, lv.size) / lv.size
        cuts = np.maximum.accumulate(cuts)
    else:
        cuts = as_1d_float(thresholds, "thresholds")
        if cuts.size != n_cuts:
            raise ValueError(f"thresholds must hold len(levels) - 1 = {n_cuts} cut points, got {cuts.size}")
        if (np.diff(cuts) <= 0).any():
            raise ValueError(f"thresholds must be strictly increasing, got {list(thresholds)!r}")
    idx = np.searchsorted(cuts, s, side="right")
    out = lv[idx]
    if isinstance(price_sensitivity, pd.Series):
        return pd.Series(out, index=price_sensitivity.index, name="discount_rate")
    return out


def discount_levels(rate: float) -> tuple[float, ...]:
    """The personalised discount levels around a promotion's rate: 0, 1/2, 1, 3/2 and 2 times it (the
    package default 0-20 % for a 10 % offer), capped below 100 %; just 0 for an offer without discount."""
    rate = float(rate)
    if rate <= 0:
        return (0.0,)
    scale = rate / DEFAULT_LEVELS[2]
    return tuple(sorted({min(round(lv * scale, 6), 0.95) for lv in DEFAULT_LEVELS}))
