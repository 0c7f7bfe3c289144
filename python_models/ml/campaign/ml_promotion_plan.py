"""The promotion plan: which promotion each scored customer gets under the budget and limits, why, and who is
held out (retail_lift.tables.campaign.ml_promotion_plan; plans are kept in plans/ beside the warehouse)."""

from retail_lift.tables import from_settings, model_store
from retail_lift.tables.campaign import PromotionPlanConfig, ml_promotion_plan, plan_store


def model(dbt, session):
    dbt.config(materialized="table")
    config = from_settings(
        PromotionPlanConfig, "ml_promotion_plan",
        budget=dbt.config.get("budget"),
        capacity=dbt.config.get("capacity"),
        channel_limits=dbt.config.get("channel_limits"),
        holdout_share=dbt.config.get("holdout_share"),
        margin_rate=dbt.config.get("margin_rate"),
        replan=dbt.config.get("replan"),
    )
    return ml_promotion_plan(
        {"ml_customer_uplift": dbt.ref("ml_customer_uplift"),
         "dim_campaign_promotions": dbt.ref("dim_campaign_promotions"),
         "fct_customer_features": dbt.ref("fct_customer_features"),
         "ml_campaign_fatigue": dbt.ref("ml_campaign_fatigue"),
         "fct_uplift_scoring_customers": dbt.ref("fct_uplift_scoring_customers")},
        config, store=plan_store(session), model_store=model_store(session),
    )
