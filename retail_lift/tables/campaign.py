"""``python_models/ml/campaign/``: fatigue, the target list and broadcast against targeted.

The target list's settings come from dbt vars (``campaign_promotion_id``, ``campaign_budget``,
``campaign_max_contacts``, ``campaign_max_contacts_share`` in dbt_project.yml): its yml ``config:`` block
writes ``"{{ var('campaign_budget', none) }}"``. dbt renders such a value to the var's own type (null:
``None``, 0.2: a float: the compiled model's ``config_dict`` holds them so), but a var given as a string
(``--vars '{campaign_budget: "500"}'``) arrives as one, so :class:`CampaignTargetListConfig` also parses
numbers and unset values (``""``, ``"None"``, ``"none"``, ``"null"``) from strings, as the model did before.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retail_lift.campaign import (
    best_send_time,
    build_target_list,
    compare_broadcast_targeted,
    discount_levels,
    estimate_price_sensitivity,
    fatigue_curve,
    fatigue_flags,
    personalised_discount,
)
from retail_lift.campaign.plan import (
    PlanStore,
    assign_holdout,
    build_plan,
    candidate_table,
    holdout_estimates,
    now_text,
    plan_content_key,
    plan_frontier,
    plan_id_for,
    plan_seed,
    promotion_status,
)
from retail_lift.frames import as_frame, log_line, typed_frame
from retail_lift.model_gate import heavy
from retail_lift.tables._config import check_store, number, read_relation, set_fields

__all__ = ["BROADCAST_COLUMNS", "FATIGUE_COLUMNS", "FATIGUE_CURVE_COLUMNS", "TARGET_LIST_TABLE_COLUMNS",
           "CampaignBroadcastVsTargetedConfig", "CampaignFatigueConfig", "CampaignFatigueCurveConfig",
           "CampaignTargetListConfig", "ml_campaign_broadcast_vs_targeted", "ml_campaign_fatigue",
           "ml_campaign_fatigue_curve", "ml_campaign_target_list", "PLAN_TABLE_COLUMNS", "PlanVsHoldoutConfig",
           "PromotionPlanAssignmentsConfig", "PromotionPlanConfig", "PromotionPlanFrontierConfig",
           "PromotionPlanPromotionsConfig", "ml_plan_vs_holdout", "ml_promotion_plan", "ml_promotion_plan_assignments",
           "ml_promotion_plan_frontier", "ml_promotion_plan_promotions", "plan_store"]

FATIGUE_COLUMNS = {
    "customer_id": "str", "n_exposures": "int", "conversions": "int", "recent_exposures": "int",
    "last_n_exposures": "int", "last_n_rate": "float", "earlier_exposures": "int", "earlier_rate": "float",
    "baseline_rate": "float", "p_value": "float", "is_fatigued": "bool", "as_of": "ts",
}
FATIGUE_CURVE_COLUMNS = {
    "prior_exposures": "int", "exposures": "int", "conversions": "int", "response_rate": "float",
    "ci_low": "float", "ci_high": "float",
}
TARGET_LIST_TABLE_COLUMNS = {
    "customer_id": "str", "rank": "int", "status": "str", "promotion_id": "str", "purchase_probability": "float",
    "price_sensitivity": "float", "discount_rate": "float", "best_weekday": "int", "best_hour": "int",
    "avg_order_value": "float", "expected_conversions": "float", "expected_revenue": "float",
    "expected_discount_cost": "float", "expected_cost": "float", "expected_margin": "float",
    "expected_profit": "float", "roi": "float", "cumulative_cost": "float", "segment_name": "str",
    "is_fatigued": "bool", "promotion_discount_rate": "float", "contact_cost": "float", "margin_rate": "float",
}
BROADCAST_COLUMNS = {
    "strategy": "str", "promotion_id": "str", "contacts": "int", "expected_conversions": "float",
    "expected_revenue": "float", "expected_discount_cost": "float", "expected_cost": "float",
    "expected_profit": "float", "expected_roi": "float", "expected_conversion_rate": "float",
}
#: the columns of fct_customer_features the target list uses (the table has 50; a million customers in two snapshots)
TARGET_FEATURE_COLUMNS = ("customer_id", "snapshot_role", "avg_order_value", "discounted_order_share",
                          "discount_amount", "revenue_all", "orders_all")


@dataclass(frozen=True)
class CampaignFatigueConfig:
    """The settings of ``ml_campaign_fatigue`` and their defaults (its yml states the same)."""

    #: the window of the recent contacts, in days
    window_days: float = 30.0
    #: how many last contacts make the recent response rate
    recent_n: int = 5
    #: contacts needed inside the window to flag
    min_recent_exposures: int = 3
    #: the binomial tail probability below which the drop in response counts
    alpha: float = 0.1

    def __post_init__(self):
        m = "ml_campaign_fatigue"
        set_fields(self, window_days=number(m, "window_days", self.window_days, low=0, low_open=True),
                   recent_n=number(m, "recent_n", self.recent_n, integer=True, low=1),
                   min_recent_exposures=number(m, "min_recent_exposures", self.min_recent_exposures, integer=True,
                                               low=0),
                   alpha=number(m, "alpha", self.alpha, low=0, high=1, low_open=True))


@dataclass(frozen=True)
class CampaignFatigueCurveConfig:
    """The settings of ``ml_campaign_fatigue_curve`` and their defaults (its yml states the same)."""

    #: the last bucket of earlier contacts (it means this many or more)
    max_prior: int = 10
    #: count only the earlier contacts in this many days before each contact (null: all earlier ones)
    window_days: float | None = None

    def __post_init__(self):
        m = "ml_campaign_fatigue_curve"
        set_fields(self, max_prior=number(m, "max_prior", self.max_prior, integer=True, low=1),
                   window_days=number(m, "window_days", self.window_days, low=0, low_open=True, optional=True))


@dataclass(frozen=True)
class CampaignTargetListConfig:
    """The settings of ``ml_campaign_target_list`` and their defaults (its yml states the same, through the
    dbt vars of dbt_project.yml; a var passed as a string is parsed here)."""

    #: the promotion sent (a promotion_id of dim_campaign_promotions; var campaign_promotion_id)
    promotion_id: str = "email_10pct"
    #: at most this total expected cost of the selection (null: no budget; var campaign_budget)
    budget: float | None = None
    #: at most this many customers selected (null: max_contacts_share decides; var campaign_max_contacts)
    max_contacts: int | None = None
    #: without max_contacts, at most this share of the candidates, rounded up (null: no cap;
    #: var campaign_max_contacts_share)
    max_contacts_share: float | None = 0.2
    #: the gross margin rate of the economics (null: the catalogue's, from dim_campaign_promotions)
    margin_rate: float | None = None

    def __post_init__(self):
        m = "ml_campaign_target_list"
        if not isinstance(self.promotion_id, str) or not self.promotion_id.strip():
            raise ValueError(f"{m}: promotion_id must be a promotion_id of dim_campaign_promotions, "
                             f"got {self.promotion_id!r}")
        set_fields(self, budget=number(m, "budget", self.budget, low=0, optional=True, rendered=True),
                   max_contacts=number(m, "max_contacts", self.max_contacts, integer=True, low=1, optional=True,
                                       rendered=True),
                   max_contacts_share=number(m, "max_contacts_share", self.max_contacts_share, low=0, high=1,
                                             low_open=True, optional=True, rendered=True),
                   margin_rate=number(m, "margin_rate", self.margin_rate, low=0, high=1, optional=True))


@dataclass(frozen=True)
class CampaignBroadcastVsTargetedConfig:
    """``ml_campaign_broadcast_vs_targeted`` has no settings: everything comes from the target list."""


def _promotion_exposures(exposures) -> pd.DataFrame:
    """The closed-window contacts of ``fct_promotion_exposures`` (an open window's conversion is not known yet)."""
    e = as_frame(exposures)
    e = e[e["is_window_closed"].fillna(False).astype(bool)]
    return pd.DataFrame({"customer_id": e["customer_id"].to_numpy(), "exposed_at": pd.to_datetime(e["exposed_at"]),
                         "converted": e["is_converted"].astype(bool).astype(int).to_numpy()})


def ml_campaign_fatigue(relations: Mapping[str, object], config: CampaignFatigueConfig = CampaignFatigueConfig(),
                        *, store=None) -> pd.DataFrame:
    """Per-customer fatigue flags (:func:`~retail_lift.campaign.fatigue_flags`) over the promotion
    exposures (``fct_promotion_exposures``, closed attribution windows only). One row per exposed customer."""
    check_store(store, "ml_campaign_fatigue")
    e = _promotion_exposures(read_relation(relations["fct_promotion_exposures"]))
    flags = fatigue_flags(e, window_days=config.window_days, recent_n=config.recent_n,
                          min_recent_exposures=config.min_recent_exposures, alpha=config.alpha)
    flags["as_of"] = flags.attrs.get("as_of")
    return typed_frame(flags, FATIGUE_COLUMNS)


def ml_campaign_fatigue_curve(relations: Mapping[str, object],
                              config: CampaignFatigueCurveConfig = CampaignFatigueCurveConfig(), *,
                              store=None) -> pd.DataFrame:
    """Response rate by number of earlier contacts (:func:`~retail_lift.campaign.fatigue_curve`) over the
    closed-window promotion exposures (``fct_promotion_exposures``)."""
    check_store(store, "ml_campaign_fatigue_curve")
    e = _promotion_exposures(read_relation(relations["fct_promotion_exposures"]))
    if e.empty:
        return typed_frame(None, FATIGUE_CURVE_COLUMNS)
    return typed_frame(fatigue_curve(e, max_prior=config.max_prior, window_days=config.window_days),
                       FATIGUE_CURVE_COLUMNS)


def _promotion(p: pd.DataFrame, promotion_id: str) -> pd.Series:
    row = p[p["promotion_id"] == promotion_id]
    if row.empty:
        raise ValueError(f"promotion {promotion_id!r} is not in the promotions table; it has "
                         f"{sorted(p['promotion_id'].astype(str))}")
    return row.iloc[0]


def _price_sensitivity(df: pd.DataFrame) -> pd.DataFrame:
    """Full-price order value, discount history and price sensitivity of the scored customers."""
    aov = pd.to_numeric(df["avg_order_value"], errors="coerce").astype(float)
    df["avg_order_value"] = aov.fillna(aov.median() if aov.notna().any() else 0.0)
    gross = pd.to_numeric(df["revenue_all"], errors="coerce") + pd.to_numeric(df["discount_amount"], errors="coerce")
    df["avg_discount_rate"] = (pd.to_numeric(df["discount_amount"], errors="coerce") / gross.where(gross > 0))
    df["discounted_order_share"] = pd.to_numeric(df["discounted_order_share"], errors="coerce").astype(float)
    if df["discounted_order_share"].notna().any() and df["avg_discount_rate"].notna().any():
        df["price_sensitivity"] = estimate_price_sensitivity(df, share_column="discounted_order_share",
                                                             rate_column="avg_discount_rate",
                                                             orders_column="orders_all").to_numpy()
    else:  # nobody has an order history: everyone is typical
        df["price_sensitivity"] = 0.5
    return df


def ml_campaign_target_list(relations: Mapping[str, object],
                            config: CampaignTargetListConfig = CampaignTargetListConfig(), *,
                            store=None) -> pd.DataFrame:
    """Every scored customer ranked by expected profit of the campaign, with the selection ``status``.

    ``relations``: ``ml_purchase_propensity_scores``, ``fct_customer_features`` (only
    :data:`TARGET_FEATURE_COLUMNS` read), ``fct_customer_activity_by_weekday_hour``,
    ``dim_campaign_promotions`` and, when given, ``ml_campaign_fatigue`` and ``ml_customer_segments``.

    Per customer (the score snapshot of ``fct_customer_features``): purchase probability from
    ``ml_purchase_propensity_scores``; full-price order value = the customer's average order value (the
    median of the buyers for a customer without orders); price sensitivity from the discounted-order share
    and the discount share of gross spend (shrunk to the mean by order count), mapped to a personalised
    discount among :func:`~retail_lift.campaign.discount_levels` of the promotion; best weekday and hour
    from the customer's session starts (shrunk to the global peak); fatigued customers
    (``ml_campaign_fatigue``) are excluded. Economics and selection:
    :func:`~retail_lift.campaign.build_target_list` with the promotion's contact cost and the catalogue's
    gross margin rate (``dim_campaign_promotions``, unless ``margin_rate`` is set), at most ``budget`` total
    expected cost and at most ``max_contacts`` customers (default ``max_contacts_share`` of the candidates,
    rounded up).
    """
    check_store(store, "ml_campaign_target_list")
    promotion_id, budget, max_contacts = config.promotion_id, config.budget, config.max_contacts
    s = as_frame(read_relation(relations["ml_purchase_propensity_scores"]))[["customer_id", "purchase_probability"]]
    p = as_frame(read_relation(relations["dim_campaign_promotions"]))
    if s.empty or not (p["promotion_id"] == promotion_id).any():
        log_line(f"campaign {promotion_id}: no target list ({len(s)} scored customers; promotion "
                 f"{'found' if (p['promotion_id'] == promotion_id).any() else 'not in the promotions table'})")
        return typed_frame(None, TARGET_LIST_TABLE_COLUMNS)
    promo = _promotion(p, promotion_id)
    contact_cost = float(promo["contact_cost"])
    margin = float(promo["gross_margin_rate"]) if config.margin_rate is None else float(config.margin_rate)
    if not np.isfinite(margin):
        margin = 0.0
    f = as_frame(read_relation(relations["fct_customer_features"], TARGET_FEATURE_COLUMNS))
    f = f[f["snapshot_role"] == "score"]
    df = s.merge(f[["customer_id", "avg_order_value", "discounted_order_share", "discount_amount", "revenue_all",
                    "orders_all"]], on="customer_id", how="left")
    if df.empty:
        return typed_frame(None, TARGET_LIST_TABLE_COLUMNS)
    df = _price_sensitivity(df)
    df["discount_rate"] = personalised_discount(df["price_sensitivity"].to_numpy(), discount_levels(
        promo["discount_rate"]))
    act = as_frame(read_relation(relations["fct_customer_activity_by_weekday_hour"]))
    slots = pd.DataFrame({"customer_id": act["customer_id"], "weekday": act["iso_weekday"],
                          "hour": act["hour_of_day"], "events": act["sessions_started"]})
    send = best_send_time(slots, customers=df["customer_id"])
    excluded: list = []
    df["is_fatigued"] = False
    if relations.get("ml_campaign_fatigue") is not None:
        fat = as_frame(read_relation(relations["ml_campaign_fatigue"]))
        excluded = fat.loc[fat["is_fatigued"].fillna(False).astype(bool), "customer_id"].tolist()
        df["is_fatigued"] = df["customer_id"].isin(excluded)
    keep = ["price_sensitivity", "is_fatigued"]
    if relations.get("ml_customer_segments") is not None:
        segments = as_frame(read_relation(relations["ml_customer_segments"]))
        df = df.merge(segments[["customer_id", "segment_name"]], on="customer_id", how="left")
        keep.append("segment_name")
    if max_contacts is None and config.max_contacts_share is not None:
        max_contacts = max(1, math.ceil(float(config.max_contacts_share) * len(df)))
    table = build_target_list(df, budget=budget, k=max_contacts, contact_cost=contact_cost, margin_rate=margin,
                              discount="discount_rate", send_times=send, exclude=excluded,
                              include_unselected=True, keep_columns=keep)
    table["promotion_id"] = promotion_id
    table["promotion_discount_rate"] = float(promo["discount_rate"])
    table["contact_cost"] = contact_cost
    table["margin_rate"] = margin
    n_sel = int((table["status"] == "selected").sum())
    log_line(f"campaign {promotion_id}: {n_sel} of {len(table)} customers selected "
             f"(max {max_contacts}, budget {budget}), expected profit "
             f"{table.loc[table['status'] == 'selected', 'expected_profit'].sum():.2f}")
    return typed_frame(table, TARGET_LIST_TABLE_COLUMNS)


def ml_campaign_broadcast_vs_targeted(relations: Mapping[str, object],
                                      config: CampaignBroadcastVsTargetedConfig = CampaignBroadcastVsTargetedConfig(),
                                      *, store=None) -> pd.DataFrame:
    """Expected economics of contacting every candidate of ``ml_campaign_target_list`` with the promotion's
    flat discount (broadcast) against contacting the selected ones with their personalised discounts (targeted)."""
    check_store(store, "ml_campaign_broadcast_vs_targeted")
    t = as_frame(read_relation(relations["ml_campaign_target_list"]))
    if t.empty:
        return typed_frame(None, BROADCAST_COLUMNS)
    promotion_id = str(t["promotion_id"].iloc[0])
    cmp = compare_broadcast_targeted(t, t[t["status"] == "selected"], float(t["contact_cost"].iloc[0]),
                                     margin_rate=float(t["margin_rate"].iloc[0]), discount="discount_rate",
                                     broadcast_discount=float(t["promotion_discount_rate"].iloc[0]))
    cmp["promotion_id"] = promotion_id
    return typed_frame(cmp, BROADCAST_COLUMNS)


# ---------------------------------------------------------------------------------------------------------------
# The promotion plan (issue 24): ml_promotion_plan, ml_promotion_plan_promotions, ml_promotion_plan_assignments,
# ml_plan_vs_holdout (retail_lift.campaign.plan)

PLAN_TABLE_COLUMNS = {
    "plan_id": "str", "planned_at": "ts", "customer_id": "str", "promotion_id": "str", "channel": "str",
    "experiment_id": "str", "predicted_uplift": "float", "expected_incremental_margin": "float",
    "expected_cost": "float", "discount_rate": "float", "contact_cost": "float", "margin_rate": "float",
    "is_fatigued": "bool", "is_holdout": "bool", "holdout_stratum": "str", "reasons": "str",
}
PLAN_PROMOTIONS_COLUMNS = {
    "plan_id": "str", "promotion_id": "str", "channel": "str", "is_included": "bool", "experiment_id": "str",
    "reason": "str", "planned_customers": "int", "holdout_customers": "int",
    "expected_incremental_margin": "float", "expected_cost": "float",
}
PLAN_FRONTIER_COLUMNS = {
    "plan_id": "str", "point": "int", "budget": "float", "is_plan_budget": "bool", "promotion_id": "str",
    "channel": "str", "planned_customers": "int", "expected_incremental_margin": "float", "expected_cost": "float",
    "total_customers": "int", "total_expected_incremental_margin": "float", "total_expected_cost": "float",
    "upper_bound": "float", "gap": "float", "method": "str",
}
PLAN_ASSIGNMENT_COLUMNS = {
    "experiment_id": "str", "plan_id": "str", "promotion_id": "str", "customer_id": "str", "variant": "str",
    "is_control": "bool", "assigned_at": "ts", "holdout_stratum": "str", "holdout_share": "float",
    "discount_rate": "float", "contact_cost": "float", "margin_rate": "float",
}
PLAN_VS_HOLDOUT_COLUMNS = {
    "plan_id": "str", "planned_at": "ts", "promotion_id": "str", "experiment_id": "str", "status": "str",
    "treated_customers": "int", "holdout_customers": "int", "outcome_orders": "int",
    "treated_margin_per_customer": "float", "holdout_margin_per_customer": "float",
    "incremental_margin_per_customer": "float", "ci_low": "float", "ci_high": "float", "p_value": "float",
    "realised_incremental_margin": "float", "realised_ci_low": "float", "realised_ci_high": "float",
    "interval_level": "float", "window_days": "float", "window_end": "ts", "outcomes_through": "ts",
    "srm_p_value": "float",
}
#: the columns of fct_customer_features the plan reads
PLAN_FEATURE_COLUMNS = ("customer_id", "snapshot_role", "avg_order_value", "days_since_last_order",
                        "feature_cutoff_at")
_UPLIFT_COLUMNS = ("customer_id", "promotion_id", "experiment_id", "predicted_uplift",
                   "predicted_control_probability", "predicted_treated_probability", "segment")
#: the feature contributions shown in a plan row's reason (the recency is always shown after them)
PLAN_REASON_FEATURES = 2
_UNSET = ("", "none", "None", "null")


def _limits(model: str, name: str, value) -> dict | None:
    """A ``{key: non-negative number}`` setting (a var rendered natively, or as YAML text from --vars)."""
    if isinstance(value, str):
        if value.strip() in _UNSET:
            return None
        import yaml

        value = yaml.safe_load(value)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"{model}: {name} must be a mapping of names to non-negative numbers, got {value!r}")
    return {str(k): number(model, f"{name}[{k!r}]", v, low=0) for k, v in value.items()}


