"""The plan's efficient frontier: the expected incremental margin of the plan's solver on the plan's candidates
and limits at a grid of budgets, per promotion (retail_lift.tables.campaign.ml_promotion_plan_frontier)."""

from retail_lift.tables import from_settings
from retail_lift.tables.campaign import PromotionPlanFrontierConfig, ml_promotion_plan_frontier, plan_store


def model(dbt, session):
    dbt.config(materialized="table")
    config = from_settings(
        PromotionPlanFrontierConfig, "ml_promotion_plan_frontier",
        budget=dbt.config.get("budget"),
        capacity=dbt.config.get("capacity"),
        channel_limits=dbt.config.get("channel_limits"),
        margin_rate=dbt.config.get("margin_rate"),
        points=dbt.config.get("points"),
    )
    return ml_promotion_plan_frontier(
        {"ml_customer_uplift": dbt.ref("ml_customer_uplift"),
         "dim_campaign_promotions": dbt.ref("dim_campaign_promotions"),
         "fct_customer_features": dbt.ref("fct_customer_features"),
         "ml_campaign_fatigue": dbt.ref("ml_campaign_fatigue"),
         "ml_promotion_plan": dbt.ref("ml_promotion_plan")},
        config, store=plan_store(session),  # a plan's frontier is kept beside it and reused with it
    )
