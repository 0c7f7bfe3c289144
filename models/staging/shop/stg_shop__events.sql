-- Rows of the raw events that pass every data-contract check, typed (see base_shop__events).
-- A view: base_shop__events is a table, and its readers scan the columns they need.
with

checked as (

    select * from {{ ref('base_shop__events') }}

),

clean as (

    select
        event_id,
        visitor_id,
        product_id,
        transaction_id,
        event_type,
        event_role,
        device,
        event_at

    from checked
    where dq_reason is null

)

select * from clean
