-- One row per RFM segment of the grid (seed rfm_segment_grid), empty segments included: how many
-- customers it holds at the snapshot date, their share, and their mean recency, frequency and
-- monetary value (from dim_customer_rfm).
with

customer_rfm as (

    select * from {{ ref('dim_customer_rfm') }}

),

segment_grid as (

    select * from {{ ref('rfm_segment_grid') }}

),

segments as (

    select
        segment,
        count(*) as grid_cells

    from segment_grid
    group by 1

),

per_segment as (

    select
        segment,
        count(*) as customers,
        avg(recency_days) as avg_recency_days,
        avg(frequency) as avg_frequency,
        avg(monetary) as avg_monetary,
        sum(monetary) as total_monetary

    from customer_rfm
    group by 1

),

totals as (

    select
        count(*) as customers,
        sum(monetary) as monetary,
        max(snapshot_date) as snapshot_date

    from customer_rfm

),

final as (

    select
        segments.segment,
        cast(segments.grid_cells as integer) as grid_cells,
        cast(coalesce(per_segment.customers, 0) as bigint) as customers,
        coalesce(cast(per_segment.customers as double) / nullif(totals.customers, 0), 0.0) as customer_share,
        cast(per_segment.avg_recency_days as double) as avg_recency_days,
        cast(per_segment.avg_frequency as double) as avg_frequency,
        cast(per_segment.avg_monetary as double) as avg_monetary,
        cast(coalesce(per_segment.total_monetary, 0.0) as double) as total_monetary,
        coalesce(per_segment.total_monetary / nullif(totals.monetary, 0), 0.0) as monetary_share,
        totals.snapshot_date

    from segments
    cross join totals
    left join per_segment
        on segments.segment = per_segment.segment

)

select * from final
