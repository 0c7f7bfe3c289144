"""A/B experiment results: every test of retail_lift.experiments on the SQL sufficient statistics."""

from retail_lift.experiments.analysis import analyze_experiments


def model(dbt, session):
    dbt.config(materialized="table")
    variant_stats = dbt.ref("fct_experiment_variant_stats").to_arrow_table().to_pandas()
    srm = dbt.ref("fct_experiment_srm").to_arrow_table().to_pandas()
    return analyze_experiments(
        variant_stats,
        srm,
        alpha=float(dbt.config.get("alpha", 0.05)),
        power=float(dbt.config.get("power", 0.8)),
        mde_relative=float(dbt.config.get("mde_relative", 0.2)),
    )
