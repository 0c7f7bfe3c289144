"""The promotion plan against the simulated world's truth (issue 24, item 4; evaluation only: reads the truth).

:func:`evaluate_plan_against_truth` (``ml_eval_promotion_plan_vs_truth``) makes plans at several budgets and
values every one of them with the **true** response of each customer to each promotion
(``truth_customer_arms``): true incremental margin = true uplift x order value x margin rate - true expected
cost, the arithmetic of :func:`retail_lift.campaign.plan.candidate_table` with the true probabilities and the
true order value in place of the predicted ones.

Policies, at each budget (all pick at most one promotion per customer among the promotions with per-customer
uplift, never a fatigued customer):

* ``plan``: :func:`retail_lift.campaign.plan.build_plan` on the model's uplift (``ml_customer_uplift``), as
  ``ml_promotion_plan`` makes it;
* ``ceiling_plan``: the same solver with the model's uplift replaced by the feature ceiling
  (:func:`retail_lift.evaluation.uplift_limits.ceiling_uplift`: the true uplift regressed on the features the
  model scores with, out of fold); the model's control probability and the order value are kept, so only the
  uplift estimate differs. The plan should earn at least ``ceiling_ratio_target`` (0.9) of its true margin;
* ``oracle_plan``: the same solver on the true economics (true probabilities, true order value, true costs):
  the most any plan within the budget can earn;
* ``best_single_promotion``: one promotion only, the customers of largest predicted uplift (above 0) first,
  while the expected cost stays within what the plan spends; the promotion kept is the one of largest TRUE
  margin (chosen with hindsight: the strongest single-promotion baseline, not one a marketer could pick);
* ``propensity``: one promotion only, the customers of largest purchase propensity
  (``ml_purchase_propensity_scores``) first, at the same cost; the promotion chosen with hindsight as well.

The budgets are shares of the expected cost of the plan without a budget (``budget_shares``), plus that plan
itself (``budget_share`` NULL: the budget does not bind). The baselines spend (by the model's expected cost) what
the plan spends at that budget; the ceiling and oracle plans are held to the budget itself (the oracle by the
true cost, which it knows).

Holdout coverage (:func:`holdout_coverage`), on the ``plan`` rows: ``holdout_draws`` holdouts are re-drawn with
the plan's own design (:func:`retail_lift.campaign.plan.assign_holdout`, a new seed each), each customer's outcome
is drawn from the true probabilities (treated: an order with the arm's ``p_convert``, worth order value x
(margin - discount) - contact cost; held out: with the control's, worth order value x margin), and the
holdout estimate of ``ml_plan_vs_holdout`` (:func:`retail_lift.campaign.plan.holdout_estimates`, the experiment
engine's Welch interval at level ``1 - alpha``, times the treated customers) is checked against the true
incremental margin of the treated customers of that draw (the sum of their true expected incremental margin).
The coverage is the share of the intervals (draws x promotions) that contain it, with its binomial standard
error; it should be within ``coverage_tolerance`` of ``1 - alpha``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retail_lift.campaign.plan import PlanError, candidate_table, held_out, holdout_strata, plan_solver
from retail_lift.evaluation.truth import EVALUATION_SCHEMAS
from retail_lift.experiments.frequentist import welch_from_moments
from retail_lift.experiments.ratio import arm_moments
from retail_lift.frames import log_line, nullable_typed
from retail_lift.model_gate import heavy
from retail_lift.settings import number, set_fields
from retail_lift.uplift.features import require_columns

__all__ = ["PLAN_EVALUATION_COLUMNS", "POLICIES", "EvalPromotionPlanVsTruthConfig", "evaluate_plan_against_truth",
           "holdout_coverage", "promotion_plan_vs_truth", "true_candidates"]

MODEL = "ml_eval_promotion_plan_vs_truth"
#: the policies of the evaluation table, in its order
POLICIES = ("plan", "ceiling_plan", "oracle_plan", "best_single_promotion", "propensity")
#: the columns of the evaluation table and their pandas types (those of its empty frame)
PLAN_EVALUATION_COLUMNS = EVALUATION_SCHEMAS[MODEL]
_UPLIFT = ["customer_id", "promotion_id", "experiment_id", "predicted_uplift", "predicted_control_probability",
           "predicted_treated_probability"]


@dataclass(frozen=True)
class EvalPromotionPlanVsTruthConfig:
    """The settings of ``ml_eval_promotion_plan_vs_truth`` and their defaults (its yml states the same)."""

    #: the budgets, as shares of the expected cost of the plan without a budget (one more row: no budget)
    budget_shares: tuple = (0.005, 0.02, 0.05, 0.15, 0.4)
    #: the share of the planned customers each re-drawn holdout holds out (var plan_holdout_share)
    holdout_share: float = 0.1
    #: the holdout interval is the (1 - alpha) one of the experiment engine (var plan_interval_alpha)
    alpha: float = 0.1
    #: re-drawn holdouts (and outcomes) per budget for the coverage of the interval (0: not measured)
    holdout_draws: int = 200
    #: the plan's true margin should be at least this share of the ceiling plan's
    ceiling_ratio_target: float = 0.9
    #: the coverage should be within this of 1 - alpha
    coverage_tolerance: float = 0.03
    #: seed of the re-drawn holdouts and outcomes and of the feature ceiling's folds
    random_state: int = 0
    #: customers each feature-ceiling regression is fitted on (a seeded sample above it)
    ceiling_max_rows: int = 40000

    def __post_init__(self):
        shares = self.budget_shares
        if isinstance(shares, str | bytes) or not isinstance(shares, Sequence):
            raise ValueError(f"{MODEL}: budget_shares must be a list of numbers in (0, 1], got {shares!r}")
        set_fields(self, budget_shares=tuple(number(MODEL, "budget_shares", s, low=0, high=1, low_open=True)
                                             for s in shares),
                   holdout_share=number(MODEL, "holdout_share", self.holdout_share, low=0, high=1, low_open=True,
                                        high_open=True, rendered=True),
                   alpha=number(MODEL, "alpha", self.alpha, low=0, high=1, low_open=True, high_open=True,
                                rendered=True),
                   holdout_draws=number(MODEL, "holdout_draws", self.holdout_draws, integer=True, low=0),
                   ceiling_ratio_target=number(MODEL, "ceiling_ratio_target", self.ceiling_ratio_target, low=0),
                   coverage_tolerance=number(MODEL, "coverage_tolerance", self.coverage_tolerance, low=0, high=1),
                   random_state=number(MODEL, "random_state", self.random_state, integer=True, low=0),
                   ceiling_max_rows=number(MODEL, "ceiling_max_rows", self.ceiling_max_rows, integer=True, low=1))

    def evaluation_kwargs(self) -> dict:
        """The keywords of :func:`evaluate_plan_against_truth`."""
        return {"budget_shares": self.budget_shares, "holdout_share": self.holdout_share, "alpha": self.alpha,
                "holdout_draws": self.holdout_draws, "ceiling_ratio_target": self.ceiling_ratio_target,
                "coverage_tolerance": self.coverage_tolerance, "random_state": self.random_state}


def true_candidates(uplift: pd.DataFrame, promotions: pd.DataFrame, arm_effects: pd.DataFrame, *,
                    margin_rate: float, control_arm: str = "control") -> pd.DataFrame:
    """The :func:`~retail_lift.campaign.plan.candidate_table` of the pairs of ``uplift`` with the truth in place
    of the predictions: the arm's and the control's true ``p_convert`` and the customer's true order value at
    full price (:func:`retail_lift.evaluation.uplift.true_order_value`); ``predicted_uplift`` is the true
    uplift. Its ``expected_incremental_margin`` / ``expected_cost`` are the TRUE ones."""
    from retail_lift.evaluation.uplift import true_order_value

    require_columns(arm_effects, "arm_effects", ["customer_id", "promotion_id", "p_convert", "expected_revenue"])
    eff = arm_effects.assign(customer_id=arm_effects["customer_id"].astype(str),
                             promotion_id=arm_effects["promotion_id"].astype(str))
    base = eff[eff["promotion_id"] == control_arm][["customer_id", "p_convert", "expected_revenue"]].rename(
        columns={"p_convert": "p0", "expected_revenue": "revenue0"})
    pairs = uplift[["customer_id", "promotion_id", "experiment_id"]].assign(
        customer_id=lambda f: f["customer_id"].astype(str), promotion_id=lambda f: f["promotion_id"].astype(str))
    m = pairs.merge(eff[["customer_id", "promotion_id", "p_convert", "expected_revenue"]],
                    on=["customer_id", "promotion_id"], how="left").merge(base, on="customer_id", how="left")
    missing = m["p_convert"].isna() | m["p0"].isna()
    if missing.any():
        first = m[missing].iloc[0]
        raise ValueError(f"arm_effects has no true response for {int(missing.sum())} scored customer x promotion "
                         f"pairs (first: {first['customer_id']} / {first['promotion_id']} or its {control_arm!r})")
    rates = promotions.assign(promotion_id=promotions["promotion_id"].astype(str)).drop_duplicates("promotion_id")
    d = m["promotion_id"].map(rates.set_index("promotion_id")["discount_rate"]).astype(float).fillna(0.0)
    p1, p0 = m["p_convert"].to_numpy(float), m["p0"].to_numpy(float)
    m["v"] = true_order_value(p1, p0, m["expected_revenue"].to_numpy(float), m["revenue0"].to_numpy(float),
                              d.to_numpy(float))
    # the order value is the customer's (the control's revenue per order); it differs by promotion only for a
    # customer who never orders without one, whose value each arm gives: the largest is kept
    customers = m.groupby("customer_id", sort=True)["v"].max().rename("avg_order_value").reset_index()
    truth = pairs.assign(predicted_uplift=p1 - p0, predicted_control_probability=p0,
                         predicted_treated_probability=p1)
    return candidate_table(truth, promotions, customers, margin_rate=margin_rate)


def _ranked_prefix(cand: pd.DataFrame, score: np.ndarray, spend: float) -> pd.DataFrame:
    """The customers of ``cand`` (one promotion) by ``score`` (largest first; customer id breaks ties) while the
    cumulative expected cost stays within ``spend``."""
    order = np.lexsort((cand["customer_id"].to_numpy(), -np.nan_to_num(score, nan=-np.inf)))
    c = cand.iloc[order]
    keep = np.cumsum(c["expected_cost"].to_numpy(float)) <= spend * (1 + 1e-12)
    return c.loc[keep, ["customer_id", "promotion_id"]]


class _Table:
    """A candidate table and its pairs' positions, found once for the many totals taken over it."""

    _COLUMNS = {"margin": "expected_incremental_margin", "cost": "expected_cost", "conversions": "predicted_uplift"}

    def __init__(self, table: pd.DataFrame):
        self.table = table
        self.index = pd.MultiIndex.from_frame(table[["customer_id", "promotion_id"]])
        self.columns = {k: table[c].to_numpy() for k, c in self._COLUMNS.items()}
        # positions stand for the merge where they find one row per pair and the sums add the same float64s
        self.by_position = self.index.is_unique and all(col.dtype == np.float64 for col in self.columns.values())


