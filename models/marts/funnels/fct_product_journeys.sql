{{
    config(
        on_schema_change='fail',
        **incremental_by_key(['visitor_id', 'product_id'], 'last_event_at')
    )
}}

-- One row per visitor × product with at least one product event (roles product_view, add_to_cart, or
-- purchase with a product_id): the view → add-to-cart → purchase journey
-- stitched within var('stitch_view_to_cart_hours') and var('stitch_cart_to_purchase_days'); see the
-- doc block product_journey_stitching. Out-of-order steps (a cart with no view before it, a purchase
-- with no stitched cart before it, steps outside their window) are counted in unstitched_* and never
-- enter the funnel.
--
-- Cost: no window over the event log. One aggregation of all events per pair, and the carts and
-- purchases (a few percent of the events) hash-joined to the views and carts of the same visitor and
-- product. The events CTE is read by four CTEs: DuckDB materialises it (one scan of
-- int_events_sessionized); Spark may re-scan the table, pruned to the columns and event roles needed.
--
-- Incremental by pair on DuckDB (macro incremental_by_key; a full table on Spark): a run recomputes, each over
-- its whole history, the pairs
--   - with an event on the rewritten days: from the day of the latest last_event_at already loaded minus
--     var('incremental_lookback_days') on (no later than the first day int_events_sessionized rewrites, since
--     these events are some of its events), new and late events,
--   - loaded with a last_event_at on those days (their events there may have changed or gone),
--   - loaded with a customer, acquisition channel or (top) category that changed since (late registrations),
-- and replaces them: the rows of the pairs it returns and every loaded row with a last_event_at on those days
-- are deleted, then its rows inserted. A pair's earlier events do not change (int_events_sessionized rewrites
-- only whole days from its first day on), so the table equals a full refresh as long as late events arrive
-- within the lookback.
with

product_events as (

    -- the product roles of the journeys (product_view, add_to_cart) and purchases, with a product_id:
    -- page events and purchases logged without a product are not in any journey
    select * from {{ ref('int_events_sessionized') }}
    where product_id is not null
        and event_role in ('product_view', 'add_to_cart', 'purchase')

),

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

categories as (

    select * from {{ ref('stg_shop__categories') }}

),

{% if is_incremental() %}
changed_pairs as (

    select visitor_id, product_id
    from product_events
    where event_date >= {{ incremental_first_day(this, 'last_event_at') }}

    union

    select visitor_id, product_id
    from {{ this }}
    where cast(last_event_at as date) >= {{ incremental_first_day(this, 'last_event_at') }}

    union

    select loaded.visitor_id, loaded.product_id
    from {{ this }} as loaded
    left join customers
        on loaded.visitor_id = customers.visitor_id
    left join products
        on loaded.product_id = products.product_id
    left join categories
        on products.category_id = categories.category_id
    where (loaded.customer_id is distinct from (customers.customer_id))
        or (loaded.acquisition_channel is distinct from (customers.acquisition_channel))
        or (loaded.category_id is distinct from (products.category_id))
        or (loaded.top_category_id is distinct from (coalesce(categories.parent_category_id, products.category_id)))

),

-- the whole history of the changed pairs
events as (

    select product_events.*
    from product_events
    inner join changed_pairs
        on product_events.visitor_id = changed_pairs.visitor_id
        and product_events.product_id = changed_pairs.product_id

),
{% else %}
events as (

    select * from product_events

),
{% endif %}

pair_totals as (

    select
        visitor_id,
        product_id,
        min(case when event_role = 'product_view' then event_at end) as first_viewed_at,
        min_by(
            case when event_role = 'product_view' then coalesce(device, 'unknown') end,
            case when event_role = 'product_view' then event_at end
        ) as first_view_device,
        -- session numbers grow with time: the smallest is the first view's
        min(case when event_role = 'product_view' then visitor_session_number end) as first_view_session_number,
        max(event_at) as last_event_at,
        count_if(event_role = 'product_view') as views,
        count_if(event_role = 'add_to_cart') as carts,
        count_if(event_role = 'purchase') as purchases

    from events
    group by visitor_id, product_id

),

view_events as (

    select
        visitor_id,
        product_id,
        coalesce(device, 'unknown') as device,
        visitor_session_number,
        event_at

    from events
    where event_role = 'product_view'

),

cart_events as (

    select
        event_id,
        visitor_id,
        product_id,
        event_at

    from events
    where event_role = 'add_to_cart'

),

purchase_events as (

    select
        event_id,
        visitor_id,
        product_id,
        event_at

    from events
    where event_role = 'purchase'

),

-- A cart is stitched to the latest view of the same product at or before it, at most
-- stitch_view_to_cart_hours earlier (a view at the same instant counts as before).
stitched_carts as (

    select
        cart_events.event_id,
        cart_events.visitor_id,
        cart_events.product_id,
        cart_events.event_at as carted_at,
        max(view_events.event_at) as viewed_at,
        max_by(view_events.device, view_events.event_at) as device,
        max(view_events.visitor_session_number) as view_session_number

    from cart_events
    inner join view_events
        on cart_events.visitor_id = view_events.visitor_id
        and cart_events.product_id = view_events.product_id
        and view_events.event_at <= cart_events.event_at
        and view_events.event_at >= cart_events.event_at - interval '{{ var("stitch_view_to_cart_hours") }}' hour
    group by cart_events.event_id, cart_events.visitor_id, cart_events.product_id, cart_events.event_at

),

