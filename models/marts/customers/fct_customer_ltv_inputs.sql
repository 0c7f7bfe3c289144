-- One row per customer with at least one order on or before the snapshot date, in the convention of
-- the BG/NBD literature at daily granularity: purchases on the same day count as one;
-- frequency = distinct purchase days - 1; recency = days from the first to the last purchase day;
-- T = days from the first purchase day to the snapshot date; monetary_value = mean spend per repeat
-- purchase day (0 when frequency is 0).
with

orders as (

    select * from {{ ref('stg_shop__orders') }}

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
        per_customer.first_purchase_date,
        per_customer.last_purchase_date,
        snapshot.snapshot_date

    from per_customer
    cross join snapshot

)

select * from final
