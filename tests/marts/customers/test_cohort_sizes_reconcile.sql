-- Reconciliation: in rpt_cohort_retention the cohorts of each type and grain partition their
-- population exactly once: first_purchase cohort sizes add up to the customers with an order in
-- stg_shop__orders, first_visit cohort sizes to the visitors with a session in fct_sessions (both up
-- to the last day of data). Rows returned are the type x grain combinations that do not add up.
with

retention as (

    select * from {{ ref('rpt_cohort_retention') }}

),

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

cohort_totals as (

    select
        cohort_type,
        period_grain,
        sum(cohort_size) as members

    from retention
    where period_number = 0
    group by 1, 2

),

populations as (

    select
        'first_purchase' as cohort_type,
        count(distinct orders.customer_id) as members

    from orders
    cross join as_of
    where cast(orders.ordered_at as date) <= as_of.last_data_date

    union all

    select
        'first_visit' as cohort_type,
        count(distinct sessions.visitor_id) as members

    from sessions
    cross join as_of
    where sessions.session_date <= as_of.last_data_date

)

select
    populations.cohort_type,
    grains.period_grain,
    populations.members as population_members,
    cohort_totals.members as cohort_members

from populations
cross join (select 'week' as period_grain union all select 'month' as period_grain) as grains
left join cohort_totals
    on populations.cohort_type = cohort_totals.cohort_type
    and grains.period_grain = cohort_totals.period_grain
where coalesce(cohort_totals.members, 0) <> populations.members
