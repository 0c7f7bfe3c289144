"""The promotion plan at several budgets against the simulated truth: its true incremental margin next to the
plans of the feature-ceiling and the true uplift and two single-promotion baselines, and the coverage of its
holdout interval over re-drawn holdouts (retail_lift.evaluation.plan; evaluation only: reads the truth)."""

from retail_lift.evaluation import (
    EvalPromotionPlanVsTruthConfig,
    empty_evaluation,
    from_settings,
    promotion_plan_vs_truth,
    truth_is_absent,
)


def model(dbt, session):
    dbt.config(materialized="table")
    # the settings (defaults: EvalPromotionPlanVsTruthConfig; the yml states the same); checked before any work
    config = from_settings(EvalPromotionPlanVsTruthConfig, "ml_eval_promotion_plan_vs_truth",
                           budget_shares=dbt.config.get("budget_shares"),
                           holdout_share=dbt.config.get("holdout_share"), alpha=dbt.config.get("alpha"),
                           holdout_draws=dbt.config.get("holdout_draws"),
                           ceiling_ratio_target=dbt.config.get("ceiling_ratio_target"),
                           coverage_tolerance=dbt.config.get("coverage_tolerance"),
                           random_state=dbt.config.get("random_state"),
                           ceiling_max_rows=dbt.config.get("ceiling_max_rows"))
    # without the simulated world's truth (real data: every truth table empty) the evaluation builds empty
    # with its declared columns (retail_lift.evaluation.truth.NO_TRUTH_NOTE says why; so does the model's description)
    if truth_is_absent(dbt.ref("stg_simulation__truth_customers"), dbt.ref("stg_simulation__truth_customer_arms"),
                       dbt.ref("stg_simulation__truth_exposures")):
        return empty_evaluation("ml_eval_promotion_plan_vs_truth")
    return promotion_plan_vs_truth(
        {"ml_customer_uplift": dbt.ref("ml_customer_uplift"),
         "dim_campaign_promotions": dbt.ref("dim_campaign_promotions"),
         "fct_customer_features": dbt.ref("fct_customer_features"),
         "ml_campaign_fatigue": dbt.ref("ml_campaign_fatigue"),
         "ml_purchase_propensity_scores": dbt.ref("ml_purchase_propensity_scores"),
         "fct_uplift_scoring_customers": dbt.ref("fct_uplift_scoring_customers"),
         "truth_customer_arms": dbt.ref("stg_simulation__truth_customer_arms")},
        config,
    )
