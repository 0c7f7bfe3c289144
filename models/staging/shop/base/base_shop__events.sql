{{
    config(
        on_schema_change='fail',
        **incremental_by_day('event_date')
    )
}}

-- Every raw event, typed, with the first data-contract check it fails (dq_reason; NULL when clean).
-- A table, not a view: the duplicate check (a window over the log) then runs once, not once for
-- stg_shop__events and again for stg_shop__quarantined_rows.
--
-- Incremental by day (macro incremental_by_day: insert_overwrite of event_date partitions on Spark,
-- delete+insert on event_date on DuckDB). event_date is the day of a plausible event_at; rows without one
-- (missing, unparseable or implausible event_at: all quarantined) share the day before var('min_plausible_at')
-- (macro undated_event_day). A run rewrites, with every raw row of them, the days that
--   - are on or after the day of the latest plausible event already loaded minus var('incremental_lookback_days'),
--   - or hold a different number of raw rows than loaded rows (late events and late copies of an event of an
--     earlier day, however old: counted per day over the raw log, one parsed column, no window),
--   - or are the undated day (a timestamp in the future at the last run may be plausible now).
-- Every copy of an event has the same event_at text, hence the same day: the duplicate check (copy_number)
-- over the rewritten days sees every copy, and the table equals a full refresh. Not seen: a raw row replaced
-- by another on the same day before the lookback (same count), and a change of the seed event_roles or of
-- var('min_plausible_at'): those need a full refresh (dbt build --full-refresh).
with

source as (

    select * from {{ source('shop', 'events') }}

),

event_roles as (

    select * from {{ ref('event_roles') }}

),

dated as (

    select
        source.*,
        cast(source.event_at as string) as event_at_text,
        try_cast(source.event_at as timestamp) as event_at_parsed

    from source

),

days as (

    select
        dated.*,
        case
            when event_at_parsed is null or {{ is_implausible_time('event_at_parsed') }}
                then {{ undated_event_day() }}
            else cast(event_at_parsed as date)
        end as event_day

    from dated

),

{% if is_incremental() %}
raw_days as (

    select event_day, count(*) as raw_rows
    from days
    group by event_day

),

loaded_days as (

    select event_date, count(*) as loaded_rows
    from {{ this }}
    group by event_date

),

rewritten_days as (

    select raw_days.event_day
    from raw_days
    left join loaded_days
        on raw_days.event_day = loaded_days.event_date
    where raw_days.event_day >= {{ incremental_first_day(
              '(select event_at from ' ~ this ~ ' where event_date <> ' ~ undated_event_day() ~ ') as loaded',
              'event_at') }}
        or raw_days.event_day = {{ undated_event_day() }}
        or loaded_days.loaded_rows is null
        or loaded_days.loaded_rows <> raw_days.raw_rows

),

in_scope as (

    select days.*
    from days
    inner join rewritten_days
        on days.event_day = rewritten_days.event_day

),
{% else %}
in_scope as (

    select * from days

),
{% endif %}

typed_raw as (

    select
        {{ clean_text('visitor_id') }} as visitor_id,
        {{ clean_text('product_id') }} as product_id,
        {{ clean_text('transaction_id') }} as transaction_id,
        lower({{ clean_text('event_type') }}) as event_type,
        lower({{ clean_text('device') }}) as device,
        event_at_text as event_at_raw,
        event_at_parsed as event_at,
        event_day

    from in_scope

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
        ]) }} as dq_reason,
        -- the partition column on Spark (last: Spark puts partition columns last)
        event_day as event_date

    from ranked

)

select * from checked
