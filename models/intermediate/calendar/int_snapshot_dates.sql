-- The dates at which features are computed, so that models train on the past and score the present
-- without leakage. One row per snapshot role:
--   train: features from data before feature_date, labels from [feature_date, label_end_date)
--          (label_end_date = feature_date + var('label_window_days'), default 30 days);
--   score: features from all data (feature_date = the day after the last day of data), no labels.
-- The last day of data is var('snapshot_date') when set, else the last day with an event or an order.
with

events as (

    select * from {{ ref('stg_shop__events') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

data_end as (

    select
        {% if var('snapshot_date', none) -%}
        cast('{{ var("snapshot_date") }}' as date)
        {%- else -%}
        greatest(
            coalesce((select max(cast(event_at as date)) from events), cast('1900-01-01' as date)),
            coalesce((select max(cast(ordered_at as date)) from orders), cast('1900-01-01' as date))
        )
        {%- endif %} as last_data_date

),

snapshots as (

    select
        'train' as snapshot_role,
        cast({{ dbt.dateadd('day', 1 - var('label_window_days'), 'last_data_date') }} as date) as feature_date,
        last_data_date
    from data_end

    union all

    select
        'score' as snapshot_role,
        cast({{ dbt.dateadd('day', 1, 'last_data_date') }} as date) as feature_date,
        last_data_date
    from data_end

),

final as (

    select
        snapshot_role,
        feature_date,
        case
            when snapshot_role = 'train'
                then cast({{ dbt.dateadd('day', var('label_window_days'), 'feature_date') }} as date)
        end as label_end_date,
        last_data_date,
        cast(feature_date as timestamp) as feature_cutoff_at

    from snapshots

)

select * from final
