-- Rows of the raw experiment_assignments that pass every data-contract check, typed (see base_shop__experiment_assignments).
with

checked as (

    select * from {{ ref('base_shop__experiment_assignments') }}

),

clean as (

    select
        assignment_id,
        experiment_id,
        customer_id,
        variant,
        assigned_at

    from checked
    where dq_reason is null

)

select * from clean
