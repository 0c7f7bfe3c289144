{{
    config(
        on_schema_change='fail',
        **incremental_by_day('session_date')
    )
}}

-- One row per web session: how many steps of var('funnel_steps') it reached, in order (fct_funnel counts them
-- by breakdown and day). A session reaches step k when it has events matching steps 1..k in that order (by event
-- order in the session: time, then role rank). A step matches an event whose role (seed event_roles) or
-- lower-cased name equals it, so a step that is an unknown name is never reached. The earliest match of each step
-- after the previous step's match is taken (greedy), which finds the ordered match whenever one exists.
--
-- Incremental by day (macro incremental_by_day on session_date): a run rewrites, with every session that started
-- on them, the days on which a session started that has an event on or after the day of the latest session end
-- already loaded minus var('incremental_lookback_days'), or was loaded ending on or after that day (its old
-- version, e.g. a session merged into an earlier one); and every day when the loaded rows were computed for other
-- funnel steps (column funnel_steps). A session's progress depends only on its own events, and the earlier
-- sessions' events do not change (int_events_sessionized), so the table equals a full refresh as long as late
-- events arrive within the lookback.
{%- set steps = funnel_steps() %}


with

all_sessionized_events as (

    select * from {{ ref('int_events_sessionized') }}

),

{% if is_incremental() %}
reloaded_days as (

    select cast(session_started_at as date) as session_date
    from all_sessionized_events
    where event_date >= {{ incremental_first_day(this, 'session_ended_at') }}
        -- the steps changed since the last run: every day
        or (select count(*) from {{ this }} where funnel_steps <> '{{ steps | join(",") }}') > 0

    union

    select session_date
    from {{ this }}
    where cast(session_ended_at as date) >= {{ incremental_first_day(this, 'session_ended_at') }}

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
        min(session_started_at) as session_started_at,
        max(event_at) as session_ended_at

    from sessionized_events
    group by session_id

),

-- only the events that match a step
step_events as (

    select
        session_id,
        event_number_in_session,
        event_role,
        event_type

    from sessionized_events
    where
        {%- for step in steps | unique %}
        {{ 'or ' if not loop.first }}{{ matches_funnel_step(step) }}
        {%- endfor %}

),

{% for step in steps %}
-- step {{ loop.index }} ({{ step }}): the session's earliest matching event
{%- if loop.first %} (of any time)
reached_step_1 as (

    select
        session_id,
        min(event_number_in_session) as event_number_in_session

    from step_events
    where {{ matches_funnel_step(step) }}
    group by session_id

),
{%- else %} after its match of step {{ loop.index - 1 }}
reached_step_{{ loop.index }} as (

    select
        previous_step.session_id,
        min(step_events.event_number_in_session) as event_number_in_session

    from reached_step_{{ loop.index - 1 }} as previous_step
    inner join step_events
        on previous_step.session_id = step_events.session_id
        and step_events.event_number_in_session > previous_step.event_number_in_session
    where {{ matches_funnel_step(step, 'step_events.event_role', 'step_events.event_type') }}
    group by previous_step.session_id

),
{%- endif %}
{% endfor %}

final as (

    select
        sessions.session_id,
        cast(case
            {%- for step in steps | reverse %}
            {%- set number = steps | length - loop.index0 %}
            when reached_step_{{ number }}.session_id is not null then {{ number }}
            {%- endfor %}
            else 0
        end as integer) as steps_reached,
        cast('{{ steps | join(",") }}' as string) as funnel_steps,
        sessions.session_ended_at,
        -- the partition column on Spark (last: Spark puts partition columns last)
        cast(sessions.session_started_at as date) as session_date

    from sessions
    {%- for step in steps %}
    left join reached_step_{{ loop.index }}
        on sessions.session_id = reached_step_{{ loop.index }}.session_id
    {%- endfor %}

)

select * from final
