"""Acquisition channel: does the customer look like one who came from facebook (channel itself excluded)?"""

from retail_lift.pipelines import acquisition_channel_fit


def model(dbt, session):
    dbt.config(materialized="table")
    features = dbt.ref("fct_customer_features").to_arrow_table().to_pandas()
    return acquisition_channel_fit(features, channel="facebook", models=dbt.config.get("model_kinds"))
