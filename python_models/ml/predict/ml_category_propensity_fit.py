"""Purchase propensity per customer x top-level category (next 30 days), for category promotions."""

from retail_lift.pipelines import category_propensity_fit


def model(dbt, session):
    dbt.config(materialized="table")
    # the relation itself: the package reads it as Arrow and converts only the rows it trains on or scores
    features = dbt.ref("fct_customer_category_features")
    return category_propensity_fit(features, models=dbt.config.get("model_kinds"))
