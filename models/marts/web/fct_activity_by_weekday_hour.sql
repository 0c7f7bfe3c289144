-- One row per ISO weekday (1 = Monday ... 7 = Sunday, see macro iso_weekday) × hour of day (0-23,
-- UTC): events of each type in that slot over the whole period, sessions started in it and how many
-- of them converted. Every one of the 168 slots is present (zeros when nothing happened).
with

sessionized_events as (

    select * from {{ ref('int_events_sessionized') }}

),

sessions as (

    select * from {{ ref('fct_sessions') }}

),

weekdays as (

    {% for weekday in range(1, 8) -%}
    select {{ weekday }} as iso_weekday
    {% if not loop.last %}union all
    {% endif %}
    {%- endfor %}

),

hours as (

    {% for hour in range(24) -%}
    select {{ hour }} as hour_of_day
    {% if not loop.last %}union all
    {% endif %}
    {%- endfor %}

),

slots as (

    select
        weekdays.iso_weekday,
        hours.hour_of_day

    from weekdays
    cross join hours

),

events_by_slot as (

    select
        {{ iso_weekday('event_at') }} as iso_weekday,
        cast(extract(hour from event_at) as integer) as hour_of_day,
        count_if(event_role = 'product_view') as views,
        count_if(event_role = 'add_to_cart') as carts,
        count_if(event_role = 'purchase') as purchases,
        count(distinct visitor_id) as active_visitors

    from sessionized_events
    group by 1, 2

),

sessions_by_slot as (

    select
        {{ iso_weekday('session_started_at') }} as iso_weekday,
        cast(extract(hour from session_started_at) as integer) as hour_of_day,
        count(*) as sessions,
        count_if(is_converted) as converted_sessions

    from sessions
    group by 1, 2

),

final as (

    select
        slots.iso_weekday,
        {{ iso_weekday_name('slots.iso_weekday') }} as weekday_name,
        slots.hour_of_day,
        coalesce(events_by_slot.views, 0) as views,
        coalesce(events_by_slot.carts, 0) as carts,
        coalesce(events_by_slot.purchases, 0) as purchases,
        coalesce(events_by_slot.active_visitors, 0) as active_visitors,
        coalesce(sessions_by_slot.sessions, 0) as sessions,
        coalesce(sessions_by_slot.converted_sessions, 0) as converted_sessions,
        cast(sessions_by_slot.converted_sessions as double) / nullif(sessions_by_slot.sessions, 0) as session_conversion_rate,
        cast(events_by_slot.carts as double) / nullif(events_by_slot.views, 0) as cart_events_per_view,
        cast(events_by_slot.purchases as double) / nullif(events_by_slot.views, 0) as purchase_events_per_view

    from slots
    left join events_by_slot
        on slots.iso_weekday = events_by_slot.iso_weekday
        and slots.hour_of_day = events_by_slot.hour_of_day
    left join sessions_by_slot
        on slots.iso_weekday = sessions_by_slot.iso_weekday
        and slots.hour_of_day = sessions_by_slot.hour_of_day

)

select * from final
