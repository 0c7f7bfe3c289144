"""The promotion plan (issue 24): which promotion each customer gets under a budget, why, and a holdout that
proves afterwards whether the plan paid.

This module knows nothing of dbt, the warehouse or the simulated truth: it takes pandas frames and numbers
(:mod:`retail_lift.tables.campaign` wires the warehouse tables to it) and keeps the plans it made in a folder
(:class:`PlanStore`).

Candidates (:func:`candidate_table`)
------------------------------------
One row per customer x promotion with a per-customer uplift estimate. With ``p1`` / ``p0`` the predicted
probabilities to order with / without the promotion, ``v`` the customer's full-price order value, ``d`` the
promotion's discount rate, ``c`` its contact cost and ``m`` the gross margin rate, the arithmetic of
:func:`retail_lift.campaign.targeting.expected_economics` with ``baseline_probability = p0``::

    expected_cost                = c + p1 * v * d                    what the contact spends
    expected_incremental_margin  = (p1 - p0) * v * m - expected_cost  what it earns, net of that spend

Allocation (:func:`build_plan`)
-------------------------------
:func:`retail_lift.campaign.allocation.allocate` maximises the sum of ``expected_incremental_margin`` with
at most one promotion per customer, the sum of ``expected_cost`` within ``budget`` (``None``: no budget),
at most ``capacity[promotion]`` customers per promotion and ``channel_limits[channel]`` contacts per
channel. Fatigued customers are not eligible for any promotion. Every scored customer gets a row; those
without a promotion have ``promotion_id`` NULL and a reason.

Frontier (:func:`plan_frontier`)
--------------------------------
The same solver on the same candidates, limits and fatigue flags at a grid of budgets, from the cheapest pair the
plan could choose to the cost of the plan without a budget, plus the plan's own budget: the expected incremental
margin each budget buys, and the mix of promotions it buys it with. The point at the plan's budget is solved with
the arguments of :func:`build_plan`, so its totals are the plan's.

Holdout (:func:`assign_holdout`)
--------------------------------
Among the customers with a promotion, a share ``holdout_share`` is held out (not contacted), stratified on
promotion x value band (the tertile of ``expected_incremental_margin`` within the promotion): in each stratum
the customers are shuffled with a generator seeded by the plan id and the first ``floor(share * n + u)``
(``u`` uniform from the same generator, so the expected share is exact) are held out. The same plan id
always gives the same holdout.

Versioning (:func:`plan_content_key`, :func:`plan_id_for`, :class:`PlanStore`)
------------------------------------------------------------------------------
The content key hashes the plan's inputs (the candidate table, the fatigue flags) and its settings; the plan
id hashes the content key and a revision (how many stored plans already have that content key). A build
whose content key has a stored plan reuses that plan, its ``planned_at`` and its holdout; ``replan`` makes a
new plan (the next revision, a new id and a new holdout) from the same inputs. A plan is never rewritten:
every plan made stays in the store (one Parquet file and one JSON file of metadata per plan id).

Reasons (:func:`plan_reason_text`)
----------------------------------
One function builds the readable text of a row, e.g. ``"persuadable for bogo: +4.1 pp, margin +3.20, cost
1.50; last order 12 days ago"``; ``contributions`` (the customer's strongest feature contributions, when an
attribution is available) are appended after the economics.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from retail_lift.campaign.allocation import Allocation, allocate
from retail_lift.campaign.targeting import expected_economics
from retail_lift.experiments.analysis import analyze_experiments

__all__ = ["FRONTIER_COLUMNS", "PLAN_COLUMNS", "PROMOTION_STATUS_COLUMNS", "PlanError", "PlanStore", "assign_holdout",
           "build_plan", "candidate_table", "check_promotion_costs", "export_plan", "frontier_budgets", "held_out",
           "holdout_estimates", "holdout_strata", "plan_content_key", "plan_frontier", "plan_id_for",
           "plan_reason_text", "plan_solver", "promotion_status"]

#: the columns of a plan, in order
PLAN_COLUMNS = [
    "plan_id", "planned_at", "customer_id", "promotion_id", "channel", "experiment_id", "predicted_uplift",
    "expected_incremental_margin", "expected_cost", "discount_rate", "contact_cost", "margin_rate",
    "is_fatigued", "is_holdout", "holdout_stratum", "reasons",
]
#: the columns of :func:`plan_frontier`, in order
FRONTIER_COLUMNS = [
    "point", "budget", "is_plan_budget", "promotion_id", "channel", "planned_customers",
    "expected_incremental_margin", "expected_cost", "total_customers", "total_expected_incremental_margin",
    "total_expected_cost", "upper_bound", "gap", "method",
]
#: the columns of :func:`promotion_status`
PROMOTION_STATUS_COLUMNS = ["promotion_id", "channel", "is_included", "experiment_id", "reason"]
#: the value bands of the holdout strata (tertiles of the expected incremental margin within a promotion)
VALUE_BANDS = ("low", "mid", "high")
#: the uplift segment threshold of the reasons (one percentage point, the uplift family's default)
PERSUADABLE_UPLIFT = 0.01


class PlanError(ValueError):
    """Inputs a plan cannot be made from; the message names the table, the column and the promotion."""


def _is_missing(value) -> bool:
    try:
        return value is None or pd.isna(value) or not math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


def check_promotion_costs(promotions: pd.DataFrame, promotion_ids: Sequence[str], *,
                          table: str = "stg_shop__promotions") -> None:
    """Every promotion of ``promotion_ids`` has a known, non-negative ``contact_cost`` and a ``discount_rate``
    in [0, 1) in ``promotions``; else a :class:`PlanError` naming ``table``, the column and the promotion."""
    rows = promotions.set_index(promotions["promotion_id"].astype(str))
    for pid in promotion_ids:
        if pid not in rows.index:
            raise PlanError(f"{table}: promotion {pid!r} has uplift scores but no row in {table}: "
                            f"its discount and contact cost are unknown")
        row = rows.loc[pid]
        for column in ("contact_cost", "discount_rate"):
            value = row[column]
            if _is_missing(value):
                raise PlanError(f"{table}.{column} is missing for promotion {pid!r}: the plan cannot price it "
                                f"(a missing cost is never taken as 0)")
            if float(value) < 0:
                raise PlanError(f"{table}.{column} is negative for promotion {pid!r}: {float(value)}")
        if float(row["discount_rate"]) >= 1:
            raise PlanError(f"{table}.discount_rate must be below 1 for promotion {pid!r}: "
                            f"{float(row['discount_rate'])}")


def promotion_status(promotions: pd.DataFrame, scored: Mapping[str, str], notes: Mapping[str, str],
                     control_ids: Sequence[str] = ()) -> pd.DataFrame:
    """One row per promotion of ``promotions``: included in the plan or not, and why.

    ``scored``: ``{promotion_id: experiment_id}`` of the promotions with per-customer uplift (a valid
    experiment); ``notes``: ``{promotion_id: why its experiment gave no uplift}`` (e.g. a sample-ratio
    mismatch); ``control_ids``: the experiments' control variants (no promotion to plan)."""
    rows = []
    for r in promotions.sort_values("promotion_id").itertuples(index=False):
        pid = str(r.promotion_id)
        if pid in scored:
            rows.append((pid, r.channel, True, scored[pid], f"included: uplift from experiment {scored[pid]}"))
        elif pid in control_ids:
            rows.append((pid, r.channel, False, None, "left out: the control arm of the experiments, not a promotion"))
        elif pid in notes:
            rows.append((pid, r.channel, False, None, f"left out: no valid experiment ({notes[pid]})"))
        else:
            rows.append((pid, r.channel, False, None, "left out: no valid experiment (no experiment tested it)"))
    return pd.DataFrame(rows, columns=PROMOTION_STATUS_COLUMNS)


