"""Uplift models, trained once per build: every output table of retail_lift.uplift.pipeline, stacked.

A dbt Python model returns one table, and the five uplift tables have different grains, so this model
returns them stacked (one row per output record, `table_name` says which table) and the SQL models
ml_customer_uplift, ml_uplift_holdout_predictions, ml_uplift_metrics, ml_uplift_segments and
ml_uplift_incremental_roi select their rows back out: the learners are trained once, not five times.
"""

from retail_lift.uplift.pipeline import uplift_run_table


def model(dbt, session):
    dbt.config(materialized="table")
    # the relations themselves: only the columns used are read, the categorical features as codes
    training = dbt.ref("fct_uplift_training_exposures")
    scoring = dbt.ref("fct_uplift_scoring_customers")
    srm = dbt.ref("fct_experiment_srm").to_arrow_table().to_pandas()
    promotions = dbt.ref("stg_shop__promotions").to_arrow_table().to_pandas()
    n_folds = dbt.config.get("n_folds", 5)  # cross-fitting folds; 0 or null: the single holdout split
    return uplift_run_table(
        training,
        scoring,
        srm,
        promotions,
        learner=str(dbt.config.get("learner", "auto")),
        base_learner=str(dbt.config.get("base_learner", "auto")),
        n_folds=int(n_folds) if n_folds else None,
        inner_folds=int(dbt.config.get("inner_folds", 3)),
        holdout=float(dbt.config.get("holdout", 0.3)),
        random_state=int(dbt.config.get("random_state", 0)),
        k_fractions=dbt.config.get("k_fractions", [0.1, 0.2, 0.3]),
        margin_rate=float(dbt.config.get("margin_rate", 0.35)),
        uplift_threshold=float(dbt.config.get("uplift_threshold", 0.01)),
        n_placebo=int(dbt.config.get("n_placebo", 100)),
        min_group_size=int(dbt.config.get("min_group_size", 20)),
        min_treated_conversions=int(dbt.config.get("min_treated_conversions", 10)),
        n_threads=int(dbt.config.get("n_threads", 2)),
        placebo_jobs=int(dbt.config.get("placebo_jobs", 1)),  # processes of the placebo shuffles
        as_arrow=True,  # the long table (one row per customer x arm) goes to the warehouse as Arrow
    )
