-- One row per classifier x model x metric x split for the four classifiers (record_type = 'metric' of
-- their fit tables): train (in-sample, the oot_train snapshot), validation (oot_validation: the model is
-- chosen and the threshold tuned there) and test (oot_test: nothing chosen there), each with the
-- cutoff of its snapshot. See doc classifier_metrics.
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

    select classifier, model, is_chosen_model, split, split_feature_date, metric, value, record_type
    from purchase_propensity
    union all
    select classifier, model, is_chosen_model, split, split_feature_date, metric, value, record_type
    from category_propensity
    union all
    select classifier, model, is_chosen_model, split, split_feature_date, metric, value, record_type
    from returning_customer
    union all
    select classifier, model, is_chosen_model, split, split_feature_date, metric, value, record_type
    from facebook_acquisition

),

final as (

    select
        classifier,
        model,
        is_chosen_model,
        split,
        cast(split_feature_date as date) as split_feature_date,
        metric,
        value

    from unioned
    where record_type = 'metric'

)

select * from final
