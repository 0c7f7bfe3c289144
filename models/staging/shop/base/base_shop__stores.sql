-- Every raw store, typed, with the first data-contract check it fails (dq_reason; NULL when clean).
with

source as (

    select * from {{ source('shop', 'stores') }}

),

typed as (

    select
        {{ clean_text('store_id') }} as store_id,
        {{ clean_text('store_name') }} as store_name,
        lower({{ clean_text('region') }}) as region,
        cast(opened_at as string) as opened_at_raw,
        try_cast(opened_at as timestamp) as opened_at

    from source

),

ranked as (

    select
        *,
        row_number() over (partition by store_id order by opened_at, store_name) as copy_number

    from typed

),

checked as (

    select
        store_id,
        store_name,
        region,
        opened_at_raw,
        opened_at,
        copy_number,
        {{ first_failed_check([
            ['missing_store_id', 'store_id is null'],
            ['unparseable_opened_at', is_unparseable('opened_at_raw', 'opened_at')],
            ['duplicate_store_id', 'copy_number > 1'],
        ]) }} as dq_reason

    from ranked

)

select * from checked
