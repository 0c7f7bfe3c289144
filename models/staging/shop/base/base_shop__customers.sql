-- Every raw customer, typed, personal data hashed, with the first data-contract check it fails
-- (dq_reason; NULL when clean). E-mail and name never leave this model unhashed.
with

source as (

    select * from {{ source('shop', 'customers') }}

),

typed as (

    select
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_text('visitor_id') }} as visitor_id,
        lower({{ clean_text('age_band') }}) as age_band,
        lower({{ clean_text('gender') }}) as gender,
        lower({{ clean_text('region') }}) as region,
        lower({{ clean_text('acquisition_channel') }}) as acquisition_channel,
        lower({{ clean_text('device_preference') }}) as device_preference,
        md5(lower({{ clean_text('email') }})) as email_hash,
        md5(lower({{ clean_text('full_name') }})) as full_name_hash,
        cast(follows_page as string) as follows_page_raw,
        try_cast(follows_page as boolean) as follows_page,
        cast(heard_of_shop as string) as heard_of_shop_raw,
        try_cast(heard_of_shop as boolean) as heard_of_shop,
        cast(signed_up_at as string) as signed_up_at_raw,
        try_cast(signed_up_at as timestamp) as signed_up_at

    from source

),

ranked as (

    select
        *,
        row_number() over (partition by customer_id order by signed_up_at, visitor_id) as copy_number

    from typed

),

checked as (

    select
        customer_id,
        visitor_id,
        age_band,
        gender,
        region,
        acquisition_channel,
        device_preference,
        email_hash,
        full_name_hash,
        follows_page_raw,
        follows_page,
        heard_of_shop_raw,
        heard_of_shop,
        signed_up_at_raw,
        signed_up_at,
        copy_number,
        {{ first_failed_check([
            ['missing_customer_id', 'customer_id is null'],
            ['unparseable_signed_up_at', is_unparseable('signed_up_at_raw', 'signed_up_at')],
            ['implausible_signed_up_at', is_implausible_time('signed_up_at')],
            ['unparseable_follows_page', is_unparseable('follows_page_raw', 'follows_page')],
            ['unparseable_heard_of_shop', is_unparseable('heard_of_shop_raw', 'heard_of_shop')],
            ['duplicate_customer_id', 'copy_number > 1'],
        ]) }} as dq_reason

    from ranked

)

select * from checked
