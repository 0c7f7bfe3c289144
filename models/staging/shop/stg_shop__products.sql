-- Rows of the raw products that pass every data-contract check, typed (see base_shop__products).
with

checked as (

    select * from {{ ref('base_shop__products') }}

),

clean as (

    select
        product_id,
        category_id,
        product_name,
        price,
        unit_cost,
        launched_at

    from checked
    where dq_reason is null

)

select * from clean
