"""Who gets targeted: selection rates, precision and true-positive rates by protected group.

For a targeting decision ``selected`` (1 = the customer gets the promotion / is predicted positive)
and the realised outcome ``y_true``, per attribute (e.g. ``gender``, ``age_band``) and group value:

- ``n``: customers in the group; ``positives``: with ``y_true = 1``; ``selected``: targeted;
- ``selection_rate`` = selected / n (the *targeting rate*);
- ``precision`` = true positives / selected (``NaN`` when nobody in the group is selected);
- ``tpr`` (true-positive rate, recall) = true positives / positives (``NaN`` without positives).

Per attribute the summary reports, over the **compared** groups:

- ``demographic_parity_difference`` = max - min ``selection_rate`` (Fairlearn's definition): 0 when
  every group is targeted at the same rate; compared groups: at least ``min_group_size`` customers;
- ``equal_opportunity_difference`` = max - min ``tpr``: 0 when the customers who would respond are
  found equally often in every group; compared groups: at least ``min_group_size`` *positives* (a TPR
  is a rate among the positives, so that is its sample size).

With fewer than two compared groups a gap is not a number: its ``status`` is ``"too few"`` and its
value and interval are ``NaN`` (otherwise ``"ok"``).

**Intervals.** ``ci_lower`` / ``ci_upper`` are a percentile bootstrap interval (level ``ci_level``,
default 95 %) of the gap between the two groups that define it (the groups at the maximum and minimum
on the data, ``max_group`` and ``min_group``): ``n_resamples`` times, every group's customers are
resampled with replacement within the group (stratified, so each group keeps its size), the two rates
are recomputed and their difference taken; the interval is the ``(1 - ci_level) / 2`` and
``(1 + ci_level) / 2`` quantiles of those differences. Resampling a group's customers with replacement
only changes how many of them fall in each of the four (outcome, selected) cells, so each resample
draws those four counts from the multinomial distribution of the group's observed cell shares, which
is the same distribution and costs nothing per customer. The difference is taken between fixed groups
(not max - min of every resample, which is never below 0 and so biased upwards when groups are
alike): a lower bound at or below 0 says that the data do not establish which of the two groups is
targeted (or found) more often. With k > 2 compared groups the data choose the pair among k (k - 1) / 2,
and the extreme pair's difference is biased away from 0 (six groups treated alike: a plain 95 % interval
of the chosen pair misses 0 about half the time), so the pair's interval is taken at the Bonferroni level
``1 - (1 - ci_level) / (k (k - 1) / 2)``: it then covers with at least ``ci_level`` whichever pair the
data point to. (With many groups, the far quantiles this needs want more resamples: 1,000 still
give the 0.2 % quantile for six groups from two resamples; ``n_resamples`` is cheap to raise.)

``exceeds_threshold`` flags a difference strictly above ``threshold`` (default 0.1, i.e. ten
percentage points). That default is a common review trigger, not a legal standard: a flag means "look
at this" (the groups may differ legitimately in their response rates, which demographic parity
ignores); a flag whose interval reaches below the threshold may be noise.

A missing group value is its own group, ``"(missing)"``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from retail_lift.validation import check_binary, check_positive_int, check_same_length

__all__ = ["GAP_OK", "GAP_TOO_FEW", "MISSING_GROUP", "fairness_report", "gap_interval"]

MISSING_GROUP = "(missing)"
#: Status of a gap computed between at least two compared groups.
GAP_OK = "ok"
#: Status of a gap left undefined: fewer than two groups reach the minimum size.
GAP_TOO_FEW = "too few"

_BY_GROUP_COLUMNS = ["attribute", "group", "n", "positives", "selected", "true_positives",
                     "selection_rate", "precision", "tpr"]
_SUMMARY_COLUMNS = ["attribute", "metric", "status", "value", "ci_lower", "ci_upper", "max_group", "min_group",
                    "n_groups", "threshold", "exceeds_threshold", "n_resamples", "ci_level"]


def _spread(table: pd.DataFrame, column: str) -> tuple[float, str | None, str | None, int]:
    valid = table.dropna(subset=[column])
    if len(valid) < 2:
        return float("nan"), None, None, len(valid)
    hi = valid.loc[valid[column].idxmax()]
    lo = valid.loc[valid[column].idxmin()]
    return float(hi[column] - lo[column]), str(hi["group"]), str(lo["group"]), len(valid)


def _resampled_rates(cells: np.ndarray, metric: str, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``n_resamples`` bootstrap rates of one group from its counts ``[y0s0, y0s1, y1s0, y1s1]``.

    Resampling the group's n customers with replacement = drawing the four cell counts from
    Multinomial(n, observed shares). ``selection_rate`` = (y0s1 + y1s1) / n; ``tpr`` = y1s1 / (y1s0 + y1s1)
    (``NaN`` for a resample without positives).
    """
    n = int(cells.sum())
    draws = rng.multinomial(n, cells / n, size=n_resamples)
    if metric == "selection_rate":
        return (draws[:, 1] + draws[:, 3]) / n
    positives = draws[:, 2] + draws[:, 3]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(positives > 0, draws[:, 3] / np.maximum(positives, 1), np.nan)


