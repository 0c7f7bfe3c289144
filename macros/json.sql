{#- Reading JSON objects whose keys are data (e.g. the action_probabilities of a decision, one key per
    arm), behind adapter.dispatch: DuckDB json_transform to a MAP, Spark from_json to a map. -#}

{#- True when `column` is well-formed JSON text (NULL when the column is NULL). DuckDB's JSON functions
    raise on malformed text, so guard them with this; Spark's return NULL. -#}
{% macro json_is_valid(column) -%}
    {{ return(adapter.dispatch('json_is_valid', 'retail_lift')(column)) }}
{%- endmacro %}

{% macro default__json_is_valid(column) -%}
    json_valid({{ column }})
{%- endmacro %}

{% macro duckdb__json_is_valid(column) -%}
    json_valid({{ column }})
{%- endmacro %}

{% macro spark__json_is_valid(column) -%}
    (get_json_object({{ column }}, '$') is not null)
{%- endmacro %}

{#- An array of structs (key, value), one per top-level key of the JSON object in `column`, with the
    values cast to `value_type` ('double', 'bigint' or 'string'; on DuckDB a value that does not cast is
    NULL, on Spark from_json may give NULL for the whole object).
    NULL (so no row once exploded) when the text is not a JSON object. Explode it with
    explode_array() and read the fields as entry.key and entry.value:
        select decision_id, {{ explode_array(json_object_entries('action_probabilities')) }} as entry
-#}
{% macro json_object_entries(column, value_type='double') -%}
    {{ return(adapter.dispatch('json_object_entries', 'retail_lift')(column, value_type)) }}
{%- endmacro %}

{% macro default__json_object_entries(column, value_type='double') -%}
    {%- set duckdb_types = {'double': 'DOUBLE', 'bigint': 'BIGINT', 'string': 'VARCHAR'} -%}
    map_entries(json_transform(
        case when json_valid({{ column }}) then {{ column }} end,
        '"MAP(VARCHAR, {{ duckdb_types[value_type] }})"'
    ))
{%- endmacro %}

{% macro duckdb__json_object_entries(column, value_type='double') -%}
    {{ default__json_object_entries(column, value_type) }}
{%- endmacro %}

{% macro spark__json_object_entries(column, value_type='double') -%}
    map_entries(from_json({{ column }}, 'map<string,{{ value_type }}>'))
{%- endmacro %}
