"""The assignment log of every promotion plan, as an experiment's (treated / holdout per plan and promotion;
retail_lift.tables.campaign.ml_promotion_plan_assignments)."""

from retail_lift.tables import from_settings
from retail_lift.tables.campaign import PromotionPlanAssignmentsConfig, ml_promotion_plan_assignments, plan_store


def model(dbt, session):
    dbt.config(materialized="table")
    config = from_settings(PromotionPlanAssignmentsConfig, "ml_promotion_plan_assignments",
                           holdout_share=dbt.config.get("holdout_share"))
    return ml_promotion_plan_assignments({"ml_promotion_plan": dbt.ref("ml_promotion_plan")}, config,
                                         store=plan_store(session))
