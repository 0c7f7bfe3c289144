"""Broadcast (everyone, flat discount) versus targeted (the target list, personalised discounts)."""

from retail_lift.pipelines import broadcast_vs_targeted


def model(dbt, session):
    dbt.config(materialized="table")
    target_list = dbt.ref("ml_campaign_target_list").to_arrow_table().to_pandas()
    return broadcast_vs_targeted(target_list)