def _value(pairs: pd.DataFrame, table: _Table) -> dict:
    """Totals of ``table`` (a candidate table) over the chosen ``pairs``: the sums of the columns of
    ``pairs.merge(table, how="left")`` (pairs in their order, a pair without a row adding nothing), taken from the
    table's rows at the pairs' positions."""
    if not table.by_position:  # e.g. a pair with several rows counts each (the merge's rows)
        v = pairs.merge(table.table, on=["customer_id", "promotion_id"], how="left")
        sums = {k: float(v[c].sum()) for k, c in _Table._COLUMNS.items()}
    else:
        at = table.index.get_indexer(pd.MultiIndex.from_frame(pairs[["customer_id", "promotion_id"]]))
        sums = {k: float(pd.Series(np.where(at >= 0, col[at], np.nan)).sum()) for k, col in table.columns.items()}
    return {"customers": len(pairs), **sums}


def holdout_coverage(planned: pd.DataFrame, truth: pd.DataFrame, *, holdout_share: float, alpha: float,  # noqa: PLR0913 - the inputs and the settings, one keyword each
                     draws: int, random_state: int = 0, batch: int = 50) -> dict:
    """The coverage of the holdout estimate's interval (module docstring) over ``draws`` re-drawn holdouts.

    Args:
        planned: the plan's planned rows, ``customer_id``, ``promotion_id`` and the ``expected_incremental_margin``
            the holdout is stratified on (:func:`~retail_lift.campaign.plan.assign_holdout`).
        truth: the true candidate rows of the same pairs (:func:`true_candidates`): ``predicted_treated_probability``
            / ``predicted_control_probability`` (the true probabilities), ``avg_order_value`` (true), the
            promotion's ``discount_rate``, ``contact_cost``, ``margin_rate`` and the true
            ``expected_incremental_margin``.
        batch: draws analysed in one call of the experiment engine (each draw x promotion is one experiment).

    Returns:
        ``intervals`` (draws x promotions with an interval), ``coverage`` (share containing the truth),
        ``coverage_se`` (its binomial standard error), ``mean_error`` (mean of estimate minus truth) and
        ``by_promotion``: per promotion ``planned``, ``mean_holdout``, ``intervals``, ``coverage``,
        ``mean_error``, ``mean_width`` (the interval's mean width) and ``true_margin`` (mean truth).
    """
    keys = ["customer_id", "promotion_id"]
    cols = ["predicted_treated_probability", "predicted_control_probability", "avg_order_value", "discount_rate",
            "contact_cost", "margin_rate", "expected_incremental_margin"]
    base = planned[[*keys, "expected_incremental_margin"]].assign(
        customer_id=lambda f: f["customer_id"].astype(str)).sort_values(keys, kind="mergesort").reset_index(drop=True)
    t = base[keys].merge(truth[[*keys, *cols]].assign(customer_id=lambda f: f["customer_id"].astype(str)),
                         on=keys, how="left", validate="1:1")
    p1, p0 = t["predicted_treated_probability"].to_numpy(float), t["predicted_control_probability"].to_numpy(float)
    v, d, c, m = (t[k].to_numpy(float) for k in ("avg_order_value", "discount_rate", "contact_cost", "margin_rate"))
    true_value = t["expected_incremental_margin"].to_numpy(float)
    code, promos = pd.factorize(base["promotion_id"], sort=True)
    k, n = len(promos), len(base)
    # the strata are the same in every draw: found once, each draw only shuffles them (assign_holdout's draws)
    strata = holdout_strata(base)
    found = []
    for first in range(0, draws, batch):
        ss = np.arange(first, min(first + batch, draws))
        held = np.zeros((len(ss), n), dtype=bool)
        for i, s in enumerate(ss):
            seed = int(np.random.SeedSequence([random_state, s]).generate_state(1, dtype=np.uint64)[0] % (2 ** 63))
            for drawn in held_out(strata, holdout_share, seed):
                held[i, np.asarray(drawn, dtype=np.int64)] = True  # base's index is its positions
        u = np.stack([np.random.default_rng([random_state, s, 1]).random(n) for s in ss]) if n else \
            np.zeros((len(ss), 0))
        y = np.where(held, (u < p0) * v * m, (u < p1) * v * (m - d) - c)
        experiment = ((ss - first)[:, None] * k + code[None, :])
        est = pd.DataFrame({"draw": np.repeat(ss, k), "promotion_id": np.tile(np.asarray(promos, dtype=object),
                                                                                len(ss)),
                            "treated": np.bincount(experiment.ravel(), weights=~held.ravel(), minlength=len(ss) * k),
                            "held": np.bincount(experiment.ravel(), weights=held.ravel(), minlength=len(ss) * k),
                            "truth": np.bincount(experiment.ravel(), weights=np.where(held, 0.0, true_value).ravel(),
                                                 minlength=len(ss) * k)},
                           index=pd.Index(ss.repeat(k) * k + np.tile(np.arange(k), len(ss)), name="experiment_id"))
        interval = _holdout_intervals(experiment.ravel(), held.ravel(), y.ravel(), len(ss) * k, alpha)
        found.append(est.assign(**interval))
    est = pd.concat(found) if found else pd.DataFrame(columns=["promotion_id", "treated", "held", "truth", "effect",
                                                               "effect_ci_low", "effect_ci_high"])
    est = est[np.isfinite(est["effect_ci_low"].astype(float)) & np.isfinite(est["effect_ci_high"].astype(float))]
    est = est.assign(covered=(est["effect_ci_low"] * est["treated"] <= est["truth"])
                     & (est["truth"] <= est["effect_ci_high"] * est["treated"]),
                     error=est["effect"] * est["treated"] - est["truth"],
                     width=(est["effect_ci_high"] - est["effect_ci_low"]) * est["treated"])
    n = len(est)
    cov = float(est["covered"].mean()) if n else float("nan")
    by = est.groupby("promotion_id", sort=True).agg(
        mean_holdout=("held", "mean"), intervals=("covered", "size"), coverage=("covered", "mean"),
        mean_error=("error", "mean"), mean_width=("width", "mean"), true_margin=("truth", "mean"))
    by.insert(0, "planned", base.groupby("promotion_id").size().reindex(by.index))
    return {"intervals": n, "coverage": cov, "coverage_se": float(np.sqrt(cov * (1 - cov) / n)) if n else float("nan"),
            "mean_error": float(est["error"].mean()) if n else float("nan"), "by_promotion": by.reset_index()}


