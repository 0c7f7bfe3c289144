-- One row per experiment x variant x metric: the sufficient statistics of the metric over the
-- variant's exposures whose attribution window has closed, in the form retail_lift.experiments
-- reads them (users, sum_y, sumsq_y, sum_x, sumsq_x, sum_xy; y = the outcome, x = its pre-period
-- covariate). Long (one row per metric) so that every row is one CupedStats / welch_test input and a
-- new metric is a new row, not new columns. Metric definitions: the experiment_metrics doc block.
--   conversion_rate:  y = 1 if any order in the window, x = orders in the pre-period
--   revenue_per_user: y = revenue in the window,        x = revenue in the pre-period
--   add_to_cart_rate: y = 1 if any add-to-cart,         x = add-to-cart events in the pre-period
-- Exposures whose window is still open are left out of every sum and counted in open_window_users.
with

exposures as (

    select * from {{ ref('fct_experiment_exposures') }}

),

metric_values as (

    select
        experiment_id,
        variant,
        is_control,
        is_window_closed,
        'conversion_rate' as metric_name,
        case when is_converted then 1.0 else 0.0 end as y,
        cast(pre_period_orders as double) as x
    from exposures

    union all

    select
        experiment_id,
        variant,
        is_control,
        is_window_closed,
        'revenue_per_user' as metric_name,
        cast(revenue as double) as y,
        cast(pre_period_revenue as double) as x
    from exposures

    union all

    select
        experiment_id,
        variant,
        is_control,
        is_window_closed,
        'add_to_cart_rate' as metric_name,
        case when has_added_to_cart then 1.0 else 0.0 end as y,
        cast(pre_period_carts as double) as x
    from exposures

),

closed_windows as (

    select
        experiment_id,
        variant,
        is_control,
        is_window_closed,
        metric_name,
        case when is_window_closed then y end as y,
        case when is_window_closed then x end as x

    from metric_values

),

aggregated as (

    select
        experiment_id,
        variant,
        metric_name,
        bool_or(is_control) as is_control,
        count_if(is_window_closed) as users,
        count_if(not is_window_closed) as open_window_users,
        coalesce(sum(y), 0) as sum_y,
        coalesce(sum(y * y), 0) as sumsq_y,
        coalesce(sum(x), 0) as sum_x,
        coalesce(sum(x * x), 0) as sumsq_x,
        coalesce(sum(x * y), 0) as sum_xy

    from closed_windows
    group by experiment_id, variant, metric_name

),

final as (

    select
        experiment_id,
        variant,
        metric_name,
        case when metric_name = 'revenue_per_user' then 'mean' else 'proportion' end as metric_type,
        is_control,
        cast(users as integer) as users,
        cast(open_window_users as integer) as open_window_users,
        sum_y,
        sumsq_y,
        sum_x,
        sumsq_x,
        sum_xy,
        case when users > 0 then sum_y / users end as mean_y,
        case when users > 0 then sum_x / users end as mean_x

    from aggregated

)

select * from final
