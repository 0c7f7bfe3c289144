-- Rows of the raw order_lines that pass every data-contract check, typed (see base_shop__order_lines).
with

checked as (

    select * from {{ ref('base_shop__order_lines') }}

),

clean as (

    select
        order_line_id,
        order_id,
        product_id,
        line_number,
        quantity,
        unit_price,
        discount_amount

    from checked
    where dq_reason is null

)

select * from clean
