"""One decision per experiment x treatment variant: the pre-registered rule of retail_lift.experiments.verdicts
over the daily looks, with the registry seed and the experiments table's overrides (retail_lift.tables.experiments)."""

from retail_lift.tables import from_settings
from retail_lift.tables.experiments import ExperimentDecisionsConfig, ml_experiment_decisions


def model(dbt, session):
    dbt.config(materialized="table")
    # the defaults live in ExperimentDecisionsConfig; the yml passes the vars experiments_as_of and
    # experiments_data_complete (rendered as text, read as the SQL macros read them)
    config = from_settings(
        ExperimentDecisionsConfig, "ml_experiment_decisions",
        experiments_as_of=dbt.config.get("experiments_as_of"),
        experiments_data_complete=dbt.config.get("experiments_data_complete"),
    )
    relations = {"fct_experiment_daily_looks": dbt.ref("fct_experiment_daily_looks"),
                 "stg_shop__experiments": dbt.ref("stg_shop__experiments"),
                 "experiment_registry": dbt.ref("experiment_registry")}
    return ml_experiment_decisions(relations, config)
