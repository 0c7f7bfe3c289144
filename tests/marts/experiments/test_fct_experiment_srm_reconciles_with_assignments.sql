-- The observed users of fct_experiment_srm add up to the clean assignments of each experiment, and
-- every experiment with assignments is present. Returns the experiments that do not reconcile.
with

assignments as (

    select * from {{ ref('stg_shop__experiment_assignments') }}

),

srm as (

    select * from {{ ref('fct_experiment_srm') }}

),

assigned as (

    select
        experiment_id,
        count(*) as assigned_users

    from assignments
    group by experiment_id

),

observed as (

    select
        experiment_id,
        sum(observed_users) as observed_users,
        max(experiment_users) as experiment_users

    from srm
    group by experiment_id

),

compared as (

    select
        assigned.experiment_id,
        assigned.assigned_users,
        observed.observed_users,
        observed.experiment_users

    from assigned
    left join observed
        on assigned.experiment_id = observed.experiment_id

)

select * from compared
where observed_users is null
    or observed_users <> assigned_users
    or experiment_users <> assigned_users
