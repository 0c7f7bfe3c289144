-- The journeys account for every clean product event (roles product_view, add_to_cart, and purchase with
-- a product_id: one row per visitor × product, event counts per role add up); the product funnel's
-- purchases never exceed the purchase events; the overall all-time funnel
-- equals the journeys with a view; every breakdown partitions the same journeys (its values add up to
-- the overall row), and the daily rows add up to the all-time rows.
with

events as (

    select * from {{ ref('stg_shop__events') }}
    where product_id is not null
        and event_role in ('product_view', 'add_to_cart', 'purchase')

),

journeys as (

    select * from {{ ref('fct_product_journeys') }}

),

funnel as (

    select * from {{ ref('fct_product_funnel') }}

),

event_totals as (

    select
        count(distinct concat(visitor_id, '|', product_id)) as pairs,
        count_if(event_role = 'product_view') as views,
        count_if(event_role = 'add_to_cart') as carts,
        count_if(event_role = 'purchase') as purchases

    from events

),

journey_totals as (

    select
        count(*) as pairs,
        sum(views) as views,
        sum(carts) as carts,
        sum(purchases) as purchases,
        count_if(is_viewed) as journeys_viewed,
        count_if(is_carted) as journeys_carted,
        count_if(is_purchased) as journeys_purchased

    from journeys

),

overall as (

    select *
    from funnel
    where breakdown = 'overall'
        and funnel_date is null

),

breakdown_sums as (

    select
        breakdown,
        funnel_date is null as is_all_time,
        sum(journeys_viewed) as journeys_viewed,
        sum(journeys_carted) as journeys_carted,
        sum(journeys_purchased) as journeys_purchased

    from funnel
    group by 1, 2

),

failures as (

    select 'journeys do not account for every event' as failure
    from journey_totals
    cross join event_totals
    where journey_totals.pairs <> event_totals.pairs
        or journey_totals.views <> event_totals.views
        or journey_totals.carts <> event_totals.carts
        or journey_totals.purchases <> event_totals.purchases

    union all

    select 'funnel purchases exceed purchase events' as failure
    from overall
    cross join event_totals
    where overall.journeys_purchased > event_totals.purchases

    union all

    select 'overall funnel differs from the journeys' as failure
    from overall
    cross join journey_totals
    where overall.journeys_viewed <> journey_totals.journeys_viewed
        or overall.journeys_carted <> journey_totals.journeys_carted
        or overall.journeys_purchased <> journey_totals.journeys_purchased

    union all

    select concat('breakdown ', breakdown_sums.breakdown, ' does not add up to the overall funnel') as failure
    from breakdown_sums
    cross join overall
    where breakdown_sums.journeys_viewed <> overall.journeys_viewed
        or breakdown_sums.journeys_carted <> overall.journeys_carted
        or breakdown_sums.journeys_purchased <> overall.journeys_purchased

)

select * from failures