def candidate_table(uplift: pd.DataFrame, promotions: pd.DataFrame, customers: pd.DataFrame, *,
                    margin_rate: float) -> pd.DataFrame:
    """One row per customer x promotion of ``uplift`` (``customer_id``, ``promotion_id``, ``experiment_id``,
    ``predicted_uplift``, ``predicted_control_probability``, ``predicted_treated_probability``, ``segment``)
    with the economics of the module docstring. ``promotions``: ``promotion_id``, ``channel``,
    ``discount_rate``, ``contact_cost`` (checked by :func:`check_promotion_costs` first); ``customers``:
    ``customer_id``, ``avg_order_value`` (a missing one takes the median of the others)."""
    ids = sorted(uplift["promotion_id"].astype(str).unique())
    check_promotion_costs(promotions, ids)
    p = promotions.assign(promotion_id=promotions["promotion_id"].astype(str))
    p = p[p["promotion_id"].isin(ids)][["promotion_id", "channel", "discount_rate", "contact_cost"]]
    c = customers[["customer_id", "avg_order_value"]].drop_duplicates("customer_id")
    df = uplift.assign(promotion_id=uplift["promotion_id"].astype(str)).merge(p, on="promotion_id", how="inner")
    df = df.merge(c, on="customer_id", how="left")
    aov = pd.to_numeric(df["avg_order_value"], errors="coerce").astype(float)
    df["avg_order_value"] = aov.fillna(aov.median() if aov.notna().any() else 0.0).clip(lower=0)
    p1 = pd.to_numeric(df["predicted_treated_probability"], errors="coerce").fillna(0).clip(0, 1).to_numpy()
    p0 = pd.to_numeric(df["predicted_control_probability"], errors="coerce").fillna(0).clip(0, 1).to_numpy()
    df["expected_cost"] = 0.0
    df["expected_incremental_margin"] = 0.0
    for (d, cc), idx in df.groupby(["discount_rate", "contact_cost"]).groups.items():
        e = expected_economics(p1[idx], df.loc[idx, "avg_order_value"].to_numpy(float), float(d),
                               contact_cost=float(cc), margin_rate=float(margin_rate), baseline_probability=p0[idx])
        df.loc[idx, "expected_cost"] = e["expected_cost"].to_numpy()
        df.loc[idx, "expected_incremental_margin"] = e["expected_profit"].to_numpy()
    df["margin_rate"] = float(margin_rate)
    return df.sort_values(["customer_id", "promotion_id"], kind="mergesort").reset_index(drop=True)


