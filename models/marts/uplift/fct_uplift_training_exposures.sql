-- One row per experiment exposure whose attribution window has closed: the arm the customer was
-- randomized to, the outcome in the attribution window (is_converted, revenue) and the customer's
-- state strictly before assigned_at (int_customer_state_as_of at the exposure points of
-- int_feature_points). The training table of the uplift models (retail_lift.uplift.pipeline); every experiment is kept, and the pipeline drops those with
-- a sample-ratio mismatch (doc uplift_features).
with

exposures as (

    select * from {{ ref('fct_experiment_exposures') }}

),

customer_states as (

    select * from {{ ref('int_customer_state_as_of') }}
    where point_role = 'exposure'

),

closed_exposures as (

    select
        exposures.experiment_id || ':' || exposures.customer_id as exposure_id,
        exposures.assignment_id,
        exposures.experiment_id,
        exposures.customer_id,
        exposures.variant,
        exposures.is_control,
        exposures.is_converted,
        exposures.revenue,
        exposures.assigned_at,
        exposures.window_ends_at

    from exposures
    where exposures.is_window_closed

),

final as (

    select
        closed_exposures.exposure_id,
        closed_exposures.assignment_id,
        closed_exposures.experiment_id,
        closed_exposures.customer_id,
        closed_exposures.variant,
        closed_exposures.is_control,
        closed_exposures.is_converted,
        closed_exposures.revenue,
        customer_states.age_band,
        customer_states.gender,
        customer_states.region,
        customer_states.acquisition_channel,
        customer_states.device_preference,
        customer_states.follows_page,
        customer_states.heard_of_shop,
        customer_states.tenure_days,
        customer_states.orders_before,
        customer_states.orders_30d,
        customer_states.orders_90d,
        customer_states.revenue_before,
        customer_states.revenue_30d,
        customer_states.revenue_90d,
        customer_states.discounted_order_share,
        customer_states.days_since_last_order,
        customer_states.sessions_30d,
        customer_states.sessions_90d,
        customer_states.views_30d,
        customer_states.views_90d,
        customer_states.carts_30d,
        customer_states.carts_90d,
        customer_states.days_since_last_visit,
        closed_exposures.assigned_at,
        closed_exposures.window_ends_at

    from closed_exposures
    inner join customer_states
        on closed_exposures.exposure_id = customer_states.feature_point_id

)

select * from final
