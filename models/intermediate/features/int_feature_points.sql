{{ config(materialized='table') }}

-- A table, not a view: as a view, its union inlined into int_customer_state_as_of's IN-subqueries fails on
-- Spark 4 (ClassCastException deserializing UnionExec.children in a task); the table is read as a relation.
-- One row per point at which a customer's state is measured (doc point_in_time_features): the single list
-- of (entity, as-of time, role) that int_customer_state_as_of turns into features for both the classifiers
-- and the uplift models.
--   train:    every registered customer at the cutoff of each labelled classifier snapshot
--             (int_classifier_snapshot_dates: train, oot_train, oot_validation, oot_test);
--   score:    every registered customer at the score cutoff (midnight after the last day of data), the
--             rows the classifiers and the uplift models score;
--   exposure: every experiment exposure whose attribution window has closed, as of its assigned_at (the
--             uplift training rows; the same closed-window rule as fct_experiment_exposures, macro
--             exposure_window_is_closed).
-- feature_point_id = snapshot_role || ':' || customer_id for snapshots, experiment_id || ':' || customer_id
-- for exposures (the exposure key of fct_uplift_training_exposures and of the simulated world's truth).
-- Only staging and intermediate models are read.
with

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

classifier_snapshots as (

    select * from {{ ref('int_classifier_snapshot_dates') }}

),

snapshot_dates as (

    select * from {{ ref('int_snapshot_dates') }}

),

assignments as (

    select * from {{ ref('stg_shop__experiment_assignments') }}

),

experiments as (

    select * from {{ ref('stg_shop__experiments') }}

),

snapshot_points as (

    select
        classifier_snapshots.snapshot_role || ':' || customers.customer_id as feature_point_id,
        case when classifier_snapshots.snapshot_role = 'score' then 'score' else 'train' end as point_role,
        customers.customer_id,
        customers.visitor_id,
        classifier_snapshots.feature_cutoff_at as as_of_at,
        classifier_snapshots.snapshot_role,
        cast(null as {{ dbt.type_string() }}) as experiment_id

    from customers
    cross join classifier_snapshots

),

analysis_bounds as (

    select {{ experiments_analysis_ends_at('feature_cutoff_at') }} as analysis_ends_at
    from snapshot_dates
    where snapshot_role = 'score'

),

exposure_windows as (

    select
        assignments.experiment_id,
        assignments.customer_id,
        assignments.assigned_at,
        {{ dbt.dateadd(
            'day',
            'cast(coalesce(experiments.attribution_days, ' ~ var('attribution_days') ~ ') as integer)',
            'assignments.assigned_at'
        ) }} as window_ends_at,
        analysis_bounds.analysis_ends_at

    from assignments
    left join experiments
        on assignments.experiment_id = experiments.experiment_id
    cross join analysis_bounds

),

exposure_points as (

    select
        exposure_windows.experiment_id || ':' || exposure_windows.customer_id as feature_point_id,
        'exposure' as point_role,
        exposure_windows.customer_id,
        customers.visitor_id,
        exposure_windows.assigned_at as as_of_at,
        cast(null as {{ dbt.type_string() }}) as snapshot_role,
        exposure_windows.experiment_id

    from exposure_windows
    left join customers
        on exposure_windows.customer_id = customers.customer_id
    where {{ exposure_window_is_closed(
        'exposure_windows.assigned_at', 'exposure_windows.window_ends_at', 'exposure_windows.analysis_ends_at'
    ) }}

),

final as (

    select * from snapshot_points
    union all
    select * from exposure_points

)

select * from final
