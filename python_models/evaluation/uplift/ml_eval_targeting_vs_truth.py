"""Targeting by uplift versus by propensity, valued with the simulated world's true effects (evaluation only)."""

from retail_lift.uplift.pipeline import evaluate_targeting_against_truth


def model(dbt, session):
    dbt.config(materialized="table")
    scores = dbt.ref("ml_customer_uplift").to_arrow_table().to_pandas()
    model_roi = dbt.ref("ml_uplift_incremental_roi").to_arrow_table().to_pandas()
    promotions = dbt.ref("stg_shop__promotions").to_arrow_table().to_pandas()
    arm_effects = dbt.ref("stg_simulation__truth_customer_arms").to_arrow_table().to_pandas()
    return evaluate_targeting_against_truth(scores, arm_effects, promotions=promotions, model_roi=model_roi)
