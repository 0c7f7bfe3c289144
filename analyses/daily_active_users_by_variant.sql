-- Daily active users by experiment variant: per experiment × variant × day, from the experiment's
-- start to its end plus the attribution window, the assigned customers active on the web that day
-- (any event at or after their own assignment), the customers assigned so far, and their ratio.
-- Customers are linked to web visitors through stg_shop__customers.visitor_id. A day with no event of
-- any visitor does not appear.
--
-- Run: dbt show -s daily_active_users_by_variant (or dbt compile, then run the compiled SQL).
with

assignments as (

    select * from {{ ref('stg_shop__experiment_assignments') }}

),

experiments as (

    select * from {{ ref('stg_shop__experiments') }}

),

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

events as (

    select * from {{ ref('int_events_sessionized') }}

),

experiment_days as (

    select
        experiments.experiment_id,
        activity_days.activity_date

    from experiments
    inner join (
        select distinct cast(event_at as date) as activity_date
        from events
    ) as activity_days
        on activity_days.activity_date >= cast(experiments.started_at as date)
        and activity_days.activity_date <= cast({{ dbt.dateadd(
            'day',
            'coalesce(experiments.attribution_days, ' ~ var('attribution_days') ~ ')',
            'experiments.ended_at'
        ) }} as date)

),

variants as (

    select distinct
        experiment_id,
        variant

    from assignments

),

assigned_visitors as (

    select
        assignments.experiment_id,
        assignments.variant,
        assignments.customer_id,
        customers.visitor_id,
        assignments.assigned_at

    from assignments
    left join customers
        on assignments.customer_id = customers.customer_id

),

daily_active as (

    select
        assigned_visitors.experiment_id,
        assigned_visitors.variant,
        cast(events.event_at as date) as activity_date,
        count(distinct assigned_visitors.customer_id) as active_customers

    from assigned_visitors
    inner join events
        on assigned_visitors.visitor_id = events.visitor_id
        and events.event_at >= assigned_visitors.assigned_at
    group by 1, 2, 3

),

daily_assigned as (

    select
        experiment_id,
        variant,
        cast(assigned_at as date) as assigned_date,
        count(*) as newly_assigned

    from assignments
    group by 1, 2, 3

),

final as (

    select
        experiment_days.experiment_id,
        variants.variant,
        experiment_days.activity_date,
        coalesce(daily_active.active_customers, 0) as active_customers,
        coalesce(sum(daily_assigned.newly_assigned), 0) as assigned_to_date,
        cast(coalesce(daily_active.active_customers, 0) as double)
            / nullif(sum(daily_assigned.newly_assigned), 0) as active_share

    from experiment_days
    inner join variants
        on experiment_days.experiment_id = variants.experiment_id
    left join daily_active
        on variants.experiment_id = daily_active.experiment_id
        and variants.variant = daily_active.variant
        and experiment_days.activity_date = daily_active.activity_date
    left join daily_assigned
        on variants.experiment_id = daily_assigned.experiment_id
        and variants.variant = daily_assigned.variant
        and daily_assigned.assigned_date <= experiment_days.activity_date
    group by 1, 2, 3, 4

)

select * from final
order by experiment_id, variant, activity_date
