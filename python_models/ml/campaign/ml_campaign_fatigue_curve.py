"""Response rate of promotion contacts by the number of earlier contacts of the same customer."""

from retail_lift.tables import from_settings
from retail_lift.tables.campaign import CampaignFatigueCurveConfig, ml_campaign_fatigue_curve


def model(dbt, session):
    dbt.config(materialized="table")
    # the defaults live in CampaignFatigueCurveConfig (a key left unset takes it; the yml states the same)
    config = from_settings(
        CampaignFatigueCurveConfig, "ml_campaign_fatigue_curve",
        max_prior=dbt.config.get("max_prior"),
        window_days=dbt.config.get("window_days"),
    )
    return ml_campaign_fatigue_curve({"fct_promotion_exposures": dbt.ref("fct_promotion_exposures")}, config)
