-- Revenue attributed to an experiment's exposures never exceeds the total revenue of the exposed
-- customers (each customer is exposed at most once per experiment), per exposure and per experiment;
-- a fan-out in the order join would break it. Returns the offending exposures and experiments.
with

exposures as (

    select * from {{ ref('fct_experiment_exposures') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

customer_revenue as (

    select
        customer_id,
        count(*) as total_orders,
        sum(coalesce(amount, 0)) as total_revenue

    from orders
    group by customer_id

),

per_exposure as (

    select
        exposures.experiment_id,
        exposures.assignment_id,
        coalesce(exposures.orders, 0) as attributed_orders,
        coalesce(exposures.revenue, 0) as attributed_revenue,
        coalesce(customer_revenue.total_orders, 0) as total_orders,
        coalesce(customer_revenue.total_revenue, 0) as total_revenue

    from exposures
    left join customer_revenue
        on exposures.customer_id = customer_revenue.customer_id

),

per_experiment as (

    select
        experiment_id,
        cast(null as {{ dbt.type_string() }}) as assignment_id,
        sum(attributed_orders) as attributed_orders,
        sum(attributed_revenue) as attributed_revenue,
        sum(total_orders) as total_orders,
        sum(total_revenue) as total_revenue

    from per_exposure
    group by experiment_id

),

checked as (

    select * from per_exposure
    union all
    select * from per_experiment

)

select * from checked
where attributed_revenue > total_revenue + 1e-6
    or attributed_orders > total_orders
