"""Acquisition channel: does the customer look like one who came from facebook (channel itself excluded)?"""

from retail_lift.pipelines import acquisition_channel_fit


def model(dbt, session):
    dbt.config(materialized="table")
    # the relation itself: the package reads it as Arrow and converts only the rows it trains on or scores
    features = dbt.ref("fct_customer_features")
    return acquisition_channel_fit(features, channel="facebook", models=dbt.config.get("model_kinds"))
