-- One row per classifier x feature of its chosen model: the population stability index between the
-- snapshot the model is refitted on (train) and the score snapshot, flagged above 0.2
-- (record_type = 'drift' of the fit tables). See doc classifier_feature_drift.
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

{% set drift_columns -%}
    classifier, model, feature, value, is_drift_warning, record_type, refit_feature_date, score_feature_date
{%- endset %}

unioned as (

    select {{ drift_columns }} from purchase_propensity
    union all
    select {{ drift_columns }} from category_propensity
    union all
    select {{ drift_columns }} from returning_customer
    union all
    select {{ drift_columns }} from facebook_acquisition

),

run_dates as (

    select
        classifier,
        refit_feature_date,
        score_feature_date

    from unioned
    where record_type = 'run'

),

drift as (

    select
        classifier,
        model,
        feature,
        value as psi,
        is_drift_warning

    from unioned
    where record_type = 'drift'

),

final as (

    select
        drift.classifier,
        drift.model,
        drift.feature,
        drift.psi,
        0.2 as psi_warning_threshold,
        drift.is_drift_warning,
        cast(run_dates.refit_feature_date as date) as refit_feature_date,
        cast(run_dates.score_feature_date as date) as score_feature_date

    from drift
    left join run_dates
        on drift.classifier = run_dates.classifier

)

select * from final
