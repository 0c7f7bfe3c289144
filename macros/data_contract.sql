{#- Data-contract helpers for the staging layer. -#}

{#- The first failed check of a row, as a reason string (NULL when every check passes).
    checks: a list of [reason, condition] pairs, tested in order. -#}
{% macro first_failed_check(checks) -%}
    case
    {%- for reason, condition in checks %}
        when {{ condition }} then '{{ reason }}'
    {%- endfor %}
    end
{%- endmacro %}

{#- Condition: a timestamp text did not parse, or parsed outside the plausible range
    (before var min_plausible_at, or more than a day after this run started). -#}
{% macro is_unparseable(raw_column, typed_column) -%}
    ({{ raw_column }} is not null and {{ typed_column }} is null)
{%- endmacro %}

{% macro is_implausible_time(typed_column) -%}
    ({{ typed_column }} < cast('{{ var("min_plausible_at") }}' as timestamp)
     or {{ typed_column }} > {{ run_started_at_literal() }} + interval '1' day)
{%- endmacro %}

{#- Text column: trimmed, empty text as NULL. -#}
{% macro clean_text(column) -%}
    nullif(trim(cast({{ column }} as string)), '')
{%- endmacro %}

{#- Condition: a number that parsed but is not finite (NaN or +/- infinity). -#}
{% macro is_not_finite(typed_column) -%}
    (isnan({{ typed_column }}) or abs({{ typed_column }}) = cast('Infinity' as double))
{%- endmacro %}
