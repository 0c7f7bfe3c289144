-- One row per breakdown × breakdown value × funnel date (NULL: all time): the view → cart → purchase
-- funnel of the product journeys (metric definitions: doc block product_funnel_metrics). The configurable
-- step funnel of sessions (var funnel_steps) is fct_funnel. Journeys without a
-- view are not in the funnel. Every journey falls in exactly one value of each breakdown.
--
-- Cost: no count(distinct). The journeys are first grouped per visitor within every grouping set, so
-- the distinct visitors of a group are its rows; the medians are taken over the carted journeys only
-- (the others have no step times).
{%- set breakdowns = ['device', 'top_category', 'acquisition_channel', 'visitor_type'] %}


with

journeys as (

    select * from {{ ref('fct_product_journeys') }}

),

data_end as (

    select max(last_event_at) as data_end_at
    from journeys

),

viewed_journeys as (

    select
        visitor_id,
        viewed_date as funnel_date,
        device,
        coalesce(top_category_id, 'unknown') as top_category,
        case
            when customer_id is null then 'unregistered'
            else coalesce(acquisition_channel, 'unknown')
        end as acquisition_channel,
        case when is_new_visitor then 'new' else 'returning' end as visitor_type,
        is_carted,
        is_purchased,
        is_delayed_purchase,
        hours_view_to_cart,
        hours_cart_to_purchase,
        hours_view_to_purchase

    from journeys
    where is_viewed

),

-- One row per group × visitor: the visitor's journeys in the group.
visitor_groups as (

    select
        {{ breakdown_columns(breakdowns) }},
        visitor_id,
        count(*) as journeys_viewed,
        count_if(is_carted) as journeys_carted,
        count_if(is_purchased) as journeys_purchased,
        count_if(is_delayed_purchase) as delayed_purchases

    from viewed_journeys
    {{ breakdown_grouping_sets(breakdowns, keys=['visitor_id']) }}

),

step_counts as (

    select
        breakdown,
        breakdown_value,
        funnel_date,
        sum(journeys_viewed) as journeys_viewed,
        sum(journeys_carted) as journeys_carted,
        sum(journeys_purchased) as journeys_purchased,
        sum(delayed_purchases) as delayed_purchases,
        count(*) as visitors_viewed,
        count_if(journeys_carted > 0) as visitors_carted,
        count_if(journeys_purchased > 0) as visitors_purchased

    from visitor_groups
    group by breakdown, breakdown_value, funnel_date

),

step_times as (

    select
        {{ breakdown_columns(breakdowns) }},
        median(hours_view_to_cart) as median_hours_view_to_cart,
        median(hours_cart_to_purchase) as median_hours_cart_to_purchase,
        median(hours_view_to_purchase) as median_hours_view_to_purchase

    from viewed_journeys
    where is_carted
    {{ breakdown_grouping_sets(breakdowns) }}

),

final as (

    select
        step_counts.breakdown,
        step_counts.breakdown_value,
        step_counts.funnel_date,
        step_counts.journeys_viewed,
        step_counts.journeys_carted,
        step_counts.journeys_purchased,
        step_counts.delayed_purchases,
        step_counts.journeys_viewed - step_counts.journeys_carted as journeys_dropped_after_view,
        step_counts.journeys_carted - step_counts.journeys_purchased as journeys_dropped_after_cart,
        step_counts.visitors_viewed,
        step_counts.visitors_carted,
        step_counts.visitors_purchased,
        cast(step_counts.journeys_carted as double) / nullif(step_counts.journeys_viewed, 0) as view_to_cart_rate,
        cast(step_counts.journeys_purchased as double) / nullif(step_counts.journeys_carted, 0) as cart_to_purchase_rate,
        cast(step_counts.journeys_purchased as double) / nullif(step_counts.journeys_viewed, 0) as view_to_purchase_rate,
        1.0 - cast(step_counts.journeys_carted as double) / nullif(step_counts.journeys_viewed, 0) as view_drop_off_rate,
        1.0 - cast(step_counts.journeys_purchased as double) / nullif(step_counts.journeys_carted, 0) as cart_drop_off_rate,
        cast(step_counts.visitors_purchased as double) / nullif(step_counts.visitors_viewed, 0) as visitor_conversion_rate,
        cast(step_counts.delayed_purchases as double) / nullif(step_counts.journeys_purchased, 0) as delayed_purchase_share,
        step_times.median_hours_view_to_cart,
        step_times.median_hours_cart_to_purchase,
        step_times.median_hours_view_to_purchase,
        case
            when step_counts.funnel_date is null then null
            else cast(step_counts.funnel_date as timestamp)
                + interval '1' day
                + interval '{{ var("stitch_view_to_cart_hours") }}' hour
                + interval '{{ var("stitch_cart_to_purchase_days") }}' day
                <= data_end.data_end_at
        end as is_window_complete

    from step_counts
    left join step_times
        on step_counts.breakdown = step_times.breakdown
        and step_counts.breakdown_value = step_times.breakdown_value
        -- null-safe: funnel_date is NULL on the all-time rows
        and (step_counts.funnel_date) is not distinct from (step_times.funnel_date)
    cross join data_end

)

select * from final
