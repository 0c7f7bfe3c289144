-- Every raw experiment, typed, with the first data-contract check it fails (dq_reason; NULL when clean).
-- The optional registry overrides (primary_metric ... max_duration_days; retail_lift.experiments.registry
-- .OVERRIDE_COLUMNS) never quarantine an experiment: a value that does not parse is named in
-- override_problem, and the experiment's decision reads 'invalid: <reason>' (ml_experiment_decisions).
with

source as (

    select * from {{ source('shop', 'experiments') }}

),

typed as (

    select
        {{ clean_text('experiment_id') }} as experiment_id,
        {{ clean_text('experiment_name') }} as experiment_name,
        {{ clean_text('control_variant') }} as control_variant,
        {{ clean_text('planned_split') }} as planned_split,
        cast(attribution_days as string) as attribution_days_raw,
        try_cast(attribution_days as integer) as attribution_days,
        cast(started_at as string) as started_at_raw,
        try_cast(started_at as timestamp) as started_at,
        cast(ended_at as string) as ended_at_raw,
        try_cast(ended_at as timestamp) as ended_at,
        {{ clean_text('primary_metric') }} as primary_metric,
        cast(mde_relative as string) as mde_relative_raw,
        try_cast(mde_relative as double) as mde_relative,
        cast(alpha as string) as alpha_raw,
        try_cast(alpha as double) as alpha,
        cast(power as string) as power_raw,
        try_cast(power as double) as power,
        cast(planned_users_per_arm as string) as planned_users_per_arm_raw,
        try_cast(planned_users_per_arm as integer) as planned_users_per_arm,
        cast(baseline as string) as baseline_raw,
        try_cast(baseline as double) as baseline,
        cast(baseline_sd as string) as baseline_sd_raw,
        try_cast(baseline_sd as double) as baseline_sd,
        lower({{ clean_text('analysis_mode') }}) as analysis_mode,
        cast(max_duration_days as string) as max_duration_days_raw,
        try_cast(max_duration_days as integer) as max_duration_days

    from source

),

ranked as (

    select
        *,
        row_number() over (partition by experiment_id order by started_at, experiment_name) as copy_number

    from typed

),

checked as (

    select
        experiment_id,
        experiment_name,
        control_variant,
        planned_split,
        attribution_days_raw,
        attribution_days,
        started_at_raw,
        started_at,
        ended_at_raw,
        ended_at,
        primary_metric,
        mde_relative,
        alpha,
        power,
        planned_users_per_arm,
        baseline,
        baseline_sd,
        analysis_mode,
        max_duration_days,
        {{ first_failed_check([
            ['unparseable_mde_relative', is_unparseable('mde_relative_raw', 'mde_relative')],
            ['unparseable_alpha', is_unparseable('alpha_raw', 'alpha')],
            ['unparseable_power', is_unparseable('power_raw', 'power')],
            ['unparseable_planned_users_per_arm', is_unparseable('planned_users_per_arm_raw', 'planned_users_per_arm')],
            ['unparseable_baseline', is_unparseable('baseline_raw', 'baseline')],
            ['unparseable_baseline_sd', is_unparseable('baseline_sd_raw', 'baseline_sd')],
            ['unparseable_max_duration_days', is_unparseable('max_duration_days_raw', 'max_duration_days')],
        ]) }} as override_problem,
        copy_number,
        {{ first_failed_check([
            ['missing_experiment_id', 'experiment_id is null'],
            ['missing_control_variant', 'control_variant is null'],
            ['unparseable_started_at', 'started_at is null'],
            ['unparseable_ended_at', 'ended_at is null'],
            ['ends_before_start', 'ended_at < started_at'],
            ['invalid_attribution_days', 'attribution_days is null or attribution_days <= 0'],
            ['duplicate_experiment_id', 'copy_number > 1'],
        ]) }} as dq_reason

    from ranked

)

select * from checked
