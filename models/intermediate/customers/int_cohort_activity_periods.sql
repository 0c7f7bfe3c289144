-- One row per cohort type x period grain x member x period in which the member was active, with the
-- member's cohort (the period of their first activity) and the period number counted from it.
--   first_purchase: members are customers, active = placed an order (stg_shop__orders);
--   first_visit:    members are web visitors, registered or not, active = started a session (the day of
--                   session_started_at of int_events_sessionized, as fct_sessions' session_date).
-- Only activity up to the last day of data (int_snapshot_dates) counts. Weeks start on Monday, months
-- on the 1st; period numbers come from truncated dates (macros cohort_period_start and
-- cohort_periods_between), so 31 January -> 1 February is month 1 and Saturday -> Sunday is week 0.
{%- set grains = ['week', 'month'] %}
with

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

sessionized_events as (

    select * from {{ ref('int_events_sessionized') }}

),

sessions as (

    select distinct
        visitor_id,
        cast(session_started_at as date) as session_date

    from sessionized_events

),

snapshots as (

    select * from {{ ref('int_snapshot_dates') }}

),

as_of as (

    select last_data_date
    from snapshots
    where snapshot_role = 'score'

),

order_days as (

    select distinct
        'first_purchase' as cohort_type,
        orders.customer_id as member_id,
        cast(orders.ordered_at as date) as activity_date

    from orders
    cross join as_of
    where cast(orders.ordered_at as date) <= as_of.last_data_date

),

visit_days as (

    select distinct
        'first_visit' as cohort_type,
        sessions.visitor_id as member_id,
        sessions.session_date as activity_date

    from sessions
    cross join as_of
    where sessions.session_date <= as_of.last_data_date

),

activity_days as (

    select * from order_days
    union all
    select * from visit_days

),

members as (

    select
        cohort_type,
        member_id,
        min(activity_date) as first_activity_date

    from activity_days
    group by 1, 2

),

period_starts as (

    {%- for grain in grains %}

    select
        activity_days.cohort_type,
        '{{ grain }}' as period_grain,
        activity_days.member_id,
        {{ cohort_period_start(grain, 'members.first_activity_date') }} as cohort_start,
        {{ cohort_period_start(grain, 'activity_days.activity_date') }} as period_start,
        {{ cohort_period_start(grain, 'as_of.last_data_date') }} as last_period_start

    from activity_days
    inner join members
        on activity_days.cohort_type = members.cohort_type
        and activity_days.member_id = members.member_id
    cross join as_of
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

final as (

    {%- for grain in grains %}

    select distinct
        cohort_type,
        period_grain,
        member_id,
        cohort_start,
        {{ cohort_periods_between(grain, 'cohort_start', 'period_start') }} as period_number,
        period_start,
        {{ cohort_periods_between(grain, 'cohort_start', 'last_period_start') }} as last_period_number

    from period_starts
    where period_grain = '{{ grain }}'
    {{ 'union all' if not loop.last }}
    {%- endfor %}

)

select * from final
