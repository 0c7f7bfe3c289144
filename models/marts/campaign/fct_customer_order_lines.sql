-- One row per order line of a customer's order: who bought which product (and its leaf and top-level
-- category) when, in which channel. The baskets that cross-sell mines and the items each customer
-- already owns. A product outside the catalogue keeps its product_id with NULL categories.
with

order_lines as (

    select * from {{ ref('stg_shop__order_lines') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

products as (

    select * from {{ ref('int_products_categorized') }}

),

final as (

    select
        order_lines.order_line_id,
        order_lines.order_id,
        order_lines.line_number,
        orders.customer_id,
        order_lines.product_id,
        products.category_id,
        products.top_level_category_id,
        orders.channel,
        order_lines.quantity,
        cast(order_lines.quantity * order_lines.unit_price - coalesce(order_lines.discount_amount, 0) as double)
            as line_revenue,
        orders.ordered_at

    from order_lines
    inner join orders
        on order_lines.order_id = orders.order_id
    left join products
        on order_lines.product_id = products.product_id

)

select * from final
