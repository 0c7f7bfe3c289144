-- One row per breakdown × breakdown_value × funnel_date (NULL: all time) × step of var('funnel_steps'):
-- the sessions that reached the step, and the conversion from the previous and from the first step
-- (definitions: doc block funnel_metrics). The unit is the session (fct_sessions, split by inactivity
-- over every event): a session reaches step k when it has events matching steps 1..k in that order
-- (by event order in the session: time, then role rank). A step matches an event whose role (seed
-- event_roles) or lower-cased name equals it, so a step that is an unknown name has 0 sessions.
--
-- The earliest match of each step after the previous step's match is taken (greedy), which finds the
-- ordered match whenever one exists: int_session_funnel_progress (incremental by day) holds each session's
-- steps reached, and this table counts them over fct_sessions, whole (the all-time rows need every day; a
-- join and one grouping of the sessions). Every session is in the funnel's denominator (`sessions`), also
-- the ones that never reach step 1, and falls in exactly one value of each breakdown.
{%- set steps = funnel_steps() -%}
{%- set breakdowns = ['device', 'acquisition_channel', 'visitor_type'] %}


with

sessions as (

    select * from {{ ref('fct_sessions') }}

),

-- how many steps each session reached (incremental: recomputed only for the sessions of the changed days)
progress as (

    select * from {{ ref('int_session_funnel_progress') }}

),

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
        coalesce(progress.steps_reached, 0) as steps_reached

    from sessions
    left join progress
        on sessions.session_id = progress.session_id

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