-- A purchase is stitched to the latest stitched cart of the same product at or before it, at most
-- stitch_cart_to_purchase_days earlier; it inherits that cart's view.
stitched_purchases as (

    select
        purchase_events.event_id,
        purchase_events.visitor_id,
        purchase_events.product_id,
        purchase_events.event_at as purchased_at,
        max(stitched_carts.carted_at) as carted_at,
        max_by(stitched_carts.viewed_at, stitched_carts.carted_at) as viewed_at,
        max_by(stitched_carts.device, stitched_carts.carted_at) as device,
        max_by(stitched_carts.view_session_number, stitched_carts.carted_at) as view_session_number

    from purchase_events
    inner join stitched_carts
        on purchase_events.visitor_id = stitched_carts.visitor_id
        and purchase_events.product_id = stitched_carts.product_id
        and stitched_carts.carted_at <= purchase_events.event_at
        and stitched_carts.carted_at >= purchase_events.event_at - interval '{{ var("stitch_cart_to_purchase_days") }}' day
    group by purchase_events.event_id, purchase_events.visitor_id, purchase_events.product_id, purchase_events.event_at

),

first_stitched_cart as (

    select
        visitor_id,
        product_id,
        min(carted_at) as carted_at,
        min_by(viewed_at, carted_at) as viewed_at,
        min_by(device, carted_at) as device,
        min_by(view_session_number, carted_at) as view_session_number,
        count(*) as stitched_carts

    from stitched_carts
    group by visitor_id, product_id

),

first_stitched_purchase as (

    select
        visitor_id,
        product_id,
        min(purchased_at) as purchased_at,
        min_by(carted_at, purchased_at) as carted_at,
        min_by(viewed_at, purchased_at) as viewed_at,
        min_by(device, purchased_at) as device,
        min_by(view_session_number, purchased_at) as view_session_number,
        count(*) as stitched_purchases

    from stitched_purchases
    group by visitor_id, product_id

),

-- The journey follows the first stitched purchase when there is one, else the first stitched cart,
-- else the first view.
journeys as (

    select
        pair_totals.visitor_id,
        pair_totals.product_id,
        coalesce(
            first_stitched_purchase.device, first_stitched_cart.device, pair_totals.first_view_device, 'unknown'
        ) as device,
        coalesce(
            first_stitched_purchase.view_session_number,
            first_stitched_cart.view_session_number,
            pair_totals.first_view_session_number
        ) as view_session_number,
        pair_totals.views,
        pair_totals.carts,
        pair_totals.purchases,
        coalesce(first_stitched_cart.stitched_carts, 0) as stitched_carts,
        coalesce(first_stitched_purchase.stitched_purchases, 0) as stitched_purchases,
        pair_totals.first_viewed_at,
        coalesce(
            first_stitched_purchase.viewed_at, first_stitched_cart.viewed_at, pair_totals.first_viewed_at
        ) as viewed_at,
        coalesce(first_stitched_purchase.carted_at, first_stitched_cart.carted_at) as carted_at,
        first_stitched_purchase.purchased_at,
        pair_totals.last_event_at

    from pair_totals
    left join first_stitched_cart
        on pair_totals.visitor_id = first_stitched_cart.visitor_id
        and pair_totals.product_id = first_stitched_cart.product_id
    left join first_stitched_purchase
        on pair_totals.visitor_id = first_stitched_purchase.visitor_id
        and pair_totals.product_id = first_stitched_purchase.product_id

),

final as (

    select
        journeys.visitor_id,
        journeys.product_id,
        customers.customer_id,
        products.category_id,
        coalesce(categories.parent_category_id, products.category_id) as top_category_id,
        journeys.device,
        customers.acquisition_channel,
        case
            when journeys.viewed_at is null then 'no_view'
            when journeys.purchased_at is not null then 'purchased'
            when journeys.carted_at is not null then 'carted'
            else 'viewed'
        end as funnel_stage,
        journeys.views,
        journeys.carts,
        journeys.purchases,
        journeys.stitched_carts,
        journeys.stitched_purchases,
        journeys.carts - journeys.stitched_carts as unstitched_carts,
        journeys.purchases - journeys.stitched_purchases as unstitched_purchases,
        {{ seconds_between('journeys.viewed_at', 'journeys.carted_at') }} / 3600.0 as hours_view_to_cart,
        {{ seconds_between('journeys.carted_at', 'journeys.purchased_at') }} / 3600.0 as hours_cart_to_purchase,
        {{ seconds_between('journeys.viewed_at', 'journeys.purchased_at') }} / 3600.0 as hours_view_to_purchase,
        journeys.viewed_at is not null as is_viewed,
        journeys.carted_at is not null as is_carted,
        journeys.purchased_at is not null as is_purchased,
        coalesce(
            journeys.purchased_at > journeys.viewed_at + interval '{{ var("delayed_feedback_hours") }}' hour,
            false
        ) as is_delayed_purchase,
        journeys.view_session_number = 1 as is_new_visitor,
        journeys.first_viewed_at,
        journeys.viewed_at,
        journeys.carted_at,
        journeys.purchased_at,
        journeys.last_event_at,
        cast(journeys.viewed_at as date) as viewed_date

    from journeys
    left join customers
        on journeys.visitor_id = customers.visitor_id
    left join products
        on journeys.product_id = products.product_id
    left join categories
        on products.category_id = categories.category_id

)

select * from final
