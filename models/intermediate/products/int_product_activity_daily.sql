{{
    config(
        on_schema_change='fail',
        **incremental_by_day('activity_date')
    )
}}

-- A table, not a view like the rest of intermediate: it aggregates the whole event log once, and the
-- feature marts read it for several snapshots and windows.
-- Per product and day: web views, add-to-carts and purchases, the visitors who touched the product
-- for the first time that day, and units and revenue sold (orders of every channel, from the order
-- lines). Features "as of" a cutoff sum the days before it; distinct visitors up to a cutoff are the
-- sum of first-time visitors before it. Products outside the catalogue are kept (their ids come from
-- the events and order lines).
--
-- Incremental by day (macro incremental_by_day: insert_overwrite of activity_date partitions on Spark,
-- delete+insert on activity_date on DuckDB): a run rewrites, with every product of them, the days
--   - with events, on or after the latest day with web activity already loaded minus
--     var('incremental_lookback_days') (new and late events),
--   - and the earlier days whose sales differ from the loaded ones (order lines per day: units, revenue rounded
--     to 4 decimals, products sold; late orders, orders that left the quarantine): the orders are small, so
--     their daily totals are compared over the whole history.
-- On a rewritten day, a visitor counts as new for a product when none of the visitor's events of the product
-- (the whole log, for the visitor-product pairs of those days only) is earlier. The table equals a full refresh
-- as long as late events arrive within the lookback (as for int_events_sessionized).
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

all_sales_lines as (

    select
        order_lines.product_id,
        cast(orders.ordered_at as date) as activity_date,
        order_lines.quantity,
        order_lines.quantity * order_lines.unit_price - coalesce(order_lines.discount_amount, 0) as revenue

    from order_lines
    inner join orders
        on order_lines.order_id = orders.order_id

),

{% if is_incremental() %}
sales_days as (

    select
        activity_date,
        sum(quantity) as units_sold,
        round(sum(revenue), 4) as revenue,
        count(distinct product_id) as products_sold

    from all_sales_lines
    group by activity_date

),

loaded_sales_days as (

    select
        activity_date,
        sum(units_sold) as units_sold,
        round(sum(revenue), 4) as revenue,
        count_if(units_sold <> 0 or revenue <> 0) as products_sold

    from {{ this }}
    group by activity_date
    having count_if(units_sold <> 0 or revenue <> 0) > 0

),

rewritten_days as (

    -- the days of new and late events: from the latest day with web activity loaded minus the lookback
    -- (the sales may reach further: they are compared day by day below)
    select distinct cast(event_at as date) as activity_date
    from events
    where cast(event_at as date) >= {{ incremental_first_day(
              '(select activity_date from ' ~ this ~ ' where views <> 0 or carts <> 0 or purchases <> 0'
              ~ ' or new_visitors <> 0) as loaded_web_days', 'activity_date') }}

    union

    -- earlier days whose sales changed, or that lost every sale
    {{ days_that_differ('sales_days', 'loaded_sales_days', 'activity_date', ['units_sold', 'revenue', 'products_sold']) }}

),

day_events as (

    select events.*
    from events
    inner join rewritten_days
        on cast(events.event_at as date) = rewritten_days.activity_date

),

sales_lines as (

    select all_sales_lines.*
    from all_sales_lines
    inner join rewritten_days
        on all_sales_lines.activity_date = rewritten_days.activity_date

),

day_pairs as (

    select distinct product_id, visitor_id
    from day_events

),

-- the whole history of the visitor-product pairs of the rewritten days (their first visit may be earlier)
pair_events as (

    select events.product_id, events.visitor_id, events.event_at
    from events
    inner join day_pairs
        on events.product_id = day_pairs.product_id
        and events.visitor_id = day_pairs.visitor_id

),
{% else %}
day_events as (

    select * from events

),

sales_lines as (

    select * from all_sales_lines

),

pair_events as (

    select * from events

),
{% endif %}

event_activity as (

    select
        product_id,
        cast(event_at as date) as activity_date,
        count_if(event_role = 'product_view') as views,
        count_if(event_role = 'add_to_cart') as carts,
        count_if(event_role = 'purchase') as purchases

    from day_events
    group by 1, 2

),

first_visits as (

    select
        product_id,
        visitor_id,
        min(cast(event_at as date)) as activity_date

    from pair_events
    group by 1, 2

),

new_visitors as (

    select
        first_visits.product_id,
        first_visits.activity_date,
        count(*) as new_visitors

    from first_visits
    {% if is_incremental() %}
    inner join rewritten_days
        on first_visits.activity_date = rewritten_days.activity_date
    {% endif %}
    group by 1, 2

),

sales as (

    select
        product_id,
        activity_date,
        sum(quantity) as units_sold,
        sum(revenue) as revenue

    from sales_lines
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
        cast(sum(views) as bigint) as views,
        cast(sum(carts) as bigint) as carts,
        cast(sum(purchases) as bigint) as purchases,
        cast(sum(new_visitors) as bigint) as new_visitors,
        cast(sum(units_sold) as bigint) as units_sold,
        cast(sum(revenue) as double) as revenue,
        -- the partition column on Spark (last: Spark puts partition columns last)
        activity_date

    from unioned
    group by product_id, activity_date

)

select * from final
