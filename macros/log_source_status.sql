{#- At the start of every run: say which raw tables were provided, derived or absent (empty), so that
    a model that builds empty over an absent table is explained in the log, not a surprise. -#}
{% macro log_source_status() %}
    {%- if execute and target.type == 'duckdb' -%}
        {%- set report = env_var('RETAIL_LIFT_RAW', 'warehouse/raw') ~ '/_load_report.parquet' -%}
        {%- set sql -%}
            select table_name, status, row_count, note
            from read_parquet('{{ report }}')
            order by table_name
        {%- endset -%}
        {%- set found = run_query("select count(*) from glob('" ~ report ~ "')").rows[0][0] -%}
        {%- if found == 0 -%}
            {{ log("retail_lift: no load report at " ~ report ~ "; run `retail-lift prepare` (make build does) so that the raw tables exist", info=True) }}
            {{ return('') }}
        {%- endif -%}
        {%- set result = run_query(sql) -%}
        {%- for row in result.rows -%}
            {%- if row[1] == 'empty' -%}
                {{ log("retail_lift: raw table " ~ row[0] ~ " is absent from the input; models over it build empty (" ~ row[3] ~ ")", info=True) }}
            {%- elif row[1] == 'derived' -%}
                {{ log("retail_lift: raw table " ~ row[0] ~ " was derived: " ~ row[3] ~ " (" ~ row[2] ~ " rows)", info=True) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}
