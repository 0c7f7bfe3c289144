"""Fairness of the purchase-propensity targeting decision by gender and age band (holdout customers)."""

from retail_lift.pipelines import fairness_table


def model(dbt, session):
    dbt.config(materialized="table")
    fit = dbt.ref("ml_purchase_propensity_fit").to_arrow_table().to_pandas()
    customers = dbt.ref("dim_customers").to_arrow_table().to_pandas()
    return fairness_table(
        fit,
        customers,
        attributes=tuple(dbt.config.get("attributes", ["gender", "age_band"])),
        threshold=float(dbt.config.get("fairness_threshold", 0.1)),
        min_group_size=int(dbt.config.get("min_group_size", 30)),
    )
