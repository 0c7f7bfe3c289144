-- Every raw experiment, typed, with the first data-contract check it fails (dq_reason; NULL when clean).
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
        try_cast(ended_at as timestamp) as ended_at

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
