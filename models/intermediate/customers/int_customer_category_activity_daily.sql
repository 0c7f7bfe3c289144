{{ config(materialized='table') }}

-- A table, not a view like the rest of intermediate: it aggregates the whole event log once, and the
-- feature marts read it for several snapshots and windows.
-- Per registered customer, top-level category and day: web views, add-to-carts and purchase events
-- of the customer's visitor id on products of the category, and the order lines bought in it (every
-- channel): units, spend (quantity * unit_price - line discount, which sums to the order amount) and
-- orders. Products outside the catalogue or without a top-level category are left out.
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

    from events
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

unioned as (

    select customer_id, top_level_category_id, activity_date, views, carts, purchases, 0 as units, 0.0 as spend, 0 as orders
    from web_activity

    union all

    select customer_id, top_level_category_id, activity_date, 0 as views, 0 as carts, 0 as purchases, units, spend, orders
    from purchases

),

final as (

    select
        customer_id,
        top_level_category_id,
        activity_date,
        cast(sum(views) as bigint) as views,
        cast(sum(carts) as bigint) as carts,
        cast(sum(purchases) as bigint) as purchases,
        cast(sum(units) as bigint) as units,
        cast(sum(spend) as double) as spend,
        cast(sum(orders) as bigint) as orders

    from unioned
    group by 1, 2, 3

)

select * from final