def plan_reason_text(promotion_id, predicted_uplift, expected_incremental_margin, expected_cost,  # noqa: PLR0913 - the parts of one reason
                     days_since_last_order, *, segment=None, why_none: str | None = None,
                     contributions: str | None = None) -> str:
    """The readable reason of one plan row (the only place the text is built).

    With a promotion: ``"persuadable for bogo: +4.1 pp, margin +3.20, cost 1.50; last order 12 days ago"``
    (the uplift segment, the predicted uplift in percentage points, the expected incremental margin and
    cost); without one, ``why_none`` (fatigued, nothing profitable, or the limits went to better customers)
    and the best promotion's numbers. ``contributions``: the customer's strongest feature contributions, as
    text, appended after the economics."""
    if days_since_last_order is None or _is_missing(days_since_last_order):
        recency = "no order yet"
    else:
        days = int(round(float(days_since_last_order)))
        recency = f"last order {days} day{'s' if days != 1 else ''} ago"
    parts = []
    if promotion_id is not None and not _is_missing(predicted_uplift):
        label = segment if isinstance(segment, str) and segment else (
            "persuadable" if float(predicted_uplift) >= PERSUADABLE_UPLIFT else "low uplift")
        economics = (f"{float(predicted_uplift) * 100:+.1f} pp, margin {float(expected_incremental_margin):+.2f}, "
                     f"cost {float(expected_cost):.2f}")
        head = f"{label} for {promotion_id}: {economics}" if why_none is None else \
            f"no promotion: {why_none} (best: {promotion_id}, {economics})"
    else:
        head = f"no promotion: {why_none or 'no promotion scored'}"
    parts.append(head)
    if contributions:
        parts.append(contributions)
    parts.append(recency)
    return "; ".join(parts)


@dataclass(frozen=True)
class _Matrices:
    customers: np.ndarray
    promotions: list
    value: np.ndarray
    cost: np.ndarray
    scored: np.ndarray
    eligible: np.ndarray


def _matrices(candidates: pd.DataFrame, customers: np.ndarray, fatigued: np.ndarray) -> _Matrices:
    promos = sorted(candidates["promotion_id"].unique())
    n, p = len(customers), len(promos)
    row = pd.Index(customers).get_indexer(candidates["customer_id"])
    col = pd.Index(promos).get_indexer(candidates["promotion_id"])
    value, cost = np.zeros((n, p)), np.zeros((n, p))
    scored = np.zeros((n, p), dtype=bool)
    value[row, col] = candidates["expected_incremental_margin"].to_numpy(float)
    cost[row, col] = candidates["expected_cost"].to_numpy(float)
    scored[row, col] = True
    return _Matrices(customers, promos, value, cost, scored, scored & ~fatigued[:, None])


def _check_budget(budget, min_contact: tuple[float, str]) -> None:
    if budget is not None and float(budget) < min_contact[0]:
        raise PlanError(f"the budget {float(budget):g} is below the cheapest contact: {min_contact[0]:g} "
                        f"(promotion {min_contact[1]!r}, stg_shop__promotions.contact_cost); no customer can be "
                        f"contacted")


