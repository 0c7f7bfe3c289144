{#- Calendar parts of a timestamp that agree across engines, behind adapter.dispatch. -#}

{#- ISO 8601 day of the week of a timestamp or date: Monday = 1 ... Sunday = 7 (an integer).
    Engines disagree on the plain forms (DuckDB extract(dow): Sunday = 0; Spark dayofweek: Sunday = 1),
    so the marts use this macro and never those. -#}
{% macro iso_weekday(ts) -%}
    {{ return(adapter.dispatch('iso_weekday', 'retail_lift')(ts)) }}
{%- endmacro %}

{% macro default__iso_weekday(ts) -%}
    cast(extract(isodow from {{ ts }}) as integer)
{%- endmacro %}

{% macro duckdb__iso_weekday(ts) -%}
    cast(extract(isodow from {{ ts }}) as integer)
{%- endmacro %}

{#- Spark weekday(): Monday = 0 ... Sunday = 6 (since Spark 2.4). -#}
{% macro spark__iso_weekday(ts) -%}
    cast(weekday({{ ts }}) + 1 as integer)
{%- endmacro %}

{#- English name of an ISO weekday number (1 = Monday ... 7 = Sunday); portable CASE. -#}
{% macro iso_weekday_name(iso_weekday_number) -%}
    case {{ iso_weekday_number }}
        when 1 then 'Monday'
        when 2 then 'Tuesday'
        when 3 then 'Wednesday'
        when 4 then 'Thursday'
        when 5 then 'Friday'
        when 6 then 'Saturday'
        when 7 then 'Sunday'
    end
{%- endmacro %}

{#- One output row per whole number 0, 1, ..., n (n a non-negative integer expression; no row when n < 0):
    DuckDB unnest(range(0, n + 1)), Spark explode(sequence(0, n)). Use it alone in a select list, like
    explode_array. -#}
{% macro integer_sequence(n) -%}
    {{ return(adapter.dispatch('integer_sequence', 'retail_lift')(n)) }}
{%- endmacro %}

{% macro default__integer_sequence(n) -%}
    unnest(range(0, cast({{ n }} as bigint) + 1))
{%- endmacro %}

{% macro duckdb__integer_sequence(n) -%}
    unnest(range(0, cast({{ n }} as bigint) + 1))
{%- endmacro %}

{#- Spark's sequence(0, -1) counts down (0, -1): guard n < 0 with an empty array. -#}
{% macro spark__integer_sequence(n) -%}
    explode(case when {{ n }} >= 0 then sequence(0, cast({{ n }} as int)) else array() end)
{%- endmacro %}
