"""Broadcast (everyone, flat discount) versus targeted (the target list, personalised discounts)."""

from retail_lift.tables import from_settings
from retail_lift.tables.campaign import CampaignBroadcastVsTargetedConfig, ml_campaign_broadcast_vs_targeted


def model(dbt, session):
    dbt.config(materialized="table")
    # no settings: everything comes from the target list
    config = from_settings(CampaignBroadcastVsTargetedConfig, "ml_campaign_broadcast_vs_targeted")
    return ml_campaign_broadcast_vs_targeted({"ml_campaign_target_list": dbt.ref("ml_campaign_target_list")}, config)
