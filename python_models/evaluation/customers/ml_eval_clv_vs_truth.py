"""CLV model against a calibration/holdout split of the orders and against the simulated world's truth."""

from retail_lift.evaluation import (
    EvalClvVsTruthConfig,
    clv_evaluation,
    empty_evaluation,
    from_settings,
    truth_is_absent,
)


def model(dbt, session):
    dbt.config(materialized="table")
    # the settings (defaults: EvalClvVsTruthConfig; the yml states the same); checked before any work
    config = from_settings(EvalClvVsTruthConfig, "ml_eval_clv_vs_truth",
                           holdout_days=dbt.config.get("holdout_days"), penalizer=dbt.config.get("penalizer"),
                           holdout_target=dbt.config.get("holdout_target"),
                           spend_target=dbt.config.get("spend_target"))
    # without the simulated world's truth (real data: every truth table empty) the evaluation builds empty
    # with its declared columns (retail_lift.evaluation.truth.NO_TRUTH_NOTE says why; so does the model's description)
    if truth_is_absent(dbt.ref("stg_simulation__truth_customers"), dbt.ref("stg_simulation__truth_customer_arms"),
                       dbt.ref("stg_simulation__truth_exposures")):
        return empty_evaluation("ml_eval_clv_vs_truth")
    orders = dbt.ref("stg_shop__orders").project("customer_id, ordered_at, amount").to_arrow_table().to_pandas()
    scores = dbt.ref("ml_customer_lifetime_value").to_arrow_table().to_pandas()
    truth = dbt.ref("stg_simulation__truth_customers").to_arrow_table().to_pandas()
    snapshots = dbt.ref("int_snapshot_dates").to_arrow_table().to_pandas()
    snapshot_date = snapshots.loc[snapshots["snapshot_role"] == "score", "last_data_date"].iloc[0]
    return clv_evaluation(orders, scores, truth, snapshot_date, **config.kwargs())
