-- Every raw experiment assignment, typed, with the first data-contract check it fails
-- (dq_reason; NULL when clean). The contract requires the experiment: an assignment to an experiment that
-- is not a clean row of experiments is quarantined.
with

source as (

    select * from {{ source('shop', 'experiment_assignments') }}

),

typed as (

    select
        {{ clean_text('experiment_id') }} as experiment_id,
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_text('variant') }} as variant,
        cast(assigned_at as string) as assigned_at_raw,
        try_cast(assigned_at as timestamp) as assigned_at

    from source

),

experiments as (

    select experiment_id from {{ ref('base_shop__experiments') }}
    where dq_reason is null

),

ranked as (

    select
        typed.*,
        row_number() over (
            partition by typed.experiment_id, typed.customer_id order by typed.assigned_at, typed.variant
        ) as copy_number,
        experiments.experiment_id is null as is_orphan

    from typed
    left join experiments
        on typed.experiment_id = experiments.experiment_id

),

checked as (

    select
        {{ surrogate_key(['experiment_id', 'customer_id']) }} as assignment_id,
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

    from ranked

)

select * from checked
