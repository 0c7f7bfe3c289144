{#- At the start of every run on Spark: register each source table whose meta names an external_location
    (the Parquet files that `retail-lift prepare` lands) as a table over those files, in a schema named after
    the source, so that source('shop', 'events') resolves to shop.events on both targets. Tables are dropped
    and recreated, so a changed location (another RETAIL_LIFT_RAW) is picked up. dbt-duckdb reads
    external_location itself: a no-op there. -#}
{% macro register_sources() %}
    {{ return(adapter.dispatch('register_sources', 'retail_lift')()) }}
{% endmacro %}

{% macro default__register_sources() %}
{% endmacro %}

{% macro spark__register_sources() %}
    {%- if execute -%}
        {%- set schemas = [] -%}
        {%- for node in graph.sources.values() if node.package_name == project_name -%}
            {%- set location = node.meta.get('external_location') or node.source_meta.get('external_location') -%}
            {%- if location -%}
                {%- set path = location | replace('{name}', node.name) | replace('{identifier}', node.identifier) -%}
                {%- set folder, file = path.rsplit('/', 1) if '/' in path else ['.', path] -%}
                {%- if file.startswith('_') or file.startswith('.') -%}
                    {#- Spark skips files whose name starts with _ or . (Hadoop's hidden files), even when named
                        directly: such a file is read from a visible copy in the folder's spark/ sub-folder
                        (`retail-lift prepare` writes spark/load_report.parquet next to _load_report.parquet). -#}
                    {%- set path = folder ~ '/spark/' ~ file.lstrip('_.') -%}
                {%- endif -%}
                {%- if node.schema not in schemas -%}
                    {%- do run_query('create schema if not exists ' ~ node.schema) -%}
                    {%- do schemas.append(node.schema) -%}
                {%- endif -%}
                {%- do run_query('drop table if exists ' ~ node.schema ~ '.' ~ node.identifier) -%}
                {%- do run_query("create table " ~ node.schema ~ "." ~ node.identifier
                                 ~ " using parquet location '" ~ path ~ "'") -%}
            {%- endif -%}
        {%- endfor -%}
        {{ log("retail_lift: registered the source tables on Spark (schemas " ~ schemas | join(', ') ~ ")", info=True) }}
    {%- endif -%}
{% endmacro %}
