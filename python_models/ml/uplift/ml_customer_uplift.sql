-- One row per customer x promotion arm: the uplift scores of the training run ml_uplift_run
-- (table_name = 'scores'), typed. See doc uplift_models.
with

runs as (

    select * from {{ ref('ml_uplift_run') }}

),

final as (

    select
        customer_id,
        promotion_id,
        experiment_id,
        learner,
        base_learner,
        predicted_uplift,
        predicted_control_probability,
        predicted_treated_probability,
        cast(uplift_rank as integer) as uplift_rank,
        cast(propensity_rank as integer) as propensity_rank,
        segment,
        model_version,
        trained_at

    from runs
    where table_name = 'scores'

)

select * from final
