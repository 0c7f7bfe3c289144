{{ config(materialized='table') }}

-- Every raw event, typed, with the first data-contract check it fails (dq_reason; NULL when clean).
-- A table, not a view: the duplicate check (a window over the whole log) then runs once, not once for
-- stg_shop__events and again for stg_shop__quarantined_rows.
with

source as (

    select * from {{ source('shop', 'events') }}

),

event_roles as (

    select * from {{ ref('event_roles') }}

),

typed_raw as (

    select
        {{ clean_text('visitor_id') }} as visitor_id,
        {{ clean_text('product_id') }} as product_id,
        {{ clean_text('transaction_id') }} as transaction_id,
        lower({{ clean_text('event_type') }}) as event_type,
        lower({{ clean_text('device') }}) as device,
        cast(event_at as string) as event_at_raw,
        try_cast(event_at as timestamp) as event_at

    from source

),

-- Any event name is accepted: the seed maps it to a role; a name the seed does not know takes 'other'.
typed as (

    select
        typed_raw.*,
        case
            when typed_raw.event_type is null then null
            else coalesce(event_roles.role, 'other')
        end as event_role

    from typed_raw
    left join event_roles
        on typed_raw.event_type = event_roles.event_name

),

ranked as (

    select
        *,
        row_number() over (
            partition by visitor_id, event_at_raw, event_type, product_id, transaction_id, device
            order by event_at_raw
        ) as copy_number

    from typed

),

checked as (

    select
        {{ surrogate_key(['visitor_id', 'event_at_raw', 'event_type', 'product_id', 'transaction_id', 'device']) }}
            as event_id,
        visitor_id,
        product_id,
        transaction_id,
        event_type,
        event_role,
        device,
        event_at_raw,
        event_at,
        copy_number,
        {{ first_failed_check([
            ['missing_event_at', 'event_at_raw is null'],
            ['unparseable_event_at', is_unparseable('event_at_raw', 'event_at')],
            ['implausible_event_at', is_implausible_time('event_at')],
            ['missing_visitor_id', 'visitor_id is null'],
            ['missing_event_type', 'event_type is null'],
            ['duplicate_event', 'copy_number > 1'],
        ]) }} as dq_reason

    from ranked

)

select * from checked
