{#- Breakdowns of a funnel-style mart: one group per breakdown column (and overall), each with and without
    the date column, through one GROUP BY GROUPING SETS. -#}

{#- The select list that names each group: breakdown (the column grouped on, 'overall' for none),
    breakdown_value (its value, 'all' for overall) and the date column (NULL: all time). -#}
{% macro breakdown_columns(breakdowns, date_column='funnel_date') -%}
        case
            {%- for breakdown in breakdowns %}
            when grouping({{ breakdown }}) = 0 then '{{ breakdown }}'
            {%- endfor %}
            else 'overall'
        end as breakdown,
        coalesce({{ breakdowns | join(', ') }}, 'all') as breakdown_value,
        {{ date_column }}
{%- endmacro %}

{#- GROUP BY GROUPING SETS over: overall, the date, each breakdown, each breakdown × the date; the columns in
    keys (e.g. ['visitor_id']) are added to every set. -#}
{% macro breakdown_grouping_sets(breakdowns, date_column='funnel_date', keys=[]) -%}
    {%- set grouping_sets = [[], [date_column]] -%}
    {%- for breakdown in breakdowns -%}
        {%- do grouping_sets.append([breakdown]) -%}
        {%- do grouping_sets.append([breakdown, date_column]) -%}
    {%- endfor -%}
    group by grouping sets (
        {%- for columns in grouping_sets %}
        ({{ (keys + columns) | join(', ') }}){{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}
