-- One row per experiment x promotion arm x learner x metric on the holdout (qini_auc, uplift_auc,
-- uplift_at_<k>, observed_uplift, placebo_qini_mean, placebo_qini_sd, n_treated, n_control), plus a
-- 'status' row with a note for every arm that was not modelled (sample-ratio mismatch, too few rows),
-- from the training run ml_uplift_run (table_name = 'metrics').
with

runs as (

    select * from {{ ref('ml_uplift_run') }}

),

final as (

    select
        experiment_id,
        promotion_id,
        coalesce(learner, 'none') as learner,
        metric_name,
        metric_value,
        is_selected_learner,
        note

    from runs
    where table_name = 'metrics'

)

select * from final
