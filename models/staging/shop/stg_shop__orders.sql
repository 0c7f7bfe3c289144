-- Rows of the raw orders that pass every data-contract check, typed (see base_shop__orders).
with

checked as (

    select * from {{ ref('base_shop__orders') }}

),

clean as (

    select
        order_id,
        customer_id,
        store_id,
        promotion_id,
        channel,
        amount,
        discount_amount,
        ordered_at

    from checked
    where dq_reason is null

)

select * from clean
