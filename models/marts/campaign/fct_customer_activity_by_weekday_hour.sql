-- One row per registered customer × ISO weekday (1 = Monday ... 7 = Sunday, macro iso_weekday) × hour
-- of day (0-23, UTC) in which the customer's visitor id had web activity: events, and sessions started
-- in that slot (a session counts in the slot of its first event). Slots without activity are absent.
-- The activity profile from which the campaign picks each customer's send time.
with

sessionized_events as (

    select * from {{ ref('int_events_sessionized') }}

),

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

customer_events as (

    select
        customers.customer_id,
        sessionized_events.event_at,
        sessionized_events.event_number_in_session

    from sessionized_events
    inner join customers
        on sessionized_events.visitor_id = customers.visitor_id

),

final as (

    select
        customer_id,
        {{ iso_weekday('event_at') }} as iso_weekday,
        cast(extract(hour from event_at) as integer) as hour_of_day,
        count(*) as events,
        count_if(event_number_in_session = 1) as sessions_started

    from customer_events
    group by 1, 2, 3

)

select * from final
