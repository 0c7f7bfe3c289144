-- Leakage check for the uplift features (int_customer_state_as_of, read by fct_uplift_training_exposures
-- and fct_uplift_scoring_customers): no time stamp behind a feature lies at or after as_of_at, and the
-- order, view and add-to-cart counts equal counts recomputed here straight from staging with a strict
-- "< as_of_at". For a training exposure as_of_at is assigned_at, so an order in the attribution window
-- (the outcome) can never reach a feature. Any row returned is a feature point whose features saw data
-- from at/after as_of_at (or lost data before it).
with

states as (

    select * from {{ ref('int_customer_state_as_of') }}

),

training as (

    select * from {{ ref('fct_uplift_training_exposures') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

events as (

    select * from {{ ref('stg_shop__events') }}

),

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

orders_before as (

    select
        states.feature_point_id,
        count(*) as orders_before,
        count_if(orders.ordered_at >= {{ dbt.dateadd('day', -90, 'states.as_of_at') }}) as orders_90d

    from states
    inner join orders
        on states.customer_id = orders.customer_id
        and orders.ordered_at < states.as_of_at
    group by 1

),

web_before as (

    select
        states.feature_point_id,
        count_if(events.event_role = 'product_view') as views_90d,
        count_if(events.event_role = 'add_to_cart') as carts_90d

    from states
    inner join customers
        on states.customer_id = customers.customer_id
    inner join events
        on customers.visitor_id = events.visitor_id
        and events.event_at < states.as_of_at
        and events.event_at >= {{ dbt.dateadd('day', -90, 'states.as_of_at') }}
    group by 1

),

time_stamps_at_or_after_as_of as (

    select
        feature_point_id,
        'time stamp at/after as_of_at' as problem

    from states
    where first_order_at >= as_of_at
        or last_order_at >= as_of_at
        or first_event_at >= as_of_at
        or last_event_at >= as_of_at
        or customer_since_at >= as_of_at
        or tenure_days <= 0
        or days_since_last_order <= 0
        or days_since_last_visit <= 0

),

counts_differ as (

    select
        states.feature_point_id,
        'counts differ from staging before as_of_at' as problem

    from states
    left join orders_before
        on states.feature_point_id = orders_before.feature_point_id
    left join web_before
        on states.feature_point_id = web_before.feature_point_id
    where states.orders_before <> coalesce(orders_before.orders_before, 0)
        or states.orders_90d <> coalesce(orders_before.orders_90d, 0)
        or states.views_90d <> coalesce(web_before.views_90d, 0)
        or states.carts_90d <> coalesce(web_before.carts_90d, 0)

),

training_outcome_before_features as (

    select
        training.exposure_id as feature_point_id,
        'training features measured after the exposure' as problem

    from training
    inner join states
        on training.exposure_id = states.feature_point_id
    where states.as_of_at <> training.assigned_at
        or states.last_order_at >= training.assigned_at
        or states.last_event_at >= training.assigned_at

)

select * from time_stamps_at_or_after_as_of
union all
select * from counts_differ
union all
select * from training_outcome_before_features
