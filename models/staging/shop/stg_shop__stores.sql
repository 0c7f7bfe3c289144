-- Rows of the raw stores that pass every data-contract check, typed (see base_shop__stores).
with

checked as (

    select * from {{ ref('base_shop__stores') }}

),

clean as (

    select
        store_id,
        store_name,
        region,
        opened_at

    from checked
    where dq_reason is null

)

select * from clean
