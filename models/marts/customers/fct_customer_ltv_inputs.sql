-- One row per customer with at least one order on or before the snapshot date, in the convention of
-- the BG/NBD literature at daily granularity: purchases on the same day count as one;
-- frequency = distinct purchase days - 1; recency = days from the first to the last purchase day;
-- T = days from the first purchase day to the snapshot date; monetary_value = mean spend per repeat
-- purchase day (0 when frequency is 0). cost_of_goods = sum of quantity x unit_cost over the customer's order
-- lines up to the snapshot, NULL unless every one of their orders has lines and every line's product has a
-- unit cost (orders-only data, or a catalogue without costs: margin CLV is then not estimable).
with

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

order_lines as (

    select * from {{ ref('stg_shop__order_lines') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

snapshot_dates as (

    select * from {{ ref('int_snapshot_dates') }}

),

snapshot as (

    select last_data_date as snapshot_date
    from snapshot_dates
    where snapshot_role = 'score'

),

purchase_days as (

    select
        orders.customer_id,
        cast(orders.ordered_at as date) as purchase_date,
        sum(orders.amount) as day_amount

    from orders
    cross join snapshot
    where cast(orders.ordered_at as date) <= snapshot.snapshot_date
    group by 1, 2

),

order_costs as (

    select
        orders.customer_id,
        orders.order_id,
        count(order_lines.line_number) as line_count,
        count(products.unit_cost) as costed_line_count,
        sum(order_lines.quantity * products.unit_cost) as order_cost

    from orders
    cross join snapshot
    left join order_lines
        on orders.order_id = order_lines.order_id
    left join products
        on order_lines.product_id = products.product_id
    where cast(orders.ordered_at as date) <= snapshot.snapshot_date
    group by 1, 2

),

customer_costs as (

    select
        customer_id,
        case
            when sum(case when line_count = 0 or costed_line_count < line_count then 1 else 0 end) = 0
                then sum(order_cost)
        end as cost_of_goods

    from order_costs
    group by 1

),

per_customer as (

    select
        customer_id,
        count(*) as purchase_days,
        min(purchase_date) as first_purchase_date,
        max(purchase_date) as last_purchase_date,
        sum(day_amount) as total_amount,
        min_by(day_amount, purchase_date) as first_day_amount

    from purchase_days
    group by 1

),

final as (

    select
        per_customer.customer_id,
        cast(per_customer.purchase_days - 1 as integer) as frequency,
        cast({{ dbt.datediff('per_customer.first_purchase_date', 'per_customer.last_purchase_date', 'day') }} as integer)
            as recency,
        cast({{ dbt.datediff('per_customer.first_purchase_date', 'snapshot.snapshot_date', 'day') }} as integer) as T,
        case
            when per_customer.purchase_days > 1
                then (per_customer.total_amount - per_customer.first_day_amount) / (per_customer.purchase_days - 1)
            else 0.0
        end as monetary_value,
        per_customer.total_amount,
        customer_costs.cost_of_goods,
        per_customer.first_purchase_date,
        per_customer.last_purchase_date,
        snapshot.snapshot_date

    from per_customer
    cross join snapshot
    left join customer_costs
        on per_customer.customer_id = customer_costs.customer_id

)

select * from final
