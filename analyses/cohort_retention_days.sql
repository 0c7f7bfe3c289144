-- Day-N retention after the first purchase and after the first visit, per weekly (ISO) cohort of
-- the first active day, the same cohorts as rpt_cohort_retention.
-- A member (a customer for first_purchase, a web visitor for first_visit) is retained on day N when
-- active exactly N days after their first active day (ordered / started a session that day), and
-- retained within N days when active on any of days 1..N. Only members whose day N lies on or
-- before the last day of data count towards day N (eligible_dN), so young cohorts are not diluted.
-- Run: dbt compile -s cohort_retention_days, then run the compiled SQL (or dbt show --inline).
{%- set days = [1, 7, 14, 30] %}
with

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

sessions as (

    select * from {{ ref('fct_sessions') }}

),

snapshots as (

    select * from {{ ref('int_snapshot_dates') }}

),

as_of as (

    select last_data_date
    from snapshots
    where snapshot_role = 'score'

),

activity_days as (

    select distinct
        'first_purchase' as cohort_type,
        orders.customer_id as member_id,
        cast(orders.ordered_at as date) as activity_date

    from orders
    cross join as_of
    where cast(orders.ordered_at as date) <= as_of.last_data_date

    union all

    select distinct
        'first_visit' as cohort_type,
        sessions.visitor_id as member_id,
        sessions.session_date as activity_date

    from sessions
    cross join as_of
    where sessions.session_date <= as_of.last_data_date

),

members as (

    select
        cohort_type,
        member_id,
        min(activity_date) as first_activity_date

    from activity_days
    group by 1, 2

),

member_days as (

    select
        members.cohort_type,
        {{ cohort_period_start('week', 'members.first_activity_date') }} as cohort_start,
        members.member_id,
        cast({{ dbt.datediff('members.first_activity_date', 'as_of.last_data_date', 'day') }} as integer) as days_observed,
        cast({{ dbt.datediff('members.first_activity_date', 'activity_days.activity_date', 'day') }} as integer) as day_number

    from members
    inner join activity_days
        on members.cohort_type = activity_days.cohort_type
        and members.member_id = activity_days.member_id
    cross join as_of

),

per_member as (

    select
        cohort_type,
        cohort_start,
        member_id,
        max(days_observed) as days_observed,
        {%- for n in days %}
        bool_or(day_number = {{ n }}) as is_active_d{{ n }},
        bool_or(day_number between 1 and {{ n }}) as is_active_within_d{{ n }}{{ ',' if not loop.last }}
        {%- endfor %}

    from member_days
    group by 1, 2, 3

),

final as (

    select
        cohort_type,
        cohort_start,
        count(*) as cohort_size,
        {%- for n in days %}
        count_if(days_observed >= {{ n }}) as eligible_d{{ n }},
        cast(count_if(days_observed >= {{ n }} and is_active_d{{ n }}) as double)
            / nullif(count_if(days_observed >= {{ n }}), 0) as retention_d{{ n }},
        cast(count_if(days_observed >= {{ n }} and is_active_within_d{{ n }}) as double)
            / nullif(count_if(days_observed >= {{ n }}), 0) as retention_within_d{{ n }}{{ ',' if not loop.last }}
        {%- endfor %}

    from per_member
    group by 1, 2

)

select * from final
order by cohort_type, cohort_start
