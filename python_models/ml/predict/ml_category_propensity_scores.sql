-- One row per customer x top-level category of the score snapshot: the probability of buying in the
-- category in the 30 days after the score cutoff, the category's rank among the customer's categories
-- (1 = most likely) and whether it clears the model's F1 threshold. Selected from the fit table.
with

fit as (

    select * from {{ ref('ml_category_propensity_fit') }}

),

scores as (

    select
        customer_id,
        top_level_category_id,
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
        top_level_category_id,
        probability as category_purchase_probability,
        row_number() over (
            partition by customer_id
            order by probability desc, top_level_category_id
        ) as category_rank,
        is_above_threshold as is_likely_category_buyer,
        threshold,
        model,
        model_version,
        trained_at

    from scores

)

select * from final
