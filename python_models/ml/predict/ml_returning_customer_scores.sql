-- One row per first-time buyer of the score snapshot (exactly one order so far): the probability of a
-- second order in the 30 days after the score cutoff and whether it clears the model's F1 threshold.
-- Selected from the fit table (record_type = 'score').
with

fit as (

    select * from {{ ref('ml_returning_customer_fit') }}

),

final as (

    select
        customer_id,
        probability as return_probability,
        is_above_threshold as is_likely_to_return,
        threshold,
        model,
        model_version,
        trained_at

    from fit
    where record_type = 'score'

)

select * from final
