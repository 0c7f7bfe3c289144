"""Uplift models, trained once and scored every build: every output table of retail_lift.uplift.pipeline, stacked.

A dbt Python model returns one table, and the five uplift tables have different grains, so this model
returns them stacked (one row per output record, `table_name` says which table) and the SQL models
ml_customer_uplift, ml_uplift_holdout_predictions, ml_uplift_metrics, ml_uplift_segments and
ml_uplift_incremental_roi select their rows back out: the learners are trained once, not five times.
The table is built by retail_lift.tables.uplift.ml_uplift_run. The fitted learners of every experiment are
registered (one version of the registered model ml_uplift_run, in the registry beside the warehouse file); a
build scores with the champion and trains only when the registry's rule says so (registry_action,
registry_reason on every row).
"""

from retail_lift.tables import from_settings, model_store
from retail_lift.tables.uplift import UpliftRunConfig, ml_uplift_run


def model(dbt, session):
    dbt.config(materialized="table")
    # the defaults live in UpliftRunConfig (a key left unset takes it; the yml states the same)
    config = from_settings(
        UpliftRunConfig, "ml_uplift_run",
        learner=dbt.config.get("learner"),
        base_learner=dbt.config.get("base_learner"),
        n_folds=dbt.config.get("n_folds"),  # cross-fitting folds; 0: the single holdout split
        inner_folds=dbt.config.get("inner_folds"),
        holdout=dbt.config.get("holdout"),
        random_state=dbt.config.get("random_state"),
        k_fractions=dbt.config.get("k_fractions"),
        margin_rate=dbt.config.get("margin_rate"),
        uplift_threshold=dbt.config.get("uplift_threshold"),
        n_placebo=dbt.config.get("n_placebo"),
        min_group_size=dbt.config.get("min_group_size"),
        min_treated_conversions=dbt.config.get("min_treated_conversions"),
        n_threads=dbt.config.get("n_threads"),
        placebo_jobs=dbt.config.get("placebo_jobs"),  # processes of the placebo shuffles
        selection_max_rows=dbt.config.get("selection_max_rows"),  # rows the nested selection is made on
        placebo_max_rows=dbt.config.get("placebo_max_rows"),  # rows an arm's placebo test is made on
        retrain=dbt.config.get("retrain"),
        max_model_age_days=dbt.config.get("max_model_age_days"),
        registry_on_mismatch=dbt.config.get("registry_on_mismatch"),
        registry_alias=dbt.config.get("registry_alias"),
    )
    # the model registry beside the warehouse file: score with the champion, train when its rule says
    store = model_store(session)
    # the relations themselves: only the columns used are read, the categorical features as codes; the long
    # table (one row per customer x arm) goes to the warehouse as Arrow
    return ml_uplift_run(
        {"fct_uplift_training_exposures": dbt.ref("fct_uplift_training_exposures"),
         "fct_uplift_scoring_customers": dbt.ref("fct_uplift_scoring_customers"),
         "fct_experiment_srm": dbt.ref("fct_experiment_srm"),
         "stg_shop__promotions": dbt.ref("stg_shop__promotions")},
        config,
        store=store,
    )
