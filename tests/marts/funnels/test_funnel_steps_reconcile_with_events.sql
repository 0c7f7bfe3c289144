-- fct_funnel (the session step funnel of var funnel_steps):
--   - step counts never increase with step_number within a group (breakdown × value × date), and every
--     row of a group has the same number of sessions;
--   - every breakdown partitions the sessions: its values add up to the overall row, step by step;
--   - the overall sessions equal the sessions of fct_sessions, all time and per day;
--   - when step 1 is product_view (the default funnel), step 1 equals the sessions with a product view,
--     recomputed here from stg_shop__events with its own sessionization (a gap of more than
--     var('session_timeout_minutes') minutes starts a session), all time and per day.
{%- set steps = funnel_steps() %}
with

funnel as (

    select * from {{ ref('fct_funnel') }}

),

events as (

    select * from {{ ref('stg_shop__events') }}

),

sessions as (

    select * from {{ ref('fct_sessions') }}

),

steps_in_order as (

    select
        *,
        lag(sessions_reached) over (
            partition by breakdown, breakdown_value, funnel_date order by step_number
        ) as previous_sessions_reached,
        max(sessions) over (partition by breakdown, breakdown_value, funnel_date) as max_sessions,
        min(sessions) over (partition by breakdown, breakdown_value, funnel_date) as min_sessions

    from funnel

),

overall as (

    select * from funnel
    where breakdown = 'overall'

),

breakdown_sums as (

    select
        breakdown,
        funnel_date,
        step_number,
        sum(sessions) as sessions,
        sum(sessions_reached) as sessions_reached

    from funnel
    where breakdown <> 'overall'
    group by breakdown, funnel_date, step_number

),

session_days as (

    select cast(null as date) as funnel_date, count(*) as sessions
    from sessions
    having count(*) > 0  -- no sessions (orders-only data): fct_funnel is empty

    union all

    select session_date as funnel_date, count(*) as sessions
    from sessions
    group by session_date

),

-- an independent sessionization of the clean events
gaps as (

    select
        visitor_id,
        event_role,
        event_at,
        lag(event_at) over (partition by visitor_id order by event_at) as previous_event_at

    from events

),

starts as (

    select
        *,
        case
            when previous_event_at is null then 1
            when event_at > previous_event_at + interval '{{ var("session_timeout_minutes") }}' minute then 1
            else 0
        end as is_start

    from gaps

),

numbered as (

    select
        *,
        sum(is_start) over (
            partition by visitor_id order by event_at, is_start desc
            rows between unbounded preceding and current row
        ) as session_number

    from starts

),

recomputed_sessions as (

    select
        visitor_id,
        session_number,
        cast(min(event_at) as date) as session_date,
        count_if(event_role = 'product_view') as product_views

    from numbered
    group by visitor_id, session_number

),

viewed_days as (

    select cast(null as date) as funnel_date, count_if(product_views > 0) as sessions_viewed
    from recomputed_sessions

    union all

    select session_date as funnel_date, count_if(product_views > 0) as sessions_viewed
    from recomputed_sessions
    group by session_date

),

failures as (

    select concat('step ', cast(step_number as string), ' of ', breakdown, ' ', breakdown_value,
                  ' has more sessions than the step before') as failure
    from steps_in_order
    where sessions_reached > previous_sessions_reached
        or sessions_reached > sessions

    union all

    select concat('the rows of ', breakdown, ' ', breakdown_value, ' disagree on the sessions') as failure
    from steps_in_order
    where max_sessions <> min_sessions

    union all

    select concat('breakdown ', breakdown_sums.breakdown, ' does not add up to the overall funnel at step ',
                  cast(breakdown_sums.step_number as string)) as failure
    from breakdown_sums
    inner join overall
        on breakdown_sums.step_number = overall.step_number
        and (breakdown_sums.funnel_date) is not distinct from (overall.funnel_date)
    where breakdown_sums.sessions <> overall.sessions
        or breakdown_sums.sessions_reached <> overall.sessions_reached

    union all

    select 'the overall funnel does not count every session of fct_sessions' as failure
    from session_days
    left join overall
        on (session_days.funnel_date) is not distinct from (overall.funnel_date)
        and overall.step_number = 1
    where overall.sessions is null
        or overall.sessions <> session_days.sessions

    {%- if steps[0] == 'product_view' %}

    union all

    select concat('step 1 (product_view) differs from the sessions with a product view on ',
                  coalesce(cast(viewed_days.funnel_date as string), 'all time')) as failure
    from viewed_days
    left join overall
        on (viewed_days.funnel_date) is not distinct from (overall.funnel_date)
        and overall.step_number = 1
    where coalesce(overall.sessions_reached, 0) <> viewed_days.sessions_viewed
    {%- endif %}

)

select * from failures
