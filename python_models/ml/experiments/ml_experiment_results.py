"""A/B experiment results: every test of retail_lift.experiments on the SQL sufficient statistics."""

from retail_lift.tables import from_settings
from retail_lift.tables.experiments import ExperimentResultsConfig, ml_experiment_results


def model(dbt, session):
    dbt.config(materialized="table")
    # the defaults live in ExperimentResultsConfig (a key left unset takes it; the yml states the same)
    config = from_settings(
        ExperimentResultsConfig, "ml_experiment_results",
        alpha=dbt.config.get("alpha"),
        power=dbt.config.get("power"),
        mde_relative=dbt.config.get("mde_relative"),
    )
    relations = {"fct_experiment_variant_stats": dbt.ref("fct_experiment_variant_stats"),
                 "fct_experiment_srm": dbt.ref("fct_experiment_srm")}
    return ml_experiment_results(relations, config)
