-- Rows of the raw categories that pass every data-contract check, typed (see base_shop__categories).
with

checked as (

    select * from {{ ref('base_shop__categories') }}

),

clean as (

    select
        category_id,
        parent_category_id,
        category_name

    from checked
    where dq_reason is null

)

select * from clean
