-- A decision's reward never exceeds the total orders and revenue of its customer; a fan-out in the
-- order join would break it. (Summed over a customer's decisions the rewards can exceed the total
-- when their windows overlap: each decision counts the orders in its own window.)
-- Returns the offending decisions.
with

ledger as (

    select * from {{ ref('fct_decision_ledger') }}

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

checked as (

    select
        ledger.decision_id,
        ledger.customer_id,
        coalesce(ledger.orders, 0) as attributed_orders,
        coalesce(ledger.revenue, 0) as attributed_revenue,
        coalesce(customer_revenue.total_orders, 0) as total_orders,
        coalesce(customer_revenue.total_revenue, 0) as total_revenue

    from ledger
    left join customer_revenue
        on ledger.customer_id = customer_revenue.customer_id

)

select * from checked
where attributed_revenue > total_revenue + 1e-6
    or attributed_orders > total_orders
