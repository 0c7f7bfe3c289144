-- One row per evaluated experiment exposure x the arm it is compared in (the arm's treated exposures
-- and the experiment's control exposures): the outcome and the out-of-fold prediction of the learner
-- chosen and fitted without the exposure's fold (nested cross-fitting), from the training run ml_uplift_run
-- (table_name = 'holdout_predictions').
with

runs as (

    select * from {{ ref('ml_uplift_run') }}

),

final as (

    select
        exposure_id,
        promotion_id,
        customer_id,
        experiment_id,
        variant,
        is_treated,
        is_converted,
        revenue,
        learner,
        base_learner,
        fold,
        predicted_uplift,
        predicted_control_probability,
        model_version,
        trained_at

    from runs
    where table_name = 'holdout_predictions'

)

select * from final
