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
from retail_lift.frames import as_frame, log_line, typed_frame
from retail_lift.tables._config import check_store, number, read_relation, set_fields

__all__ = ["BROADCAST_COLUMNS", "FATIGUE_COLUMNS", "FATIGUE_CURVE_COLUMNS", "TARGET_LIST_TABLE_COLUMNS",
           "CampaignBroadcastVsTargetedConfig", "CampaignFatigueConfig", "CampaignFatigueCurveConfig",
           "CampaignTargetListConfig", "ml_campaign_broadcast_vs_targeted", "ml_campaign_fatigue",
           "ml_campaign_fatigue_curve", "ml_campaign_target_list"]

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
