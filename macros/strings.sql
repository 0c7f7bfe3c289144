{#- Splitting text into rows, behind adapter.dispatch: DuckDB unnests a list, Spark explodes an array.
    Both forms are set-returning expressions for a select list (one output row per element). -#}

{#- An array of the parts of `column` split on the literal `delimiter` (a single character or a plain
    string; it is not a regular expression on either engine). -#}
{% macro split_string(column, delimiter) -%}
    {{ return(adapter.dispatch('split_string', 'retail_lift')(column, delimiter)) }}
{%- endmacro %}

{% macro default__split_string(column, delimiter) -%}
    string_split({{ column }}, '{{ delimiter }}')
{%- endmacro %}

{% macro duckdb__split_string(column, delimiter) -%}
    string_split({{ column }}, '{{ delimiter }}')
{%- endmacro %}

{#- Spark's split() takes a Java regular expression: quote the delimiter with \Q...\E. -#}
{% macro spark__split_string(column, delimiter) -%}
    split({{ column }}, '\\Q{{ delimiter }}\\E')
{%- endmacro %}

{#- One output row per element of an array expression (NULL or empty array: no row). Use it alone in a
    select list next to plain columns of the same row; it cannot be nested in another expression. -#}
{% macro explode_array(array_expression) -%}
    {{ return(adapter.dispatch('explode_array', 'retail_lift')(array_expression)) }}
{%- endmacro %}

{% macro default__explode_array(array_expression) -%}
    unnest({{ array_expression }})
{%- endmacro %}

{% macro duckdb__explode_array(array_expression) -%}
    unnest({{ array_expression }})
{%- endmacro %}

{% macro spark__explode_array(array_expression) -%}
    explode({{ array_expression }})
{%- endmacro %}

{#- One output row per part of `column` split on `delimiter` (DuckDB `unnest(string_split(..))`,
    Spark `explode(split(..))`), e.g. 'control:1,email_10pct:1' on ',' gives 'control:1' and 'email_10pct:1'.
    Empty parts (',,') are kept as empty strings; a NULL column gives no row. -#}
{% macro split_to_rows(column, delimiter) -%}
    {{ explode_array(split_string(column, delimiter)) }}
{%- endmacro %}
