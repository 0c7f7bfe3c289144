"""Who gets targeted: selection rates, precision and true-positive rates by protected group.

For a targeting decision ``selected`` (1 = the customer gets the promotion / is predicted positive)
and the realised outcome ``y_true``, per attribute (e.g. ``gender``, ``age_band``) and group value:

- ``n``: customers in the group; ``positives``: with ``y_true = 1``; ``selected``: targeted;
- ``selection_rate`` = selected / n (the *targeting rate*);
- ``precision`` = true positives / selected (``NaN`` when nobody in the group is selected);
- ``tpr`` (true-positive rate, recall) = true positives / positives (``NaN`` without positives).

Per attribute the summary reports, over the groups with at least ``min_group_size`` customers:

- ``demographic_parity_difference`` = max - min ``selection_rate`` (Fairlearn's definition): 0 when
  every group is targeted at the same rate;
- ``equal_opportunity_difference`` = max - min ``tpr``: 0 when the customers who would respond are
  found equally often in every group (groups without positives are ignored).

``exceeds_threshold`` flags a difference strictly above ``threshold`` (default 0.1, i.e. ten
percentage points). That default is a common review trigger, not a legal standard: a flag means "look
at this" (the groups may differ legitimately in their response rates, which demographic parity
ignores), and on small groups the difference is noisy, which ``min_group_size`` guards against.

A missing group value is its own group, ``"(missing)"``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from retail_lift.validation import check_binary, check_positive_int, check_same_length

__all__ = ["MISSING_GROUP", "fairness_report"]

MISSING_GROUP = "(missing)"

_BY_GROUP_COLUMNS = ["attribute", "group", "n", "positives", "selected", "true_positives",
                     "selection_rate", "precision", "tpr"]
_SUMMARY_COLUMNS = ["attribute", "metric", "value", "max_group", "min_group", "n_groups", "threshold",
                    "exceeds_threshold"]


def _spread(table: pd.DataFrame, column: str) -> tuple[float, str | None, str | None, int]:
    valid = table.dropna(subset=[column])
    if len(valid) == 0:
        return float("nan"), None, None, 0
    hi = valid.loc[valid[column].idxmax()]
    lo = valid.loc[valid[column].idxmin()]
    return float(hi[column] - lo[column]), str(hi["group"]), str(lo["group"]), len(valid)


def fairness_report(y_true, selected, groups: Mapping[str, object] | pd.DataFrame, *,
                    threshold: float = 0.1, min_group_size: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-group targeting rates and the parity gaps between groups.

    Args:
        y_true: realised 0/1 outcome per customer.
        selected: 0/1 targeting decision per customer (e.g. ``probability >= threshold``).
        groups: attribute name -> group value per customer (a dict of arrays, or a DataFrame whose
            columns are the attributes).
        threshold: a gap above this is flagged (default 0.1 = ten percentage points).
        min_group_size: groups smaller than this are reported but left out of the gaps.

    Returns:
        ``(by_group, summary)``. ``by_group``: one row per attribute x group with the columns
        ``attribute, group, n, positives, selected, true_positives, selection_rate, precision, tpr``
        (groups sorted by value). ``summary``: one row per attribute x metric
        (``demographic_parity_difference``, ``equal_opportunity_difference``) with ``value``, the
        groups at the maximum and minimum, ``n_groups`` compared, ``threshold`` and
        ``exceeds_threshold``.
    """
    y = check_binary(y_true, "y_true")
    s = check_binary(selected, "selected")
    check_same_length(y_true=y, selected=s)
    threshold = float(threshold)
    if not np.isfinite(threshold) or threshold < 0:
        raise ValueError(f"threshold must be a non-negative number, got {threshold!r}")
    min_group_size = check_positive_int(min_group_size, "min_group_size")
    if isinstance(groups, pd.DataFrame):
        groups = {c: groups[c].to_numpy() for c in groups.columns}
    if not isinstance(groups, Mapping) or not groups:
        raise ValueError("groups must be a non-empty dict of attribute name -> values (or a DataFrame)")

    by_rows, summary_rows = [], []
    for attribute, values in groups.items():
        g = pd.Series(np.asarray(values, dtype=object))
        if g.size != y.size:
            raise ValueError(f"groups[{attribute!r}] has {g.size} values but y_true has {y.size}")
        g = g.where(g.notna(), MISSING_GROUP).astype(str)
        frame = pd.DataFrame({"group": g, "y": y, "s": s, "tp": y & s})
        agg = frame.groupby("group", sort=True).agg(
            n=("y", "size"), positives=("y", "sum"), selected=("s", "sum"), true_positives=("tp", "sum"))
        agg = agg.reset_index()
        agg.insert(0, "attribute", attribute)
        with np.errstate(invalid="ignore", divide="ignore"):
            agg["selection_rate"] = agg["selected"] / agg["n"]
            agg["precision"] = np.where(agg["selected"] > 0, agg["true_positives"] / agg["selected"].where(
                agg["selected"] > 0), np.nan)
            agg["tpr"] = np.where(agg["positives"] > 0, agg["true_positives"] / agg["positives"].where(
                agg["positives"] > 0), np.nan)
        by_rows.append(agg[_BY_GROUP_COLUMNS])

        eligible = agg[agg["n"] >= min_group_size]
        for metric, column in (("demographic_parity_difference", "selection_rate"),
                               ("equal_opportunity_difference", "tpr")):
            value, hi, lo, n_groups = _spread(eligible, column)
            summary_rows.append({
                "attribute": attribute, "metric": metric, "value": value, "max_group": hi, "min_group": lo,
                "n_groups": n_groups, "threshold": threshold,
                "exceeds_threshold": bool(np.isfinite(value) and value > threshold),
            })
    by_group = pd.concat(by_rows, ignore_index=True)
    for c in ("n", "positives", "selected", "true_positives"):
        by_group[c] = by_group[c].astype(int)
    return by_group, pd.DataFrame(summary_rows, columns=_SUMMARY_COLUMNS)
