-- One row per experiment x variant (every variant of the planned split, and any variant assigned but
-- not planned): users observed, planned weight and share, and the users expected under the plan
-- (expected = the experiment's observed users x planned share), so that the chi-square sample-ratio
-- mismatch test is sum(chi_square_contribution) on (planned variants - 1) degrees of freedom
-- (retail_lift.experiments.srm_test). Users are all clean assignments, whether or not their
-- attribution window has closed: SRM is about assignment, not outcomes. A variant assigned but not
-- planned has no expected users and is itself a sample-ratio mismatch (is_planned = false).
with

assignments as (

    select * from {{ ref('stg_shop__experiment_assignments') }}

),

experiments as (

    select * from {{ ref('stg_shop__experiments') }}

),

planned_splits as (

    select * from {{ ref('int_experiment_planned_splits') }}

),

observed as (

    select
        experiment_id,
        variant,
        count(*) as observed_users

    from assignments
    group by experiment_id, variant

),

variants as (

    select experiment_id, variant from observed
    union
    select experiment_id, variant from planned_splits

),

combined as (

    select
        variants.experiment_id,
        variants.variant,
        coalesce(
            planned_splits.is_control,
            variants.variant = experiments.control_variant,
            variants.variant = 'control'
        ) as is_control,
        planned_splits.variant is not null as is_planned,
        coalesce(observed.observed_users, 0) as observed_users,
        planned_splits.planned_weight,
        planned_splits.planned_share

    from variants
    left join experiments
        on variants.experiment_id = experiments.experiment_id
    left join observed
        on variants.experiment_id = observed.experiment_id
        and variants.variant = observed.variant
    left join planned_splits
        on variants.experiment_id = planned_splits.experiment_id
        and variants.variant = planned_splits.variant

),

with_totals as (

    select
        *,
        sum(observed_users) over (partition by experiment_id) as experiment_users

    from combined

),

with_expected as (

    select
        *,
        experiment_users * planned_share as expected_users

    from with_totals

),

final as (

    select
        experiment_id,
        variant,
        is_control,
        is_planned,
        cast(observed_users as integer) as observed_users,
        cast(experiment_users as integer) as experiment_users,
        case when experiment_users > 0 then cast(observed_users as double) / experiment_users end as observed_share,
        planned_weight,
        planned_share,
        expected_users,
        case
            when expected_users > 0
                then (observed_users - expected_users) * (observed_users - expected_users) / expected_users
        end as chi_square_contribution

    from with_expected

)

select * from final
