"""Realised margin of the treated against the held-out customers of every plan and promotion, through the
experiment engine (retail_lift.tables.campaign.ml_plan_vs_holdout); rpt_plan_vs_holdout reports it."""

from retail_lift.tables import from_settings
from retail_lift.tables.campaign import PlanVsHoldoutConfig, ml_plan_vs_holdout


def model(dbt, session):
    dbt.config(materialized="table")
    config = from_settings(PlanVsHoldoutConfig, "ml_plan_vs_holdout",
                           window_days=dbt.config.get("window_days"), alpha=dbt.config.get("alpha"))
    return ml_plan_vs_holdout(
        {"ml_promotion_plan_assignments": dbt.ref("ml_promotion_plan_assignments"),
         "stg_shop__orders": dbt.ref("stg_shop__orders")},
        config,
    )
