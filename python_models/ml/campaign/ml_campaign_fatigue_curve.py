"""Response rate of promotion contacts by the number of earlier contacts of the same customer."""

from retail_lift.pipelines import fatigue_curve_table


def model(dbt, session):
    dbt.config(materialized="table")
    exposures = dbt.ref("fct_promotion_exposures").to_arrow_table().to_pandas()
    return fatigue_curve_table(exposures, max_prior=int(dbt.config.get("max_prior", 10)))
