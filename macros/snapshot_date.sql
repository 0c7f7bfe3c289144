{#- The analysis snapshot date: var('snapshot_date') when set (YYYY-MM-DD), else the last order day in
    the data. `orders_relation` is a relation or CTE name with an ordered_at column. -#}
{% macro snapshot_date(orders_relation) -%}
    {%- if var('snapshot_date', none) -%}
        cast('{{ var("snapshot_date") }}' as date)
    {%- else -%}
        (select max(cast(ordered_at as date)) from {{ orders_relation }})
    {%- endif -%}
{%- endmacro %}
