{{ config(materialized='table') }}

-- A table, not a view like the rest of intermediate: it aggregates the whole event log once, and the
-- feature marts read it for several snapshots and windows.
-- Per registered customer and day: the web sessions they started and the views, add-to-carts and
-- purchase events of their visitor id. Events are aggregated per visitor and day first, then matched
-- to the customer through stg_shop__customers.visitor_id. Feature marts sum the days before a cutoff
-- (cutoffs are at midnight, so a day is wholly before or wholly after one).
with

sessionized_events as (

    select * from {{ ref('int_events_sessionized') }}

),

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

visitor_days as (

    select
        visitor_id,
        cast(event_at as date) as activity_date,
        count_if(event_number_in_session = 1) as sessions_started,
        count(*) as events,
        count_if(event_role = 'product_view') as views,
        count_if(event_role = 'add_to_cart') as carts,
        count_if(event_role = 'purchase') as purchases,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at

    from sessionized_events
    group by 1, 2

),

final as (

    select
        customers.customer_id,
        visitor_days.activity_date,
        cast(visitor_days.sessions_started as bigint) as sessions_started,
        cast(visitor_days.events as bigint) as events,
        cast(visitor_days.views as bigint) as views,
        cast(visitor_days.carts as bigint) as carts,
        cast(visitor_days.purchases as bigint) as purchases,
        visitor_days.first_event_at,
        visitor_days.last_event_at

    from visitor_days
    inner join customers
        on visitor_days.visitor_id = customers.visitor_id

)

select * from final
