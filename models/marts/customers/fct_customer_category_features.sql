-- One row per customer x top-level category x snapshot role (int_classifier_snapshot_dates), for the customers
-- with any activity in a categorised product before the cutoff: what they viewed, carted and bought
-- in the category before feature_date, its share of their spend and views, and on the labelled
-- snapshot the label: did they buy in the category in [feature_date, label_end_date).
-- Built from the daily aggregate int_customer_category_activity_daily; the customer x category grid
-- is formed only after aggregation.
with

activity as (

    select * from {{ ref('int_customer_category_activity_daily') }}

),

categories as (

    select * from {{ ref('int_categories_rolled_up') }}

),

snapshots as (

    select * from {{ ref('int_classifier_snapshot_dates') }}

),

windows as (

    select
        snapshot_role,
        feature_date,
        label_end_date,
        cast({{ dbt.dateadd('day', -30, 'feature_date') }} as date) as window_30d_start_date

    from snapshots

),

top_level_categories as (

    select
        category_id as top_level_category_id

    from categories
    where category_id = top_level_category_id

),

features as (

    select
        activity.customer_id,
        activity.top_level_category_id,
        windows.snapshot_role,
        sum(activity.views) as views,
        sum(activity.carts) as carts,
        sum(activity.purchases) as purchases,
        sum(case when activity.activity_date >= windows.window_30d_start_date then activity.views else 0 end)
            as views_30d,
        sum(activity.orders) as orders,
        sum(activity.units) as units,
        sum(activity.spend) as spend,
        sum(case when activity.activity_date >= windows.window_30d_start_date then activity.spend else 0 end)
            as spend_30d,
        max(case when activity.orders > 0 then activity.activity_date end) as last_purchase_date

    from activity
    inner join windows
        on activity.activity_date < windows.feature_date
    group by 1, 2, 3

),

labels as (

    select
        activity.customer_id,
        activity.top_level_category_id,
        windows.snapshot_role,
        sum(activity.orders) as orders_next_30d,
        sum(activity.spend) as spend_next_30d

    from activity
    inner join windows
        on activity.activity_date >= windows.feature_date
        and activity.activity_date < windows.label_end_date
    where windows.label_end_date is not null
    group by 1, 2, 3

),

active_customers as (

    select distinct
        customer_id,
        snapshot_role

    from features

),

grid as (

    select
        active_customers.customer_id,
        top_level_categories.top_level_category_id,
        active_customers.snapshot_role,
        windows.feature_date,
        windows.label_end_date

    from active_customers
    cross join top_level_categories
    inner join windows
        on active_customers.snapshot_role = windows.snapshot_role

),

joined as (

    select
        grid.customer_id,
        grid.top_level_category_id,
        grid.snapshot_role,
        grid.feature_date,
        grid.label_end_date,
        cast(coalesce(features.views, 0) as bigint) as views,
        cast(coalesce(features.views_30d, 0) as bigint) as views_30d,
        cast(coalesce(features.carts, 0) as bigint) as carts,
        cast(coalesce(features.purchases, 0) as bigint) as purchases,
        cast(coalesce(features.orders, 0) as bigint) as orders,
        cast(coalesce(features.units, 0) as bigint) as units,
        cast(coalesce(features.spend, 0) as double) as spend,
        cast(coalesce(features.spend_30d, 0) as double) as spend_30d,
        features.last_purchase_date,
        labels.orders_next_30d,
        labels.spend_next_30d

    from grid
    left join features
        on grid.customer_id = features.customer_id
        and grid.top_level_category_id = features.top_level_category_id
        and grid.snapshot_role = features.snapshot_role
    left join labels
        on grid.customer_id = labels.customer_id
        and grid.top_level_category_id = labels.top_level_category_id
        and grid.snapshot_role = labels.snapshot_role

),

final as (

    select
        customer_id,
        top_level_category_id,
        snapshot_role,
        feature_date,
        views,
        views_30d,
        carts,
        purchases,
        orders,
        units,
        spend,
        spend_30d,
        spend / nullif(sum(spend) over customer_snapshot, 0) as spend_share,
        cast(views as double) / nullif(sum(views) over customer_snapshot, 0) as view_share,
        cast({{ dbt.datediff('last_purchase_date', 'feature_date', 'day') }} as integer) as days_since_last_purchase,
        label_end_date,
        case when label_end_date is not null then coalesce(orders_next_30d, 0) > 0 end as purchased_category_next_30d,
        case when label_end_date is not null then cast(coalesce(spend_next_30d, 0) as double) end as spend_next_30d

    from joined
    window customer_snapshot as (partition by customer_id, snapshot_role)

)

select * from final