def _holdout_intervals(experiment: np.ndarray, held: np.ndarray, y: np.ndarray, experiments: int,
                       alpha: float) -> dict:
    """``effect``, ``effect_ci_low``, ``effect_ci_high`` of :func:`~retail_lift.campaign.plan.holdout_estimates`
    for experiments ``0 .. experiments - 1`` (``experiment``: each row's; ``held``: held out; ``y``: outcome), the
    engine's arithmetic for a mean metric on whole arrays: the same sums (``sum_y`` by pandas' grouped sum,
    ``sumsq_y`` by numpy's sum of each group's squares, rows in their order), the same moments
    (:func:`~retail_lift.experiments.ratio.arm_moments`) and Welch interval
    (:func:`~retail_lift.experiments.frequentist.welch_from_moments`), so the same numbers; NaN where
    an arm has fewer than two customers (the engine gives no interval)."""
    group = experiment * 2 + (~held).astype(np.int64)  # 2e: the held-out arm (control), 2e + 1: the treated
    size = 2 * experiments
    users = np.bincount(group, minlength=size).astype(float)
    sum_y = pd.Series(y).groupby(group).sum().reindex(np.arange(size), fill_value=0.0).to_numpy(float)
    order = np.argsort(group, kind="stable")
    square = y[order] ** 2
    ends = np.cumsum(users.astype(np.int64))
    sumsq_y = np.array([float(square[a:b].sum()) for a, b in zip(ends - users.astype(np.int64), ends, strict=True)])
    zero = np.zeros(size)
    arm = arm_moments(users, sum_y, sumsq_y, sum_x=zero, sumsq_x=zero, sum_xy=zero)
    nc, nt = users[0::2], users[1::2]
    ok = (nc >= 2) & (nt >= 2)
    out = {c: np.full(experiments, np.nan) for c in ("effect", "effect_ci_low", "effect_ci_high")}
    if ok.any():
        test = welch_from_moments(nc[ok], arm.est[0::2][ok], arm.var[0::2][ok], nt[ok], arm.est[1::2][ok],
                                  arm.var[1::2][ok], alpha, False)
        out["effect"][ok], out["effect_ci_low"][ok], out["effect_ci_high"][ok] = (
            test.abs_effect, test.abs_ci_low, test.abs_ci_high)
    return out