def _check_limits(promos: list, channels: Mapping[str, str], budget, capacity, channel_limits,
                  min_contact: tuple[float, str]) -> tuple[dict, dict]:
    _check_budget(budget, min_contact)
    cap = {str(k): float(v) for k, v in (capacity or {}).items()}
    lim = {str(k): float(v) for k, v in (channel_limits or {}).items()}
    for what, mapping in (("capacity", cap), ("channel_limits", lim)):
        for k, v in mapping.items():
            if _is_missing(v) or v < 0:
                raise PlanError(f"{what}[{k!r}] must be a non-negative number, got {v!r}")
    return ({k: v for k, v in cap.items() if k in promos},
            {k: v for k, v in lim.items() if k in {channels[q] for q in promos}})


@dataclass(frozen=True)
class _Prepared:
    """What :func:`build_plan` and :func:`plan_frontier` solve: the candidates of the plan's customers, their
    matrices, the fatigue flags and the limits, checked."""

    candidates: pd.DataFrame
    matrices: _Matrices
    is_fatigued: np.ndarray
    channels: dict
    capacity: dict
    channel_limits: dict
    #: the cheapest contact cost and its promotion (a budget below it is a PlanError)
    min_contact: tuple[float, str]


def _prepare(candidates: pd.DataFrame, customers: pd.DataFrame, *, budget, capacity, channel_limits,  # noqa: PLR0913 - one keyword per constraint
             fatigued: Sequence[str]) -> _Prepared:
    ids = np.array(sorted(customers["customer_id"].astype(str).unique()), dtype=object)
    is_fatigued = pd.Index(ids).isin(pd.Index([str(f) for f in fatigued]))
    cand = candidates.assign(customer_id=candidates["customer_id"].astype(str))
    cand = cand[cand["customer_id"].isin(ids)]
    m = _matrices(cand, ids, is_fatigued)
    first = cand.drop_duplicates("promotion_id").set_index("promotion_id")
    channels = {q: str(first.loc[q, "channel"]) for q in m.promotions}
    contact = {q: float(first.loc[q, "contact_cost"]) for q in m.promotions}
    min_contact = min(((c, q) for q, c in contact.items()), default=(0.0, ""))
    cap, lim = _check_limits(m.promotions, channels, budget, capacity, channel_limits, min_contact)
    return _Prepared(cand, m, is_fatigued, channels, cap, lim, min_contact)


def _allocate(pp: _Prepared, budget: float | None, exact_max_pairs: int | None) -> Allocation:
    """:func:`~retail_lift.campaign.allocation.allocate` on the prepared plan at ``budget`` (None: no budget)."""
    m = pp.matrices
    eff_budget = float(budget) if budget is not None else float(np.where(m.value > 0, m.cost, 0).sum()) + 1.0
    kwargs = {} if exact_max_pairs is None else {"exact_max_pairs": exact_max_pairs}
    return allocate(m.value, m.cost, budget=eff_budget, capacity=[pp.capacity.get(q, np.inf) for q in m.promotions],
                    channels=[pp.channels[q] for q in m.promotions], channel_limits=pp.channel_limits,
                    eligible=m.eligible, **kwargs)


def build_plan(candidates: pd.DataFrame, customers: pd.DataFrame, *, budget: float | None = None,  # noqa: PLR0913 - one keyword per constraint
               capacity: Mapping[str, float] | None = None, channel_limits: Mapping[str, float] | None = None,
               fatigued: Sequence[str] = (), exact_max_pairs: int | None = None,
               explain: Callable[[pd.DataFrame], Mapping[str, str]] | None = None) -> tuple[pd.DataFrame, Allocation]:
    """The plan (one row per customer of ``customers``: ``customer_id``, ``days_since_last_order``) from the
    :func:`candidate_table` and the limits; returns it (without plan id, holdout and time) and the allocation.

    ``explain``: given the planned pairs (``customer_id``, ``promotion_id``), the text of each customer's
    strongest feature contributions to the chosen promotion's uplift (``customer_id`` -> text), put in the
    reason after the economics (:func:`plan_reason_text`); None: reasons without contributions.

    ``capacity`` / ``channel_limits`` may name promotions / channels the plan does not use (a promotion left
    out): those limits do not bind and are dropped. ``budget`` below the cheapest contact is a
    :class:`PlanError`."""
    pp = _prepare(candidates, customers, budget=budget, capacity=capacity, channel_limits=channel_limits,
                  fatigued=fatigued)
    alloc = _allocate(pp, budget, exact_max_pairs)
    plan = _plan_rows(pp.candidates, customers, pp.matrices, alloc, pp.is_fatigued, explain)
    return plan, alloc


