-- One row per promotion arm x uplift segment (persuadable, sure_thing, lost_cause, do_not_disturb):
-- size and share of the predicted incremental conversions, from the training run ml_uplift_run
-- (table_name = 'segments').
with

runs as (

    select * from {{ ref('ml_uplift_run') }}

),

final as (

    select
        promotion_id,
        experiment_id,
        segment,
        cast(customers as integer) as customers,
        share_of_customers,
        predicted_incremental_conversions,
        share_of_predicted_incremental_conversions,
        mean_predicted_uplift,
        mean_predicted_control_probability,
        uplift_threshold,
        control_probability_threshold,
        model_version,
        trained_at

    from runs
    where table_name = 'segments'

)

select * from final