def evaluate_plan_against_truth(  # noqa: PLR0913 - the inputs and the settings, one keyword each
    uplift: pd.DataFrame,
    promotions: pd.DataFrame,
    customers: pd.DataFrame,
    arm_effects: pd.DataFrame,
    ceiling: pd.DataFrame,
    *,
    margin_rate: float,
    fatigued: Sequence[str] = (),
    propensity: pd.DataFrame | None = None,
    budget_shares: Sequence[float] = EvalPromotionPlanVsTruthConfig.budget_shares,
    holdout_share: float = EvalPromotionPlanVsTruthConfig.holdout_share,
    alpha: float = EvalPromotionPlanVsTruthConfig.alpha,
    holdout_draws: int = EvalPromotionPlanVsTruthConfig.holdout_draws,
    ceiling_ratio_target: float = EvalPromotionPlanVsTruthConfig.ceiling_ratio_target,
    coverage_tolerance: float = EvalPromotionPlanVsTruthConfig.coverage_tolerance,
    random_state: int = EvalPromotionPlanVsTruthConfig.random_state,
    log: Callable[[str], None] = log_line,
) -> pd.DataFrame:
    """One row per budget x policy (module docstring), in :data:`PLAN_EVALUATION_COLUMNS`.

    Args:
        uplift: ``ml_customer_uplift`` (``customer_id``, ``promotion_id``, ``experiment_id``, ``predicted_uplift``,
            ``predicted_control_probability``, ``predicted_treated_probability``).
        promotions: ``promotion_id``, ``channel``, ``discount_rate``, ``contact_cost`` (``dim_campaign_promotions``).
        customers: ``customer_id``, ``avg_order_value``, ``days_since_last_order`` (the score snapshot).
        arm_effects: ``customer_id``, ``promotion_id``, ``p_convert``, ``true_uplift``, ``expected_revenue`` of
            every scored promotion and of ``control`` (``truth_customer_arms``).
        ceiling: ``customer_id``, ``promotion_id``, ``ceiling_uplift``
            (:func:`retail_lift.evaluation.uplift_limits.ceiling_uplift`).
        margin_rate: the gross margin rate (the plan's).
        fatigued: the fatigued customers (no policy contacts them).
        propensity: ``customer_id``, ``purchase_probability`` (``ml_purchase_propensity_scores``); None: no
            ``propensity`` rows.
        budget_shares, holdout_share, alpha, holdout_draws, ceiling_ratio_target, coverage_tolerance,
            random_state: :class:`EvalPromotionPlanVsTruthConfig`.
    """
    require_columns(uplift, "uplift", _UPLIFT)
    require_columns(ceiling, "ceiling", ["customer_id", "promotion_id", "ceiling_uplift"])
    u = uplift[_UPLIFT].assign(customer_id=uplift["customer_id"].astype(str),
                               promotion_id=uplift["promotion_id"].astype(str))
    people = pd.DataFrame({"customer_id": sorted(u["customer_id"].unique())}).merge(
        customers.assign(customer_id=customers["customer_id"].astype(str)).drop_duplicates("customer_id"),
        on="customer_id", how="left")
    fatigued = sorted({str(f) for f in fatigued})
    model = candidate_table(u, promotions, people, margin_rate=margin_rate)
    truth = true_candidates(u, promotions, arm_effects, margin_rate=margin_rate)
    ceil = u.merge(ceiling.assign(customer_id=ceiling["customer_id"].astype(str),
                                  promotion_id=ceiling["promotion_id"].astype(str)),
                   on=["customer_id", "promotion_id"], how="left")
    if ceil["ceiling_uplift"].isna().any():
        raise ValueError(f"ceiling has no ceiling_uplift for {int(ceil['ceiling_uplift'].isna().sum())} scored pairs")
    p0 = ceil["predicted_control_probability"].astype(float).clip(0, 1)
    ceil = ceil.assign(predicted_uplift=ceil["ceiling_uplift"].astype(float),
                       predicted_treated_probability=(p0 + ceil["ceiling_uplift"].astype(float)).clip(0, 1))
    ceiling_table = candidate_table(ceil.drop(columns=["ceiling_uplift"]), promotions, people, margin_rate=margin_rate)
    eligible = model[~model["customer_id"].isin(set(fatigued))]
    scores = None
    if propensity is not None:
        scores = propensity.assign(customer_id=propensity["customer_id"].astype(str)).drop_duplicates(
            "customer_id").set_index("customer_id")["purchase_probability"].astype(float)

    # build_plan's chosen pairs; each table is prepared once for its six solves
    solvers = {id(table): plan_solver(table, people, fatigued=fatigued) for table in (model, ceiling_table, truth)}

    def plan(table: pd.DataFrame, budget: float | None) -> pd.DataFrame:
        return solvers[id(table)](budget)

    unbudgeted_plan = plan(model, None)
    tables = {"model": _Table(model), "ceiling": _Table(ceiling_table), "truth": _Table(truth)}
    unbudgeted = _value(unbudgeted_plan, tables["model"])["cost"]
    budgets = [(float(s), float(s) * unbudgeted) for s in budget_shares] + [(None, None)]
    rows = []
    for share, budget in budgets:
        try:
            chosen = {"plan": unbudgeted_plan if budget is None else plan(model, budget),
                      "ceiling_plan": plan(ceiling_table, budget),
                      "oracle_plan": plan(truth, budget)}
        except PlanError as e:  # a budget below the cheapest contact
            log(f"{MODEL}: budget share {share} ({budget:.2f}) left out: {e}")
            continue
        spend = _value(chosen["plan"], tables["model"])["cost"]
        single = {"best_single_promotion": lambda g: g["predicted_uplift"].to_numpy(float)}
        if scores is not None:
            single["propensity"] = lambda g: g["customer_id"].map(scores).to_numpy(float)
        picked = {}
        for policy, score in single.items():
            best = None
            for pid, g in eligible.groupby("promotion_id", sort=True):
                if policy == "best_single_promotion":
                    g = g[g["predicted_uplift"] > 0]
                pairs = _ranked_prefix(g, score(g), spend)
                if pairs.empty:  # its first customer alone costs more than the plan spends
                    continue
                true = _value(pairs, tables["truth"])["margin"]
                if best is None or true > best[0]:
                    best = (true, pid, pairs)
            if best is not None:
                chosen[policy], picked[policy] = best[2], best[1]
        plan_row = len(rows)
        own = {"plan": "model", "ceiling_plan": "ceiling", "oracle_plan": "truth", "best_single_promotion": "model",
               "propensity": "model"}
        for policy in [p for p in POLICIES if p in chosen]:
            mine, true = _value(chosen[policy], tables[own[policy]]), _value(chosen[policy], tables["truth"])
            rows.append({"budget_share": share, "budget": budget, "policy": policy,
                         "promotion_id": picked.get(policy), "customers_targeted": mine["customers"],
                         "targeted_share": mine["customers"] / max(len(people), 1), "expected_cost": mine["cost"],
                         "expected_incremental_margin": mine["margin"], "true_cost": true["cost"],
                         "true_incremental_conversions": true["conversions"],
                         "true_incremental_margin": true["margin"]})
        if holdout_draws > 0:
            planned = chosen["plan"].merge(model[["customer_id", "promotion_id", "expected_incremental_margin"]],
                                           on=["customer_id", "promotion_id"], how="left")
            cov = holdout_coverage(planned, truth, holdout_share=holdout_share, alpha=alpha, draws=holdout_draws,
                                   random_state=random_state)
            by = cov["by_promotion"]
            log(f"{MODEL}: budget share {share}: holdout coverage {cov['coverage']:.3f} ± {cov['coverage_se']:.3f} "
                f"over {cov['intervals']} intervals; by promotion (planned, mean held out, coverage, mean error, "
                f"mean width, mean true margin): " + "; ".join(
                    f"{r.promotion_id} {r.planned} {r.mean_holdout:.1f} {r.coverage:.3f} {r.mean_error:+.2f} "
                    f"{r.mean_width:.2f} {r.true_margin:.2f}" for r in by.itertuples(index=False)))
            rows[plan_row].update(
                holdout_intervals=cov["intervals"], holdout_coverage=cov["coverage"],
                holdout_coverage_se=cov["coverage_se"], holdout_mean_error=cov["mean_error"],
                coverage_within_tolerance=bool(abs(cov["coverage"] - (1 - alpha)) <= coverage_tolerance)
                if np.isfinite(cov["coverage"]) else None)
    return _finish(pd.DataFrame(rows), ceiling_ratio_target)