def gap_interval(cells_hi, cells_lo, metric: str, *, n_resamples: int = 1000, ci_level: float = 0.95,
                 rng: np.random.Generator | int | None = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``rate(hi) - rate(lo)``, customers resampled within each group.

    ``cells_hi`` / ``cells_lo``: the groups' counts of customers in the cells (y=0, s=0), (y=0, s=1),
    (y=1, s=0), (y=1, s=1); ``metric``: ``"selection_rate"`` or ``"tpr"``. Resamples in which a group has
    no positives (TPR undefined) are left out.
    """
    if metric not in ("selection_rate", "tpr"):
        raise ValueError(f"metric must be 'selection_rate' or 'tpr', got {metric!r}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    hi = _resampled_rates(np.asarray(cells_hi, dtype=float), metric, n_resamples, rng)
    lo = _resampled_rates(np.asarray(cells_lo, dtype=float), metric, n_resamples, rng)
    diff = hi - lo
    diff = diff[np.isfinite(diff)]
    if diff.size == 0:
        return float("nan"), float("nan")
    alpha = 1.0 - ci_level
    lower, upper = np.quantile(diff, [alpha / 2, 1 - alpha / 2])
    return float(lower), float(upper)


def fairness_report(y_true, selected, groups: Mapping[str, object] | pd.DataFrame, *,
                    threshold: float = 0.1, min_group_size: int = 1, n_resamples: int = 1000,
                    ci_level: float = 0.95, random_state: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-group targeting rates and the parity gaps between groups.

    Args:
        y_true: realised 0/1 outcome per customer.
        selected: 0/1 targeting decision per customer (e.g. ``probability >= threshold``).
        groups: attribute name -> group value per customer (a dict of arrays, or a DataFrame whose
            columns are the attributes).
        threshold: a gap above this is flagged (default 0.1 = ten percentage points).
        min_group_size: groups with fewer customers (for the TPR gap: fewer positives) are reported but
            left out of the gap; with fewer than two groups left the gap is ``"too few"`` (``NaN``).
        n_resamples: bootstrap resamples for the intervals (default 1,000).
        ci_level: the intervals' coverage level (default 0.95).
        random_state: seed of the bootstrap (the same seed gives the same intervals).

    Returns:
        ``(by_group, summary)``. ``by_group``: one row per attribute x group with the columns
        ``attribute, group, n, positives, selected, true_positives, selection_rate, precision, tpr``
        (groups sorted by value). ``summary``: one row per attribute x metric
        (``demographic_parity_difference``, ``equal_opportunity_difference``) with ``status`` (``"ok"``
        or ``"too few"``), ``value``, its interval ``ci_lower`` / ``ci_upper``, the groups at the maximum
        and minimum, ``n_groups`` compared, ``threshold``, ``exceeds_threshold``, ``n_resamples`` and
        ``ci_level``.
    """
    y = check_binary(y_true, "y_true")
    s = check_binary(selected, "selected")
    check_same_length(y_true=y, selected=s)
    threshold = float(threshold)
    if not np.isfinite(threshold) or threshold < 0:
        raise ValueError(f"threshold must be a non-negative number, got {threshold!r}")
    min_group_size = check_positive_int(min_group_size, "min_group_size")
    n_resamples = check_positive_int(n_resamples, "n_resamples")
    ci_level = float(ci_level)
    if not 0.0 < ci_level < 1.0:
        raise ValueError(f"ci_level must be strictly between 0 and 1, got {ci_level!r}")
    rng = np.random.default_rng(random_state)
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
        frame = pd.DataFrame({"group": g, "y": y, "s": s, "tp": y & s, "cell": 2 * y + s})
        agg = frame.groupby("group", sort=True).agg(
            n=("y", "size"), positives=("y", "sum"), selected=("s", "sum"), true_positives=("tp", "sum"))
        agg = agg.reset_index()
        cells = (pd.crosstab(frame["group"], frame["cell"]).reindex(columns=range(4), fill_value=0)
                 .reindex(agg["group"]).to_numpy())
        cells_of = dict(zip(agg["group"], cells, strict=True))
        agg.insert(0, "attribute", attribute)
        with np.errstate(invalid="ignore", divide="ignore"):
            agg["selection_rate"] = agg["selected"] / agg["n"]
            agg["precision"] = np.where(agg["selected"] > 0, agg["true_positives"] / agg["selected"].where(
                agg["selected"] > 0), np.nan)
            agg["tpr"] = np.where(agg["positives"] > 0, agg["true_positives"] / agg["positives"].where(
                agg["positives"] > 0), np.nan)
        by_rows.append(agg[_BY_GROUP_COLUMNS])

        for metric, column, size in (("demographic_parity_difference", "selection_rate", "n"),
                                     ("equal_opportunity_difference", "tpr", "positives")):
            value, hi, lo, n_groups = _spread(agg[agg[size] >= min_group_size], column)
            lower = upper = float("nan")
            if hi is not None:
                # the data chose the pair among n_groups * (n_groups - 1) / 2: Bonferroni over the pairs
                pairs = n_groups * (n_groups - 1) // 2
                lower, upper = gap_interval(cells_of[hi], cells_of[lo], column, n_resamples=n_resamples,
                                            ci_level=1.0 - (1.0 - ci_level) / pairs, rng=rng)
            summary_rows.append({
                "attribute": attribute, "metric": metric, "status": GAP_OK if hi is not None else GAP_TOO_FEW,
                "value": value, "ci_lower": lower, "ci_upper": upper, "max_group": hi, "min_group": lo,
                "n_groups": n_groups, "threshold": threshold,
                "exceeds_threshold": bool(np.isfinite(value) and value > threshold),
                "n_resamples": n_resamples, "ci_level": ci_level,
            })
    by_group = pd.concat(by_rows, ignore_index=True)
    for c in ("n", "positives", "selected", "true_positives"):
        by_group[c] = by_group[c].astype(int)
    return by_group, pd.DataFrame(summary_rows, columns=_SUMMARY_COLUMNS)
