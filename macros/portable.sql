{#- Engine-specific forms behind adapter.dispatch, so that the same models run on DuckDB and Spark. -#}

{#- Microseconds since the Unix epoch of a timestamp (an integer). -#}
{% macro epoch_micros(ts) -%}
    {{ return(adapter.dispatch('epoch_micros', 'retail_lift')(ts)) }}
{%- endmacro %}

{% macro default__epoch_micros(ts) -%}
    epoch_us({{ ts }})
{%- endmacro %}

{% macro spark__epoch_micros(ts) -%}
    unix_micros({{ ts }})
{%- endmacro %}

{#- Seconds between two timestamps, as a double (b - a). -#}
{% macro seconds_between(a, b) -%}
    (cast({{ epoch_micros(b) }} - {{ epoch_micros(a) }} as double) / 1000000.0)
{%- endmacro %}

{#- A string value of a JSON object's top-level key, NULL when absent. -#}
{% macro json_string(column, key) -%}
    {{ return(adapter.dispatch('json_string', 'retail_lift')(column, key)) }}
{%- endmacro %}

{% macro default__json_string(column, key) -%}
    json_extract_string({{ column }}, '$.{{ key }}')
{%- endmacro %}

{% macro spark__json_string(column, key) -%}
    get_json_object({{ column }}, '$.{{ key }}')
{%- endmacro %}

{#- A hash key over several columns (md5 of their '|'-joined text; NULLs as empty strings). -#}
{% macro surrogate_key(columns) -%}
    md5(concat_ws('|'
    {%- for c in columns -%}
        , coalesce(cast({{ c }} as string), '')
    {%- endfor -%}
    ))
{%- endmacro %}

{#- The timestamp dbt started this run, as a SQL timestamp literal (deterministic within a run). -#}
{% macro run_started_at_literal() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp)
{%- endmacro %}