def _finish(out: pd.DataFrame, ceiling_ratio_target: float) -> pd.DataFrame:
    """Ratios to the ceiling and oracle plans of the same budget, and the bounds of the plan rows."""
    if out.empty:
        return nullable_typed(pd.DataFrame(columns=list(PLAN_EVALUATION_COLUMNS)), PLAN_EVALUATION_COLUMNS)
    key = out["budget_share"].fillna(-1.0)
    by = out.assign(key=key).set_index(["key", "policy"])["true_incremental_margin"]

    def of(policy: str) -> np.ndarray:
        return by.reindex(pd.MultiIndex.from_arrays([key, np.full(len(out), policy)])).to_numpy(float)

    with np.errstate(invalid="ignore", divide="ignore"):
        ceiling, oracle = of("ceiling_plan"), of("oracle_plan")
        margin = out["true_incremental_margin"].to_numpy(float)
        out["ratio_to_ceiling"] = np.where(ceiling > 0, margin / ceiling, np.nan)
        out["ratio_to_oracle"] = np.where(oracle > 0, margin / oracle, np.nan)
    is_plan = (out["policy"] == "plan").to_numpy()
    out["meets_ceiling_target"] = pd.array(np.where(is_plan, out["ratio_to_ceiling"] >= ceiling_ratio_target, None),
                                           dtype="boolean")
    baselines = np.fmax(of("best_single_promotion"), of("propensity"))
    out["beats_baselines"] = pd.array(np.where(is_plan & np.isfinite(baselines), margin > baselines, None),
                                      dtype="boolean")
    for c in PLAN_EVALUATION_COLUMNS:
        if c not in out:
            out[c] = None
    return nullable_typed(out[list(PLAN_EVALUATION_COLUMNS)], PLAN_EVALUATION_COLUMNS)


