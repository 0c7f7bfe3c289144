-- One row per breakdown × breakdown_value × funnel_date (NULL: all time) × step of var('funnel_steps'):
-- the sessions that reached the step, and the conversion from the previous and from the first step
-- (definitions: doc block funnel_metrics). The unit is the session (fct_sessions, split by inactivity
-- over every event): a session reaches step k when it has events matching steps 1..k in that order
-- (by event order in the session: time, then role rank). A step matches an event whose role (seed
-- event_roles) or lower-cased name equals it, so a step that is an unknown name has 0 sessions.
--
-- The earliest match of each step after the previous step's match is taken (greedy), which finds the
-- ordered match whenever one exists. Every session is in the funnel's denominator (`sessions`), also
-- the ones that never reach step 1, and falls in exactly one value of each breakdown.
{%- set steps = funnel_steps() -%}
{%- set breakdowns = ['device', 'acquisition_channel', 'visitor_type'] %}


with

sessions as (

    select * from {{ ref('fct_sessions') }}

),

-- only the events that match a step
step_events as (

    select
        session_id,
        event_number_in_session,
        event_role,
        event_type

    from {{ ref('int_events_sessionized') }}
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

session_progress as (

    select
        sessions.session_id,
        sessions.session_date as funnel_date,
        sessions.device,
        case
            when sessions.customer_id is null then 'unregistered'
            else coalesce(sessions.acquisition_channel, 'unknown')
        end as acquisition_channel,
        case when sessions.is_first_session then 'new' else 'returning' end as visitor_type,
        case
            {%- for step in steps | reverse %}
            {%- set number = steps | length - loop.index0 %}
            when reached_step_{{ number }}.session_id is not null then {{ number }}
            {%- endfor %}
            else 0
        end as steps_reached

    from sessions
    {%- for step in steps %}
    left join reached_step_{{ loop.index }}
        on sessions.session_id = reached_step_{{ loop.index }}.session_id
    {%- endfor %}

),

group_counts as (

    select
        {{ breakdown_columns(breakdowns) }},
        count(*) as sessions
        {%- for step in steps %},
        count_if(steps_reached >= {{ loop.index }}) as reached_step_{{ loop.index }}
        {%- endfor %}

    from session_progress
    {{ breakdown_grouping_sets(breakdowns) }}
    -- without sessions (e.g. orders-only data) the table is empty, not one overall row of zeros
    having count(*) > 0

),

steps as (

    {%- for step in steps %}
    select
        breakdown,
        breakdown_value,
        funnel_date,
        {{ loop.index }} as step_number,
        cast('{{ step }}' as string) as step,
        sessions,
        reached_step_{{ loop.index }} as sessions_reached,
        {{ 'sessions' if loop.first else 'reached_step_' ~ (loop.index - 1) }} as sessions_at_previous_step,
        reached_step_1 as sessions_at_first_step

    from group_counts
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

final as (

    select
        breakdown,
        breakdown_value,
        funnel_date,
        cast(step_number as integer) as step_number,
        step,
        cast(sessions as bigint) as sessions,
        cast(sessions_reached as bigint) as sessions_reached,
        cast(sessions_at_previous_step - sessions_reached as bigint) as sessions_dropped,
        cast(sessions_reached as double) / nullif(sessions_at_previous_step, 0) as conversion_from_previous,
        cast(sessions_reached as double) / nullif(sessions_at_first_step, 0) as conversion_from_first,
        cast(sessions_reached as double) / nullif(sessions, 0) as share_of_sessions

    from steps

)

select * from final
