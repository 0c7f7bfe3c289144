"""Broadcast versus targeted: the same campaign arithmetic summed over everyone and over the target list.

:func:`compare_broadcast_targeted` returns one row per strategy:

- ``broadcast``: contact **every** customer of ``scores``, each with ``broadcast_discount`` (one flat
  offer, the traditional campaign; default: the same per-customer ``discount`` as the targeted one);
- ``targeted``: contact only the customers of ``target_list``, each with ``discount``.

Per strategy, with the per-customer formulas of :func:`retail_lift.campaign.targeting.expected_economics`
summed over the contacted customers: ``contacts``, ``expected_conversions``, ``expected_revenue``,
``expected_discount_cost``, ``expected_cost`` (contacts x contact cost + discount cost),
``expected_profit`` and ``expected_roi = expected_profit / expected_cost``, plus
``expected_conversion_rate = expected_conversions / contacts``.

With ``outcome_column`` (0/1: did the customer buy when contacted, e.g. from a test in which everyone
was contacted, or from the simulated world's truth) the same sums are computed on the **realised**
outcomes (the 0/1 outcome in place of the probability; the order value is still ``avg_order_value``):
``realised_conversions``, ``realised_revenue``, ``realised_discount_cost``, ``realised_cost``, ``realised_profit``,
``realised_roi``. These are attributed numbers (every buyer counts), even when
``baseline_probability`` makes the expected ones incremental.

The same purchase probability is used under both offers: the probability model is assumed not to
depend on the discount level.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retail_lift.campaign._frames import (
    id_column,
    ranged_column,
    require_columns,
    require_frame,
    value_or_column,
)
from retail_lift.campaign.targeting import expected_economics
from retail_lift.validation import check_binary

__all__ = ["compare_broadcast_targeted"]


def _totals(econ: pd.DataFrame, mask: np.ndarray, prefix: str) -> dict[str, float]:
    sub = econ[mask]
    cost = float(sub["expected_cost"].sum())
    profit = float(sub["expected_profit"].sum())
    out = {
        f"{prefix}_conversions": float(sub["expected_conversions"].sum()),
        f"{prefix}_revenue": float(sub["expected_revenue"].sum()),
        f"{prefix}_discount_cost": float(sub["expected_discount_cost"].sum()),
        f"{prefix}_cost": cost,
        f"{prefix}_profit": profit,
        f"{prefix}_roi": profit / cost if cost > 0 else float("nan"),
    }
    return out


def compare_broadcast_targeted(
    scores: pd.DataFrame,
    target_list: pd.DataFrame,
    contact_cost: float,
    *,
    margin_rate: float,
    avg_order_value: str | float = "avg_order_value",
    discount: str | float = 0.0,
    broadcast_discount: float | None = None,
    baseline_probability: str | None = None,
    outcome_column: str | None = None,
    customer_column: str = "customer_id",
    probability_column: str = "purchase_probability",
) -> pd.DataFrame:
    """Expected (and, with ``outcome_column``, realised) economics of broadcast versus targeted contact.

    Parameters
    ----------
    scores : one row per customer (the broadcast population) with ``customer_column`` and
        ``probability_column``; also the ``avg_order_value`` / ``discount`` / ``baseline_probability`` /
        ``outcome_column`` columns when named.
    target_list : the targeted customers (``customer_column``; e.g. from
        :func:`~retail_lift.campaign.targeting.build_target_list`); every id must be in ``scores``.
    contact_cost, margin_rate, avg_order_value, discount, baseline_probability : as in
        :func:`~retail_lift.campaign.targeting.build_target_list`.
    broadcast_discount : the flat discount rate of the broadcast (``None``: same as ``discount``).
    outcome_column : optional 0/1 column of ``scores`` with the realised purchase.

    Returns
    -------
    DataFrame with rows ``broadcast`` and ``targeted`` (column ``strategy``) and the columns of the
    module docstring.
    """
    require_frame(scores, "scores")
    require_columns(scores, "scores", [customer_column, probability_column])
    require_columns(target_list, "target_list", [customer_column])
    ids = id_column(scores, "scores", customer_column, unique=True)
    targets = id_column(target_list, "target_list", customer_column)
    unknown = ~targets.isin(ids)
    if unknown.any():
        first = targets[unknown].iloc[0]
        raise ValueError(f"target_list[{customer_column!r}] has {int(unknown.sum())} id(s) not in scores; "
                         f"first: {first!r}")
    p = ranged_column(scores, "scores", probability_column, 0.0, 1.0)
    v = value_or_column(scores, "scores", avg_order_value, "avg_order_value", 0.0, np.inf)
    d = value_or_column(scores, "scores", discount, "discount", 0.0, 1.0, high_inclusive=False)
    d_b = d if broadcast_discount is None else value_or_column(scores, "scores", broadcast_discount,
                                                                "broadcast_discount", 0.0, 1.0,
                                                                high_inclusive=False)
    p0 = None
    if baseline_probability is not None:
        require_columns(scores, "scores", [baseline_probability])
        p0 = ranged_column(scores, "scores", baseline_probability, 0.0, 1.0)
    in_list = ids.isin(targets).to_numpy()
    everyone = np.ones(len(ids), dtype=bool)

    def econ(prob, disc, base):
        return expected_economics(prob, v, disc, contact_cost=contact_cost, margin_rate=margin_rate,
                                  baseline_probability=base)

    rows = []
    for strategy, mask, disc in (("broadcast", everyone, d_b), ("targeted", in_list, d)):
        row = {"strategy": strategy, "contacts": int(mask.sum())}
        row.update(_totals(econ(p, disc, p0), mask, "expected"))
        row["expected_conversion_rate"] = (row["expected_conversions"] / row["contacts"]
                                           if row["contacts"] else float("nan"))
        if outcome_column is not None:
            require_columns(scores, "scores", [outcome_column])
            y = check_binary(pd.to_numeric(scores[outcome_column], errors="coerce")
                             .to_numpy(float, na_value=np.nan), f"scores[{outcome_column!r}]")
            realised = _totals(econ(y.astype(float), disc, None), mask, "realised")
            row.update(realised)
        rows.append(row)
    return pd.DataFrame(rows)
