-- One row per registered customer: profile attributes (no personal data: the e-mail and name hashes
-- of staging are not carried), first and last visit, first and last order, lifetime orders and
-- revenue, and tenure, all as of the last day of data (int_snapshot_dates; var snapshot_date when set).
with

customers as (

    select * from {{ ref('stg_shop__customers') }}

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

customer_orders as (

    select
        orders.customer_id,
        count(*) as orders,
        sum(orders.amount) as lifetime_revenue,
        min(orders.ordered_at) as first_order_at,
        max(orders.ordered_at) as last_order_at,
        min_by(orders.channel, orders.ordered_at) as first_order_channel

    from orders
    cross join as_of
    where cast(orders.ordered_at as date) <= as_of.last_data_date
    group by 1

),

customer_sessions as (

    select
        sessions.customer_id,
        count(*) as sessions,
        min(sessions.session_started_at) as first_visit_at,
        max(sessions.session_started_at) as last_visit_at

    from sessions
    cross join as_of
    where sessions.customer_id is not null
        and sessions.session_date <= as_of.last_data_date
    group by 1

),

joined as (

    select
        customers.customer_id,
        customers.visitor_id,
        customers.age_band,
        customers.gender,
        customers.region,
        customers.acquisition_channel,
        customers.device_preference,
        customers.follows_page,
        customers.heard_of_shop,
        customers.signed_up_at,
        customer_sessions.first_visit_at,
        customer_sessions.last_visit_at,
        coalesce(customer_sessions.sessions, 0) as sessions,
        customer_orders.first_order_at,
        customer_orders.last_order_at,
        customer_orders.first_order_channel,
        coalesce(customer_orders.orders, 0) as orders,
        coalesce(customer_orders.lifetime_revenue, 0.0) as lifetime_revenue,
        -- least() skips NULLs on DuckDB and Spark: the earliest of the dates that are known.
        least(
            cast(customers.signed_up_at as date),
            cast(customer_sessions.first_visit_at as date),
            cast(customer_orders.first_order_at as date)
        ) as customer_since_date,
        as_of.last_data_date

    from customers
    cross join as_of
    left join customer_orders
        on customers.customer_id = customer_orders.customer_id
    left join customer_sessions
        on customers.customer_id = customer_sessions.customer_id

),

final as (

    select
        customer_id,
        visitor_id,
        age_band,
        gender,
        region,
        acquisition_channel,
        device_preference,
        follows_page,
        heard_of_shop,
        signed_up_at,
        first_visit_at,
        last_visit_at,
        cast(sessions as bigint) as sessions,
        first_order_at,
        last_order_at,
        first_order_channel,
        cast(orders as bigint) as orders,
        cast(lifetime_revenue as double) as lifetime_revenue,
        customer_since_date,
        case
            when customer_since_date <= last_data_date
                then cast({{ dbt.datediff('customer_since_date', 'last_data_date', 'day') }} as integer)
        end as tenure_days,
        orders > 0 as is_buyer,
        sessions > 0 as has_visited,
        last_data_date as as_of_date

    from joined

)

select * from final
