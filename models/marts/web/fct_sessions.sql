{{
    config(
        on_schema_change='fail',
        **incremental_by_day('session_date')
    )
}}

-- One row per web session: when it started and ended, what happened in it, and whether it converted.
-- Sessions cover every clean event, page events included: a session may have no product view.
--
-- Incremental by day (macro incremental_by_day: insert_overwrite of session_date partitions on Spark,
-- delete+insert on session_date on DuckDB): a run rewrites, with every session that started on them,
-- the days on which a session started that
--   - has an event on or after the day of the latest session end already loaded minus
--     var('incremental_lookback_days') (new and late events; sessions merge or start earlier only there),
--   - or was loaded with such an event (its old version, e.g. a session merged into an earlier one),
--   - or was loaded with a customer, acquisition channel or landing category that changed since,
-- so that the table equals a full refresh.
with

all_sessionized_events as (

    select * from {{ ref('int_events_sessionized') }}

),

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

{% if is_incremental() %}
reloaded_days as (

    select cast(session_started_at as date) as session_date
    from all_sessionized_events
    where event_date >= {{ incremental_first_day(this, 'session_ended_at') }}

    union

    select session_date
    from {{ this }}
    where cast(session_ended_at as date) >= {{ incremental_first_day(this, 'session_ended_at') }}

    union

    select loaded.session_date
    from {{ this }} as loaded
    left join customers
        on loaded.visitor_id = customers.visitor_id
    left join products
        on loaded.landing_product_id = products.product_id
    where (loaded.customer_id is distinct from (customers.customer_id))
        or (loaded.acquisition_channel is distinct from (customers.acquisition_channel))
        or (loaded.landing_category_id is distinct from (products.category_id))

),

sessionized_events as (

    select all_sessionized_events.*
    from all_sessionized_events
    inner join reloaded_days
        on cast(all_sessionized_events.session_started_at as date) = reloaded_days.session_date

),
{% else %}
sessionized_events as (

    select * from all_sessionized_events

),
{% endif %}

sessions as (

    select
        session_id,
        visitor_id,
        min(session_started_at) as session_started_at,
        max(event_at) as session_ended_at,
        cast(visitor_session_number as integer) as visitor_session_number,
        -- coalesce first: min_by skips NULL values on DuckDB (it would take a later event's device)
        min_by(coalesce(device, 'unknown'), event_number_in_session) as device,
        -- the first event with a product (page events have none); min_by's NULL handling differs between
        -- engines, so events without a product sort after every event with one
        min_by(
            product_id,
            case when product_id is null then 1000000000 + event_number_in_session else event_number_in_session end
        ) as landing_product_id,
        count(*) as events,
        count_if(event_role = 'page_view') as page_views,
        count_if(event_role = 'product_view') as views,
        count_if(event_role = 'add_to_cart') as carts,
        count_if(event_role = 'purchase') as purchases,
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
        sessions.page_views,
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
