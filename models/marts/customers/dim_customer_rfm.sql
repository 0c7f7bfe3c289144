-- One row per customer with at least one order on or before the snapshot date (int_snapshot_dates:
-- var snapshot_date, else the last day with an event or an order): recency, frequency and monetary value, their 1..5
-- quintile scores (ties share a score: macro quintile_score; recency scored descending, fewer days is
-- better) and the segment that the R x F grid in seed rfm_segment_grid assigns. See doc rfm_scores.
with

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

segment_grid as (

    select * from {{ ref('rfm_segment_grid') }}

),

snapshot_dates as (

    select * from {{ ref('int_snapshot_dates') }}

),

snapshot as (

    select last_data_date as snapshot_date
    from snapshot_dates
    where snapshot_role = 'score'

),

per_customer as (

    select
        orders.customer_id,
        count(*) as frequency,
        sum(orders.amount) as monetary,
        min(orders.ordered_at) as first_order_at,
        max(orders.ordered_at) as last_order_at

    from orders
    cross join snapshot
    where cast(orders.ordered_at as date) <= snapshot.snapshot_date
    group by 1

),

measured as (

    select
        per_customer.customer_id,
        snapshot.snapshot_date,
        per_customer.first_order_at,
        per_customer.last_order_at,
        cast({{ dbt.datediff('cast(per_customer.last_order_at as date)', 'snapshot.snapshot_date', 'day') }} as integer)
            as recency_days,
        cast(per_customer.frequency as bigint) as frequency,
        cast(per_customer.monetary as double) as monetary

    from per_customer
    cross join snapshot

),

scored as (

    select
        *,
        {{ quintile_score('recency_days', higher_is_better=false) }} as r_score,
        {{ quintile_score('frequency') }} as f_score,
        {{ quintile_score('monetary') }} as m_score

    from measured

),

final as (

    select
        scored.customer_id,
        scored.snapshot_date,
        scored.first_order_at,
        scored.last_order_at,
        scored.recency_days,
        scored.frequency,
        scored.monetary,
        scored.monetary / scored.frequency as avg_order_value,
        scored.r_score,
        scored.f_score,
        scored.m_score,
        concat(
            cast(scored.r_score as string), cast(scored.f_score as string), coalesce(cast(scored.m_score as string), '-')
        ) as rfm_cell,
        segment_grid.segment

    from scored
    left join segment_grid
        on scored.r_score = segment_grid.r_score
        and scored.f_score = segment_grid.f_score

)

select * from final
