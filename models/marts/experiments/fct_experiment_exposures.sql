-- One row per experiment x customer (a clean assignment) with the outcomes inside the attribution
-- window and a pre-period covariate for CUPED.
--   window:      (assigned_at, window_ends_at], window_ends_at = assigned_at + attribution_days days
--                (the experiment's attribution_days, else var('attribution_days')). An order exactly at
--                window_ends_at counts, one a second later does not, one at or before assigned_at never.
--   pre-period:  [assigned_at - var('cuped_pre_period_days') days, assigned_at) (default 28 days).
--   end of data: midnight after the last day with an event or an order (int_snapshot_dates, which
--                honours var('snapshot_date')); orders and events from then on are ignored. A window
--                is closed when window_ends_at < data_ends_at; an open window has NULL outcomes
--                (unknown yet, not a non-conversion).
-- Orders are pre-filtered to exposed customers and joined on customer_id with a time range, once
-- for both periods.
{%- set pre_period_days = var('cuped_pre_period_days', 28) %}
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

snapshot_dates as (

    select * from {{ ref('int_snapshot_dates') }}

),

data_end as (

    select feature_cutoff_at as data_ends_at
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

windowed as (

    select
        assignments_with_experiment.*,
        {{ dbt.dateadd('day', -1 * pre_period_days, 'assignments_with_experiment.assigned_at') }}
            as pre_period_starts_at,
        {{ dbt.dateadd(
            'day',
            'assignments_with_experiment.attribution_days',
            'assignments_with_experiment.assigned_at'
        ) }} as window_ends_at,
        data_end.data_ends_at

    from assignments_with_experiment
    cross join data_end

),

exposed_orders as (

    select
        orders.customer_id,
        orders.ordered_at,
        coalesce(orders.amount, 0) as amount

    from orders
    where orders.customer_id in (select customer_id from windowed)

),

order_outcomes as (

    select
        windowed.assignment_id,
        count_if(exposed_orders.ordered_at > windowed.assigned_at) as orders,
        sum(case when exposed_orders.ordered_at > windowed.assigned_at then exposed_orders.amount else 0 end)
            as revenue,
        min(case when exposed_orders.ordered_at > windowed.assigned_at then exposed_orders.ordered_at end)
            as first_order_at,
        count_if(exposed_orders.ordered_at < windowed.assigned_at) as pre_period_orders,
        sum(case when exposed_orders.ordered_at < windowed.assigned_at then exposed_orders.amount else 0 end)
            as pre_period_revenue

    from windowed
    inner join exposed_orders
        on windowed.customer_id = exposed_orders.customer_id
        and exposed_orders.ordered_at >= windowed.pre_period_starts_at
        and exposed_orders.ordered_at <= windowed.window_ends_at
        and exposed_orders.ordered_at < windowed.data_ends_at
    group by windowed.assignment_id

),

exposed_visitors as (

    select
        windowed.assignment_id,
        customers.visitor_id,
        windowed.assigned_at,
        windowed.pre_period_starts_at,
        windowed.window_ends_at,
        windowed.data_ends_at

    from windowed
    inner join customers
        on windowed.customer_id = customers.customer_id
    where customers.visitor_id is not null

),

exposed_cart_adds as (

    select
        events.visitor_id,
        events.event_at

    from events
    where events.event_role = 'add_to_cart'
        and events.visitor_id in (select visitor_id from exposed_visitors)

),

cart_outcomes as (

    select
        exposed_visitors.assignment_id,
        count_if(exposed_cart_adds.event_at > exposed_visitors.assigned_at) > 0 as has_added_to_cart,
        count_if(exposed_cart_adds.event_at < exposed_visitors.assigned_at) as pre_period_carts

    from exposed_visitors
    inner join exposed_cart_adds
        on exposed_visitors.visitor_id = exposed_cart_adds.visitor_id
        and exposed_cart_adds.event_at >= exposed_visitors.pre_period_starts_at
        and exposed_cart_adds.event_at <= exposed_visitors.window_ends_at
        and exposed_cart_adds.event_at < exposed_visitors.data_ends_at
    group by exposed_visitors.assignment_id

),

final as (

    select
        windowed.assignment_id,
        windowed.experiment_id,
        windowed.customer_id,
        windowed.variant,
        windowed.is_control,
        windowed.attribution_days,
        windowed.window_ends_at < windowed.data_ends_at as is_window_closed,
        case
            when windowed.window_ends_at < windowed.data_ends_at then coalesce(order_outcomes.orders, 0) > 0
        end as is_converted,
        case
            when windowed.window_ends_at < windowed.data_ends_at
                then cast(coalesce(order_outcomes.orders, 0) as integer)
        end as orders,
        case
            when windowed.window_ends_at < windowed.data_ends_at then coalesce(order_outcomes.revenue, 0)
        end as revenue,
        case
            when windowed.window_ends_at < windowed.data_ends_at
                then coalesce(cart_outcomes.has_added_to_cart, false)
        end as has_added_to_cart,
        cast(coalesce(order_outcomes.pre_period_orders, 0) as integer) as pre_period_orders,
        coalesce(order_outcomes.pre_period_revenue, 0) as pre_period_revenue,
        cast(coalesce(cart_outcomes.pre_period_carts, 0) as integer) as pre_period_carts,
        windowed.pre_period_starts_at,
        windowed.assigned_at,
        case when windowed.window_ends_at < windowed.data_ends_at then order_outcomes.first_order_at end
            as first_order_at,
        windowed.window_ends_at,
        windowed.data_ends_at

    from windowed
    left join order_outcomes
        on windowed.assignment_id = order_outcomes.assignment_id
    left join cart_outcomes
        on windowed.assignment_id = cart_outcomes.assignment_id

)

select * from final
