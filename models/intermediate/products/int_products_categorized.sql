-- Every product of the catalogue with its leaf category and that category's top-level ancestor.
-- A product whose category is not in the category table keeps its category_id and has no top level.
with

products as (

    select * from {{ ref('stg_shop__products') }}

),

categories as (

    select * from {{ ref('int_categories_rolled_up') }}

),

final as (

    select
        products.product_id,
        products.category_id,
        categories.top_level_category_id,
        categories.top_level_category_name,
        products.price,
        products.unit_cost,
        products.launched_at

    from products
    left join categories
        on products.category_id = categories.category_id

)

select * from final
