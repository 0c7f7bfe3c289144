"""Uplift model quality against the simulated world's true effects (evaluation only: reads the truth)."""

from retail_lift.uplift.pipeline import evaluate_uplift_against_truth


def model(dbt, session):
    dbt.config(materialized="table")
    holdout = dbt.ref("ml_uplift_holdout_predictions").to_arrow_table().to_pandas()
    true_effects = (
        dbt.ref("stg_simulation__truth_exposures")
        .filter("exposure_kind = 'experiment'")
        .project("exposure_id, promotion_id, true_uplift")
        .to_arrow_table()
        .to_pandas()
    )
    return evaluate_uplift_against_truth(
        holdout,
        true_effects,
        target_ratio=float(dbt.config.get("target_ratio", 0.7)),
        n_bootstrap=int(dbt.config.get("n_bootstrap", 200)),
        random_state=int(dbt.config.get("random_state", 0)),
    )
