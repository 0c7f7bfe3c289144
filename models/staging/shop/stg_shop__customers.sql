-- Rows of the raw customers that pass every data-contract check, typed (see base_shop__customers).
with

checked as (

    select * from {{ ref('base_shop__customers') }}

),

clean as (

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
        follows_page,
        heard_of_shop,
        signed_up_at

    from checked
    where dq_reason is null

)

select * from clean
