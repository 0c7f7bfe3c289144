-- Every clean event is in exactly one session: the sessions' event counts add up to stg_shop__events,
-- per event type.
with

sessions as (

    select * from {{ ref('fct_sessions') }}

),

events as (

    select * from {{ ref('stg_shop__events') }}

),

session_totals as (

    select
        sum(events) as events,
        sum(views) as views,
        sum(carts) as carts,
        sum(purchases) as purchases

    from sessions

),

event_totals as (

    select
        count(*) as events,
        count_if(event_type = 'view') as views,
        count_if(event_type = 'addtocart') as carts,
        count_if(event_type = 'transaction') as purchases

    from events

)

select
    session_totals.events as session_events,
    event_totals.events as clean_events,
    session_totals.views as session_views,
    event_totals.views as clean_views,
    session_totals.carts as session_carts,
    event_totals.carts as clean_carts,
    session_totals.purchases as session_purchases,
    event_totals.purchases as clean_purchases

from session_totals
cross join event_totals
where coalesce(session_totals.events, 0) <> event_totals.events
    or coalesce(session_totals.views, 0) <> event_totals.views
    or coalesce(session_totals.carts, 0) <> event_totals.carts
    or coalesce(session_totals.purchases, 0) <> event_totals.purchases
