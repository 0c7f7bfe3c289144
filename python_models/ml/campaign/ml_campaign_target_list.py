"""Campaign target list: every scored customer ranked by expected profit of the promotion, with its status."""

from retail_lift.pipelines import campaign_target_list


def model(dbt, session):
    dbt.config(materialized="table")
    scores = dbt.ref("ml_purchase_propensity_scores").to_arrow_table().to_pandas()
    # only the columns the target list uses (the table has 50; a million customers in two snapshots)
    features = dbt.ref("fct_customer_features").project(
        "customer_id, snapshot_role, avg_order_value, discounted_order_share, discount_amount, revenue_all, "
        "orders_all").to_arrow_table().to_pandas()
    activity = dbt.ref("fct_customer_activity_by_weekday_hour").to_arrow_table().to_pandas()
    promotions = dbt.ref("dim_campaign_promotions").to_arrow_table().to_pandas()
    fatigue = dbt.ref("ml_campaign_fatigue").to_arrow_table().to_pandas()
    segments = dbt.ref("ml_customer_segments").to_arrow_table().to_pandas()
    budget = dbt.config.get("budget")
    max_contacts = dbt.config.get("max_contacts")
    return campaign_target_list(
        scores,
        features,
        activity,
        promotions,
        fatigue,
        segments,
        promotion_id=dbt.config.get("promotion_id", "email_10pct"),
        budget=None if budget in (None, "", "none", "None") else float(budget),
        max_contacts=None if max_contacts in (None, "", "none", "None") else int(max_contacts),
        max_contacts_share=float(dbt.config.get("max_contacts_share", 0.2)),
    )
