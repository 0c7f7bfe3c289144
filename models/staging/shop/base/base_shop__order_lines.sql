-- Every raw order line, typed, with the first data-contract check it fails (dq_reason; NULL when clean).
-- The contract requires each line's order: a line whose order_id is not a clean order is quarantined
-- as an orphan (only when the input has orders at all).
with

typed as (

    select * from {{ ref('base_shop__order_lines_typed') }}

),

orders as (

    select order_id from {{ ref('base_shop__orders') }}
    where dq_reason is null

),

orders_present as (

    select count(*) > 0 as has_orders from orders

),

flagged as (

    select
        typed.*,
        orders.order_id is null and orders_present.has_orders as is_orphan

    from typed
    cross join orders_present
    left join orders
        on typed.order_id = orders.order_id

),

checked as (

    select
        order_line_id,
        order_id,
        product_id,
        line_number_raw,
        line_number,
        quantity_raw,
        quantity,
        unit_price_raw,
        unit_price,
        discount_amount_raw,
        discount_amount,
        copy_number,
        {{ first_failed_check([
            ['missing_order_id', 'order_id is null'],
            ['missing_product_id', 'product_id is null'],
            ['unparseable_line_number', 'line_number is null'],
            ['unparseable_quantity', 'quantity is null'],
            ['non_positive_quantity', 'quantity <= 0'],
            ['unparseable_unit_price', is_unparseable('unit_price_raw', 'unit_price')],
            ['not_finite_unit_price', is_not_finite('unit_price')],
            ['negative_unit_price', 'unit_price < 0'],
            ['absurd_unit_price', 'unit_price > ' ~ var('max_order_amount')],
            ['unparseable_discount_amount', is_unparseable('discount_amount_raw', 'discount_amount')],
            ['not_finite_discount_amount', is_not_finite('discount_amount')],
            ['negative_discount_amount', 'discount_amount < 0'],
            ['orphan_order_id', 'is_orphan'],
            ['duplicate_order_line', 'copy_number > 1'],
        ]) }} as dq_reason

    from flagged

)

select * from checked