def _flag(model: str, name: str, value) -> bool:
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    if not isinstance(value, bool):
        raise ValueError(f"{model}: {name} must be true or false, got {value!r}")
    return value


def _problem_settings(model: str, config) -> dict:
    """The plan's problem settings of ``config`` (budget, capacity, channel limits, margin rate), parsed: the plan
    and its frontier read the same vars and check them the same way."""
    return {"budget": number(model, "budget", config.budget, low=0, optional=True, rendered=True),
            "capacity": _limits(model, "capacity", config.capacity),
            "channel_limits": _limits(model, "channel_limits", config.channel_limits),
            "margin_rate": number(model, "margin_rate", config.margin_rate, low=0, high=1, optional=True,
                                  rendered=True)}


@dataclass(frozen=True)
class PromotionPlanConfig:
    """The settings of ``ml_promotion_plan`` and their defaults (its yml states the same, through the dbt vars
    ``plan_*`` and ``replan`` of dbt_project.yml)."""

    #: at most this total expected cost, discount plus contact (null: no budget; var plan_budget)
    budget: float | None = None
    #: at most this many customers per promotion, {promotion_id: n} (null: no cap; var plan_capacity)
    capacity: dict | None = None
    #: at most this many contacts per channel, {channel: n} (null: no limit; var plan_channel_limits)
    channel_limits: dict | None = None
    #: the share of the planned customers held out, stratified (var plan_holdout_share)
    holdout_share: float = 0.1
    #: the gross margin rate (null: the catalogue's, dim_campaign_promotions)
    margin_rate: float | None = None
    #: make a new plan even when a stored plan has the same inputs and settings (var replan)
    replan: bool = False

    def __post_init__(self):
        m = "ml_promotion_plan"
        set_fields(self, **_problem_settings(m, self),
                   holdout_share=number(m, "holdout_share", self.holdout_share, low=0, high=1, high_open=True,
                                        rendered=True),
                   replan=_flag(m, "replan", self.replan))

    def key_settings(self) -> dict:
        """The settings that make a plan (``replan`` does not)."""
        return {"budget": self.budget, "capacity": self.capacity, "channel_limits": self.channel_limits,
                "holdout_share": self.holdout_share, "margin_rate": self.margin_rate}


