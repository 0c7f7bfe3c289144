-- Every raw order, typed, with the first data-contract check it fails (dq_reason; NULL when clean).
with

source as (

    select * from {{ source('shop', 'orders') }}

),

typed as (

    select
        {{ clean_text('order_id') }} as order_id,
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_text('store_id') }} as store_id,
        {{ clean_text('promotion_id') }} as promotion_id,
        lower({{ clean_text('channel') }}) as channel,
        cast(amount as string) as amount_raw,
        try_cast(amount as double) as amount,
        cast(discount_amount as string) as discount_amount_raw,
        try_cast(discount_amount as double) as discount_amount,
        cast(ordered_at as string) as ordered_at_raw,
        try_cast(ordered_at as timestamp) as ordered_at

    from source

),

ranked as (

    select
        *,
        row_number() over (partition by order_id order by ordered_at, amount, customer_id) as copy_number

    from typed

),

checked as (

    select
        order_id,
        customer_id,
        store_id,
        promotion_id,
        channel,
        amount_raw,
        amount,
        discount_amount_raw,
        discount_amount,
        ordered_at_raw,
        ordered_at,
        copy_number,
        {{ first_failed_check([
            ['missing_order_id', 'order_id is null'],
            ['missing_customer_id', 'customer_id is null'],
            ['missing_ordered_at', 'ordered_at_raw is null'],
            ['unparseable_ordered_at', is_unparseable('ordered_at_raw', 'ordered_at')],
            ['implausible_ordered_at', is_implausible_time('ordered_at')],
            ['unparseable_amount', is_unparseable('amount_raw', 'amount')],
            ['not_finite_amount', is_not_finite('amount')],
            ['negative_amount', 'amount < 0'],
            ['absurd_amount', 'amount > ' ~ var('max_order_amount')],
            ['unparseable_discount_amount', is_unparseable('discount_amount_raw', 'discount_amount')],
            ['not_finite_discount_amount', is_not_finite('discount_amount')],
            ['negative_discount_amount', 'discount_amount < 0'],
            ['unknown_channel', "channel is not null and channel not in ('online', 'store')"],
            ['duplicate_order_id', 'copy_number > 1'],
        ]) }} as dq_reason

    from ranked

)

select * from checked
