-- One row per customer of the score snapshot: the probability that a customer with this profile and
-- behaviour came from facebook (a look-alike score; the acquisition channel itself is not a feature)
-- and whether it clears the model's F1 threshold. Selected from the fit table (record_type = 'score').
with

fit as (

    select * from {{ ref('ml_facebook_acquisition_fit') }}

),

final as (

    select
        customer_id,
        probability as facebook_probability,
        is_above_threshold as is_facebook_lookalike,
        threshold,
        model,
        model_version,
        trained_at

    from fit
    where record_type = 'score'

)

select * from final
