-- One row per classifier x model x metric x split: every metric of retail_lift.predict on the customer
-- holdout and in-sample on the training part, for the four classifiers (record_type = 'metric' of
-- their fit tables). See doc classifier_metrics.
with

purchase_propensity as (

    select * from {{ ref('ml_purchase_propensity_fit') }}

),

category_propensity as (

    select * from {{ ref('ml_category_propensity_fit') }}

),

returning_customer as (

    select * from {{ ref('ml_returning_customer_fit') }}

),

facebook_acquisition as (

    select * from {{ ref('ml_facebook_acquisition_fit') }}

),

unioned as (

    select classifier, model, is_chosen_model, split, metric, value, record_type from purchase_propensity
    union all
    select classifier, model, is_chosen_model, split, metric, value, record_type from category_propensity
    union all
    select classifier, model, is_chosen_model, split, metric, value, record_type from returning_customer
    union all
    select classifier, model, is_chosen_model, split, metric, value, record_type from facebook_acquisition

),

final as (

    select
        classifier,
        model,
        is_chosen_model,
        split,
        metric,
        value

    from unioned
    where record_type = 'metric'

)

select * from final
