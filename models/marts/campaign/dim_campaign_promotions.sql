-- One row per promotion (stg_shop__promotions): channel, discount rate and cost per contact, with the
-- catalogue's gross margin rate, 1 - sum(quantity * unit_cost) / sum(quantity * unit_price) over every
-- order line of a product with a known unit cost (full list price, before discounts). The campaign
-- economics read the promotion chosen by var campaign_promotion_id from here.
with

promotions as (

    select * from {{ ref('stg_shop__promotions') }}

),

order_lines as (

    select * from {{ ref('stg_shop__order_lines') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

catalogue_margin as (

    select
        1 - sum(order_lines.quantity * products.unit_cost)
            / nullif(sum(order_lines.quantity * order_lines.unit_price), 0) as gross_margin_rate

    from order_lines
    inner join products
        on order_lines.product_id = products.product_id
    where products.unit_cost is not null

),

final as (

    select
        promotions.promotion_id,
        promotions.promotion_name,
        promotions.channel,
        promotions.discount_rate,
        promotions.contact_cost,
        cast(catalogue_margin.gross_margin_rate as double) as gross_margin_rate,
        promotions.launched_at

    from promotions
    cross join catalogue_margin

)

select * from final