@dataclass(frozen=True)
class PromotionPlanFrontierConfig:
    """The settings of ``ml_promotion_plan_frontier`` and their defaults (its yml states the same, through the
    plan's vars ``plan_*``, so that the frontier solves the plan's problem, and ``plan_frontier_points``)."""

    #: the plan's budget (var plan_budget): its point is marked on the frontier
    budget: float | None = None
    #: the plan's capacities (var plan_capacity)
    capacity: dict | None = None
    #: the plan's channel limits (var plan_channel_limits)
    channel_limits: dict | None = None
    #: the plan's gross margin rate (null: the catalogue's; set it as ml_promotion_plan's)
    margin_rate: float | None = None
    #: budgets on the grid from the cheapest contact to the cost of the plan without a budget (var
    #: plan_frontier_points); the plan's own budget is added when it is set and not on the grid
    points: int = 10

    def __post_init__(self):
        m = "ml_promotion_plan_frontier"
        set_fields(self, **_problem_settings(m, self),
                   points=number(m, "points", self.points, integer=True, low=2, rendered=True))

    def key_settings(self) -> dict:
        """The settings that make a frontier of a given plan (the key of the one kept in the plan store)."""
        return {"budget": self.budget, "capacity": self.capacity, "channel_limits": self.channel_limits,
                "margin_rate": self.margin_rate, "points": self.points}


