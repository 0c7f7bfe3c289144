-- One row per registered customer: the customer's state strictly before the score cutoff of
-- int_snapshot_dates (midnight after the last day of data; the score points of int_feature_points),
-- with the same feature definitions as
-- fct_uplift_training_exposures (both come from int_customer_state_as_of). The rows the uplift models
-- score for every promotion arm (doc uplift_features).
with

customer_states as (

    select * from {{ ref('int_customer_state_as_of') }}

),

final as (

    select
        customer_id,
        age_band,
        gender,
        region,
        acquisition_channel,
        device_preference,
        follows_page,
        heard_of_shop,
        tenure_days,
        orders_before,
        orders_30d,
        orders_90d,
        revenue_before,
        revenue_30d,
        revenue_90d,
        discounted_order_share,
        days_since_last_order,
        sessions_30d,
        sessions_90d,
        views_30d,
        views_90d,
        carts_30d,
        carts_90d,
        days_since_last_visit,
        as_of_at as scored_as_of_at

    from customer_states
    where point_role = 'score'

)

select * from final
