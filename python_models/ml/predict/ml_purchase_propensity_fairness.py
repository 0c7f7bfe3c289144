"""Fairness of the purchase-propensity targeting decision by gender and age band (holdout customers).

The selection-rate and true-positive-rate gaps carry percentile bootstrap intervals (customers resampled
within each group, seeded); below the minimum group size a gap's status is "too few" and its value NULL.
"""

from retail_lift.tables import from_settings
from retail_lift.tables.predict import PurchasePropensityFairnessConfig, ml_purchase_propensity_fairness


def model(dbt, session):
    dbt.config(materialized="table")
    # the defaults live in PurchasePropensityFairnessConfig (a key left unset takes it; the yml states the same)
    config = from_settings(
        PurchasePropensityFairnessConfig, "ml_purchase_propensity_fairness",
        attributes=dbt.config.get("attributes"),
        fairness_threshold=dbt.config.get("fairness_threshold"),
        min_group_size=dbt.config.get("min_group_size"),
        bootstrap_resamples=dbt.config.get("bootstrap_resamples"),
        ci_level=dbt.config.get("ci_level"),
        bootstrap_seed=dbt.config.get("bootstrap_seed"),
    )
    # only the holdout rows and the columns the fairness table reads are read (the fit table holds every score row)
    relations = {"ml_purchase_propensity_fit": dbt.ref("ml_purchase_propensity_fit"),
                 "dim_customers": dbt.ref("dim_customers")}
    return ml_purchase_propensity_fairness(relations, config)
