"""Uplift model quality against the simulated world's true effects (evaluation only: reads the truth).

Next to the model's ratio to the oracle, the two limits of retail_lift.evaluation.uplift_limits: the feature
ceiling (the true uplift regressed on the features) and the learner refitted with the hidden uplift
type revealed (the limit of this much data). Config measure_limits: false leaves those columns NULL.
"""

import pandas as pd

from retail_lift.evaluation import (
    LIMIT_COLUMNS,
    EvalUpliftVsTruthConfig,
    empty_evaluation,
    evaluate_uplift_against_truth,
    from_settings,
    truth_is_absent,
    uplift_limits,
)


def model(dbt, session):
    dbt.config(materialized="table")
    # the settings (defaults: EvalUpliftVsTruthConfig; the yml states the same); checked before any work
    config = from_settings(EvalUpliftVsTruthConfig, "ml_eval_uplift_vs_truth",
                           target_ratio=dbt.config.get("target_ratio"), n_bootstrap=dbt.config.get("n_bootstrap"),
                           random_state=dbt.config.get("random_state"),
                           measure_limits=dbt.config.get("measure_limits"), learner=dbt.config.get("learner"),
                           base_learner=dbt.config.get("base_learner"),
                           limits_max_rows=dbt.config.get("limits_max_rows"))
    # without the simulated world's truth (real data: every truth table empty) the evaluation builds empty
    # with its declared columns (retail_lift.evaluation.truth.NO_TRUTH_NOTE says why; so does the model's description)
    if truth_is_absent(dbt.ref("stg_simulation__truth_customers"), dbt.ref("stg_simulation__truth_customer_arms"),
                       dbt.ref("stg_simulation__truth_exposures")):
        return empty_evaluation("ml_eval_uplift_vs_truth")
    holdout = dbt.ref("ml_uplift_holdout_predictions").to_arrow_table().to_pandas()
    true_effects = (
        dbt.ref("stg_simulation__truth_exposures")
        .filter("exposure_kind = 'experiment'")
        .project("exposure_id, promotion_id, true_uplift")
        .to_arrow_table()
        .to_pandas()
    )
    result = evaluate_uplift_against_truth(holdout, true_effects, **config.evaluation_kwargs())
    keys = ["experiment_id", "promotion_id"]
    if config.measure_limits and len(result):
        # cross-fitting folds of ml_uplift_run (none: its single holdout split)
        folds = pd.to_numeric(holdout["fold"], errors="coerce").nunique() if "fold" in holdout else 0
        limits = uplift_limits(
            dbt.ref("fct_uplift_training_exposures"),  # the relation: only the columns used are read
            dbt.ref("stg_simulation__truth_customers").project("customer_id, uplift_type").to_arrow_table().to_pandas(),
            true_effects,
            srm=dbt.ref("fct_experiment_srm").to_arrow_table().to_pandas(),
            promotions=dbt.ref("stg_shop__promotions").to_arrow_table().to_pandas(),
            n_folds=int(folds) if folds >= 2 else None,
            # learner, base_learner, random_state: those of ml_uplift_run (a pytest checks the configs agree)
            **config.limits_kwargs(),
        )
        return result.merge(limits.astype({k: str for k in keys}), on=keys, how="left")
    return result.assign(**{c: None for c in LIMIT_COLUMNS if c not in keys}).astype(
        {"feature_ceiling_kind": "string", **{c: "float64" for c in LIMIT_COLUMNS[3:]}})
