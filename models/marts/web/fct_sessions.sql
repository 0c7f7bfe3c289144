{{
    config(
        materialized='table' if target.type == 'spark' else 'incremental',
        incremental_strategy='delete+insert',
        unique_key='visitor_id',
        on_schema_change='fail',
    )
}}

-- One row per web session: when it started and ended, what happened in it, and whether it converted.
--
-- Incremental: a run rebuilds every session of the visitors that have events at or after the latest
-- session end already loaded minus var('incremental_lookback_days'), and of the visitors whose
-- customer or landing category changed since (delete+insert on visitor_id), so that the table equals
-- a full refresh.
-- On Spark (dbt-spark without Delta) it is a table rebuilt in full: no strategy there can replace all
-- of a visitor's rows (merge needs Delta; insert_overwrite replaces whole partitions).
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
changed_visitors as (

    select distinct visitor_id
    from all_sessionized_events
    where event_at >= (
        select {{ dbt.dateadd('day', -1 * var('incremental_lookback_days'), 'max(session_ended_at)') }}
        from {{ this }}
    )

    union

    select distinct loaded.visitor_id
    from {{ this }} as loaded
    left join customers
        on loaded.visitor_id = customers.visitor_id
    left join products
        on loaded.landing_product_id = products.product_id
    where (loaded.customer_id is distinct from customers.customer_id)
        or (loaded.acquisition_channel is distinct from customers.acquisition_channel)
        or (loaded.landing_category_id is distinct from products.category_id)

),

sessionized_events as (

    select all_sessionized_events.*
    from all_sessionized_events
    inner join changed_visitors
        on all_sessionized_events.visitor_id = changed_visitors.visitor_id

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
