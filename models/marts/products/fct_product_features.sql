-- One row per catalogue product x snapshot role (int_snapshot_dates), for the products launched
-- before the snapshot's cutoff (or with no launch date): popularity (views, carts, purchase events,
-- distinct visitors, units and revenue sold), conversion rates, price tier, age and cold-start flag,
-- all from data strictly before feature_cutoff_at. See doc product_features.
with

products as (

    select * from {{ ref('int_products_categorized') }}

),

activity as (

    select * from {{ ref('int_product_activity_daily') }}

),

snapshots as (

    select * from {{ ref('int_snapshot_dates') }}

),

windows as (

    select
        snapshot_role,
        feature_date,
        feature_cutoff_at,
        {{ dbt.dateadd('day', -30, 'feature_cutoff_at') }} as window_30d_start_at,
        cast({{ dbt.dateadd('day', -30, 'feature_date') }} as date) as window_30d_start_date

    from snapshots

),

activity_features as (

    select
        activity.product_id,
        windows.snapshot_role,
        sum(activity.views) as views_all,
        sum(activity.carts) as carts_all,
        sum(activity.purchases) as purchases_all,
        sum(activity.new_visitors) as distinct_visitors,
        sum(activity.units_sold) as units_sold_all,
        sum(activity.revenue) as revenue_all,
        sum(case when activity.activity_date >= windows.window_30d_start_date then activity.views else 0 end)
            as views_30d,
        sum(case when activity.activity_date >= windows.window_30d_start_date then activity.carts else 0 end)
            as carts_30d,
        sum(case when activity.activity_date >= windows.window_30d_start_date then activity.purchases else 0 end)
            as purchases_30d,
        sum(case when activity.activity_date >= windows.window_30d_start_date then activity.units_sold else 0 end)
            as units_sold_30d,
        min(case when activity.views > 0 then activity.activity_date end) as first_view_date

    from activity
    inner join windows
        on activity.activity_date < windows.feature_date
    group by 1, 2

),

joined as (

    select
        products.product_id,
        windows.snapshot_role,
        windows.feature_date,
        windows.feature_cutoff_at,
        products.category_id,
        products.top_level_category_id,
        products.price,
        products.launched_at,
        windows.window_30d_start_at,
        cast(coalesce(activity_features.views_all, 0) as bigint) as views_all,
        cast(coalesce(activity_features.carts_all, 0) as bigint) as carts_all,
        cast(coalesce(activity_features.purchases_all, 0) as bigint) as purchases_all,
        cast(coalesce(activity_features.distinct_visitors, 0) as bigint) as distinct_visitors,
        cast(coalesce(activity_features.units_sold_all, 0) as bigint) as units_sold_all,
        cast(coalesce(activity_features.revenue_all, 0.0) as double) as revenue_all,
        cast(coalesce(activity_features.views_30d, 0) as bigint) as views_30d,
        cast(coalesce(activity_features.carts_30d, 0) as bigint) as carts_30d,
        cast(coalesce(activity_features.purchases_30d, 0) as bigint) as purchases_30d,
        cast(coalesce(activity_features.units_sold_30d, 0) as bigint) as units_sold_30d,
        activity_features.first_view_date

    from products
    cross join windows
    left join activity_features
        on products.product_id = activity_features.product_id
        and windows.snapshot_role = activity_features.snapshot_role
    where products.launched_at is null
        or products.launched_at < windows.feature_cutoff_at

),

final as (

    select
        product_id,
        snapshot_role,
        feature_date,
        feature_cutoff_at,
        category_id,
        top_level_category_id,
        price,
        {{ quintile_score('price', partition_by='snapshot_role') }} as price_tier,
        launched_at,
        {{ seconds_between('launched_at', 'feature_cutoff_at') }} / 86400.0 as days_since_launch,
        coalesce(launched_at >= window_30d_start_at, false) or views_all = 0 as is_cold_start,
        views_30d,
        carts_30d,
        purchases_30d,
        units_sold_30d,
        views_all,
        carts_all,
        purchases_all,
        distinct_visitors,
        units_sold_all,
        revenue_all,
        cast(carts_all as double) / nullif(views_all, 0) as view_to_cart_rate,
        cast(purchases_all as double) / nullif(carts_all, 0) as cart_to_purchase_rate,
        cast(purchases_all as double) / nullif(views_all, 0) as view_to_purchase_rate,
        first_view_date

    from joined

)

select * from final
