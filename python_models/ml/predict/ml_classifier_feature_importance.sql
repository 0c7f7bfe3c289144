-- One row per classifier x feature of its chosen model (refitted on all train rows): the normalised
-- importance (sums to 1 per classifier) and its rank. record_type = 'importance' of the fit tables.
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

    select classifier, model, feature, source_column, importance, importance_rank, record_type
    from purchase_propensity
    union all
    select classifier, model, feature, source_column, importance, importance_rank, record_type
    from category_propensity
    union all
    select classifier, model, feature, source_column, importance, importance_rank, record_type
    from returning_customer
    union all
    select classifier, model, feature, source_column, importance, importance_rank, record_type
    from facebook_acquisition

),

final as (

    select
        classifier,
        model,
        feature,
        source_column,
        importance,
        importance_rank

    from unioned
    where record_type = 'importance'

)

select * from final