def plan_solver(candidates: pd.DataFrame, customers: pd.DataFrame, *,  # noqa: PLR0913 - the keywords of build_plan
                capacity: Mapping[str, float] | None = None, channel_limits: Mapping[str, float] | None = None,
                fatigued: Sequence[str] = (), exact_max_pairs: int | None = None,
                ) -> Callable[[float | None], pd.DataFrame]:
    """The pairs :func:`build_plan` chooses, at any budget, without the plan's rows: the candidates are prepared
    once (customers, matrices, limits checked) and each call ``solve(budget)`` runs the same solver on them and
    returns the chosen ``customer_id``, ``promotion_id`` in the plan's customer order: the rows of
    ``build_plan(candidates, customers, budget=budget, ...)[0]`` that have a promotion. A budget below the cheapest
    contact is the same :class:`PlanError`. For plans at many budgets of one candidate table (the evaluation
    against the truth, :mod:`retail_lift.evaluation.plan`)."""
    pp = _prepare(candidates, customers, budget=None, capacity=capacity, channel_limits=channel_limits,
                  fatigued=fatigued)
    promotions = np.array(pp.matrices.promotions, dtype=object)

    def solve(budget: float | None) -> pd.DataFrame:
        _check_budget(budget, pp.min_contact)
        alloc = _allocate(pp, budget, exact_max_pairs)
        on = alloc.choice >= 0
        return pd.DataFrame({"customer_id": pp.matrices.customers[on], "promotion_id": promotions[alloc.choice[on]]})

    return solve


def _plan_rows(cand: pd.DataFrame, customers: pd.DataFrame, m: _Matrices, alloc: Allocation,  # noqa: PLR0913 - the plan's parts
               is_fatigued: np.ndarray, explain: Callable[[pd.DataFrame], Mapping[str, str]] | None = None,
               ) -> pd.DataFrame:
    n = len(m.customers)
    chosen = alloc.choice >= 0
    # the best promotion of every customer (for the reason of a customer without one)
    if m.promotions:
        best = np.argmax(np.where(m.scored, m.value, -np.inf), axis=1)
        promo = np.array(m.promotions, dtype=object)[np.where(chosen, alloc.choice, best)]
        promo[~m.scored.any(axis=1)] = None
    else:
        promo = np.full(n, None, dtype=object)
    key = pd.DataFrame({"customer_id": m.customers, "promotion_id": promo})
    rows = key.merge(cand, on=["customer_id", "promotion_id"], how="left")
    recency = customers.drop_duplicates("customer_id").assign(customer_id=lambda f: f["customer_id"].astype(str))
    rows = rows.merge(recency[["customer_id", "days_since_last_order"]], on="customer_id", how="left")
    value_best = rows["expected_incremental_margin"].to_numpy(float)
    why = np.where(chosen, None, np.where(is_fatigued, "fatigued (recent contacts without response)",
                                          np.where(~(value_best > 0), "no promotion is expected to pay",
                                                   "the budget and limits went to customers worth more")))
    texts: Mapping[str, str] = {}
    if explain is not None and chosen.any():
        texts = explain(pd.DataFrame({"customer_id": rows["customer_id"].to_numpy()[chosen],
                                      "promotion_id": rows["promotion_id"].to_numpy()[chosen]}))
    contributions = [texts.get(cid) if ok else None for cid, ok in zip(rows["customer_id"], chosen, strict=True)]
    reasons = [plan_reason_text(q, u, v, c, d, segment=s, why_none=w, contributions=t)
               for q, u, v, c, d, s, w, t in zip(
                   rows["promotion_id"], rows["predicted_uplift"], rows["expected_incremental_margin"],
                   rows["expected_cost"], rows["days_since_last_order"], rows.get("segment", pd.Series([None] * n)),
                   why, contributions, strict=True)]
    out = pd.DataFrame({"customer_id": m.customers})
    for c in ("promotion_id", "channel", "experiment_id", "predicted_uplift", "expected_incremental_margin",
              "expected_cost", "discount_rate", "contact_cost", "margin_rate"):
        out[c] = rows[c].where(chosen, None).to_numpy() if c in rows else None
    out["is_fatigued"] = is_fatigued
    out["reasons"] = reasons
    return out


