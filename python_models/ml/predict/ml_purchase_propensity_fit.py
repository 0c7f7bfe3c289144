"""Purchase propensity (next 30 days): logistic, xgboost and CatBoost compared, the best refitted and scored."""

from retail_lift.pipelines import purchase_propensity_fit


def model(dbt, session):
    dbt.config(materialized="table")
    # the relation itself: the package reads it as Arrow and converts only the rows it trains on or scores
    features = dbt.ref("fct_customer_features")
    return purchase_propensity_fit(features, models=dbt.config.get("model_kinds"))
