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

{#- Condition: a text that was there did not parse. -#}
{% macro is_unparseable(raw_column, typed_column) -%}
    ({{ raw_column }} is not null and {{ typed_column }} is null)
{%- endmacro %}

{#- Condition: a parsed timestamp outside the plausible range: before 1970-01-01 (a zero, a negative epoch
    or a wrong unit), more than a day after this run started (a wrong clock or unit), or, when the user sets
    var min_plausible_at (null by default), before it. Plausibility comes from the data, not the calendar:
    a log from the 1990s is kept; timestamps far from the bulk of a column are flagged (warn) by the generic
    test time_outliers, not quarantined. -#}
{% macro is_implausible_time(typed_column) -%}
    ({{ typed_column }} < cast('{{ min_plausible_at() }}' as timestamp)
     or {{ typed_column }} > {{ run_started_at_literal() }} + interval '1' day)
{%- endmacro %}

{#- The earliest plausible timestamp, as text: var min_plausible_at when set, else 1970-01-01. -#}
{% macro min_plausible_at() -%}
    {%- set v = var("min_plausible_at", none) -%}
    {{- '1970-01-01' if v is none or (v | string | trim) in ('', 'None', 'none', 'null') else v -}}
{%- endmacro %}

{#- Text column: trimmed, empty text as NULL. -#}
{% macro clean_text(column) -%}
    nullif(trim(cast({{ column }} as string)), '')
{%- endmacro %}

{#- Condition: a number that parsed but is not finite (NaN or +/- infinity). -#}
{% macro is_not_finite(typed_column) -%}
    (isnan({{ typed_column }}) or abs({{ typed_column }}) = cast('Infinity' as double))
{%- endmacro %}
