-- A build must never end "successful" over a warehouse that holds none of the user's rows: fails (error)
-- when neither stg_shop__events nor stg_shop__orders has a clean row. The message (printed on the dbt
-- console, and in the message column for --store-failures) points at the load report
-- (staging.stg_shop__load_report: a header-only file lands with row_count 0) and at the quarantine.
-- depends_on: {{ ref('stg_shop__load_report') }}
{{ config(severity = 'error') }}

{%- set message = "retail_lift: no rows: neither stg_shop__events nor stg_shop__orders has a clean row, so every mart would be empty. See the load report (staging.stg_shop__load_report, or the raw folder's _load_report.parquet: a header-only file lands with row_count 0) and the quarantine (marts.rpt_quarantine_summary)" -%}
{%- if execute -%}
    {%- set counts = run_query("select (select count(*) from " ~ ref('stg_shop__events') ~ "), (select count(*) from "
                               ~ ref('stg_shop__orders') ~ ")") -%}
    {%- if counts.rows[0][0] == 0 and counts.rows[0][1] == 0 -%}
        {%- set report = run_query("select table_name, status, row_count from " ~ ref('stg_shop__load_report')
                                   ~ " where table_name in ('events', 'orders') order by table_name") -%}
        {%- set parts = [] -%}
        {%- for r in report.rows -%}
            {%- do parts.append(r[0] ~ ": " ~ r[1] ~ ", row_count " ~ r[2]) -%}
        {%- endfor -%}
        {{ log(message ~ " [" ~ (parts | join('; ')) ~ "]", info=True) }}
    {%- endif -%}
{%- endif %}

with

counts as (

    select
        (select count(*) from {{ ref('stg_shop__events') }}) as event_rows,
        (select count(*) from {{ ref('stg_shop__orders') }}) as order_rows

)

select
    event_rows,
    order_rows,
    '{{ message | replace("'", "''") }}' as message

from counts
where event_rows = 0
    and order_rows = 0
