{{ config(materialized='view') }}

-- Every raw order line, typed (text kept for values that do not parse), keyed and numbered within its key.
-- The data-contract checks are in base_shop__order_lines.
with

source as (

    select * from {{ source('shop', 'order_lines') }}

),

typed as (

    select
        {{ clean_text('order_id') }} as order_id,
        {{ clean_text('product_id') }} as product_id,
        cast(line_number as string) as line_number_raw,
        try_cast(line_number as integer) as line_number,
        cast(quantity as string) as quantity_raw,
        try_cast(quantity as integer) as quantity,
        cast(unit_price as string) as unit_price_raw,
        try_cast(unit_price as double) as unit_price,
        cast(discount_amount as string) as discount_amount_raw,
        try_cast(discount_amount as double) as discount_amount

    from source

),

keyed as (

    select
        {{ surrogate_key(['order_id', 'line_number']) }} as order_line_id,
        typed.*,
        row_number() over (
            partition by order_id, line_number order by product_id, quantity, unit_price
        ) as copy_number

    from typed

)

select * from keyed