def frontier_budgets(low: float, top: float, points: int) -> np.ndarray:
    """The frontier's grid: ``points`` budgets from ``low`` (the cheapest contact the plan can make) to ``top``
    (the cost of the plan without a budget), spaced evenly on a log scale (each budget the same multiple of the
    one before), because the frontier is concave and rises most at small budgets: on the default world evenly
    spaced budgets put all but the first point on its flat part. Evenly spaced when ``low`` is not positive;
    one budget when ``top <= low``."""
    if points < 2:
        raise PlanError(f"the frontier needs at least 2 budgets, got {points!r}")
    if not top > low:
        return np.array([float(top)])
    if low > 0:
        grid = np.geomspace(float(low), float(top), int(points))
        grid[0], grid[-1] = float(low), float(top)  # the ends exactly
        return grid
    return np.linspace(float(low), float(top), int(points))


def plan_frontier(candidates: pd.DataFrame, customers: pd.DataFrame, *, points: int = 20,  # noqa: PLR0913 - the plan's keywords and the grid
                  budget: float | None = None, capacity: Mapping[str, float] | None = None,
                  channel_limits: Mapping[str, float] | None = None, fatigued: Sequence[str] = (),
                  exact_max_pairs: int | None = None) -> pd.DataFrame:
    """The efficient frontier of the plan: the expected incremental margin the same solver reaches on the same
    :func:`candidate_table`, limits and fatigue flags as :func:`build_plan` at a grid of budgets.

    The grid (:func:`frontier_budgets`): ``points`` budgets from the cheapest candidate pair the plan could choose
    (eligible, positive margin) to the cost of the plan without a budget (solved with ``budget=None``, as
    :func:`build_plan` does), plus the plan's own ``budget`` when it is set and not on the grid. The point of the
    plan's budget (``is_plan_budget``) is solved with exactly the arguments of :func:`build_plan`, so its totals are
    the plan's; without a budget it is the last point, whose ``budget`` is then the plan's cost.

    One row per point x promotion of the candidates (0 customers where the point gives it none): ``point`` (0 for
    the smallest budget), ``budget``, ``is_plan_budget``, the promotion's ``planned_customers``,
    ``expected_incremental_margin`` and ``expected_cost``, and the point's totals (``total_*``), the solver's
    ``upper_bound``, ``gap`` and ``method`` (repeated on each promotion's row)."""
    pp = _prepare(candidates, customers, budget=budget, capacity=capacity, channel_limits=channel_limits,
                  fatigued=fatigued)
    m = pp.matrices
    plan_alloc = _allocate(pp, budget, exact_max_pairs)
    free = plan_alloc if budget is None else _allocate(pp, None, exact_max_pairs)
    open_pairs = m.eligible & (m.value > 0)
    low = float(m.cost[open_pairs].min()) if open_pairs.any() else free.cost
    grid = frontier_budgets(low, free.cost, points)
    solved: list[tuple[float, Allocation, bool]] = []
    for b in grid[:-1]:
        if budget is not None and float(b) == float(budget):
            continue
        solved.append((float(b), _allocate(pp, float(b), exact_max_pairs), False))
    if budget is None:
        solved.append((free.cost, plan_alloc, True))
    else:
        if float(grid[-1]) != float(budget):
            solved.append((float(grid[-1]), free, False))
        solved.append((float(budget), plan_alloc, True))
    solved.sort(key=lambda s: (s[0], s[2]))
    rows = []
    channels = [pp.channels[q] for q in m.promotions]
    for point, (b, alloc, is_plan) in enumerate(solved):
        on = alloc.choice >= 0
        idx, j = np.flatnonzero(on), alloc.choice[on]
        per_count = np.bincount(j, minlength=len(m.promotions))
        per_value = np.bincount(j, weights=m.value[idx, j], minlength=len(m.promotions))
        per_cost = np.bincount(j, weights=m.cost[idx, j], minlength=len(m.promotions))
        for q, promotion in enumerate(m.promotions):
            rows.append((point, b, is_plan, promotion, channels[q], int(per_count[q]), float(per_value[q]),
                         float(per_cost[q]), int(on.sum()), alloc.value, alloc.cost, alloc.upper_bound, alloc.gap,
                         alloc.method))
    return pd.DataFrame(rows, columns=FRONTIER_COLUMNS)


