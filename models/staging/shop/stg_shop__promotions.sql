-- Rows of the raw promotions that pass every data-contract check, typed (see base_shop__promotions).
with

checked as (

    select * from {{ ref('base_shop__promotions') }}

),

clean as (

    select
        promotion_id,
        promotion_name,
        channel,
        discount_rate,
        contact_cost,
        launched_at

    from checked
    where dq_reason is null

)

select * from clean
