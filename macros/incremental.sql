{#- Incremental models that rewrite whole days: the same model definition on DuckDB and on Spark. -#}

{#- The config of an incremental model that replaces, on each run, every day (a date column) it selects:
    on Spark insert_overwrite of the day partitions (dbt-spark, Parquet, dynamic partition overwrite; merge
    needs Delta), elsewhere delete+insert on the date column (dbt-duckdb), which deletes the days the run
    selects and inserts them again. Use as {{ config(..., **incremental_by_day('event_date')) }} (Jinja wants ** last). -#}
{% macro incremental_by_day(date_column) -%}
    {{ return(adapter.dispatch('incremental_by_day', 'retail_lift')(date_column)) }}
{%- endmacro %}

{% macro default__incremental_by_day(date_column) -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': date_column,
    }) }}
{%- endmacro %}

{% macro spark__incremental_by_day(date_column) -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'insert_overwrite',
        'partition_by': [date_column],
        'file_format': 'parquet',
    }) }}
{%- endmacro %}

{#- The first day an incremental run rewrites: the day of max(timestamp_column) in the loaded table minus
    var('incremental_lookback_days'), as a scalar subquery (var('min_plausible_at') when the table is empty, 1970-01-01 when that var is null). -#}
{% macro incremental_first_day(relation, timestamp_column) -%}
    (
        select coalesce(
            cast(max({{ timestamp_column }}) - interval '{{ var("incremental_lookback_days") }}' day as date),
            cast('{{ min_plausible_at() }}' as date)
        )
        from {{ relation }}
    )
{%- endmacro %}

{#- The day of the rows of a day-partitioned model that have no plausible timestamp (missing, unparseable or
    implausible: quarantined rows), as a SQL date: the day before var('min_plausible_at') (1970-01-01 when that
    var is null), earlier than every plausible day, so that those rows have a partition of their own. -#}
{% macro undated_event_day() -%}
    {%- set first = modules.datetime.date.fromisoformat((min_plausible_at() | trim)[:10]) -%}
    cast('{{ (first - modules.datetime.timedelta(days=1)).isoformat() }}' as date)
{%- endmacro %}

{#- A select of the days (column day_column) whose totals differ between two relations or CTEs with one row per
    day: a day in only one of them, or one of the measures (columns of both) not equal. For the earlier days an
    incremental model rewrites because their inputs changed (e.g. late orders), compared over the whole history. -#}
{% macro days_that_differ(current, loaded, day_column, measures) -%}
    select coalesce({{ current }}.{{ day_column }}, {{ loaded }}.{{ day_column }}) as {{ day_column }}
    from {{ current }}
    full outer join {{ loaded }}
        on {{ current }}.{{ day_column }} = {{ loaded }}.{{ day_column }}
    where {{ current }}.{{ day_column }} is null
        or {{ loaded }}.{{ day_column }} is null
    {%- for measure in measures %}
        or {{ current }}.{{ measure }} <> {{ loaded }}.{{ measure }}
    {%- endfor %}
{%- endmacro %}
