-- Conversion funnel by experiment variant: per experiment × variant, how many assigned customers
-- visited, viewed a product, added one to the cart and bought within the experiment's attribution
-- window after their assignment (experiments.attribution_days, else var('attribution_days')).
-- Customers are linked to web visitors through stg_shop__customers.visitor_id; a customer without a
-- visitor id counts as assigned but can never reach a web step. Steps are counted per customer (has
-- at least one such event after assignment), not stitched per product (see fct_product_journeys for
-- that). Compare the assigned counts with the planned split before reading the rates: a sample-ratio
-- mismatch (exp_cart_popup) makes them untrustworthy.
--
-- Run: dbt show -s conversion_funnel_by_variant (or dbt compile, then run the compiled SQL).
with

assignments as (

    select * from {{ ref('stg_shop__experiment_assignments') }}

),

experiments as (

    select * from {{ ref('stg_shop__experiments') }}

),

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

events as (

    select * from {{ ref('int_events_sessionized') }}

),

assigned_customers as (

    select
        assignments.experiment_id,
        assignments.variant,
        assignments.customer_id,
        customers.visitor_id,
        assignments.assigned_at,
        {{ dbt.dateadd(
            'day',
            'coalesce(experiments.attribution_days, ' ~ var('attribution_days') ~ ')',
            'assignments.assigned_at'
        ) }} as window_ends_at

    from assignments
    left join experiments
        on assignments.experiment_id = experiments.experiment_id
    left join customers
        on assignments.customer_id = customers.customer_id

),

-- Only the events of assigned visitors inside their window: the join filters the event log early.
customer_steps as (

    select
        assigned_customers.experiment_id,
        assigned_customers.variant,
        assigned_customers.customer_id,
        count(events.event_id) > 0 as has_visit,
        count_if(events.event_type = 'view') > 0 as has_view,
        count_if(events.event_type = 'addtocart') > 0 as has_cart,
        count_if(events.event_type = 'transaction') > 0 as has_purchase,
        count_if(events.event_type = 'transaction') as purchase_events

    from assigned_customers
    left join events
        on assigned_customers.visitor_id = events.visitor_id
        and events.event_at >= assigned_customers.assigned_at
        and events.event_at < assigned_customers.window_ends_at
    group by 1, 2, 3

),

by_variant as (

    select
        experiment_id,
        variant,
        count(*) as assigned_customers,
        count_if(has_visit) as visited,
        count_if(has_view) as viewed,
        count_if(has_cart) as carted,
        count_if(has_purchase) as purchased,
        sum(purchase_events) as purchase_events

    from customer_steps
    group by 1, 2

),

final as (

    select
        experiment_id,
        variant,
        assigned_customers,
        cast(assigned_customers as double)
            / sum(assigned_customers) over (partition by experiment_id) as share_of_assigned,
        visited,
        viewed,
        carted,
        purchased,
        purchase_events,
        cast(visited as double) / nullif(assigned_customers, 0) as visit_rate,
        cast(carted as double) / nullif(viewed, 0) as view_to_cart_rate,
        cast(purchased as double) / nullif(carted, 0) as cart_to_purchase_rate,
        cast(purchased as double) / nullif(assigned_customers, 0) as conversion_rate

    from by_variant

)

select * from final
order by experiment_id, variant
