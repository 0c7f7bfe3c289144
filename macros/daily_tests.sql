{#- The daily path's test scope: the `where` of a generic test (the rows it checks), narrowed by
    var('daily_tests_from'). When that var is a date (YYYY-MM-DD; `make daily` sets it to the first day its
    incremental models rewrite), a generic test of an incremental model checks only the rows of its day column
    (the incremental_by_day column: unique_key on DuckDB, partition_by on Spark) from that day on, and with the
    test's own `where`, if any, too. Null (the default, and every `make build`): tests check whole tables, as
    dbt's default__get_where_subquery does. Overrides dbt's get_where_subquery for this project. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set scope = daily_tests_scope() -%}
    {%- if scope -%}
        {%- set where = '(' ~ where ~ ') and ' ~ scope if where else scope -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- The condition that restricts a test of an incremental model to the days from var('daily_tests_from') on,
    or '' (no restriction) when the var is null or the tested model is not incremental by day or by key
    (incremental_by_key: its timestamp column, the rows with their latest event on those days). -#}
{% macro daily_tests_scope() -%}
    {%- set first = var('daily_tests_from', none) -%}
    {%- if not execute or first is none or (first | string | trim) in ('', 'None', 'none', 'null') -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- set node = graph.nodes.get(model.get('attached_node') or '') if model is mapping else none -%}
    {%- if node is none or node.config.materialized != 'incremental' -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- set partition_by = node.config.get('partition_by') -%}
    {%- set unique_key = node.config.get('unique_key') -%}
    {#- incremental_by_key: the rows the run replaced are those whose timestamp column is on the rewritten days -#}
    {%- set column = (node.config.get('meta') or {}).get('incremental_timestamp_column')
                     or (unique_key if unique_key is string else none)
                     or (partition_by if partition_by is string else (partition_by or [none])[0]) -%}
    {%- if column is none or column is not string -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- do return(column ~ " >= cast('" ~ (first | string | trim) ~ "' as date)") -%}
{%- endmacro %}