def holdout_strata(plan: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    """The holdout strata of ``plan`` (module docstring) in the order :func:`assign_holdout` draws them: per
    promotion (sorted) its value bands low, mid, high, each as ``(label, index labels of its rows)``, the rows by
    customer id; empty bands are left out (they draw nothing)."""
    strata = []
    planned = plan[plan["promotion_id"].notna()]
    for pid, g in planned.sort_values("customer_id", kind="mergesort").groupby("promotion_id", sort=True):
        value = g["expected_incremental_margin"].astype(float).rank(method="first")
        bands = np.minimum((value.to_numpy() - 1) * len(VALUE_BANDS) // len(g), len(VALUE_BANDS) - 1).astype(int)
        for b in range(len(VALUE_BANDS)):
            idx = g.index[bands == b]
            if len(idx):
                strata.append((f"{pid}|{VALUE_BANDS[b]}", idx))
    return strata


def held_out(strata: Sequence[tuple[str, np.ndarray]], share: float, seed: int) -> list[np.ndarray]:
    """Per stratum of :func:`holdout_strata`, the index labels :func:`assign_holdout` holds out with ``seed``:
    in each stratum ``floor(share * n + u)`` of a permutation, ``u`` and the permutation from one generator
    seeded by ``seed``, stratum after stratum."""
    rng = np.random.default_rng(seed)
    out = []
    for _label, idx in strata:
        k = int(math.floor(share * len(idx) + rng.random()))
        out.append(idx[rng.permutation(len(idx))[:k]])
    return out


def assign_holdout(plan: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """``plan`` with ``is_holdout`` and ``holdout_stratum`` (module docstring); rows without a promotion are
    never held out and have no stratum."""
    if not 0 <= share < 1:
        raise PlanError(f"the holdout share must be in [0, 1), got {share!r}")
    plan = plan.copy()
    plan["is_holdout"] = False
    plan["holdout_stratum"] = pd.Series([None] * len(plan), dtype=object, index=plan.index)
    strata = holdout_strata(plan)
    for (label, idx), held in zip(strata, held_out(strata, share, seed), strict=True):
        plan.loc[idx, "holdout_stratum"] = label
        plan.loc[held, "is_holdout"] = True
    return plan


def holdout_estimates(outcomes: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """The holdout comparison of a plan, through the experiment engine
    (:func:`retail_lift.experiments.analysis.analyze_experiments`): per ``experiment_id`` (one per plan x
    promotion), Welch's difference of the mean outcome ``y`` of the treated and the held-out customers and its
    ``1 - alpha`` interval, and the sample-ratio check against the planned ``holdout_share``.

    ``outcomes``: one row per assigned customer with ``experiment_id``, ``variant``, ``is_control`` (held out),
    ``y`` (the outcome, e.g. the margin net of the contact cost) and ``holdout_share``. Returns the engine's
    rows (:data:`retail_lift.experiments.analysis.RESULT_COLUMNS`) indexed by ``experiment_id``: ``variant_mean``,
    ``control_mean``, ``effect``, ``effect_ci_low``, ``effect_ci_high``, ``p_value``, ``srm_p_value``, ...
    ``ml_plan_vs_holdout`` reports them on the realised orders; the evaluation against the simulated truth
    re-draws holdouts and outcomes and checks the interval's coverage with the same function."""
    stats = outcomes.groupby(["experiment_id", "variant", "is_control"]).agg(
        users=("y", "size"), sum_y=("y", "sum"), sumsq_y=("y", lambda v: float((v ** 2).sum()))).reset_index()
    stats["metric_name"] = "margin_per_customer"
    stats["metric_type"] = "mean"
    stats[["sum_x", "sumsq_x", "sum_xy"]] = 0.0
    shares = outcomes.groupby("experiment_id")["holdout_share"].first().astype(float)
    srm = stats[["experiment_id", "variant", "is_control", "users"]].rename(columns={"users": "observed_users"})
    share = srm["experiment_id"].map(shares).astype(float).to_numpy()
    srm["planned_share"] = np.where(srm["is_control"].astype(bool).to_numpy(), share, 1 - share)
    res = analyze_experiments(stats, srm, alpha=alpha, power=0.8, mde_relative=0.05)
    return res.set_index("experiment_id")


def _frame_digest(h, df: pd.DataFrame) -> None:
    df = df.reindex(sorted(df.columns), axis=1).sort_values(sorted(df.columns), kind="mergesort")
    h.update(",".join(df.columns).encode())
    h.update(pd.util.hash_pandas_object(df.reset_index(drop=True), index=False).to_numpy().tobytes())


def plan_content_key(frames: Mapping[str, pd.DataFrame], settings: Mapping) -> str:
    """A hash of the plan's inputs (``frames``, by name) and ``settings`` (JSON-serialisable)."""
    h = hashlib.sha256()
    for name in sorted(frames):
        h.update(name.encode())
        _frame_digest(h, frames[name])
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return h.hexdigest()


def plan_id_for(content_key: str, revision: int) -> str:
    """The id of revision ``revision`` (0 first) of the plan with ``content_key``: 16 hex digits."""
    return hashlib.sha256(f"{content_key}:{revision}".encode()).hexdigest()[:16]


def plan_seed(plan_id: str) -> int:
    """The holdout seed of a plan: its id as a number."""
    return int(plan_id, 16) % (2**63)


class PlanStore:
    """The plans made, in a folder (by default ``plans/`` beside the warehouse file): ``<plan_id>.parquet``
    (the plan rows) and ``<plan_id>.json`` (its metadata: ``plan_id``, ``content_key``, ``revision``,
    ``planned_at``, ``created_at``, the settings and the solver's totals). Plans are added, never changed."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    @classmethod
    def beside(cls, warehouse: str | os.PathLike) -> PlanStore:
        return cls(Path(warehouse).resolve().parent / "plans")

    def __repr__(self) -> str:
        return f"PlanStore({str(self.root)!r})"

    def plans(self) -> list[dict]:
        """Every stored plan's metadata, oldest first."""
        if not self.root.is_dir():
            return []
        metas = [json.loads(p.read_text()) for p in self.root.glob("*.json")]
        return sorted(metas, key=lambda m: (m["created_at"], m["plan_id"]))

    def find(self, content_key: str) -> list[dict]:
        """The stored plans with ``content_key``, by revision."""
        return sorted((m for m in self.plans() if m["content_key"] == content_key), key=lambda m: m.get("revision", 0))

    def load(self, plan_id: str) -> pd.DataFrame:
        return pd.read_parquet(self.root / f"{plan_id}.parquet")

    def save(self, plan: pd.DataFrame, meta: Mapping) -> None:
        plan_id = meta["plan_id"]
        if (self.root / f"{plan_id}.json").exists():
            raise PlanError(f"plan {plan_id} is already stored in {self.root}; a plan is never rewritten")
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{plan_id}.parquet.tmp"
        plan.to_parquet(tmp, index=False)
        tmp.replace(self.root / f"{plan_id}.parquet")
        tmp = self.root / f".{plan_id}.json.tmp"
        tmp.write_text(json.dumps(dict(meta), indent=1, sort_keys=True, default=str))
        tmp.replace(self.root / f"{plan_id}.json")


    def frontier_path(self, plan_id: str, settings: Mapping) -> Path:
        """Where the frontier of ``plan_id`` with the frontier's ``settings`` is kept (``frontiers/`` in the
        store): a plan id stands for the plan's inputs, so the same id and settings give the same frontier."""
        key = hashlib.sha256(json.dumps(dict(settings), sort_keys=True, default=str).encode()).hexdigest()[:16]
        return self.root / "frontiers" / f"{plan_id}-{key}.parquet"

    def load_frontier(self, plan_id: str, settings: Mapping) -> pd.DataFrame | None:
        """The kept frontier of ``plan_id`` with ``settings``, or None."""
        path = self.frontier_path(plan_id, settings)
        return pd.read_parquet(path) if path.exists() else None

    def save_frontier(self, frontier: pd.DataFrame, plan_id: str, settings: Mapping) -> Path:
        path = self.frontier_path(plan_id, settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        frontier.to_parquet(tmp, index=False)
        tmp.replace(path)
        return path


def now_text() -> str:
    """The wall-clock time as ISO text with microseconds (the order of the stored plans)."""
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns // 1000 % 10**6:06d}Z"


def export_plan(plan: pd.DataFrame, folder) -> list[Path]:
    """One CSV per channel (``<folder>/<channel>.csv``) of the rows with a promotion, held-out rows included
    (``is_holdout``: do not contact them), with the reasons; rows by promotion then customer. Returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    planned = plan[plan["promotion_id"].notna()]
    cols = ["customer_id", "promotion_id", "channel", "is_holdout", "reasons", "expected_incremental_margin",
            "expected_cost", "predicted_uplift", "holdout_stratum", "plan_id", "planned_at"]
    paths = []
    for channel, g in planned.groupby("channel", sort=True):
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(channel))
        path = folder / f"{safe}.csv"
        g.sort_values(["promotion_id", "customer_id"], kind="mergesort")[cols].to_csv(path, index=False,
                                                                                      lineterminator="\n")
        paths.append(path)
    return paths
