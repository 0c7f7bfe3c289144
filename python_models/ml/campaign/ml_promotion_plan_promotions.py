"""One row per promotion: in the promotion plan or left out, and why (retail_lift.tables.campaign)."""

from retail_lift.tables import from_settings
from retail_lift.tables.campaign import PromotionPlanPromotionsConfig, ml_promotion_plan_promotions


def model(dbt, session):
    dbt.config(materialized="table")
    config = from_settings(PromotionPlanPromotionsConfig, "ml_promotion_plan_promotions")
    return ml_promotion_plan_promotions(
        {"dim_campaign_promotions": dbt.ref("dim_campaign_promotions"),
         "ml_customer_uplift": dbt.ref("ml_customer_uplift"),
         "ml_uplift_metrics": dbt.ref("ml_uplift_metrics"),
         "fct_experiment_srm": dbt.ref("fct_experiment_srm"),
         "ml_promotion_plan": dbt.ref("ml_promotion_plan")},
        config,
    )
