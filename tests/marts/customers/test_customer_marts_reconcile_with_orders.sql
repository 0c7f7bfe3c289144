-- Reconciliation: order counts and revenue in the customer marts equal those in stg_shop__orders.
--   dim_customer_rfm:       every order on or before the snapshot date (all customers);
--   dim_customers:          every order of a registered customer on or before the as-of date;
--   fct_customer_features:  every order of a registered customer before each snapshot's cutoff;
--   fct_customer_category_features: spend = the order lines of registered customers on catalogued
--                           products before each cutoff.
-- Sums of amounts are compared with a tolerance of 0.01 plus 1e-9 of the total (floating-point sums).
with

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

order_lines as (

    select * from {{ ref('stg_shop__order_lines') }}

),

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

products as (

    select * from {{ ref('int_products_categorized') }}

),

snapshots as (

    select * from {{ ref('int_classifier_snapshot_dates') }}

),

customer_rfm as (

    select * from {{ ref('dim_customer_rfm') }}

),

dim_customers as (

    select * from {{ ref('dim_customers') }}

),

customer_features as (

    select * from {{ ref('fct_customer_features') }}

),

category_features as (

    select * from {{ ref('fct_customer_category_features') }}

),

registered_orders as (

    select orders.*
    from orders
    inner join customers
        on orders.customer_id = customers.customer_id

),

rfm_snapshot as (

    select max(snapshot_date) as snapshot_date
    from customer_rfm

),

dim_as_of as (

    select max(as_of_date) as as_of_date
    from dim_customers

),

rfm_check as (

    select
        'dim_customer_rfm' as mart,
        'all' as snapshot_role,
        (select sum(frequency) from customer_rfm) as mart_orders,
        count(*) as staging_orders,
        (select sum(monetary) from customer_rfm) as mart_revenue,
        sum(orders.amount) as staging_revenue

    from orders
    cross join rfm_snapshot
    where cast(orders.ordered_at as date) <= rfm_snapshot.snapshot_date

),

dim_check as (

    select
        'dim_customers' as mart,
        'all' as snapshot_role,
        (select sum(orders) from dim_customers) as mart_orders,
        count(*) as staging_orders,
        (select sum(lifetime_revenue) from dim_customers) as mart_revenue,
        sum(registered_orders.amount) as staging_revenue

    from registered_orders
    cross join dim_as_of
    where cast(registered_orders.ordered_at as date) <= dim_as_of.as_of_date

),

features_mart as (

    select
        snapshot_role,
        sum(orders_all) as mart_orders,
        sum(revenue_all) as mart_revenue

    from customer_features
    group by 1

),

features_staging as (

    select
        snapshots.snapshot_role,
        count(registered_orders.order_id) as staging_orders,
        sum(registered_orders.amount) as staging_revenue

    from snapshots
    left join registered_orders
        on registered_orders.ordered_at < snapshots.feature_cutoff_at
    group by 1

),

features_check as (

    select
        'fct_customer_features' as mart,
        features_staging.snapshot_role,
        features_mart.mart_orders,
        features_staging.staging_orders,
        features_mart.mart_revenue,
        features_staging.staging_revenue

    from features_staging
    left join features_mart
        on features_staging.snapshot_role = features_mart.snapshot_role

),

category_mart as (

    select
        snapshot_role,
        sum(spend) as mart_revenue

    from category_features
    group by 1

),

category_staging as (

    select
        snapshots.snapshot_role,
        sum(order_lines.quantity * order_lines.unit_price - coalesce(order_lines.discount_amount, 0)) as staging_revenue

    from order_lines
    inner join registered_orders
        on order_lines.order_id = registered_orders.order_id
    inner join products
        on order_lines.product_id = products.product_id
    inner join snapshots
        on registered_orders.ordered_at < snapshots.feature_cutoff_at
    where products.top_level_category_id is not null
    group by 1

),

category_check as (

    select
        'fct_customer_category_features' as mart,
        snapshots.snapshot_role,
        cast(null as bigint) as mart_orders,
        cast(null as bigint) as staging_orders,
        category_mart.mart_revenue,
        category_staging.staging_revenue

    from snapshots
    left join category_mart
        on snapshots.snapshot_role = category_mart.snapshot_role
    left join category_staging
        on snapshots.snapshot_role = category_staging.snapshot_role

),

comparisons as (

    select * from rfm_check
    union all
    select * from dim_check
    union all
    select * from features_check
    union all
    select * from category_check

)

select *
from comparisons
where coalesce(mart_orders, 0) <> coalesce(staging_orders, 0)
    or abs(coalesce(mart_revenue, 0) - coalesce(staging_revenue, 0))
        > 0.01 + 1e-9 * abs(coalesce(staging_revenue, 0))