@dataclass(frozen=True)
class PromotionPlanPromotionsConfig:
    """``ml_promotion_plan_promotions`` has no settings."""


@dataclass(frozen=True)
class PromotionPlanAssignmentsConfig:
    """The settings of ``ml_promotion_plan_assignments`` (every stored plan is listed with the holdout share it
    was made with; this one is the current plan's when there is no plan store)."""

    #: the planned holdout share of the current plan without a store (var plan_holdout_share)
    holdout_share: float = 0.1

    def __post_init__(self):
        set_fields(self, holdout_share=number("ml_promotion_plan_assignments", "holdout_share", self.holdout_share,
                                              low=0, high=1, high_open=True, rendered=True))


@dataclass(frozen=True)
class PlanVsHoldoutConfig:
    """The settings of ``ml_plan_vs_holdout`` and their defaults (its yml states the same, through the vars
    ``plan_outcome_window_days`` and ``plan_interval_alpha``)."""

    #: outcomes are the orders in this many days after planned_at (var plan_outcome_window_days)
    window_days: float = 14.0
    #: the interval is the (1 - alpha) one of the experiment engine (var plan_interval_alpha)
    alpha: float = 0.1

    def __post_init__(self):
        m = "ml_plan_vs_holdout"
        set_fields(self, window_days=number(m, "window_days", self.window_days, low=0, low_open=True, rendered=True),
                   alpha=number(m, "alpha", self.alpha, low=0, high=1, low_open=True, high_open=True,
                                rendered=True))


