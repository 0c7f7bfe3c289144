{{ config(materialized='table') }}

-- A table, not a view like the rest of intermediate: it joins the whole order and event history to
-- every feature point once, and the classifier and uplift marts read it.
-- One row per feature point (int_feature_points): the customer's state as of as_of_at, computed only from
-- data strictly before as_of_at (doc point_in_time_features), with the shared macros of
-- macros/feature_windows.sql:
--   profile:   the static attributes of stg_shop__customers, and signed_up_at when before as_of_at;
--   tenure:    days from the first sign of the customer before as_of_at (sign-up, order or web event);
--   orders:    orders, revenue, online, discounted and promotion orders, discount amount before as_of_at,
--              orders and revenue in [as_of_at - 30 days, as_of_at) and [as_of_at - 90 days, as_of_at),
--              days since the last order;
--   web:       sessions started, product views, add-to-carts and purchase events of the customer's visitor
--              before as_of_at and in the same windows, days since the last web event.
-- The time stamps of the first and last order and event used are kept so that singular tests can
-- check that nothing at or after as_of_at was read.
with

points as (

    select * from {{ ref('int_feature_points') }}

),

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

events as (

    select * from {{ ref('int_events_sessionized') }}

),

customer_orders as (

    select * from orders
    where orders.customer_id in (select customer_id from points)

),

customer_events as (

    select * from events
    where events.visitor_id in (select visitor_id from points)

),

order_history as (

    {{ order_features_as_of('points', 'customer_orders') }}

),

web_history as (

    {{ web_features_as_of('points', 'customer_events') }}

),

joined as (

    select
        points.feature_point_id,
        points.point_role,
        points.snapshot_role,
        points.experiment_id,
        points.customer_id,
        points.as_of_at,
        customers.age_band,
        customers.gender,
        customers.region,
        customers.acquisition_channel,
        customers.device_preference,
        customers.follows_page,
        customers.heard_of_shop,
        -- a sign-up at or after as_of_at is not known at as_of_at
        case when customers.signed_up_at < points.as_of_at then customers.signed_up_at end as signed_up_at,
        coalesce(order_history.orders_before, 0) as orders_before,
        coalesce(order_history.orders_30d, 0) as orders_30d,
        coalesce(order_history.orders_90d, 0) as orders_90d,
        coalesce(order_history.revenue_before, 0) as revenue_before,
        coalesce(order_history.revenue_30d, 0) as revenue_30d,
        coalesce(order_history.revenue_90d, 0) as revenue_90d,
        coalesce(order_history.online_orders_before, 0) as online_orders_before,
        coalesce(order_history.discounted_orders_before, 0) as discounted_orders_before,
        coalesce(order_history.promotion_orders_before, 0) as promotion_orders_before,
        coalesce(order_history.discount_amount_before, 0) as discount_amount_before,
        coalesce(web_history.sessions_before, 0) as sessions_before,
        coalesce(web_history.sessions_30d, 0) as sessions_30d,
        coalesce(web_history.sessions_90d, 0) as sessions_90d,
        coalesce(web_history.views_before, 0) as views_before,
        coalesce(web_history.views_30d, 0) as views_30d,
        coalesce(web_history.views_90d, 0) as views_90d,
        coalesce(web_history.carts_before, 0) as carts_before,
        coalesce(web_history.carts_30d, 0) as carts_30d,
        coalesce(web_history.carts_90d, 0) as carts_90d,
        coalesce(web_history.purchases_before, 0) as purchases_before,
        coalesce(web_history.purchases_30d, 0) as purchases_30d,
        order_history.first_order_at,
        order_history.last_order_at,
        web_history.first_event_at,
        web_history.last_event_at

    from points
    left join customers
        on points.customer_id = customers.customer_id
    left join order_history
        on points.feature_point_id = order_history.feature_point_id
    left join web_history
        on points.feature_point_id = web_history.feature_point_id

),

final as (

    select
        feature_point_id,
        point_role,
        snapshot_role,
        experiment_id,
        customer_id,
        age_band,
        gender,
        region,
        acquisition_channel,
        device_preference,
        follows_page,
        heard_of_shop,
        -- least() skips NULLs on DuckDB and Spark: the earliest sign of the customer before as_of_at.
        {{ seconds_between('least(signed_up_at, first_order_at, first_event_at)', 'as_of_at') }} / 86400.0
            as tenure_days,
        cast(orders_before as integer) as orders_before,
        cast(orders_30d as integer) as orders_30d,
        cast(orders_90d as integer) as orders_90d,
        cast(revenue_before as double) as revenue_before,
        cast(revenue_30d as double) as revenue_30d,
        cast(revenue_90d as double) as revenue_90d,
        cast(online_orders_before as integer) as online_orders_before,
        cast(discounted_orders_before as integer) as discounted_orders_before,
        case
            when orders_before > 0 then cast(discounted_orders_before as double) / orders_before
        end as discounted_order_share,
        cast(promotion_orders_before as integer) as promotion_orders_before,
        cast(discount_amount_before as double) as discount_amount_before,
        {{ seconds_between('last_order_at', 'as_of_at') }} / 86400.0 as days_since_last_order,
        cast(sessions_before as integer) as sessions_before,
        cast(sessions_30d as integer) as sessions_30d,
        cast(sessions_90d as integer) as sessions_90d,
        cast(views_before as integer) as views_before,
        cast(views_30d as integer) as views_30d,
        cast(views_90d as integer) as views_90d,
        cast(carts_before as integer) as carts_before,
        cast(carts_30d as integer) as carts_30d,
        cast(carts_90d as integer) as carts_90d,
        cast(purchases_before as integer) as purchases_before,
        cast(purchases_30d as integer) as purchases_30d,
        {{ seconds_between('last_event_at', 'as_of_at') }} / 86400.0 as days_since_last_visit,
        signed_up_at,
        least(signed_up_at, first_order_at, first_event_at) as customer_since_at,
        first_order_at,
        last_order_at,
        first_event_at,
        last_event_at,
        as_of_at

    from joined

)

select * from final
