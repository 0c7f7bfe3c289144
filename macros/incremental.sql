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

{#- The config of an incremental model keyed by key_columns whose rows each carry the time of their latest event
    (timestamp_column), e.g. one row per visitor × product computed over the pair's whole history. On DuckDB (and
    other engines but Spark) the custom strategy replace_keys (get_incremental_replace_keys_sql below): a run
    deletes the loaded rows of every key its query returns and every loaded row whose timestamp_column is on or
    after the first rewritten day (incremental_first_day(this, timestamp_column): such a row may have lost the
    events it was built from, and its key may return no row), then inserts what the query returned. On Spark
    (dbt-spark on Parquet: no delete+insert, no merge without Delta, and insert_overwrite replaces partitions, not
    keys) the model stays a full table. Use as {{ config(..., **incremental_by_key(['visitor_id', 'product_id'],
    'last_event_at')) }} (Jinja wants ** last). -#}
{% macro incremental_by_key(key_columns, timestamp_column) -%}
    {{ return(adapter.dispatch('incremental_by_key', 'retail_lift')(key_columns, timestamp_column)) }}
{%- endmacro %}

{% macro default__incremental_by_key(key_columns, timestamp_column) -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'replace_keys',
        'unique_key': key_columns,
        'meta': {'incremental_timestamp_column': timestamp_column},
    }) }}
{%- endmacro %}

{% macro spark__incremental_by_key(key_columns, timestamp_column) -%}
    {{ return({
        'materialized': 'table',
        'file_format': 'parquet',
    }) }}
{%- endmacro %}

{#- The incremental strategy replace_keys (config from incremental_by_key): delete from the loaded table the rows
    of the keys (unique_key, a list of columns) in the run's result and the rows whose timestamp column (meta
    incremental_timestamp_column) is on or after the first rewritten day, then insert the run's result. The
    first day is computed before the delete, from the loaded table, as the model's query computed it. -#}
{% macro get_incremental_replace_keys_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set keys = arg_dict['unique_key'] -%}
    {%- set keys = [keys] if keys is string else keys -%}
    {%- set timestamp_column = (config.get('meta') or {}).get('incremental_timestamp_column') -%}
    {%- if not keys or not timestamp_column -%}
        {{ exceptions.raise_compiler_error("incremental strategy replace_keys needs unique_key and meta incremental_timestamp_column: use the macro incremental_by_key") }}
    {%- endif -%}
    {%- set dest_cols_csv = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target }} as loaded
    where exists (
            select 1
            from {{ source }} as returned
            where {% for key in keys %}{{ 'and ' if not loop.first }}returned.{{ key }} = loaded.{{ key }} {% endfor %}
        )
        or cast(loaded.{{ timestamp_column }} as date) >= {{ incremental_first_day(target, timestamp_column) }};

    insert into {{ target }} ({{ dest_cols_csv }})
    (
        select {{ dest_cols_csv }}
        from {{ source }}
    )
{%- endmacro %}
