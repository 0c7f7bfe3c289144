{{ config(materialized='table') }}

-- A table, not a view like the rest of intermediate: it aggregates the whole event log once, and the
-- feature marts read it for several snapshots and windows.
-- Per product and day: web views, add-to-carts and purchases, the visitors who touched the product
-- for the first time that day, and units and revenue sold (orders of every channel, from the order
-- lines). Features "as of" a cutoff sum the days before it; distinct visitors up to a cutoff are the
-- sum of first-time visitors before it. Products outside the catalogue are kept (their ids come from
-- the events and order lines).
with

events as (

    -- events about a product only: page events (and purchases logged without a product) have no product_id
    select * from {{ ref('stg_shop__events') }}
    where product_id is not null

),

order_lines as (

    select * from {{ ref('stg_shop__order_lines') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

event_activity as (

    select
        product_id,
        cast(event_at as date) as activity_date,
        count_if(event_role = 'product_view') as views,
        count_if(event_role = 'add_to_cart') as carts,
        count_if(event_role = 'purchase') as purchases

    from events
    group by 1, 2

),

first_visits as (

    select
        product_id,
        visitor_id,
        min(cast(event_at as date)) as activity_date

    from events
    group by 1, 2

),

new_visitors as (

    select
        product_id,
        activity_date,
        count(*) as new_visitors

    from first_visits
    group by 1, 2

),

sales as (

    select
        order_lines.product_id,
        cast(orders.ordered_at as date) as activity_date,
        sum(order_lines.quantity) as units_sold,
        sum(order_lines.quantity * order_lines.unit_price - coalesce(order_lines.discount_amount, 0)) as revenue

    from order_lines
    inner join orders
        on order_lines.order_id = orders.order_id
    group by 1, 2

),

unioned as (

    select product_id, activity_date, views, carts, purchases, 0 as new_visitors, 0 as units_sold, 0.0 as revenue
    from event_activity

    union all

    select product_id, activity_date, 0 as views, 0 as carts, 0 as purchases, new_visitors, 0 as units_sold, 0.0 as revenue
    from new_visitors

    union all

    select product_id, activity_date, 0 as views, 0 as carts, 0 as purchases, 0 as new_visitors, units_sold, revenue
    from sales

),

final as (

    select
        product_id,
        activity_date,
        cast(sum(views) as bigint) as views,
        cast(sum(carts) as bigint) as carts,
        cast(sum(purchases) as bigint) as purchases,
        cast(sum(new_visitors) as bigint) as new_visitors,
        cast(sum(units_sold) as bigint) as units_sold,
        cast(sum(revenue) as double) as revenue

    from unioned
    group by 1, 2

)

select * from final
