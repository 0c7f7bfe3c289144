-- One row per logged decision (a clean row of stg_shop__decisions): the context the policy saw (the
-- JSON, and its known keys as columns), the arm chosen with its logged propensity, the policy's
-- action_probabilities, and the reward from the customer's orders in the attribution window.
--   window:      (decided_at, window_ends_at], window_ends_at = decided_at + var('attribution_days') days.
--                An order exactly at window_ends_at counts, one a second later does not, one at or
--                before decided_at never.
--   end of data: midnight after the last day with an event or an order (int_snapshot_dates, which
--                honours var('snapshot_date')); orders from then on are ignored. A decision whose window
--                has not closed (window_ends_at >= data_ends_at) is pending: its reward columns are
--                NULL (unknown yet, not a failure).
--   delayed:     the first order came more than var('delayed_feedback_hours') hours after the decision.
-- Every decision's reward counts every order in its own window: windows of one customer's decisions
-- can overlap, and then an order is the reward of each of them (what off-policy evaluation needs).
-- Orders are pre-filtered to decided customers and joined on customer_id with a time range.
with

decisions as (

    select * from {{ ref('stg_shop__decisions') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

snapshot_dates as (

    select * from {{ ref('int_snapshot_dates') }}

),

data_end as (

    select feature_cutoff_at as data_ends_at
    from snapshot_dates
    where snapshot_role = 'score'

),

windowed as (

    select
        decisions.*,
        case when {{ json_is_valid('decisions.context') }} then decisions.context end as valid_context,
        {{ dbt.dateadd('day', var('attribution_days'), 'decisions.decided_at') }} as window_ends_at,
        data_end.data_ends_at

    from decisions
    cross join data_end

),

decided_orders as (

    select
        orders.customer_id,
        orders.ordered_at,
        coalesce(orders.amount, 0) as amount

    from orders
    where orders.customer_id in (select customer_id from decisions)

),

rewards as (

    select
        windowed.decision_id,
        count(*) as orders,
        sum(decided_orders.amount) as revenue,
        min(decided_orders.ordered_at) as first_order_at

    from windowed
    inner join decided_orders
        on windowed.customer_id = decided_orders.customer_id
        and decided_orders.ordered_at > windowed.decided_at
        and decided_orders.ordered_at <= windowed.window_ends_at
        and decided_orders.ordered_at < windowed.data_ends_at
    group by windowed.decision_id

),

with_status as (

    select
        windowed.*,
        windowed.window_ends_at >= windowed.data_ends_at as is_pending,
        rewards.orders,
        rewards.revenue,
        rewards.first_order_at

    from windowed
    left join rewards
        on windowed.decision_id = rewards.decision_id

),

final as (

    select
        decision_id,
        customer_id,
        policy_id,
        promotion_id,
        propensity,
        action_probabilities,
        context,
        {{ json_string('valid_context', 'age_band') }} as age_band,
        {{ json_string('valid_context', 'device') }} as device,
        {{ json_string('valid_context', 'acquisition_channel') }} as acquisition_channel,
        try_cast({{ json_string('valid_context', 'follows_page') }} as integer) as follows_page,
        try_cast({{ json_string('valid_context', 'heard_of_shop') }} as integer) as heard_of_shop,
        try_cast({{ json_string('valid_context', 'orders_90d') }} as integer) as orders_90d,
        try_cast({{ json_string('valid_context', 'days_since_last_order') }} as double) as days_since_last_order,
        try_cast({{ json_string('valid_context', 'views_30d') }} as integer) as views_30d,
        try_cast({{ json_string('valid_context', 'hour') }} as integer) as hour,
        is_pending,
        case when not is_pending then coalesce(orders, 0) > 0 end as is_converted,
        case when not is_pending then cast(coalesce(orders, 0) as integer) end as orders,
        case when not is_pending then coalesce(revenue, 0) end as revenue,
        case when not is_pending then {{ seconds_between('decided_at', 'first_order_at') }} / 3600.0 end
            as hours_to_conversion,
        case
            when not is_pending then coalesce(
                {{ seconds_between('decided_at', 'first_order_at') }} > {{ var('delayed_feedback_hours') }} * 3600,
                false
            )
        end as is_delayed,
        decided_at,
        case when not is_pending then first_order_at end as first_order_at,
        window_ends_at,
        data_ends_at

    from with_status

)

select * from final
