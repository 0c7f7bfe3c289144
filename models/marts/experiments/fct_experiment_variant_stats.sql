-- One row per experiment x variant x metric: the sufficient statistics of the metric at the
-- experiment's LAST look (the end of the data, or var experiments_as_of), i.e. the last look_date of
-- fct_experiment_daily_looks, which computes them from the metric definitions (seed experiment_metrics)
-- and the exposures (see there and the experiment_metrics doc block). Same columns as the looks
-- without look_date, plus last_look_date: every row is one input of the statistics functions
-- (CupedStats / welch_test / two_proportion_test; ratio metrics via the delta method).
-- Exposures whose window is still open at the last look are left out of every sum and counted in
-- open_window_users.
with

daily_looks as (

    select * from {{ ref('fct_experiment_daily_looks') }}

),

last_looks as (

    select
        experiment_id,
        max(look_date) as last_look_date

    from daily_looks
    group by experiment_id

),

final as (

    select
        daily_looks.experiment_id,
        daily_looks.variant,
        daily_looks.metric_name,
        daily_looks.metric_type,
        daily_looks.is_control,
        daily_looks.users,
        daily_looks.open_window_users,
        daily_looks.sum_y,
        daily_looks.sumsq_y,
        daily_looks.sum_d,
        daily_looks.sumsq_d,
        daily_looks.sum_yd,
        daily_looks.sum_x,
        daily_looks.sumsq_x,
        daily_looks.sum_xy,
        daily_looks.sum_e,
        daily_looks.sumsq_e,
        daily_looks.sum_xe,
        daily_looks.sum_ye,
        daily_looks.sum_de,
        daily_looks.sum_dx,
        daily_looks.winsor_cap,
        daily_looks.mean_y,
        daily_looks.mean_x,
        daily_looks.metric_value,
        daily_looks.look_date as last_look_date

    from daily_looks
    inner join last_looks
        on daily_looks.experiment_id = last_looks.experiment_id
        and daily_looks.look_date = last_looks.last_look_date

)

select * from final
