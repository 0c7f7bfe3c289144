-- One row per customer x snapshot role (int_classifier_snapshot_dates): the features of the customer as of the
-- snapshot's cutoff, computed only from data strictly before feature_cutoff_at (midnight at the start
-- of feature_date), and on the labelled snapshots (train and the oot_* ones) the labels from
-- [feature_date, label_end_date).
-- The score snapshot's cutoff is the day after the last day of data, so it uses all data and has
-- NULL labels. A customer appears in a snapshot when known before its cutoff: signed up, ordered or
-- visited before it. See doc customer_features.
with

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

web_activity as (

    select * from {{ ref('int_customer_web_activity_daily') }}

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
        cast(label_end_date as timestamp) as label_end_at,
        {{ dbt.dateadd('day', -30, 'feature_cutoff_at') }} as window_30d_start_at,
        {{ dbt.dateadd('day', -90, 'feature_cutoff_at') }} as window_90d_start_at,
        cast({{ dbt.dateadd('day', -30, 'feature_date') }} as date) as window_30d_start_date

    from snapshots

),

order_features as (

    select
        orders.customer_id,
        windows.snapshot_role,
        count(*) as orders_all,
        count_if(orders.ordered_at >= windows.window_30d_start_at) as orders_30d,
        count_if(orders.ordered_at >= windows.window_90d_start_at) as orders_90d,
        sum(orders.amount) as revenue_all,
        sum(case when orders.ordered_at >= windows.window_30d_start_at then orders.amount else 0 end)
            as revenue_30d,
        sum(case when orders.ordered_at >= windows.window_90d_start_at then orders.amount else 0 end)
            as revenue_90d,
        count_if(orders.channel = 'online') as online_orders,
        count_if(coalesce(orders.discount_amount, 0) > 0) as discounted_orders,
        count_if(orders.promotion_id is not null and orders.promotion_id <> 'control') as promotion_orders,
        sum(coalesce(orders.discount_amount, 0)) as discount_amount,
        min(orders.ordered_at) as first_order_at,
        max(orders.ordered_at) as last_order_at

    from orders
    inner join windows
        on orders.ordered_at < windows.feature_cutoff_at
    group by 1, 2

),

web_features as (

    select
        web_activity.customer_id,
        windows.snapshot_role,
        sum(web_activity.sessions_started) as sessions_all,
        sum(
            case when web_activity.activity_date >= windows.window_30d_start_date then web_activity.sessions_started else 0 end
        ) as sessions_30d,
        sum(web_activity.views) as views_all,
        sum(web_activity.carts) as carts_all,
        sum(web_activity.purchases) as purchases_all,
        sum(case when web_activity.activity_date >= windows.window_30d_start_date then web_activity.views else 0 end)
            as views_30d,
        sum(case when web_activity.activity_date >= windows.window_30d_start_date then web_activity.carts else 0 end)
            as carts_30d,
        sum(case when web_activity.activity_date >= windows.window_30d_start_date then web_activity.purchases else 0 end)
            as purchases_30d,
        min(web_activity.first_event_at) as first_visit_at,
        max(web_activity.last_event_at) as last_visit_at

    from web_activity
    inner join windows
        on web_activity.activity_date < windows.feature_date
    group by 1, 2

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
        customers.customer_id,
        windows.snapshot_role,
        windows.feature_date,
        windows.feature_cutoff_at,
        windows.label_end_date,
        customers.age_band,
        customers.gender,
        customers.region,
        customers.acquisition_channel,
        customers.device_preference,
        customers.follows_page,
        customers.heard_of_shop,
        -- a sign-up on or after the cutoff is not known at the cutoff
        case when customers.signed_up_at < windows.feature_cutoff_at then customers.signed_up_at end as signed_up_at,
        coalesce(order_features.orders_all, 0) as orders_all,
        coalesce(order_features.orders_30d, 0) as orders_30d,
        coalesce(order_features.orders_90d, 0) as orders_90d,
        coalesce(order_features.revenue_all, 0.0) as revenue_all,
        coalesce(order_features.revenue_30d, 0.0) as revenue_30d,
        coalesce(order_features.revenue_90d, 0.0) as revenue_90d,
        coalesce(order_features.online_orders, 0) as online_orders,
        coalesce(order_features.discounted_orders, 0) as discounted_orders,
        coalesce(order_features.promotion_orders, 0) as promotion_orders,
        coalesce(order_features.discount_amount, 0.0) as discount_amount,
        order_features.first_order_at,
        order_features.last_order_at,
        coalesce(web_features.sessions_all, 0) as sessions_all,
        coalesce(web_features.sessions_30d, 0) as sessions_30d,
        coalesce(web_features.views_all, 0) as views_all,
        coalesce(web_features.carts_all, 0) as carts_all,
        coalesce(web_features.purchases_all, 0) as purchases_all,
        coalesce(web_features.views_30d, 0) as views_30d,
        coalesce(web_features.carts_30d, 0) as carts_30d,
        coalesce(web_features.purchases_30d, 0) as purchases_30d,
        web_features.first_visit_at,
        web_features.last_visit_at,
        category_summary.top_category_id,
        coalesce(category_summary.top_category_spend_share, 0.0) as top_category_spend_share,
        coalesce(category_summary.categories_purchased, 0) as categories_purchased,
        labels.orders_next_30d,
        labels.revenue_next_30d

    from customers
    cross join windows
    left join order_features
        on customers.customer_id = order_features.customer_id
        and windows.snapshot_role = order_features.snapshot_role
    left join web_features
        on customers.customer_id = web_features.customer_id
        and windows.snapshot_role = web_features.snapshot_role
    left join category_summary
        on customers.customer_id = category_summary.customer_id
        and windows.snapshot_role = category_summary.snapshot_role
    left join labels
        on customers.customer_id = labels.customer_id
        and windows.snapshot_role = labels.snapshot_role
    -- the customer is known at the cutoff: signed up, ordered or visited before it
    where customers.signed_up_at < windows.feature_cutoff_at
        or order_features.customer_id is not null
        or web_features.customer_id is not null

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
