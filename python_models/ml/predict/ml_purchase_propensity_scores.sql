-- One row per customer of the score snapshot: the probability of an order in the 30 days after the
-- score cutoff from the chosen purchase-propensity model (refitted on all train rows), its decile and
-- whether it clears the model's F1 threshold. Selected from the fit table (record_type = 'score').
with

fit as (

    select * from {{ ref('ml_purchase_propensity_fit') }}

),

scores as (

    select
        customer_id,
        probability,
        is_above_threshold,
        threshold,
        model,
        model_version,
        trained_at

    from fit
    where record_type = 'score'

),

final as (

    select
        customer_id,
        probability as purchase_probability,
        ntile(10) over (order by probability desc, customer_id) as propensity_decile,
        is_above_threshold as is_likely_buyer,
        threshold,
        model,
        model_version,
        trained_at

    from scores

)

select * from final
