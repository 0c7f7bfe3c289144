"""Targeting by uplift versus by propensity, valued with the simulated world's true effects (evaluation only)."""

from retail_lift.evaluation import (
    EvalTargetingVsTruthConfig,
    empty_evaluation,
    evaluate_targeting_against_truth,
    from_settings,
    truth_is_absent,
)


def model(dbt, session):
    dbt.config(materialized="table")
    # no settings of its own (EvalTargetingVsTruthConfig says why): the margin and the shares targeted are those
    # of the uplift run, read from ml_uplift_incremental_roi
    from_settings(EvalTargetingVsTruthConfig, "ml_eval_targeting_vs_truth")
    # without the simulated world's truth (real data: every truth table empty) the evaluation builds empty
    # with its declared columns (retail_lift.evaluation.truth.NO_TRUTH_NOTE says why; so does the model's description)
    if truth_is_absent(dbt.ref("stg_simulation__truth_customers"), dbt.ref("stg_simulation__truth_customer_arms"),
                       dbt.ref("stg_simulation__truth_exposures")):
        return empty_evaluation("ml_eval_targeting_vs_truth")
    # only the columns the evaluation reads, and only the true effects of the scored arms and the control
    # (a million customers x every promotion otherwise)
    scores = dbt.ref("ml_customer_uplift").project(
        "customer_id, promotion_id, experiment_id, predicted_uplift, predicted_treated_probability"
    ).to_arrow_table().to_pandas()
    model_roi = dbt.ref("ml_uplift_incremental_roi").to_arrow_table().to_pandas()
    promotions = dbt.ref("stg_shop__promotions").to_arrow_table().to_pandas()
    arms = ", ".join("'" + str(a).replace("'", "''") + "'"
                     for a in [*scores["promotion_id"].dropna().unique(), "control"])
    arm_effects = (dbt.ref("stg_simulation__truth_customer_arms")
                   .filter(f"promotion_id in ({arms})")
                   .project("customer_id, promotion_id, p_convert, true_uplift, expected_revenue")
                   .to_arrow_table().to_pandas())
    return evaluate_targeting_against_truth(scores, arm_effects, promotions=promotions, model_roi=model_roi)
