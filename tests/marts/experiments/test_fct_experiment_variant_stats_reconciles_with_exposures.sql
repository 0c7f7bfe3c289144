-- For every experiment and metric, users + open_window_users over the variants equals the
-- experiment's exposures assigned before the end of the analysed data (analysis_ends_at: var
-- experiments_as_of can move it back), and the conversion_rate successes equal the converted exposures.
-- Returns the experiment x metric rows that do not reconcile.
with

exposures as (

    select * from {{ ref('fct_experiment_exposures') }}

),

variant_stats as (

    select * from {{ ref('fct_experiment_variant_stats') }}

),

exposure_totals as (

    select
        experiment_id,
        count(*) as exposures,
        count_if(is_converted) as converted

    from exposures
    where assigned_at < analysis_ends_at
    group by experiment_id

),

stats_totals as (

    select
        experiment_id,
        metric_name,
        sum(users + open_window_users) as exposures,
        sum(sum_y) as sum_y

    from variant_stats
    group by experiment_id, metric_name

),

compared as (

    select
        coalesce(exposure_totals.experiment_id, stats_totals.experiment_id) as experiment_id,
        stats_totals.metric_name,
        exposure_totals.exposures as exposures_in_fact,
        stats_totals.exposures as exposures_in_stats,
        exposure_totals.converted,
        stats_totals.sum_y

    from exposure_totals
    full outer join stats_totals
        on exposure_totals.experiment_id = stats_totals.experiment_id

)

select * from compared
where exposures_in_fact is null
    or exposures_in_stats is null
    or exposures_in_fact <> exposures_in_stats
    or (metric_name = 'conversion_rate' and abs(sum_y - converted) > 1e-9)
