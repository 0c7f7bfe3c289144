-- One row per point at which a customer's state is measured for the uplift models (the pairs
-- (feature_point_id, customer_id, as_of_at) that int_customer_state_as_of turns into features):
--   training: every experiment exposure whose attribution window has closed, as of its assigned_at;
--             feature_point_id = experiment_id || ':' || customer_id (the exposure key of the
--             simulated world's truth as well);
--   scoring:  every registered customer, as of the score cutoff of int_snapshot_dates (midnight after
--             the last day of data), feature_point_id = 'score:' || customer_id.
-- Every experiment is kept here, including one with a sample-ratio mismatch: the uplift pipeline
-- drops such experiments with the same chi-square test as ml_experiment_results (see doc uplift_features).
with

exposures as (

    select * from {{ ref('fct_experiment_exposures') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

snapshot_dates as (

    select * from {{ ref('int_snapshot_dates') }}

),

training_points as (

    select
        exposures.experiment_id || ':' || exposures.customer_id as feature_point_id,
        'training' as point_role,
        exposures.customer_id,
        exposures.assigned_at as as_of_at

    from exposures
    where exposures.is_window_closed

),

scoring_points as (

    select
        'score:' || customers.customer_id as feature_point_id,
        'scoring' as point_role,
        customers.customer_id,
        snapshot_dates.feature_cutoff_at as as_of_at

    from customers
    inner join snapshot_dates
        on snapshot_dates.snapshot_role = 'score'

),

final as (

    select * from training_points
    union all
    select * from scoring_points

)

select * from final
