-- The snapshots of the classifiers (issue 21, out-of-time validation): the two of int_snapshot_dates
-- (train at c = last day of data + 1 - label window, score) and three earlier labelled ones, each a label
-- window apart: oot_train at c - 90 days, oot_validation at c - 60, oot_test at c - 30 (with the default
-- 30-day window). Models are fitted on oot_train, chosen and thresholded on oot_validation, reported on
-- oot_test, and the chosen one is refitted on train (labels up to the last day of data) to score.
-- See doc classifier_snapshots.
with

snapshots as (

    select * from {{ ref('int_snapshot_dates') }}

),

train as (

    select * from snapshots
    where snapshot_role = 'train'

),

backtest as (

    {% for role, windows_back in [('oot_train', 3), ('oot_validation', 2), ('oot_test', 1)] %}
    select
        '{{ role }}' as snapshot_role,
        cast({{ dbt.dateadd('day', -windows_back * var('label_window_days'), 'feature_date') }} as date)
            as feature_date,
        last_data_date
    from train
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

backtest_dates as (

    select
        snapshot_role,
        feature_date,
        cast({{ dbt.dateadd('day', var('label_window_days'), 'feature_date') }} as date) as label_end_date,
        last_data_date,
        cast(feature_date as timestamp) as feature_cutoff_at

    from backtest

),

unioned as (

    select snapshot_role, feature_date, label_end_date, last_data_date, feature_cutoff_at from snapshots
    union all
    select snapshot_role, feature_date, label_end_date, last_data_date, feature_cutoff_at from backtest_dates

),

final as (

    select
        snapshot_role,
        case snapshot_role
            when 'oot_train' then 'train'
            when 'oot_validation' then 'validation'
            when 'oot_test' then 'test'
            when 'train' then 'refit'
            else 'score'
        end as classifier_split,
        feature_date,
        label_end_date,
        last_data_date,
        feature_cutoff_at

    from unioned

)

select * from final
