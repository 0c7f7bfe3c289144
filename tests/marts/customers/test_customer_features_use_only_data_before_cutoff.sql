-- Leakage check for fct_customer_features (and the category features it reads): no time stamp behind
-- a feature lies on or after the snapshot's cutoff, and the order and web counts equal counts
-- recomputed here straight from staging with a strict "< feature_cutoff_at". Any row returned is a
-- customer x snapshot whose features saw data from on/after the cutoff (or lost data before it).
with

features as (

    select * from {{ ref('fct_customer_features') }}

),

category_features as (

    select * from {{ ref('fct_customer_category_features') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

events as (

    select * from {{ ref('stg_shop__events') }}

),

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

snapshots as (

    select * from {{ ref('int_classifier_snapshot_dates') }}

),

orders_before_cutoff as (

    select
        orders.customer_id,
        snapshots.snapshot_role,
        count(*) as orders_all,
        sum(orders.amount) as revenue_all

    from orders
    inner join snapshots
        on orders.ordered_at < snapshots.feature_cutoff_at
    group by 1, 2

),

views_before_cutoff as (

    select
        customers.customer_id,
        snapshots.snapshot_role,
        count(*) as views_all

    from events
    inner join customers
        on events.visitor_id = customers.visitor_id
    inner join snapshots
        on events.event_at < snapshots.feature_cutoff_at
    where events.event_role = 'product_view'
    group by 1, 2

),

time_stamps_after_cutoff as (

    select
        customer_id,
        snapshot_role,
        'time stamp on/after the cutoff' as problem

    from features
    where first_order_at >= feature_cutoff_at
        or last_order_at >= feature_cutoff_at
        or first_visit_at >= feature_cutoff_at
        or last_visit_at >= feature_cutoff_at
        or days_since_signup < 0
        or days_since_last_order <= 0
        or days_since_last_visit <= 0

),

counts_differ as (

    select
        features.customer_id,
        features.snapshot_role,
        'counts differ from staging before the cutoff' as problem

    from features
    left join orders_before_cutoff
        on features.customer_id = orders_before_cutoff.customer_id
        and features.snapshot_role = orders_before_cutoff.snapshot_role
    left join views_before_cutoff
        on features.customer_id = views_before_cutoff.customer_id
        and features.snapshot_role = views_before_cutoff.snapshot_role
    where features.orders_all <> coalesce(orders_before_cutoff.orders_all, 0)
        or abs(features.revenue_all - coalesce(orders_before_cutoff.revenue_all, 0)) > 0.005
        or features.views_all <> coalesce(views_before_cutoff.views_all, 0)

),

category_purchases_after_cutoff as (

    select
        category_features.customer_id,
        category_features.snapshot_role,
        'category purchase on/after the cutoff' as problem

    from category_features
    where category_features.days_since_last_purchase <= 0

)

select * from time_stamps_after_cutoff
union all
select * from counts_differ
union all
select * from category_purchases_after_cutoff
