{{
    config(
        on_schema_change='fail',
        **incremental_by_day('event_date')
    )
}}

-- Clean events with their session. A visitor's event starts a new session when more than
-- var('session_timeout_minutes') (default 30) minutes passed since the visitor's previous event;
-- a gap of exactly the timeout stays in the same session. Every clean event counts, whatever its role
-- (page events without a product too). Events at the same instant are ordered by role (macro
-- event_role_rank: page_view, search, product_view, add_to_cart, other, view_cart, begin_checkout,
-- add_payment_info, purchase, refund), then by event_id. session_id is a hash of the visitor and the session's first event
-- time, so it is stable across rebuilds.
--
-- Incremental by day (macro incremental_by_day: insert_overwrite of event_date partitions on Spark,
-- delete+insert on event_date on DuckDB): a run rewrites every day from the day of the latest event
-- already loaded minus var('incremental_lookback_days') (late-arriving events). It sessionizes the whole
-- history of every visitor with an event on those days and keeps the events of those days, so that each
-- rewritten day is complete. A late event changes only its visitor's events at or after it, so the result
-- equals a full refresh as long as late events arrive within the lookback.
with

all_events as (

    select * from {{ ref('stg_shop__events') }}

),

{% if is_incremental() %}
changed_visitors as (

    select distinct visitor_id
    from all_events
    where cast(event_at as date) >= {{ incremental_first_day(this, 'event_at') }}

),

events as (

    select all_events.*
    from all_events
    inner join changed_visitors
        on all_events.visitor_id = changed_visitors.visitor_id

),
{% else %}
events as (

    select * from all_events

),
{% endif %}

ordered as (

    select
        event_id,
        visitor_id,
        product_id,
        transaction_id,
        event_type,
        event_role,
        device,
        event_at,
        {{ event_role_rank('event_role') }} as event_role_rank,
        lag(event_at) over visitor_timeline as previous_event_at,
        row_number() over visitor_timeline as visitor_event_number

    from events
    window visitor_timeline as (partition by visitor_id order by event_at, {{ event_role_rank('event_role') }}, event_id)

),

flagged as (

    select
        *,
        case
            when previous_event_at is null then 1
            when event_at > previous_event_at + interval '{{ var("session_timeout_minutes") }}' minute then 1
            else 0
        end as is_session_start

    from ordered

),

numbered as (

    select
        *,
        sum(is_session_start) over visitor_running as visitor_session_number,
        max(case when is_session_start = 1 then event_at end) over visitor_running as session_started_at,
        max(case when is_session_start = 1 then visitor_event_number end) over visitor_running as session_first_event_number

    from flagged
    window visitor_running as (
        partition by visitor_id
        order by event_at, event_role_rank, event_id
        rows between unbounded preceding and current row
    )

),

final as (

    select
        event_id,
        {{ surrogate_key(['visitor_id', epoch_micros('session_started_at')]) }} as session_id,
        visitor_id,
        product_id,
        transaction_id,
        event_type,
        event_role,
        device,
        cast(visitor_session_number as integer) as visitor_session_number,
        cast(visitor_event_number - session_first_event_number + 1 as integer) as event_number_in_session,
        {{ seconds_between('previous_event_at', 'event_at') }} as seconds_since_previous_event,
        event_at,
        session_started_at,
        -- the partition column on Spark (last: Spark puts partition columns last)
        cast(event_at as date) as event_date

    from numbered
    {% if is_incremental() %}
    -- whole days only: the rewritten days, each with every event of it
    where cast(event_at as date) >= {{ incremental_first_day(this, 'event_at') }}
    {% endif %}

)

select * from final
