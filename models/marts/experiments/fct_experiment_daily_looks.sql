-- One row per experiment x variant x metric x look date: the CUMULATIVE sufficient statistics of the
-- metric at the end of each day (look_date), over the exposures whose attribution window had closed by
-- then, in the form retail_lift.experiments reads them (interface in the experiment_daily_looks doc).
-- Data-driven: the metric definitions are rows of the seed experiment_metrics, joined to an unpivot of
-- the exposure measures (macro experiment_measures), so a new metric is a new seed row.
--   y = the numerator measure (capped at winsor_cap when the metric winsorises), d = the denominator
--   measure (1 when none: proportion and mean metrics), x = the covariate measure (0 when none),
--   e = the covariate denominator (1 when none).
--   looks:        one a day from the day after the experiment starts (started_at, else its first
--                 assignment) to the last look, the day before analysis_ends_at (the end of the data,
--                 or var experiments_as_of).
--   closed by d:  window_ends_at before midnight after d (cast(window_ends_at as date) <= d); with var
--                 experiments_data_complete, the windows still open at the end of the data close at the
--                 last look.
--   open_window_users at d: assigned by the end of d, window not closed by d.
--   winsor_cap:   fixed per experiment x metric on PRE-PERIOD data only (never the outcome): the
--                 nearest-rank winsorize_percentile of the POSITIVE values of the numerator measured over
--                 each exposure's pre-window (its attribution_days days before assignment), over all the
--                 experiment's exposures of every variant; value k = ceil(p x n) of the n positive values
--                 in increasing order. Positive values only, so the cap is never 0; NULL (no capping)
--                 when no exposure has a positive pre-window value.
{%- set measures = experiment_measures() %}
{%- set running_sums = ['sum_y', 'sumsq_y', 'sum_d', 'sumsq_d', 'sum_yd', 'sum_x', 'sumsq_x', 'sum_xy',
                        'sum_e', 'sumsq_e', 'sum_xe', 'sum_ye', 'sum_de', 'sum_dx'] %}
with

exposures as (

    select * from {{ ref('fct_experiment_exposures') }}

),

experiments as (

    select * from {{ ref('stg_shop__experiments') }}

),

metric_definitions as (

    select * from {{ ref('experiment_metrics') }}

),

in_scope as (

    -- exposures assigned before the end of the analysed data (var experiments_as_of may cut it)
    select * from exposures
    where assigned_at < analysis_ends_at

),

experiment_starts as (

    select
        in_scope.experiment_id,
        cast(coalesce(max(experiments.started_at), min(in_scope.assigned_at)) as date) as started_on,
        cast({{ dbt.dateadd('day', -1, 'max(in_scope.analysis_ends_at)') }} as date) as last_look_date

    from in_scope
    left join experiments
        on in_scope.experiment_id = experiments.experiment_id
    group by in_scope.experiment_id

),

look_bounds as (

    select
        experiment_id,
        least(cast({{ dbt.dateadd('day', 1, 'started_on') }} as date), last_look_date) as first_look_date,
        last_look_date

    from experiment_starts

),

look_offsets as (

    select
        experiment_id,
        first_look_date,
        {{ integer_sequence(dbt.datediff('first_look_date', 'last_look_date', 'day')) }} as day_offset

    from look_bounds

),

look_dates as (

    select
        experiment_id,
        cast({{ dbt.dateadd('day', 'day_offset', 'first_look_date') }} as date) as look_date

    from look_offsets

),

exposure_looks as (

    select
        in_scope.assignment_id,
        in_scope.experiment_id,
        in_scope.variant,
        in_scope.is_control,
        in_scope.is_window_closed,
        greatest(cast(in_scope.assigned_at as date), look_bounds.first_look_date) as assigned_look_date,
        case
            when in_scope.is_window_closed
                then least(
                    greatest(cast(in_scope.window_ends_at as date), look_bounds.first_look_date),
                    look_bounds.last_look_date
                )
        end as closed_look_date,
        {%- for m in measures %}
        in_scope.{{ m.name }},
        {%- endfor %}
        {%- for m in measures if m.cap_basis %}
        in_scope.{{ m.cap_basis }}{% if not loop.last %},{% endif %}
        {%- endfor %}

    from in_scope
    inner join look_bounds
        on in_scope.experiment_id = look_bounds.experiment_id

),

