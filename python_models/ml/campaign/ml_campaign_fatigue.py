"""Promotion fatigue flags per contacted customer (recent contacts and a significant drop in response)."""

from retail_lift.tables import from_settings
from retail_lift.tables.campaign import CampaignFatigueConfig, ml_campaign_fatigue


def model(dbt, session):
    dbt.config(materialized="table")
    # the defaults live in CampaignFatigueConfig (a key left unset takes it; the yml states the same)
    config = from_settings(
        CampaignFatigueConfig, "ml_campaign_fatigue",
        window_days=dbt.config.get("window_days"),
        recent_n=dbt.config.get("recent_n"),
        min_recent_exposures=dbt.config.get("min_recent_exposures"),
        alpha=dbt.config.get("alpha"),
    )
    return ml_campaign_fatigue({"fct_promotion_exposures": dbt.ref("fct_promotion_exposures")}, config)
