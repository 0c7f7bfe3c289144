"""One decision per experiment x treatment variant: the pre-registered rule of retail_lift.experiments.verdicts
over the daily looks, with the registry seed and the experiments table's overrides (decisions_table)."""

from retail_lift.experiments.decisions_table import experiment_decisions_table


def model(dbt, session):
    dbt.config(materialized="table")
    looks = dbt.ref("fct_experiment_daily_looks").to_arrow_table().to_pandas()
    experiments = dbt.ref("stg_shop__experiments").to_arrow_table().to_pandas()
    registry = dbt.ref("experiment_registry").to_arrow_table().to_pandas()
    as_of = dbt.config.get("experiments_as_of")
    complete = dbt.config.get("experiments_data_complete")
    return experiment_decisions_table(
        looks,
        experiments,
        registry,
        as_of=None if str(as_of).strip().lower() in ("", "none", "null") else as_of,
        data_complete=str(complete).strip().lower() in ("true", "1", "yes", "y"),
    )
