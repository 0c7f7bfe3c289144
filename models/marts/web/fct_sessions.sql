-- One row per web session: when it started and ended, what happened in it, and whether it converted.
with

sessionized_events as (

    select * from {{ ref('int_events_sessionized') }}

),

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

sessions as (

    select
        session_id,
        visitor_id,
        min(session_started_at) as session_started_at,
        max(event_at) as session_ended_at,
        cast(visitor_session_number as integer) as visitor_session_number,
        -- coalesce first: min_by skips NULL values on DuckDB (it would take a later event's device)
        min_by(coalesce(device, 'unknown'), event_number_in_session) as device,
        min_by(product_id, event_number_in_session) as landing_product_id,
        count(*) as events,
        count_if(event_type = 'view') as views,
        count_if(event_type = 'addtocart') as carts,
        count_if(event_type = 'transaction') as purchases,
        count(distinct product_id) as distinct_products

    from sessionized_events
    group by session_id, visitor_id, visitor_session_number

),

final as (

    select
        sessions.session_id,
        sessions.visitor_id,
        customers.customer_id,
        sessions.landing_product_id,
        products.category_id as landing_category_id,
        sessions.device,
        customers.acquisition_channel,
        sessions.visitor_session_number,
        sessions.events,
        sessions.views,
        sessions.carts,
        sessions.purchases,
        sessions.distinct_products,
        {{ seconds_between('sessions.session_started_at', 'sessions.session_ended_at') }} as duration_seconds,
        sessions.purchases > 0 as is_converted,
        sessions.visitor_session_number = 1 as is_first_session,
        sessions.session_started_at,
        sessions.session_ended_at,
        cast(sessions.session_started_at as date) as session_date

    from sessions
    left join customers
        on sessions.visitor_id = customers.visitor_id
    left join products
        on sessions.landing_product_id = products.product_id

)

select * from final
