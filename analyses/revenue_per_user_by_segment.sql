-- Revenue per user by RFM segment at the snapshot date (dim_customer_rfm), and what the segment
-- spent in the 30 days before the snapshot, next to its share of customers and revenue.
-- revenue_per_user = lifetime spend / customers; revenue_per_user_last_30d = spend in
-- (snapshot_date - 30 days, snapshot_date] / customers of the segment.
with

customer_rfm as (

    select * from {{ ref('dim_customer_rfm') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

recent_spend as (

    select
        orders.customer_id,
        sum(orders.amount) as revenue_last_30d

    from orders
    inner join customer_rfm
        on orders.customer_id = customer_rfm.customer_id
    where cast(orders.ordered_at as date) <= customer_rfm.snapshot_date
        and cast(orders.ordered_at as date) > cast({{ dbt.dateadd('day', -30, 'customer_rfm.snapshot_date') }} as date)
    group by 1

),

per_segment as (

    select
        customer_rfm.segment,
        count(*) as customers,
        sum(customer_rfm.monetary) as revenue,
        sum(customer_rfm.frequency) as orders,
        sum(coalesce(recent_spend.revenue_last_30d, 0)) as revenue_last_30d

    from customer_rfm
    left join recent_spend
        on customer_rfm.customer_id = recent_spend.customer_id
    group by 1

),

final as (

    select
        segment,
        customers,
        cast(customers as double) / sum(customers) over () as customer_share,
        revenue,
        revenue / sum(revenue) over () as revenue_share,
        revenue / customers as revenue_per_user,
        revenue / orders as avg_order_value,
        cast(orders as double) / customers as orders_per_user,
        revenue_last_30d / customers as revenue_per_user_last_30d

    from per_segment

)

select * from final
order by revenue_per_user desc
