"""Broadcast versus targeted campaign under the model's expectations and under the simulated world's truth."""

from retail_lift.evaluation import (
    CampaignOracleComparisonConfig,
    campaign_oracle_comparison,
    empty_evaluation,
    from_settings,
    truth_is_absent,
)


def model(dbt, session):
    dbt.config(materialized="table")
    # the settings (defaults: CampaignOracleComparisonConfig; the yml states the same); checked before any work
    config = from_settings(CampaignOracleComparisonConfig, "ml_campaign_oracle_comparison",
                           attribution_days=dbt.config.get("attribution_days"))
    # without the simulated world's truth (real data: every truth table empty) the evaluation builds empty
    # with its declared columns (retail_lift.evaluation.truth.NO_TRUTH_NOTE says why; so does the model's description)
    if truth_is_absent(dbt.ref("stg_simulation__truth_customers"), dbt.ref("stg_simulation__truth_customer_arms"),
                       dbt.ref("stg_simulation__truth_exposures")):
        return empty_evaluation("ml_campaign_oracle_comparison")
    target_list = dbt.ref("ml_campaign_target_list").to_arrow_table().to_pandas()
    customer_rates = dbt.ref("stg_simulation__truth_customers").to_arrow_table().to_pandas()
    # only the control's and the campaign promotion's true responses (not a million customers x every arm)
    promotion = str(target_list["promotion_id"].iloc[0]).replace("'", "''") if len(target_list) else ""
    customer_arms = (dbt.ref("stg_simulation__truth_customer_arms")
                     .filter(f"promotion_id in ('control', '{promotion}')")
                     .project("customer_id, promotion_id, p_convert")
                     .to_arrow_table().to_pandas())
    snapshots = dbt.ref("int_snapshot_dates").to_arrow_table().to_pandas()
    return campaign_oracle_comparison(target_list, customer_rates, customer_arms, snapshots, **config.kwargs())
