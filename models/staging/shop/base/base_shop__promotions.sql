-- Every raw promotion, typed, with the first data-contract check it fails (dq_reason; NULL when clean).
with

source as (

    select * from {{ source('shop', 'promotions') }}

),

typed as (

    select
        {{ clean_text('promotion_id') }} as promotion_id,
        {{ clean_text('promotion_name') }} as promotion_name,
        lower({{ clean_text('channel') }}) as channel,
        cast(discount_rate as string) as discount_rate_raw,
        try_cast(discount_rate as double) as discount_rate,
        cast(contact_cost as string) as contact_cost_raw,
        try_cast(contact_cost as double) as contact_cost,
        cast(launched_at as string) as launched_at_raw,
        try_cast(launched_at as timestamp) as launched_at

    from source

),

ranked as (

    select
        *,
        row_number() over (partition by promotion_id order by launched_at, promotion_name) as copy_number

    from typed

),

checked as (

    select
        promotion_id,
        promotion_name,
        channel,
        discount_rate_raw,
        discount_rate,
        contact_cost_raw,
        contact_cost,
        launched_at_raw,
        launched_at,
        copy_number,
        {{ first_failed_check([
            ['missing_promotion_id', 'promotion_id is null'],
            ['unparseable_discount_rate', is_unparseable('discount_rate_raw', 'discount_rate')],
            ['not_finite_discount_rate', is_not_finite('discount_rate')],
            ['discount_rate_out_of_range', 'discount_rate < 0 or discount_rate >= 1'],
            ['unparseable_contact_cost', is_unparseable('contact_cost_raw', 'contact_cost')],
            ['not_finite_contact_cost', is_not_finite('contact_cost')],
            ['negative_contact_cost', 'contact_cost < 0'],
            ['unparseable_launched_at', is_unparseable('launched_at_raw', 'launched_at')],
            ['duplicate_promotion_id', 'copy_number > 1'],
        ]) }} as dq_reason

    from ranked

)

select * from checked