def plan_store(session) -> PlanStore | None:
    """The plan store of the warehouse a dbt Python model runs in: ``plans/`` beside the DuckDB file
    (``RETAIL_LIFT_PLAN_STORE``, when set, names the folder instead); None for an in-memory database or
    another engine (every build then makes its plan anew)."""
    import os

    override = os.environ.get("RETAIL_LIFT_PLAN_STORE")
    if override:
        return PlanStore(override)
    if not hasattr(session, "execute"):
        return None
    rows = session.execute("select path from duckdb_databases() where database_name = current_database()").fetchall()
    if not rows or not rows[0][0] or rows[0][0] == ":memory:":
        return None
    return PlanStore.beside(rows[0][0])


def _check_plan_store(store, model: str) -> None:
    if store is not None and not isinstance(store, PlanStore):
        raise TypeError(f"{model}: store must be a retail_lift.campaign.plan.PlanStore or None, "
                        f"got {type(store).__name__}")


def _where(relation, condition: str):
    """A DuckDB relation filtered in the database (only the rows the model needs reach pandas); other relations
    as given (the caller filters them in pandas)."""
    return relation.filter(condition) if hasattr(relation, "filter") and hasattr(relation, "project") else relation


def _plan_inputs(relations: Mapping[str, object], config: PromotionPlanConfig):
    u = as_frame(read_relation(relations["ml_customer_uplift"], _UPLIFT_COLUMNS))
    p = as_frame(read_relation(relations["dim_campaign_promotions"]))
    f = as_frame(read_relation(_where(relations["fct_customer_features"], "snapshot_role = 'score'"),
                               PLAN_FEATURE_COLUMNS))
    f = f[f["snapshot_role"] == "score"]
    fatigued: list = []
    if relations.get("ml_campaign_fatigue") is not None:
        fat = as_frame(read_relation(relations["ml_campaign_fatigue"]))
        fatigued = sorted(fat.loc[fat["is_fatigued"].fillna(False).astype(bool), "customer_id"].astype(str))
    if config.margin_rate is not None:
        margin = float(config.margin_rate)
    else:
        rates = pd.to_numeric(p.get("gross_margin_rate"), errors="coerce") if len(p) else pd.Series(dtype=float)
        # None: no order line of a product with a known unit cost, so no margin to plan for
        margin = float(rates.dropna().iloc[0]) if rates.notna().any() else None
    return u, p, f, fatigued, margin


def _plan_explainer(relations: Mapping[str, object], model_store):
    """The ``explain`` of :func:`~retail_lift.campaign.plan.build_plan`: the strongest feature contributions to
    the chosen promotion's uplift, by the registered uplift version that wrote ``ml_customer_uplift``
    (:func:`retail_lift.uplift.champion.uplift_contributions` on ``fct_uplift_scoring_customers``). None, with a
    log line saying why, when there is no model store, no scoring table or no single registered version."""
    from retail_lift.campaign.reasons import top_reasons
    from retail_lift.registry import ModelFileError
    from retail_lift.uplift.champion import load_uplift_champion, uplift_contributions

    model = "ml_promotion_plan"
    if model_store is None or relations.get("fct_uplift_scoring_customers") is None:
        log_line(f"{model}: reasons without feature contributions (no model store or no fct_uplift_scoring_customers)")
        return None
    scored = as_frame(read_relation(relations["ml_customer_uplift"], ("model_version",)))
    versions = pd.to_numeric(scored["model_version"], errors="coerce").dropna().unique()
    if len(versions) != 1:
        log_line(f"{model}: reasons without feature contributions: ml_customer_uplift has {len(versions)} model "
                 "versions (one expected)")
        return None
    try:
        champion = load_uplift_champion(model_store, version=int(versions[0]))
    except (KeyError, ModelFileError) as e:  # the registry lost the version that wrote the scores
        log_line(f"{model}: reasons without feature contributions: uplift version {int(versions[0])} cannot be "
                 f"loaded ({e})")
        return None
    features = as_frame(read_relation(relations["fct_uplift_scoring_customers"]))
    features = features.assign(customer_id=features["customer_id"].astype(str))

    def explain(chosen: pd.DataFrame) -> dict[str, str]:
        texts: dict[str, str] = {}
        for promotion, pairs in chosen.groupby("promotion_id", sort=True):
            rows = features[features["customer_id"].isin(set(pairs["customer_id"]))]
            c = uplift_contributions(champion, rows, str(promotion))
            frame = c.frame().drop(columns=["days_since_last_order"], errors="ignore")
            text = top_reasons(frame, c.values.reset_index(drop=True).set_index(frame.index),
                               k=PLAN_REASON_FEATURES)
            texts.update({str(k): v for k, v in text.items() if v})
        return texts

    return explain


