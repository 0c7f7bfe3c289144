-- One row per classifier: whether it was trained, skipped (too few rows of a class) or not trained for
-- lack of a class in a labelled snapshot (no_positive_labels / no_negative_labels) and why, the labelled
-- train rows and positives, the rows scored, the chosen model and the cutoff of every split.
-- record_type = 'run' of the fit tables; the registered version, when it was trained, and whether this
-- build trained or only scored with the registry's champion, and why (doc model_registry).
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

{% set run_columns -%}
    classifier, status, message, model, train_rows, train_positives, score_rows, validation, train_feature_date,
    validation_feature_date, test_feature_date, refit_feature_date, score_feature_date, record_type,
    model_version, trained_at, registry_action, registry_reason
{%- endset %}

unioned as (

    select {{ run_columns }} from purchase_propensity
    union all
    select {{ run_columns }} from category_propensity
    union all
    select {{ run_columns }} from returning_customer
    union all
    select {{ run_columns }} from facebook_acquisition

),

final as (

    select
        classifier,
        status,
        model as chosen_model,
        validation,
        cast(train_feature_date as date) as train_feature_date,
        cast(validation_feature_date as date) as validation_feature_date,
        cast(test_feature_date as date) as test_feature_date,
        cast(refit_feature_date as date) as refit_feature_date,
        cast(score_feature_date as date) as score_feature_date,
        train_rows,
        train_positives,
        score_rows,
        message,
        model_version,
        trained_at,
        registry_action,
        registry_reason

    from unioned
    where record_type = 'run'

)

select * from final
