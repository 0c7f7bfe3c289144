-- One row per customer x snapshot role (int_classifier_snapshot_dates): the features of the customer as of the
-- snapshot's cutoff, computed only from data strictly before feature_cutoff_at (midnight at the start
-- of feature_date), and on the labelled snapshots (train and the oot_* ones) the labels from
-- [feature_date, label_end_date).
-- The score snapshot's cutoff is the day after the last day of data, so it uses all data and has
-- NULL labels. A customer appears in a snapshot when known before its cutoff: signed up, ordered or
-- visited before it. The order and web features are those of int_customer_state_as_of at the snapshot's
-- feature points (int_feature_points, roles train and score): one definition with the uplift models.
-- See doc customer_features.
with

states as (

    select * from {{ ref('int_customer_state_as_of') }}
    where point_role in ('train', 'score')

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

category_features as (

    select * from {{ ref('fct_customer_category_features') }}

),

snapshots as (

    select * from {{ ref('int_classifier_snapshot_dates') }}

),

windows as (

    select
        snapshot_role,
        feature_date,
        feature_cutoff_at,
        label_end_date,
        cast(label_end_date as timestamp) as label_end_at

    from snapshots

),

ranked_categories as (

    select
        customer_id,
        snapshot_role,
        top_level_category_id,
        spend,
        views,
        spend_share,
        count(case when orders > 0 then 1 end) over (partition by customer_id, snapshot_role) as categories_purchased,
        row_number() over (
            partition by customer_id, snapshot_role
            order by spend desc, views desc, top_level_category_id
        ) as category_rank

    from category_features

),

category_summary as (

    select
        customer_id,
        snapshot_role,
        case when spend > 0 or views > 0 then top_level_category_id end as top_category_id,
        coalesce(spend_share, 0.0) as top_category_spend_share,
        categories_purchased

    from ranked_categories
    where category_rank = 1

),

labels as (

    select
        orders.customer_id,
        windows.snapshot_role,
        count(*) as orders_next_30d,
        sum(orders.amount) as revenue_next_30d

    from orders
    inner join windows
        on orders.ordered_at >= windows.feature_cutoff_at
        and orders.ordered_at < windows.label_end_at
    where windows.label_end_date is not null
    group by 1, 2

),

joined as (

    select
        states.customer_id,
        windows.snapshot_role,
        windows.feature_date,
        windows.feature_cutoff_at,
        windows.label_end_date,
        states.age_band,
        states.gender,
        states.region,
        states.acquisition_channel,
        states.device_preference,
        states.follows_page,
        states.heard_of_shop,
        states.signed_up_at,
        states.orders_before as orders_all,
        states.orders_30d,
        states.orders_90d,
        states.revenue_before as revenue_all,
        states.revenue_30d,
        states.revenue_90d,
        states.online_orders_before as online_orders,
        states.discounted_orders_before as discounted_orders,
        states.promotion_orders_before as promotion_orders,
        states.discount_amount_before as discount_amount,
        states.first_order_at,
        states.last_order_at,
        states.sessions_before as sessions_all,
        states.sessions_30d,
        states.views_before as views_all,
        states.carts_before as carts_all,
        states.purchases_before as purchases_all,
        states.views_30d,
        states.carts_30d,
        states.purchases_30d,
        states.first_event_at as first_visit_at,
        states.last_event_at as last_visit_at,
        category_summary.top_category_id,
        coalesce(category_summary.top_category_spend_share, 0.0) as top_category_spend_share,
        coalesce(category_summary.categories_purchased, 0) as categories_purchased,
        labels.orders_next_30d,
        labels.revenue_next_30d

    from states
    inner join windows
        on states.snapshot_role = windows.snapshot_role
    left join category_summary
        on states.customer_id = category_summary.customer_id
        and states.snapshot_role = category_summary.snapshot_role
    left join labels
        on states.customer_id = labels.customer_id
        and states.snapshot_role = labels.snapshot_role
    -- the customer is known at the cutoff: signed up, ordered or visited before it
    where states.signed_up_at is not null
        or states.first_order_at is not null
        or states.first_event_at is not null

),

final as (

    select
        -- keys and snapshot
        customer_id,
        snapshot_role,
        feature_date,
        feature_cutoff_at,

        -- profile
        age_band,
        gender,
        region,
        acquisition_channel,
        device_preference,
        follows_page,
        heard_of_shop,

        -- tenure
        {{ seconds_between('signed_up_at', 'feature_cutoff_at') }} / 86400.0 as days_since_signup,
        {{ seconds_between('first_order_at', 'feature_cutoff_at') }} / 86400.0 as days_since_first_order,
        {{ seconds_between('first_visit_at', 'feature_cutoff_at') }} / 86400.0 as days_since_first_visit,

        -- orders (RFM at the cutoff)
        cast(orders_30d as bigint) as orders_30d,
        cast(orders_90d as bigint) as orders_90d,
        cast(orders_all as bigint) as orders_all,
        cast(revenue_30d as double) as revenue_30d,
        cast(revenue_90d as double) as revenue_90d,
        cast(revenue_all as double) as revenue_all,
        revenue_all / nullif(orders_all, 0) as avg_order_value,
        {{ seconds_between('last_order_at', 'feature_cutoff_at') }} / 86400.0 as days_since_last_order,
        cast(online_orders as double) / nullif(orders_all, 0) as online_order_share,
        first_order_at,
        last_order_at,

        -- discounts and promotions
        cast(discounted_orders as bigint) as discounted_orders,
        cast(discounted_orders as double) / nullif(orders_all, 0) as discounted_order_share,
        cast(promotion_orders as bigint) as promotion_orders,
        cast(promotion_orders as double) / nullif(orders_all, 0) as promotion_order_share,
        cast(discount_amount as double) as discount_amount,

        -- web sessions and funnel
        cast(sessions_30d as bigint) as sessions_30d,
        cast(sessions_all as bigint) as sessions_all,
        cast(views_30d as bigint) as views_30d,
        cast(carts_30d as bigint) as carts_30d,
        cast(purchases_30d as bigint) as purchases_30d,
        cast(views_all as bigint) as views_all,
        cast(carts_all as bigint) as carts_all,
        cast(purchases_all as bigint) as purchases_all,
        cast(carts_all as double) / nullif(views_all, 0) as cart_rate,
        cast(purchases_all as double) / nullif(carts_all, 0) as cart_purchase_rate,
        {{ seconds_between('last_visit_at', 'feature_cutoff_at') }} / 86400.0 as days_since_last_visit,
        first_visit_at,
        last_visit_at,

        -- categories
        top_category_id,
        cast(top_category_spend_share as double) as top_category_spend_share,
        cast(categories_purchased as bigint) as categories_purchased,

        -- labels (train only)
        label_end_date,
        case when label_end_date is not null then coalesce(orders_next_30d, 0) > 0 end as purchased_next_30d,
        case when label_end_date is not null then cast(coalesce(orders_next_30d, 0) as bigint) end as orders_next_30d,
        case when label_end_date is not null then cast(coalesce(revenue_next_30d, 0.0) as double) end as revenue_next_30d,
        case when label_end_date is not null and orders_all = 1 then coalesce(orders_next_30d, 0) > 0 end as returned

    from joined

)

select * from final
