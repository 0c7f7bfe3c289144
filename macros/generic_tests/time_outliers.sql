{#- Timestamps far from the bulk of their own column (a warning, never a quarantine: plausibility comes from
    the data). Flags the rows more than gap_days (default var time_outlier_gap_days) before the column's 1st
    percentile or after its 99th percentile. Returns the flagged rows with a message column (count and the
    bulk span); at execution time it also prints that message on the dbt console. Severity warn. -#}
{% test time_outliers(model, column_name, gap_days=none) %}
{{ config(severity='warn') }}
{%- set gap = (gap_days if gap_days is not none else var('time_outlier_gap_days', 365)) | int -%}
{%- set gap_seconds = gap * 86400 -%}

{%- set bounds_sql -%}
with

observed as (

    select
        {{ column_name }} as value_at,
        {{ epoch_micros(column_name) }} / 1000000.0 as value_s

    from {{ model }}
    where {{ column_name }} is not null

),

percentiles as (

    select
        percentile_cont(0.01) within group (order by value_s) as p01_s,
        percentile_cont(0.99) within group (order by value_s) as p99_s

    from observed

),

flagged as (

    select
        observed.value_at,
        min(case when observed.value_s >= percentiles.p01_s then observed.value_at end) over () as bulk_from,
        max(case when observed.value_s <= percentiles.p99_s then observed.value_at end) over () as bulk_to,
        observed.value_s < percentiles.p01_s - {{ gap_seconds }}
            or observed.value_s > percentiles.p99_s + {{ gap_seconds }} as is_outlier

    from observed
    cross join percentiles

)
{%- endset -%}

{%- if execute -%}
    {%- set summary = run_query(bounds_sql ~ " select count(*), min(value_at), max(value_at), min(bulk_from), max(bulk_to) from flagged where is_outlier") -%}
    {%- set row = summary.rows[0] -%}
    {%- if row[0] > 0 -%}
        {%- do exceptions.warn("retail_lift time outliers: " ~ row[0] ~ " rows of " ~ model ~ "." ~ column_name
            ~ " (from " ~ row[1] ~ " to " ~ row[2] ~ ") lie more than var time_outlier_gap_days=" ~ gap
            ~ " days outside the bulk of the column (1st to 99th percentile: " ~ row[3] ~ " to " ~ row[4]
            ~ "); kept, not quarantined: check their clock or unit") -%}
    {%- endif -%}
{%- endif %}

{{ bounds_sql }},

outliers as (

    select
        value_at,
        bulk_from,
        bulk_to,
        count(*) over () as outlier_rows

    from flagged
    where is_outlier

)

select
    value_at as {{ column_name }},
    outlier_rows,
    bulk_from,
    bulk_to,
    concat(
        cast(outlier_rows as string), ' rows more than {{ gap }} days outside the bulk of {{ column_name }} (',
        cast(bulk_from as string), ' to ', cast(bulk_to as string), ')'
    ) as message

from outliers

{% endtest %}
