-- The weekday × hour grid has all 168 slots, and its events and sessions add up to the clean events
-- and to fct_sessions.
with

activity as (

    select * from {{ ref('fct_activity_by_weekday_hour') }}

),

events as (

    select * from {{ ref('stg_shop__events') }}

),

sessions as (

    select * from {{ ref('fct_sessions') }}

),

activity_totals as (

    select
        count(*) as slots,
        sum(views) as views,
        sum(carts) as carts,
        sum(purchases) as purchases,
        sum(sessions) as sessions,
        sum(converted_sessions) as converted_sessions

    from activity

),

event_totals as (

    select
        count_if(event_role = 'product_view') as views,
        count_if(event_role = 'add_to_cart') as carts,
        count_if(event_role = 'purchase') as purchases

    from events

),

session_totals as (

    select
        count(*) as sessions,
        count_if(is_converted) as converted_sessions

    from sessions

)

select *
from activity_totals
cross join event_totals
cross join session_totals
where activity_totals.slots <> 168
    or activity_totals.views <> event_totals.views
    or activity_totals.carts <> event_totals.carts
    or activity_totals.purchases <> event_totals.purchases
    or activity_totals.sessions <> session_totals.sessions
    or activity_totals.converted_sessions <> session_totals.converted_sessions
