{#- Calendar periods for cohort analysis (customer marts). Weeks start on Monday (ISO), months on
    the 1st. Both engines truncate a date with date_trunc; the result is cast back to a date. -#}

{#- The first day of the period (day, week or month) that contains a date. -#}
{% macro cohort_period_start(period_grain, date_expr) -%}
    {%- if period_grain not in ('day', 'week', 'month') -%}
        {{ exceptions.raise_compiler_error(
            "cohort_period_start: period_grain must be day, week or month, got " ~ period_grain
        ) }}
    {%- endif -%}
    cast({{ dbt.date_trunc(period_grain, date_expr) }} as date)
{%- endmacro %}

{#- Whole periods from the period starting at start_expr to the period starting at end_expr.
    Both arguments must already be period starts (see cohort_period_start):
      day:   the day difference;
      week:  the day difference / 7 (exact, both dates are Mondays);
      month: (year * 12 + month) of the end minus the same of the start, so 31 January -> 1 February
             is one month and 1 January -> 31 January is none. -#}
{% macro cohort_periods_between(period_grain, start_expr, end_expr) -%}
    {%- if period_grain == 'day' -%}
        cast({{ dbt.datediff(start_expr, end_expr, 'day') }} as integer)
    {%- elif period_grain == 'week' -%}
        cast({{ dbt.datediff(start_expr, end_expr, 'day') }} / 7 as integer)
    {%- elif period_grain == 'month' -%}
        cast(
            (extract(year from {{ end_expr }}) * 12 + extract(month from {{ end_expr }}))
            - (extract(year from {{ start_expr }}) * 12 + extract(month from {{ start_expr }}))
            as integer
        )
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "cohort_periods_between: period_grain must be day, week or month, got " ~ period_grain
        ) }}
    {%- endif -%}
{%- endmacro %}
