"""Classifier holdout AUC against the oracle AUC of the simulated world's true purchase probabilities."""

from retail_lift.evaluation import (
    PredictOracleComparisonConfig,
    empty_evaluation,
    from_settings,
    predict_oracle_comparison,
    truth_is_absent,
)


def model(dbt, session):
    dbt.config(materialized="table")
    # the settings (defaults: PredictOracleComparisonConfig; the yml states the same); checked before any work
    config = from_settings(PredictOracleComparisonConfig, "ml_predict_oracle_comparison",
                           label_window_days=dbt.config.get("label_window_days"),
                           target_auc_ratio=dbt.config.get("target_auc_ratio"))
    # without the simulated world's truth (real data: every truth table empty) the evaluation builds empty
    # with its declared columns (retail_lift.evaluation.truth.NO_TRUTH_NOTE says why; so does the model's description)
    if truth_is_absent(dbt.ref("stg_simulation__truth_customers"), dbt.ref("stg_simulation__truth_customer_arms"),
                       dbt.ref("stg_simulation__truth_exposures")):
        return empty_evaluation("ml_predict_oracle_comparison")
    fits = {
        "purchase_propensity": dbt.ref("ml_purchase_propensity_fit").to_arrow_table().to_pandas(),
        "returning_customer": dbt.ref("ml_returning_customer_fit").to_arrow_table().to_pandas(),
    }
    customer_rates = dbt.ref("stg_simulation__truth_customers").to_arrow_table().to_pandas()
    snapshots = dbt.ref("int_snapshot_dates").to_arrow_table().to_pandas()
    return predict_oracle_comparison(fits, customer_rates, snapshots, **config.kwargs())