def _plan_candidates(relations: Mapping[str, object], config, model: str):
    """The plan's :func:`~retail_lift.campaign.plan.candidate_table`, its customers (the score snapshot's
    features) and the fatigued customers; None, with a log line saying why, when there is nothing to plan
    (no uplift, or no margin rate). ``ml_promotion_plan`` and ``ml_promotion_plan_frontier`` both use it."""
    u, p, f, fatigued, margin = _plan_inputs(relations, config)
    if u.empty:
        log_line(f"{model}: no promotion has per-customer uplift (no valid experiment): empty plan")
        return None
    if margin is None:
        log_line(f"{model}: empty plan: dim_campaign_promotions.gross_margin_rate is missing (no order line of a "
                 "product with a known unit cost), so no promotion's margin can be priced; set margin_rate of "
                 "ml_promotion_plan (test promotion_plan_not_made warns)")
        return None
    left_out = sorted(set(p["promotion_id"].astype(str)) - set(u["promotion_id"].astype(str)))
    if left_out:
        log_line(f"{model}: left out, no valid experiment: {', '.join(left_out)} (ml_promotion_plan_promotions)")
    customers = pd.DataFrame({"customer_id": sorted(u["customer_id"].astype(str).unique())})
    f = f.assign(customer_id=f["customer_id"].astype(str))
    customers = customers.merge(f.drop_duplicates("customer_id"), on="customer_id", how="left")
    cand = candidate_table(u.assign(customer_id=u["customer_id"].astype(str)), p, customers, margin_rate=margin)
    return cand, customers, fatigued


@heavy
def ml_promotion_plan(relations: Mapping[str, object], config: PromotionPlanConfig = PromotionPlanConfig(), *,
                      store: PlanStore | None = None, model_store=None) -> pd.DataFrame:
    """The promotion plan (:mod:`retail_lift.campaign.plan`): one row per customer of ``ml_customer_uplift``.

    ``relations``: ``ml_customer_uplift`` (the promotions with a valid experiment), ``dim_campaign_promotions``
    (channel, discount rate, contact cost, the catalogue's margin rate), ``fct_customer_features`` (the score
    snapshot: order value, days since the last order, the cutoff = ``planned_at``) and, when given,
    ``ml_campaign_fatigue``. ``store``: the :class:`~retail_lift.campaign.plan.PlanStore` (None: no plan is
    kept; the plan is made in every call). A stored plan with the same inputs and settings is returned as it
    was stored, unless ``config.replan``. ``model_store``: the model registry the uplift scores came from; with
    ``fct_uplift_scoring_customers`` in ``relations``, each planned row's reason names the customer's strongest
    feature contributions to the chosen promotion's uplift (:func:`_plan_explainer`)."""
    model = "ml_promotion_plan"
    _check_plan_store(store, model)
    made = _plan_candidates(relations, config, model)
    if made is None:
        return typed_frame(None, PLAN_TABLE_COLUMNS)
    cand, customers, fatigued = made
    key = plan_content_key({"candidates": cand[["customer_id", "promotion_id", "channel", "expected_incremental_margin",
                                                "expected_cost"]],
                            "fatigued": pd.DataFrame({"customer_id": fatigued}, dtype=object)},
                           config.key_settings())
    stored = store.find(key) if store is not None else []
    if stored and not config.replan:
        meta = stored[-1]
        log_line(f"{model}: inputs and settings unchanged: plan {meta['plan_id']} of {meta['planned_at']} reused "
                 f"with its holdout (replan: true makes a new one)")
        return typed_frame(store.load(meta["plan_id"]), PLAN_TABLE_COLUMNS)
    plan_id = plan_id_for(key, len(stored))
    cutoff = pd.to_datetime(customers["feature_cutoff_at"]).max() if "feature_cutoff_at" in customers else pd.NaT
    planned_at = cutoff if pd.notna(cutoff) else pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    started = time.perf_counter()
    plan, alloc = build_plan(cand, customers, budget=config.budget, capacity=config.capacity,
                             channel_limits=config.channel_limits, fatigued=fatigued,
                             explain=_plan_explainer(relations, model_store))
    seconds = time.perf_counter() - started
    plan = assign_holdout(plan, config.holdout_share, plan_seed(plan_id))
    plan.insert(0, "plan_id", plan_id)
    plan.insert(1, "planned_at", planned_at)
    table = typed_frame(plan, PLAN_TABLE_COLUMNS)
    n = int(table["promotion_id"].notna().sum())
    meta = {"plan_id": plan_id, "content_key": key, "revision": len(stored), "planned_at": str(planned_at),
            "created_at": now_text(), "settings": config.key_settings(), "method": alloc.method,
            "expected_incremental_margin": alloc.value, "expected_cost": alloc.cost,
            "upper_bound": alloc.upper_bound, "gap": alloc.gap, "solve_seconds": seconds, "customers": len(table),
            "planned_customers": n, "holdout_customers": int(table["is_holdout"].sum())}
    log_line(f"{model}: plan {plan_id} ({alloc.method}, gap {alloc.gap:.2e}, {seconds:.1f} s): {n} of {len(table)} "
             f"customers get a promotion, {meta['holdout_customers']} held out; expected incremental margin "
             f"{alloc.value:.2f}, expected cost {alloc.cost:.2f} (budget {config.budget})")
    if store is not None:
        store.save(table, meta)
    return table


