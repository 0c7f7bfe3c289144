{{
    config(
        materialized='table' if target.type == 'spark' else 'incremental',
        incremental_strategy='delete+insert',
        unique_key='visitor_id',
        on_schema_change='fail',
    )
}}

-- Clean events with their session. A visitor's event starts a new session when more than
-- var('session_timeout_minutes') (default 30) minutes passed since the visitor's previous event;
-- a gap of exactly the timeout stays in the same session. Events at the same instant are ordered
-- view, addtocart, transaction. session_id is a hash of the visitor and the session's first event
-- time, so it is stable across rebuilds.
--
-- Incremental: a run recomputes every visitor with an event at or after the latest event already
-- loaded minus var('incremental_lookback_days') (late-arriving events), replacing all of that
-- visitor's rows (delete+insert on visitor_id). The result equals a full refresh as long as late
-- events arrive within the lookback.
-- On Spark (dbt-spark without Delta) it is a table rebuilt in full: no strategy there can replace all
-- of a visitor's rows (merge needs Delta; insert_overwrite replaces whole partitions).
with

all_events as (

    select * from {{ ref('stg_shop__events') }}

),

{% if is_incremental() %}
changed_visitors as (

    select distinct visitor_id
    from all_events
    where event_at >= (
        select {{ dbt.dateadd('day', -1 * var('incremental_lookback_days'), 'max(event_at)') }}
        from {{ this }}
    )

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
        device,
        event_at,
        case event_type when 'view' then 1 when 'addtocart' then 2 else 3 end as event_type_rank,
        lag(event_at) over visitor_timeline as previous_event_at,
        row_number() over visitor_timeline as visitor_event_number

    from events
    window visitor_timeline as (partition by visitor_id order by event_at, case event_type when 'view' then 1 when 'addtocart' then 2 else 3 end, event_id)

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
        order by event_at, event_type_rank, event_id
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
        device,
        cast(visitor_session_number as integer) as visitor_session_number,
        cast(visitor_event_number - session_first_event_number + 1 as integer) as event_number_in_session,
        {{ seconds_between('previous_event_at', 'event_at') }} as seconds_since_previous_event,
        event_at,
        session_started_at

    from numbered

)

select * from final
