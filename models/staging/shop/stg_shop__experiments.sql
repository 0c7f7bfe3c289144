-- Rows of the raw experiments that pass every data-contract check, typed (see base_shop__experiments).
with

checked as (

    select * from {{ ref('base_shop__experiments') }}

),

clean as (

    select
        experiment_id,
        experiment_name,
        control_variant,
        planned_split,
        attribution_days,
        started_at,
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
        override_problem

    from checked
    where dq_reason is null

)

select * from clean