@heavy
def ml_promotion_plan_frontier(relations: Mapping[str, object],
                               config: PromotionPlanFrontierConfig = PromotionPlanFrontierConfig(), *,
                               store=None) -> pd.DataFrame:
    """The efficient frontier of the plan (:func:`retail_lift.campaign.plan.plan_frontier`): the expected
    incremental margin the plan's solver reaches on the plan's candidates, limits and fatigue flags at
    ``config.points`` budgets from the cheapest contact to the cost of the plan without a budget, plus the plan's
    budget. One row per budget x promotion with the budget's totals.

    ``relations``: those of :func:`ml_promotion_plan` (``ml_customer_uplift``, ``dim_campaign_promotions``,
    ``fct_customer_features``, ``ml_campaign_fatigue``) and ``ml_promotion_plan`` (its ``plan_id``; the point at
    the plan's budget is compared with its totals, and the log says when they differ: a plan reused from the
    store that an earlier solver made). ``store``: the plan store (:func:`plan_store`; None: computed in every
    call): the frontier of a plan id with the same settings is kept there and reused, as the plan is, so a
    build without new data does not solve it again."""
    model = "ml_promotion_plan_frontier"
    _check_plan_store(store, model)
    plan = as_frame(read_relation(relations["ml_promotion_plan"], ("plan_id", "promotion_id",
                                                                  "expected_incremental_margin")))
    plan_id = str(plan["plan_id"].iloc[0]) if len(plan) else None
    settings = config.key_settings()
    if store is not None and plan_id is not None:
        kept = store.load_frontier(plan_id, settings)
        if kept is not None:  # the same plan (inputs) and frontier settings: the same frontier
            log_line(f"{model}: plan {plan_id} and the frontier settings unchanged: its frontier reused "
                     f"({store.frontier_path(plan_id, settings).name})")
            return typed_frame(kept, PLAN_FRONTIER_COLUMNS)
    made = _plan_candidates(relations, config, model)
    if made is None:
        return typed_frame(None, PLAN_FRONTIER_COLUMNS)
    cand, customers, fatigued = made
    started = time.perf_counter()
    frontier = plan_frontier(cand, customers, points=config.points, budget=config.budget, capacity=config.capacity,
                             channel_limits=config.channel_limits, fatigued=fatigued)
    seconds = time.perf_counter() - started
    frontier.insert(0, "plan_id", plan_id)
    at_plan = frontier[frontier["is_plan_budget"]]
    planned = plan[plan["promotion_id"].notna()]
    counts = planned["promotion_id"].astype(str).value_counts()
    same = (at_plan.set_index("promotion_id")["planned_customers"].to_dict()
            == {q: int(counts.get(q, 0)) for q in at_plan["promotion_id"]}
            and math.isclose(float(at_plan["total_expected_incremental_margin"].iloc[0]),
                             float(planned["expected_incremental_margin"].sum()), rel_tol=1e-9, abs_tol=1e-6))
    points = frontier.drop_duplicates("point")
    log_line(f"{model}: {len(points)} budgets from {points['budget'].min():.2f} to {points['budget'].max():.2f} "
             f"({', '.join(sorted(set(points['method'])))}, largest gap {points['gap'].max():.2e}) in {seconds:.1f} s; "
             f"at the plan's budget {float(at_plan['budget'].iloc[0]):.2f}: expected incremental margin "
             f"{float(at_plan['total_expected_incremental_margin'].iloc[0]):.2f}"
             + ("" if same else " — differs from ml_promotion_plan (a stored plan made by another solver version?)"))
    table = typed_frame(frontier, PLAN_FRONTIER_COLUMNS)
    if store is not None and plan_id is not None:
        store.save_frontier(table, plan_id, settings)
    return table


def ml_promotion_plan_promotions(relations: Mapping[str, object],
                                 config: PromotionPlanPromotionsConfig = PromotionPlanPromotionsConfig(), *,
                                 store=None) -> pd.DataFrame:
    """One row per promotion of ``dim_campaign_promotions`` (the promotions of stg_shop__promotions): in the
    plan or left out, and why (``ml_uplift_metrics``' status note, e.g. a sample-ratio mismatch; no
    experiment; a control arm of ``fct_experiment_srm``), with the plan's customers, holdout and expected
    totals per promotion (``ml_promotion_plan``)."""
    check_store(store, "ml_promotion_plan_promotions")
    p = as_frame(read_relation(relations["dim_campaign_promotions"]))
    u = as_frame(read_relation(relations["ml_customer_uplift"], ("promotion_id", "experiment_id")))
    scored = dict(u.drop_duplicates("promotion_id")[["promotion_id", "experiment_id"]].astype(str).itertuples(
        index=False, name=None))
    met = as_frame(read_relation(relations["ml_uplift_metrics"]))
    met = met[(met["metric_name"] == "status") & met["note"].notna()].sort_values(["promotion_id", "experiment_id"])
    notes = {str(r.promotion_id): f"experiment {r.experiment_id}: {r.note}" for r in met.itertuples(index=False)}
    srm = as_frame(read_relation(relations["fct_experiment_srm"]))
    controls = set(srm.loc[srm["is_control"].fillna(False).astype(bool), "variant"].astype(str))
    status = promotion_status(p, scored, notes, sorted(controls - set(scored)))
    plan = as_frame(read_relation(relations["ml_promotion_plan"]))
    planned = plan[plan["promotion_id"].notna()]
    totals = planned.groupby("promotion_id").agg(
        planned_customers=("customer_id", "size"), holdout_customers=("is_holdout", "sum"),
        expected_incremental_margin=("expected_incremental_margin", "sum"), expected_cost=("expected_cost", "sum"))
    out = status.merge(totals.reset_index(), on="promotion_id", how="left")
    out[["planned_customers", "holdout_customers"]] = out[["planned_customers", "holdout_customers"]].fillna(0)
    out["plan_id"] = plan["plan_id"].iloc[0] if len(plan) else None
    return typed_frame(out, PLAN_PROMOTIONS_COLUMNS)


def _assignments(plan: pd.DataFrame, holdout_share: float) -> pd.DataFrame:
    a = plan[plan["promotion_id"].notna()].copy()
    a["experiment_id"] = "plan:" + a["plan_id"].astype(str) + ":" + a["promotion_id"].astype(str)
    a["variant"] = np.where(a["is_holdout"].astype(bool), "holdout", "treated")
    a["is_control"] = a["is_holdout"].astype(bool)
    a["assigned_at"] = a["planned_at"]
    a["holdout_share"] = holdout_share
    return a


