{{ config(materialized='table') }}

-- A table, not a view like the rest of intermediate: it joins the whole order and event history to
-- every feature point once, and both uplift marts (training and scoring) read it.
-- One row per feature point (int_uplift_feature_points): the customer's state as of as_of_at,
-- computed only from data strictly before as_of_at (doc uplift_features):
--   profile:   the static attributes of dim_customers;
--   tenure:    days from the first sign of the customer before as_of_at (sign-up, order or web event);
--   orders:    orders, revenue, discounted orders before as_of_at, in [as_of_at - 30 days, as_of_at)
--              and [as_of_at - 90 days, as_of_at), days since the last order;
--   web:       sessions started, views and add-to-carts of the customer's visitor in the same windows,
--              days since the last web event.
-- The time stamps of the first and last order and event used are kept so that a singular test can
-- check that nothing at or after as_of_at was read.
with

points as (

    select * from {{ ref('int_uplift_feature_points') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

events as (

    select * from {{ ref('int_events_sessionized') }}

),

point_windows as (

    select
        points.feature_point_id,
        points.point_role,
        points.customer_id,
        points.as_of_at,
        customers.visitor_id,
        {{ dbt.dateadd('day', -30, 'points.as_of_at') }} as window_30d_starts_at,
        {{ dbt.dateadd('day', -90, 'points.as_of_at') }} as window_90d_starts_at

    from points
    left join customers
        on points.customer_id = customers.customer_id

),

order_history as (

    select
        point_windows.feature_point_id,
        count(*) as orders_before,
        count_if(orders.ordered_at >= point_windows.window_30d_starts_at) as orders_30d,
        count_if(orders.ordered_at >= point_windows.window_90d_starts_at) as orders_90d,
        sum(coalesce(orders.amount, 0)) as revenue_before,
        sum(case when orders.ordered_at >= point_windows.window_30d_starts_at then coalesce(orders.amount, 0) else 0 end)
            as revenue_30d,
        sum(case when orders.ordered_at >= point_windows.window_90d_starts_at then coalesce(orders.amount, 0) else 0 end)
            as revenue_90d,
        count_if(coalesce(orders.discount_amount, 0) > 0) as discounted_orders_before,
        min(orders.ordered_at) as first_order_at,
        max(orders.ordered_at) as last_order_at

    from point_windows
    inner join orders
        on point_windows.customer_id = orders.customer_id
        and orders.ordered_at < point_windows.as_of_at
    group by point_windows.feature_point_id

),

customer_events as (

    select
        events.visitor_id,
        events.event_type,
        events.event_role,
        events.event_number_in_session,
        events.event_at

    from events
    where events.visitor_id in (select visitor_id from point_windows)

),

web_history as (

    select
        point_windows.feature_point_id,
        count_if(customer_events.event_number_in_session = 1
            and customer_events.event_at >= point_windows.window_30d_starts_at) as sessions_30d,
        count_if(customer_events.event_number_in_session = 1
            and customer_events.event_at >= point_windows.window_90d_starts_at) as sessions_90d,
        count_if(customer_events.event_role = 'product_view'
            and customer_events.event_at >= point_windows.window_30d_starts_at) as views_30d,
        count_if(customer_events.event_role = 'product_view'
            and customer_events.event_at >= point_windows.window_90d_starts_at) as views_90d,
        count_if(customer_events.event_role = 'add_to_cart'
            and customer_events.event_at >= point_windows.window_30d_starts_at) as carts_30d,
        count_if(customer_events.event_role = 'add_to_cart'
            and customer_events.event_at >= point_windows.window_90d_starts_at) as carts_90d,
        min(customer_events.event_at) as first_event_at,
        max(customer_events.event_at) as last_event_at

    from point_windows
    inner join customer_events
        on point_windows.visitor_id = customer_events.visitor_id
        and customer_events.event_at < point_windows.as_of_at
    group by point_windows.feature_point_id

),

joined as (

    select
        point_windows.feature_point_id,
        point_windows.point_role,
        point_windows.customer_id,
        point_windows.as_of_at,
        customers.age_band,
        customers.gender,
        customers.region,
        customers.acquisition_channel,
        customers.device_preference,
        customers.follows_page,
        customers.heard_of_shop,
        -- least() skips NULLs on DuckDB and Spark: the earliest sign of the customer before as_of_at.
        least(
            case when customers.signed_up_at < point_windows.as_of_at then customers.signed_up_at end,
            order_history.first_order_at,
            web_history.first_event_at
        ) as customer_since_at,
        coalesce(order_history.orders_before, 0) as orders_before,
        coalesce(order_history.orders_30d, 0) as orders_30d,
        coalesce(order_history.orders_90d, 0) as orders_90d,
        coalesce(order_history.revenue_before, 0) as revenue_before,
        coalesce(order_history.revenue_30d, 0) as revenue_30d,
        coalesce(order_history.revenue_90d, 0) as revenue_90d,
        coalesce(order_history.discounted_orders_before, 0) as discounted_orders_before,
        coalesce(web_history.sessions_30d, 0) as sessions_30d,
        coalesce(web_history.sessions_90d, 0) as sessions_90d,
        coalesce(web_history.views_30d, 0) as views_30d,
        coalesce(web_history.views_90d, 0) as views_90d,
        coalesce(web_history.carts_30d, 0) as carts_30d,
        coalesce(web_history.carts_90d, 0) as carts_90d,
        order_history.first_order_at,
        order_history.last_order_at,
        web_history.first_event_at,
        web_history.last_event_at

    from point_windows
    left join customers
        on point_windows.customer_id = customers.customer_id
    left join order_history
        on point_windows.feature_point_id = order_history.feature_point_id
    left join web_history
        on point_windows.feature_point_id = web_history.feature_point_id

),

final as (

    select
        feature_point_id,
        point_role,
        customer_id,
        age_band,
        gender,
        region,
        acquisition_channel,
        device_preference,
        follows_page,
        heard_of_shop,
        {{ seconds_between('customer_since_at', 'as_of_at') }} / 86400.0 as tenure_days,
        cast(orders_before as integer) as orders_before,
        cast(orders_30d as integer) as orders_30d,
        cast(orders_90d as integer) as orders_90d,
        cast(revenue_before as double) as revenue_before,
        cast(revenue_30d as double) as revenue_30d,
        cast(revenue_90d as double) as revenue_90d,
        cast(discounted_orders_before as integer) as discounted_orders_before,
        case
            when orders_before > 0 then cast(discounted_orders_before as double) / orders_before
        end as discounted_order_share,
        {{ seconds_between('last_order_at', 'as_of_at') }} / 86400.0 as days_since_last_order,
        cast(sessions_30d as integer) as sessions_30d,
        cast(sessions_90d as integer) as sessions_90d,
        cast(views_30d as integer) as views_30d,
        cast(views_90d as integer) as views_90d,
        cast(carts_30d as integer) as carts_30d,
        cast(carts_90d as integer) as carts_90d,
        {{ seconds_between('last_event_at', 'as_of_at') }} / 86400.0 as days_since_last_visit,
        customer_since_at,
        first_order_at,
        last_order_at,
        first_event_at,
        last_event_at,
        as_of_at

    from joined

)

select * from final
