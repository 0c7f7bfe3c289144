-- Leakage and reconciliation check for fct_product_features: per product and snapshot, views,
-- purchase events and distinct visitors equal counts recomputed from stg_shop__events with a strict
-- "< feature_cutoff_at", and units and revenue equal the order lines of orders before the cutoff.
-- Rows returned are product x snapshot rows whose features saw data on/after the cutoff or lost some.
with

features as (

    select * from {{ ref('fct_product_features') }}

),

events as (

    select * from {{ ref('stg_shop__events') }}

),

order_lines as (

    select * from {{ ref('stg_shop__order_lines') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

snapshots as (

    select * from {{ ref('int_snapshot_dates') }}

),

event_counts as (

    select
        events.product_id,
        snapshots.snapshot_role,
        count_if(events.event_role = 'product_view') as views_all,
        count_if(events.event_role = 'purchase') as purchases_all,
        count(distinct events.visitor_id) as distinct_visitors

    from events
    inner join snapshots
        on events.event_at < snapshots.feature_cutoff_at
    group by 1, 2

),

sales as (

    select
        order_lines.product_id,
        snapshots.snapshot_role,
        sum(order_lines.quantity) as units_sold_all,
        sum(order_lines.quantity * order_lines.unit_price - coalesce(order_lines.discount_amount, 0)) as revenue_all

    from order_lines
    inner join orders
        on order_lines.order_id = orders.order_id
    inner join snapshots
        on orders.ordered_at < snapshots.feature_cutoff_at
    group by 1, 2

)

select
    features.product_id,
    features.snapshot_role,
    features.views_all,
    event_counts.views_all as staging_views,
    features.distinct_visitors,
    event_counts.distinct_visitors as staging_distinct_visitors,
    features.revenue_all,
    sales.revenue_all as staging_revenue

from features
left join event_counts
    on features.product_id = event_counts.product_id
    and features.snapshot_role = event_counts.snapshot_role
left join sales
    on features.product_id = sales.product_id
    and features.snapshot_role = sales.snapshot_role
where features.views_all <> coalesce(event_counts.views_all, 0)
    or features.purchases_all <> coalesce(event_counts.purchases_all, 0)
    or features.distinct_visitors <> coalesce(event_counts.distinct_visitors, 0)
    or features.units_sold_all <> coalesce(sales.units_sold_all, 0)
    or abs(features.revenue_all - coalesce(sales.revenue_all, 0)) > 0.005
    or features.first_view_date >= features.feature_date
