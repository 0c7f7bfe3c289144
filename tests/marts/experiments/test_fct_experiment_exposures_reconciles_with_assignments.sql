-- Every clean assignment appears in fct_experiment_exposures exactly once, and nothing else does.
-- Returns the assignment_ids that are missing, extra or duplicated.
with

assignments as (

    select * from {{ ref('stg_shop__experiment_assignments') }}

),

exposures as (

    select * from {{ ref('fct_experiment_exposures') }}

),

exposure_counts as (

    select
        assignment_id,
        count(*) as exposure_rows

    from exposures
    group by assignment_id

),

compared as (

    select
        coalesce(assignments.assignment_id, exposure_counts.assignment_id) as assignment_id,
        assignments.assignment_id is not null as is_in_staging,
        coalesce(exposure_counts.exposure_rows, 0) as exposure_rows

    from assignments
    full outer join exposure_counts
        on assignments.assignment_id = exposure_counts.assignment_id

)

select * from compared
where not is_in_staging or exposure_rows <> 1
