"""Campaign target list: every scored customer ranked by expected profit of the promotion, with its status."""

from retail_lift.tables import from_settings
from retail_lift.tables.campaign import CampaignTargetListConfig, ml_campaign_target_list


def model(dbt, session):
    dbt.config(materialized="table")
    # the defaults live in CampaignTargetListConfig; the yml sets the keys from dbt vars (a var passed as a
    # string, "500" or "None", is parsed by the config)
    config = from_settings(
        CampaignTargetListConfig, "ml_campaign_target_list",
        promotion_id=dbt.config.get("promotion_id"),
        budget=dbt.config.get("budget"),
        max_contacts=dbt.config.get("max_contacts"),
        max_contacts_share=dbt.config.get("max_contacts_share"),
        margin_rate=dbt.config.get("margin_rate"),
    )
    return ml_campaign_target_list(
        {"ml_purchase_propensity_scores": dbt.ref("ml_purchase_propensity_scores"),
         "fct_customer_features": dbt.ref("fct_customer_features"),
         "fct_customer_activity_by_weekday_hour": dbt.ref("fct_customer_activity_by_weekday_hour"),
         "dim_campaign_promotions": dbt.ref("dim_campaign_promotions"),
         "ml_campaign_fatigue": dbt.ref("ml_campaign_fatigue"),
         "ml_customer_segments": dbt.ref("ml_customer_segments")},
        config,
    )
