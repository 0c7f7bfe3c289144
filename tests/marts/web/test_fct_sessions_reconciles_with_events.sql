-- Every clean event (page events too) is in exactly one session: the sessions' event counts add up to
-- stg_shop__events, in all and per role.
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
        sum(page_views) as page_views,
        sum(views) as views,
        sum(carts) as carts,
        sum(purchases) as purchases

    from sessions

),

event_totals as (

    select
        count(*) as events,
        count_if(event_role = 'page_view') as page_views,
        count_if(event_role = 'product_view') as views,
        count_if(event_role = 'add_to_cart') as carts,
        count_if(event_role = 'purchase') as purchases

    from events

)

select
    session_totals.events as session_events,
    event_totals.events as clean_events,
    session_totals.page_views as session_page_views,
    event_totals.page_views as clean_page_views,
    session_totals.views as session_views,
    event_totals.views as clean_views,
    session_totals.carts as session_carts,
    event_totals.carts as clean_carts,
    session_totals.purchases as session_purchases,
    event_totals.purchases as clean_purchases

from session_totals
cross join event_totals
where coalesce(session_totals.events, 0) <> event_totals.events
    or coalesce(session_totals.page_views, 0) <> event_totals.page_views
    or coalesce(session_totals.views, 0) <> event_totals.views
    or coalesce(session_totals.carts, 0) <> event_totals.carts
    or coalesce(session_totals.purchases, 0) <> event_totals.purchases