def ml_promotion_plan_assignments(relations: Mapping[str, object],
                                  config: PromotionPlanAssignmentsConfig = PromotionPlanAssignmentsConfig(), *,
                                  store: PlanStore | None = None) -> pd.DataFrame:
    """The assignment log of every plan, as an experiment's: one row per planned customer of every stored plan
    (``store``; without one, the current ``ml_promotion_plan``), with the experiment id
    ``plan:<plan_id>:<promotion_id>``, the variant (``treated`` / ``holdout``, the control) and ``assigned_at``
    = ``planned_at``."""
    _check_plan_store(store, "ml_promotion_plan_assignments")
    frames = []
    if store is not None and store.plans():
        for meta in store.plans():
            frames.append(_assignments(store.load(meta["plan_id"]), float(meta["settings"]["holdout_share"])))
    else:
        frames.append(_assignments(as_frame(read_relation(relations["ml_promotion_plan"])), config.holdout_share))
    out = pd.concat(frames, ignore_index=True) if frames else None
    return typed_frame(out, PLAN_ASSIGNMENT_COLUMNS)


def _realised_margin(assign: pd.DataFrame, orders: pd.DataFrame, window_days: float) -> pd.DataFrame:
    """Per assigned customer: the margin of their orders in (assigned_at, assigned_at + window], net of the
    discounts (``(amount + discount) * margin_rate - discount``), minus the contact cost when treated."""
    o = orders[["customer_id", "amount", "discount_amount", "ordered_at"]].copy()
    o["customer_id"] = o["customer_id"].astype(str)
    o["ordered_at"] = pd.to_datetime(o["ordered_at"])
    a = assign[["experiment_id", "customer_id", "assigned_at", "margin_rate"]].copy()
    a["customer_id"] = a["customer_id"].astype(str)
    a["assigned_at"] = pd.to_datetime(a["assigned_at"])
    j = a.merge(o, on="customer_id", how="inner")
    end = j["assigned_at"] + pd.to_timedelta(window_days, unit="D")
    j = j[(j["ordered_at"] > j["assigned_at"]) & (j["ordered_at"] <= end)]
    amount = pd.to_numeric(j["amount"], errors="coerce").fillna(0.0)
    discount = pd.to_numeric(j["discount_amount"], errors="coerce").fillna(0.0)
    j = j.assign(margin=(amount + discount) * j["margin_rate"].astype(float) - discount, orders=1)
    per = j.groupby(["experiment_id", "customer_id"])[["margin", "orders"]].sum().reset_index()
    out = assign.assign(customer_id=assign["customer_id"].astype(str)).merge(
        per, on=["experiment_id", "customer_id"], how="left")
    out[["margin", "orders"]] = out[["margin", "orders"]].fillna(0.0)
    out["y"] = out["margin"] - np.where(out["is_control"].astype(bool), 0.0, out["contact_cost"].astype(float))
    return out


def ml_plan_vs_holdout(relations: Mapping[str, object], config: PlanVsHoldoutConfig = PlanVsHoldoutConfig(), *,
                       store=None) -> pd.DataFrame:
    """Per plan x promotion: the realised margin per customer of the treated against the held-out customers
    over the orders in ``window_days`` after ``planned_at`` (``stg_shop__orders``), compared by the experiment
    engine (:func:`retail_lift.experiments.analysis.analyze_experiments`: Welch's difference of means and its
    ``1 - alpha`` interval; the sample-ratio check against the plan's holdout share). ``status``: ``measured``,
    ``window open`` (the data ends before the window does; the outcomes so far), ``no outcomes yet`` (no order
    after ``planned_at``) or ``too few customers`` (fewer than two in an arm)."""
    check_store(store, "ml_plan_vs_holdout")
    assign = as_frame(read_relation(relations["ml_promotion_plan_assignments"]))
    if assign.empty:
        return typed_frame(None, PLAN_VS_HOLDOUT_COLUMNS)
    rel = relations["stg_shop__orders"]
    in_duckdb = hasattr(rel, "aggregate") and hasattr(rel, "project")
    if in_duckdb:  # the last order, then only the orders after the first plan reach pandas
        last = rel.aggregate("max(ordered_at)").fetchall()[0][0]
        first = pd.to_datetime(assign["assigned_at"]).min()
        rel = _where(rel, f"ordered_at > cast('{first.isoformat(sep=' ')}' as timestamp)")
    orders = as_frame(read_relation(rel, ("customer_id", "amount", "discount_amount", "ordered_at")))
    if not in_duckdb:
        last = pd.to_datetime(orders["ordered_at"]).max() if len(orders) else None
    through = pd.Timestamp(last) if last is not None and pd.notna(last) else pd.NaT
    y = _realised_margin(assign, orders, config.window_days)
    measurable = y.loc[pd.to_datetime(y["assigned_at"]) < through, "experiment_id"].unique() \
        if pd.notna(through) else []
    # no order after the plan yet: nothing to test
    res = holdout_estimates(y[y["experiment_id"].isin(measurable)], config.alpha)
    rows = []
    for exp_id, g in y.groupby("experiment_id", sort=True):
        first = g.iloc[0]
        planned_at = pd.Timestamp(first["assigned_at"])
        window_end = planned_at + pd.Timedelta(days=config.window_days)
        treated, held = int((~g["is_control"].astype(bool)).sum()), int(g["is_control"].astype(bool).sum())
        row = {"plan_id": first["plan_id"], "planned_at": planned_at, "promotion_id": first["promotion_id"],
               "experiment_id": exp_id, "treated_customers": treated, "holdout_customers": held,
               "outcome_orders": int(g["orders"].sum()), "interval_level": 1 - config.alpha,
               "window_days": config.window_days, "window_end": window_end, "outcomes_through": through}
        if pd.isna(through) or through <= planned_at:
            row["status"] = "no outcomes yet"
        elif treated < 2 or held < 2 or exp_id not in res.index:
            row["status"] = "too few customers"
        else:
            r = res.loc[exp_id]
            row.update(status="measured" if through >= window_end else "window open",
                       treated_margin_per_customer=r["variant_mean"], holdout_margin_per_customer=r["control_mean"],
                       incremental_margin_per_customer=r["effect"], ci_low=r["effect_ci_low"],
                       ci_high=r["effect_ci_high"], p_value=r["p_value"], srm_p_value=r["srm_p_value"],
                       realised_incremental_margin=r["effect"] * treated, realised_ci_low=r["effect_ci_low"] * treated,
                       realised_ci_high=r["effect_ci_high"] * treated)
        rows.append(row)
    return typed_frame(pd.DataFrame(rows), PLAN_VS_HOLDOUT_COLUMNS)
