-- One row per experiment x promotion arm x learner x base learner x metric: the selected learner's
-- nested out-of-fold metrics (qini_auc, uplift_auc, uplift_at_<k>, observed_uplift), its placebo
-- (placebo_qini_mean / _sd / _p95, n_placebo, placebo_pass), selection_agreement, n_treated, n_control,
-- every candidate's inner_qini, plus 'status' rows with a note for every arm not estimated (sample-ratio
-- mismatch, empty arm, a single outcome value, too few treated conversions or rows) and 'placebo_status'
-- rows for arms that fail the placebo, from the training run ml_uplift_run (table_name = 'metrics').
with

runs as (

    select * from {{ ref('ml_uplift_run') }}

),

final as (

    select
        experiment_id,
        promotion_id,
        coalesce(learner, 'none') as learner,
        coalesce(base_learner, 'none') as base_learner,
        metric_name,
        metric_value,
        is_selected_learner,
        note,
        model_version,
        trained_at

    from runs
    where table_name = 'metrics'

)

select * from final