@heavy
def promotion_plan_vs_truth(relations: Mapping[str, object],
                            config: EvalPromotionPlanVsTruthConfig = EvalPromotionPlanVsTruthConfig(), *,
                            log: Callable[[str], None] = log_line) -> pd.DataFrame:
    """``ml_eval_promotion_plan_vs_truth`` from its inputs (DuckDB relations, Arrow tables or frames; only the
    columns used are read): ``ml_customer_uplift``, ``dim_campaign_promotions`` (costs, channel, the catalogue's
    margin rate, the plan's), ``fct_customer_features`` (the score snapshot), ``ml_campaign_fatigue``,
    ``ml_purchase_propensity_scores``, ``fct_uplift_scoring_customers`` (the features of the feature ceiling) and
    ``truth_customer_arms`` (the simulated world's true response per customer and arm). Empty (with a log line)
    when nothing can be planned: no per-customer uplift or no margin rate."""
    from retail_lift.evaluation.uplift_limits import ceiling_uplift
    from retail_lift.uplift.features import FEATURES, input_frame

    u = input_frame(relations["ml_customer_uplift"], "ml_customer_uplift", _UPLIFT)
    p = input_frame(relations["dim_campaign_promotions"], "dim_campaign_promotions",
                    ["promotion_id", "channel", "discount_rate", "contact_cost"], ["gross_margin_rate"])
    rates = pd.to_numeric(p["gross_margin_rate"], errors="coerce") if "gross_margin_rate" in p else pd.Series([])
    if u.empty or not rates.notna().any():
        log(f"{MODEL}: empty: " + ("no promotion has per-customer uplift" if u.empty
                                   else "dim_campaign_promotions has no gross_margin_rate (no plan is made)"))
        return _finish(pd.DataFrame(), config.ceiling_ratio_target)
    f = input_frame(relations["fct_customer_features"], "fct_customer_features",
                    ["customer_id", "snapshot_role", "avg_order_value", "days_since_last_order"])
    f = f[f["snapshot_role"] == "score"]
    fat = input_frame(relations["ml_campaign_fatigue"], "ml_campaign_fatigue", ["customer_id", "is_fatigued"])
    fatigued = fat.loc[fat["is_fatigued"].fillna(False).astype(bool), "customer_id"].astype(str).tolist()
    propensity = input_frame(relations["ml_purchase_propensity_scores"], "ml_purchase_propensity_scores",
                             ["customer_id", "purchase_probability"])
    arms = input_frame(relations["truth_customer_arms"], "truth_customer_arms",
                       ["customer_id", "promotion_id", "p_convert", "true_uplift", "expected_revenue"])
    promotions = sorted(u["promotion_id"].astype(str).unique())
    arms = arms[arms["promotion_id"].astype(str).isin([*promotions, "control"])]
    scoring = input_frame(relations["fct_uplift_scoring_customers"], "fct_uplift_scoring_customers",
                          ["customer_id", *FEATURES])
    ceiling, summary = ceiling_uplift(scoring, arms, promotions, random_state=config.random_state,
                                      max_rows=config.ceiling_max_rows)
    log(f"{MODEL}: feature ceiling of the uplift (kind, out-of-fold R², gain ratio): " + "; ".join(
        f"{r.promotion_id} {r.feature_ceiling_kind} {r.feature_ceiling_r2:.3f} {r.feature_ceiling_gain_ratio:.3f}"
        for r in summary.itertuples(index=False)))
    return evaluate_plan_against_truth(u, p, f, arms, ceiling, margin_rate=float(rates.dropna().iloc[0]),
                                       fatigued=fatigued, propensity=propensity, log=log,
                                       **config.evaluation_kwargs())