measure_values as (

    {%- for m in measures %}
    select
        assignment_id,
        '{{ m.name }}' as measure_name,
        cast({{ m.name }} as double) as measure_value,
        {% if m.cap_basis %}cast({{ m.cap_basis }} as double){% else %}cast(null as double){% endif %} as cap_basis_value
    from exposure_looks
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

cap_basis as (

    select
        exposure_looks.experiment_id,
        metric_definitions.metric_name,
        metric_definitions.winsorize_percentile,
        measure_values.cap_basis_value

    from metric_definitions
    inner join measure_values
        on measure_values.measure_name = metric_definitions.numerator
    inner join exposure_looks
        on measure_values.assignment_id = exposure_looks.assignment_id
    where metric_definitions.winsorize_percentile is not null
        and measure_values.cap_basis_value > 0

),

cap_ranked as (

    select
        experiment_id,
        metric_name,
        winsorize_percentile,
        cap_basis_value,
        row_number() over (partition by experiment_id, metric_name order by cap_basis_value) as value_rank,
        count(*) over (partition by experiment_id, metric_name) as positive_values

    from cap_basis

),

caps as (

    select
        experiment_id,
        metric_name,
        max(case when value_rank = ceil(winsorize_percentile * positive_values) then cap_basis_value end)
            as winsor_cap

    from cap_ranked
    group by experiment_id, metric_name

),

user_values as (

    -- one row per closed exposure x metric: the metric's y, d, x, e (before capping)
    select
        measure_values.assignment_id,
        metric_definitions.metric_name,
        max(case when measure_values.measure_name = metric_definitions.numerator then measure_values.measure_value end)
            as y_raw,
        max(case when measure_values.measure_name = metric_definitions.denominator then measure_values.measure_value end)
            as d_raw,
        max(case when measure_values.measure_name = metric_definitions.covariate then measure_values.measure_value end)
            as x_raw,
        max(
            case when measure_values.measure_name = metric_definitions.covariate_denominator
                then measure_values.measure_value end
        ) as e_raw

    from metric_definitions
    inner join measure_values
        on measure_values.measure_name = metric_definitions.numerator
        or measure_values.measure_name = metric_definitions.denominator
        or measure_values.measure_name = metric_definitions.covariate
        or measure_values.measure_name = metric_definitions.covariate_denominator
    group by measure_values.assignment_id, metric_definitions.metric_name

),

user_metrics as (

    select
        exposure_looks.experiment_id,
        exposure_looks.variant,
        exposure_looks.closed_look_date,
        metric_definitions.metric_name,
        case
            when caps.winsor_cap is not null and user_values.y_raw > caps.winsor_cap then caps.winsor_cap
            else user_values.y_raw
        end as y,
        case when metric_definitions.denominator is null then 1.0 else user_values.d_raw end as d,
        case when metric_definitions.covariate is null then 0.0 else user_values.x_raw end as x,
        case when metric_definitions.covariate_denominator is null then 1.0 else user_values.e_raw end as e

    from user_values
    inner join exposure_looks
        on user_values.assignment_id = exposure_looks.assignment_id
    inner join metric_definitions
        on user_values.metric_name = metric_definitions.metric_name
    left join caps
        on exposure_looks.experiment_id = caps.experiment_id
        and metric_definitions.metric_name = caps.metric_name
    where exposure_looks.is_window_closed

),

daily_closed as (

    select
        experiment_id,
        variant,
        metric_name,
        closed_look_date as look_date,
        count(*) as users,
        sum(y) as sum_y,
        sum(y * y) as sumsq_y,
        sum(d) as sum_d,
        sum(d * d) as sumsq_d,
        sum(y * d) as sum_yd,
        sum(x) as sum_x,
        sum(x * x) as sumsq_x,
        sum(x * y) as sum_xy,
        sum(e) as sum_e,
        sum(e * e) as sumsq_e,
        sum(x * e) as sum_xe,
        sum(y * e) as sum_ye,
        sum(d * e) as sum_de,
        sum(d * x) as sum_dx

    from user_metrics
    group by experiment_id, variant, metric_name, closed_look_date

),

daily_assigned as (

    select
        experiment_id,
        variant,
        assigned_look_date as look_date,
        count(*) as assigned_users

    from exposure_looks
    group by experiment_id, variant, assigned_look_date

),

variants as (

    select
        experiment_id,
        variant,
        bool_or(is_control) as is_control

    from exposure_looks
    group by experiment_id, variant

),

grid as (

    select
        look_dates.experiment_id,
        variants.variant,
        variants.is_control,
        metric_definitions.metric_name,
        metric_definitions.metric_type,
        look_dates.look_date

    from look_dates
    inner join variants
        on look_dates.experiment_id = variants.experiment_id
    cross join metric_definitions

),

cumulative as (

    select
        grid.experiment_id,
        grid.variant,
        grid.metric_name,
        grid.look_date,
        grid.metric_type,
        grid.is_control,
        {%- for col in ['users', 'sum_y', 'sumsq_y', 'sum_d', 'sumsq_d', 'sum_yd', 'sum_x', 'sumsq_x', 'sum_xy',
                        'sum_e', 'sumsq_e', 'sum_xe', 'sum_ye', 'sum_de', 'sum_dx'] %}
        sum(coalesce(daily_closed.{{ col }}, 0)) over (
            partition by grid.experiment_id, grid.variant, grid.metric_name
            order by grid.look_date
            rows between unbounded preceding and current row
        ) as {{ col }},
        {%- endfor %}
        sum(coalesce(daily_assigned.assigned_users, 0)) over (
            partition by grid.experiment_id, grid.variant, grid.metric_name
            order by grid.look_date
            rows between unbounded preceding and current row
        ) as assigned_users,
        caps.winsor_cap

    from grid
    left join daily_closed
        on grid.experiment_id = daily_closed.experiment_id
        and grid.variant = daily_closed.variant
        and grid.metric_name = daily_closed.metric_name
        and grid.look_date = daily_closed.look_date
    left join daily_assigned
        on grid.experiment_id = daily_assigned.experiment_id
        and grid.variant = daily_assigned.variant
        and grid.look_date = daily_assigned.look_date
    left join caps
        on grid.experiment_id = caps.experiment_id
        and grid.metric_name = caps.metric_name

),

rounded as (

    -- the running sums rounded to 6 decimals: the measures carry at most 4 (money squared), and DuckDB and
    -- Spark add the same doubles in different orders, so the unrounded sums can differ in the last bits
    select
        experiment_id,
        variant,
        metric_name,
        look_date,
        metric_type,
        is_control,
        users,
        assigned_users,
        {%- for col in running_sums %}
        cast(round({{ col }}, 6) as double) as {{ col }},
        {%- endfor %}
        winsor_cap

    from cumulative

),

final as (

    select
        experiment_id,
        variant,
        metric_name,
        look_date,
        metric_type,
        is_control,
        cast(users as integer) as users,
        cast(assigned_users - users as integer) as open_window_users,
        {%- for col in running_sums %}
        {{ col }},
        {%- endfor %}
        winsor_cap,
        case when users > 0 then sum_y / users end as mean_y,
        case when users > 0 then sum_x / users end as mean_x,
        case
            when metric_type = 'ratio' then case when sum_d > 0 then sum_y / sum_d end
            when users > 0 then sum_y / users
        end as metric_value

    from rounded

)

select * from final
