-- One row per experiment x customer (a clean assignment) with the measures of the metric definitions
-- (seed experiment_metrics; macro experiment_measures): outcomes inside the attribution window and
-- pre-period covariates for CUPED.
--   window:        (assigned_at, window_ends_at], window_ends_at = assigned_at + attribution_days days
--                  (the experiment's attribution_days, else var('attribution_days')). An order exactly at
--                  window_ends_at counts, one a second later does not, one at or before assigned_at never.
--   pre-period:    [pre_period_starts_at, assigned_at), pre_period_starts_at = the later of the first day
--                  of data and assigned_at - var('cuped_max_pre_period_days') days (default 365): the
--                  covariate uses all the history the data has before assignment, up to a year.
--   pre-window:    the last attribution_days days of the pre-period, [assigned_at - attribution_days days,
--                  assigned_at): the in-window measures measured before assignment, on the same horizon;
--                  their positive values fix the winsorisation caps (fct_experiment_daily_looks).
--   end of data:   midnight after the last day with an event or an order (int_snapshot_dates, which
--                  honours var('snapshot_date')). analysis_ends_at is that, or midnight after
--                  var('experiments_as_of') when earlier; activity from analysis_ends_at on is ignored.
--                  A window is closed when window_ends_at < analysis_ends_at; an open window has NULL
--                  outcomes (unknown yet, not a non-conversion). With var('experiments_data_complete')
--                  every window of an exposure assigned before analysis_ends_at is closed there
--                  (is_window_truncated: its outcomes are those up to the end of the data).
-- Activity (orders, add-to-cart events of the customer's visitor, web sessions of fct_sessions joined to
-- the customer through customers.visitor_id) is pre-filtered to exposed customers and joined once on
-- customer_id with a time range covering the pre-period and the window.
{%- set max_pre_period_days = var('cuped_max_pre_period_days', 365) %}
{%- set data_complete = experiments_data_complete() %}
with

assignments as (

    select * from {{ ref('stg_shop__experiment_assignments') }}

),

experiments as (

    select * from {{ ref('stg_shop__experiments') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

events as (

    select * from {{ ref('stg_shop__events') }}

),

sessions as (

    select * from {{ ref('fct_sessions') }}

),

snapshot_dates as (

    select * from {{ ref('int_snapshot_dates') }}

),

data_bounds as (

    select
        feature_cutoff_at as data_ends_at,
        {{ experiments_analysis_ends_at('feature_cutoff_at') }} as analysis_ends_at,
        -- the first day of data (midnight): the earliest order or event
        cast(cast(least(
            coalesce((select min(ordered_at) from orders), feature_cutoff_at),
            coalesce((select min(event_at) from events), feature_cutoff_at)
        ) as date) as timestamp) as data_starts_at

    from snapshot_dates
    where snapshot_role = 'score'

),

assignments_with_experiment as (

    select
        assignments.assignment_id,
        assignments.experiment_id,
        assignments.customer_id,
        assignments.variant,
        -- an assignment of an unknown (quarantined) experiment: control is the variant named control
        coalesce(assignments.variant = experiments.control_variant, assignments.variant = 'control') as is_control,
        cast(coalesce(experiments.attribution_days, {{ var('attribution_days') }}) as integer) as attribution_days,
        assignments.assigned_at

    from assignments
    left join experiments
        on assignments.experiment_id = experiments.experiment_id

),

bounded as (

    select
        assignments_with_experiment.*,
        greatest(
            data_bounds.data_starts_at,
            {{ dbt.dateadd('day', -1 * max_pre_period_days, 'assignments_with_experiment.assigned_at') }}
        ) as pre_period_starts_at,
        {{ dbt.dateadd(
            'day',
            'assignments_with_experiment.attribution_days',
            'assignments_with_experiment.assigned_at'
        ) }} as window_ends_at,
        {{ dbt.dateadd(
            'day',
            '-1 * assignments_with_experiment.attribution_days',
            'assignments_with_experiment.assigned_at'
        ) }} as window_length_before_assignment,
        data_bounds.data_ends_at,
        data_bounds.analysis_ends_at

    from assignments_with_experiment
    cross join data_bounds

),

windowed as (

    select
        assignment_id,
        experiment_id,
        customer_id,
        variant,
        is_control,
        attribution_days,
        assigned_at,
        pre_period_starts_at,
        greatest(pre_period_starts_at, window_length_before_assignment) as pre_window_starts_at,
        window_ends_at,
        data_ends_at,
        analysis_ends_at,
        {{ exposure_window_is_closed('assigned_at', 'window_ends_at', 'analysis_ends_at') }} as is_window_closed,
        {% if data_complete -%}
        window_ends_at >= analysis_ends_at and assigned_at < analysis_ends_at
        {%- else -%}
        false
        {%- endif %} as is_window_truncated

    from bounded

),

exposed_customers as (

    select distinct customer_id from windowed

),

activity as (

    select
        orders.customer_id,
        orders.ordered_at as activity_at,
        1 as is_order,
        coalesce(orders.amount, 0) as amount,
        0 as is_cart_add,
        0 as is_session

    from orders
    where orders.customer_id in (select customer_id from exposed_customers)

    union all

    select
        customers.customer_id,
        events.event_at as activity_at,
        0 as is_order,
        0 as amount,
        1 as is_cart_add,
        0 as is_session

    from events
    inner join customers
        on events.visitor_id = customers.visitor_id
    where events.event_role = 'add_to_cart'
        and customers.customer_id in (select customer_id from exposed_customers)

    union all

    select
        customers.customer_id,
        sessions.session_started_at as activity_at,
        0 as is_order,
        0 as amount,
        0 as is_cart_add,
        1 as is_session

    from sessions
    inner join customers
        on sessions.visitor_id = customers.visitor_id
    where customers.customer_id in (select customer_id from exposed_customers)

),

activity_in_periods as (

    select
        windowed.assignment_id,
        activity.is_order,
        activity.amount,
        activity.is_cart_add,
        activity.is_session,
        activity.activity_at,
        activity.activity_at > windowed.assigned_at as is_in_window,
        activity.activity_at < windowed.assigned_at as is_in_pre_period,
        activity.activity_at >= windowed.pre_window_starts_at and activity.activity_at < windowed.assigned_at
            as is_in_pre_window

    from windowed
    inner join activity
        on windowed.customer_id = activity.customer_id
        and activity.activity_at >= windowed.pre_period_starts_at
        and activity.activity_at <= windowed.window_ends_at
        and activity.activity_at < windowed.analysis_ends_at

),

outcomes as (

    select
        assignment_id,
        sum(case when is_in_window then is_order else 0 end) as orders,
        sum(case when is_in_window then amount else 0 end) as revenue,
        sum(case when is_in_window then is_cart_add else 0 end) as cart_adds,
        sum(case when is_in_window then is_session else 0 end) as sessions,
        min(case when is_in_window and is_order = 1 then activity_at end) as first_order_at,
        sum(case when is_in_pre_period then is_order else 0 end) as pre_orders,
        sum(case when is_in_pre_period then amount else 0 end) as pre_revenue,
        sum(case when is_in_pre_period then is_cart_add else 0 end) as pre_cart_adds,
        sum(case when is_in_pre_period then is_session else 0 end) as pre_sessions,
        sum(case when is_in_pre_window then is_order else 0 end) as pre_window_orders,
        sum(case when is_in_pre_window then amount else 0 end) as pre_window_revenue,
        sum(case when is_in_pre_window then is_cart_add else 0 end) as pre_window_cart_adds,
        sum(case when is_in_pre_window then is_session else 0 end) as pre_window_sessions

    from activity_in_periods
    group by assignment_id

),

final as (

    select
        windowed.assignment_id,
        windowed.experiment_id,
        windowed.customer_id,
        windowed.variant,
        windowed.is_control,
        windowed.attribution_days,
        windowed.is_window_closed,
        windowed.is_window_truncated,
        -- outcomes in the window (NULL while it is open)
        case when windowed.is_window_closed then coalesce(outcomes.orders, 0) > 0 end as is_converted,
        case when windowed.is_window_closed then cast(coalesce(outcomes.orders, 0) as integer) end as orders,
        case when windowed.is_window_closed then cast(coalesce(outcomes.revenue, 0) as double) end as revenue,
        case when windowed.is_window_closed then coalesce(outcomes.cart_adds, 0) > 0 end as has_added_to_cart,
        case when windowed.is_window_closed then case when coalesce(outcomes.orders, 0) > 0 then 1 else 0 end end
            as converted,
        case when windowed.is_window_closed then case when coalesce(outcomes.cart_adds, 0) > 0 then 1 else 0 end end
            as added_to_cart,
        case when windowed.is_window_closed then cast(coalesce(outcomes.cart_adds, 0) as integer) end as cart_adds,
        case when windowed.is_window_closed then cast(coalesce(outcomes.sessions, 0) as integer) end as sessions,
        -- pre-period covariates (always known)
        cast(coalesce(outcomes.pre_orders, 0) as integer) as pre_orders,
        cast(coalesce(outcomes.pre_revenue, 0) as double) as pre_revenue,
        cast(coalesce(outcomes.pre_cart_adds, 0) as integer) as pre_cart_adds,
        cast(coalesce(outcomes.pre_sessions, 0) as integer) as pre_sessions,
        -- the in-window measures over the pre-window (the winsorisation caps' basis)
        cast(coalesce(outcomes.pre_window_orders, 0) as integer) as pre_window_orders,
        cast(coalesce(outcomes.pre_window_revenue, 0) as double) as pre_window_revenue,
        cast(coalesce(outcomes.pre_window_cart_adds, 0) as integer) as pre_window_cart_adds,
        cast(coalesce(outcomes.pre_window_sessions, 0) as integer) as pre_window_sessions,
        cast({{ dbt.datediff('windowed.pre_period_starts_at', 'windowed.assigned_at', 'day') }} as integer)
            as pre_period_days,
        windowed.pre_period_starts_at,
        windowed.assigned_at,
        case when windowed.is_window_closed then outcomes.first_order_at end as first_order_at,
        windowed.window_ends_at,
        windowed.data_ends_at,
        windowed.analysis_ends_at

    from windowed
    left join outcomes
        on windowed.assignment_id = outcomes.assignment_id

)

select * from final
