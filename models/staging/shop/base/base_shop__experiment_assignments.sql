-- Every raw experiment assignment, typed, with the first data-contract check it fails
-- (dq_reason; NULL when clean). The contract requires the experiment: an assignment to an experiment that
-- is not a clean row of experiments is quarantined.
with

typed as (

    select * from {{ ref('base_shop__experiment_assignments_typed') }}

),

experiments as (

    select experiment_id from {{ ref('base_shop__experiments') }}
    where dq_reason is null

),

flagged as (

    select
        typed.*,
        experiments.experiment_id is null as is_orphan

    from typed
    left join experiments
        on typed.experiment_id = experiments.experiment_id

),

checked as (

    select
        assignment_id,
        experiment_id,
        customer_id,
        variant,
        assigned_at_raw,
        assigned_at,
        copy_number,
        {{ first_failed_check([
            ['missing_experiment_id', 'experiment_id is null'],
            ['missing_customer_id', 'customer_id is null'],
            ['missing_variant', 'variant is null'],
            ['missing_assigned_at', 'assigned_at_raw is null'],
            ['unparseable_assigned_at', is_unparseable('assigned_at_raw', 'assigned_at')],
            ['implausible_assigned_at', is_implausible_time('assigned_at')],
            ['unknown_experiment_id', 'is_orphan'],
            ['duplicate_assignment', 'copy_number > 1'],
        ]) }} as dq_reason

    from flagged

)

select * from checked
