-- Every raw product, typed, with the first data-contract check it fails (dq_reason; NULL when clean).
with

source as (

    select * from {{ source('shop', 'products') }}

),

typed as (

    select
        {{ clean_text('product_id') }} as product_id,
        {{ clean_text('category_id') }} as category_id,
        {{ clean_text('product_name') }} as product_name,
        cast(price as string) as price_raw,
        try_cast(price as double) as price,
        cast(unit_cost as string) as unit_cost_raw,
        try_cast(unit_cost as double) as unit_cost,
        cast(launched_at as string) as launched_at_raw,
        try_cast(launched_at as timestamp) as launched_at

    from source

),

ranked as (

    select
        *,
        row_number() over (partition by product_id order by launched_at, price, category_id) as copy_number

    from typed

),

checked as (

    select
        product_id,
        category_id,
        product_name,
        price_raw,
        price,
        unit_cost_raw,
        unit_cost,
        launched_at_raw,
        launched_at,
        copy_number,
        {{ first_failed_check([
            ['missing_product_id', 'product_id is null'],
            ['unparseable_price', is_unparseable('price_raw', 'price')],
            ['not_finite_price', is_not_finite('price')],
            ['negative_price', 'price < 0'],
            ['absurd_price', 'price > ' ~ var('max_order_amount')],
            ['unparseable_unit_cost', is_unparseable('unit_cost_raw', 'unit_cost')],
            ['not_finite_unit_cost', is_not_finite('unit_cost')],
            ['negative_unit_cost', 'unit_cost < 0'],
            ['unparseable_launched_at', is_unparseable('launched_at_raw', 'launched_at')],
            ['duplicate_product_id', 'copy_number > 1'],
        ]) }} as dq_reason

    from ranked

)

select * from checked
