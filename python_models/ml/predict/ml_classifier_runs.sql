-- One row per classifier: whether it was trained or skipped (too few rows of a class) and why, the
-- labelled train rows and positives, the rows scored, and the chosen model. record_type = 'run' of the fit tables.
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

    select classifier, status, message, model, train_rows, train_positives, score_rows, record_type
    from purchase_propensity
    union all
    select classifier, status, message, model, train_rows, train_positives, score_rows, record_type
    from category_propensity
    union all
    select classifier, status, message, model, train_rows, train_positives, score_rows, record_type
    from returning_customer
    union all
    select classifier, status, message, model, train_rows, train_positives, score_rows, record_type
    from facebook_acquisition

),

final as (

    select
        classifier,
        status,
        model as chosen_model,
        train_rows,
        train_positives,
        score_rows,
        message

    from unioned
    where record_type = 'run'

)

select * from final
