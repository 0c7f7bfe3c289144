"""Returning customer: will a first-time buyer place a second order in the next 30 days?"""

from retail_lift.pipelines import returning_customer_fit


def model(dbt, session):
    dbt.config(materialized="table")
    # the relation itself: the package reads it as Arrow and converts only the rows it trains on or scores
    features = dbt.ref("fct_customer_features")
    return returning_customer_fit(features, models=dbt.config.get("model_kinds"))
