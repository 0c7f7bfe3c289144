{{
    config(
        on_schema_change='fail',
        **incremental_by_day('activity_date')
    )
}}

-- A table, not a view like the rest of intermediate: it aggregates the whole event log once, and the
-- feature marts read it for several snapshots and windows.
-- Per registered customer, top-level category and day: web views, add-to-carts and purchase events
-- of the customer's visitor id on products of the category, and the order lines bought in it (every
-- channel): units, spend (quantity * unit_price - line discount, which sums to the order amount) and
-- orders. Products outside the catalogue or without a top-level category are left out.
--
-- Incremental by day (macro incremental_by_day: insert_overwrite of activity_date partitions on Spark,
-- delete+insert on activity_date on DuckDB): a run rewrites, with every customer and category of them, the days
--   - with events, on or after the latest day with web activity already loaded minus
--     var('incremental_lookback_days') (new and late events),
--   - earlier days whose purchases differ from the loaded ones (per day: units, spend rounded to 4 decimals,
--     orders; late orders, orders that left the quarantine, orders of customers registered since): the orders
--     are small, so their daily totals are compared over the whole history,
--   - earlier days with web activity of a customer who has none loaded (registered since the last run: the
--     earlier events of the customer's visitor id count from then on),
-- so that the table equals a full refresh as long as late events arrive within the lookback. Not seen: a
-- customer's visitor id that changed, a product that changed category: those need a full refresh.
with

events as (

    select * from {{ ref('stg_shop__events') }}

),

order_lines as (

    select * from {{ ref('stg_shop__order_lines') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

products as (

    select * from {{ ref('int_products_categorized') }}

),

purchases as (

    select
        orders.customer_id,
        products.top_level_category_id,
        cast(orders.ordered_at as date) as activity_date,
        sum(order_lines.quantity) as units,
        sum(order_lines.quantity * order_lines.unit_price - coalesce(order_lines.discount_amount, 0)) as spend,
        count(distinct orders.order_id) as orders

    from order_lines
    inner join orders
        on order_lines.order_id = orders.order_id
    inner join customers
        on orders.customer_id = customers.customer_id
    inner join products
        on order_lines.product_id = products.product_id
    where products.top_level_category_id is not null
    group by 1, 2, 3

),

{% if is_incremental() %}
purchase_days as (

    select activity_date, sum(units) as units, round(sum(spend), 4) as spend, sum(orders) as orders
    from purchases
    group by activity_date

),

loaded_purchase_days as (

    select activity_date, sum(units) as units, round(sum(spend), 4) as spend, sum(orders) as orders
    from {{ this }}
    group by activity_date
    having count_if(units <> 0 or spend <> 0 or orders <> 0) > 0

),

-- customers without web activity loaded: new ones (and those who have none at all)
customers_without_web_activity as (

    select customers.customer_id, customers.visitor_id
    from customers
    left join (
        select distinct customer_id
        from {{ this }}
        where views <> 0 or carts <> 0 or purchases <> 0
    ) as loaded_web
        on customers.customer_id = loaded_web.customer_id
    where loaded_web.customer_id is null

),

rewritten_days as (

    -- the days of new and late events: from the latest day with web activity loaded minus the lookback
    -- (the purchases may reach further: they are compared day by day below)
    select distinct cast(event_at as date) as activity_date
    from events
    where cast(event_at as date) >= {{ incremental_first_day(
              '(select activity_date from ' ~ this ~ ' where views <> 0 or carts <> 0 or purchases <> 0)'
              ~ ' as loaded_web_days', 'activity_date') }}

    union

    -- earlier days whose purchases changed, or that lost every purchase
    {{ days_that_differ('purchase_days', 'loaded_purchase_days', 'activity_date', ['units', 'spend', 'orders']) }}

    union

    -- earlier days with web activity of the customers without any loaded
    select distinct cast(events.event_at as date) as activity_date
    from events
    inner join customers_without_web_activity
        on events.visitor_id = customers_without_web_activity.visitor_id
    inner join products
        on events.product_id = products.product_id
    where products.top_level_category_id is not null

),

day_events as (

    select events.*
    from events
    inner join rewritten_days
        on cast(events.event_at as date) = rewritten_days.activity_date

),

day_purchases as (

    select purchases.*
    from purchases
    inner join rewritten_days
        on purchases.activity_date = rewritten_days.activity_date

),
{% else %}
day_events as (

    select * from events

),

day_purchases as (

    select * from purchases

),
{% endif %}

visitor_category_days as (

    -- products (a few thousand rows) are joined before aggregating, so the events are grouped once
    -- at the visitor x category x day grain
    select
        events.visitor_id,
        products.top_level_category_id,
        cast(events.event_at as date) as activity_date,
        count_if(events.event_role = 'product_view') as views,
        count_if(events.event_role = 'add_to_cart') as carts,
        count_if(events.event_role = 'purchase') as purchases

    from day_events as events
    inner join products
        on events.product_id = products.product_id
    where products.top_level_category_id is not null
    group by 1, 2, 3

),

web_activity as (

    select
        customers.customer_id,
        visitor_category_days.top_level_category_id,
        visitor_category_days.activity_date,
        visitor_category_days.views,
        visitor_category_days.carts,
        visitor_category_days.purchases

    from visitor_category_days
    inner join customers
        on visitor_category_days.visitor_id = customers.visitor_id

),

unioned as (

    select customer_id, top_level_category_id, activity_date, views, carts, purchases, 0 as units, 0.0 as spend, 0 as orders
    from web_activity

    union all

    select customer_id, top_level_category_id, activity_date, 0 as views, 0 as carts, 0 as purchases, units, spend, orders
    from day_purchases

),

final as (

    select
        customer_id,
        top_level_category_id,
        cast(sum(views) as bigint) as views,
        cast(sum(carts) as bigint) as carts,
        cast(sum(purchases) as bigint) as purchases,
        cast(sum(units) as bigint) as units,
        cast(sum(spend) as double) as spend,
        cast(sum(orders) as bigint) as orders,
        -- the partition column on Spark (last: Spark puts partition columns last)
        activity_date

    from unioned
    group by customer_id, top_level_category_id, activity_date

)

select * from final
