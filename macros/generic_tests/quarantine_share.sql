{#- A loud stop when data would be lost: the share of a raw table's rows that the data contract quarantines.

    On a base_shop__* model (one row per raw row, dq_reason the first check it fails): when the quarantined
    rows (all reasons together) exceed var quarantine_warn_share of the table (default 0.01), one result row
    per reason with level 1, or level 2 above var quarantine_error_share (default 0.10); the test warns at
    level 1 and fails the build at level 2 (fail_calc is the highest level). At execution time the macro
    also prints, on the dbt console, one message per reason: the table, the reason, the count and share,
    one sample row with its raw values, and the var or mapping to change. The result rows carry the same text in a message column, so
    that `dbt build --store-failures` users can query it. -#}
{% test quarantine_share(model, source_table, reason_column='dq_reason') %}
{{ config(severity='error', fail_calc='coalesce(max(level), 0)', warn_if='>0', error_if='>1') }}
{%- set warn_share = var('quarantine_warn_share', 0.01) | float -%}
{%- set error_share = var('quarantine_error_share', 0.10) | float -%}
{%- set messages = {} -%}
{%- if execute -%}
    {%- set shares_sql -%}
        select {{ reason_column }} as reason, count(*) as n,
               (select count(*) from {{ model }}) as total
        from {{ model }}
        where {{ reason_column }} is not null
        group by {{ reason_column }}
        order by n desc
    {%- endset -%}
    {%- set shares = run_query(shares_sql) -%}
    {%- set ns = namespace(quarantined=0, total=0) -%}
    {%- for row in shares.rows -%}
        {%- set ns.quarantined = ns.quarantined + row[1] -%}
        {%- set ns.total = row[2] -%}
    {%- endfor -%}
    {%- set table_share = (ns.quarantined / ns.total) if ns.total else 0 -%}
    {%- if table_share > warn_share -%}
        {%- set is_error = table_share > error_share -%}
        {%- set level = 'ERROR' if is_error else 'WARNING' -%}
        {%- set limit = ('var quarantine_error_share=' ~ error_share) if is_error
                        else ('var quarantine_warn_share=' ~ warn_share) -%}
        {%- for row in shares.rows -%}
            {%- set sample = run_query("select * from " ~ model ~ " where " ~ reason_column ~ " = '"
                                       ~ row[0] ~ "' limit 1") -%}
            {%- set values = [] -%}
            {%- for col in sample.column_names -%}
                {%- if col not in (reason_column, 'copy_number') and not (col ~ '_raw') in sample.column_names -%}
                    {%- do values.append(col ~ '=' ~ (sample.rows[0][col] if sample.rows[0][col] is not none else '')) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- set msg = "retail_lift quarantine " ~ level ~ ": table " ~ source_table ~ ", reason " ~ row[0]
                ~ ": " ~ row[1] ~ " of " ~ row[2] ~ " rows (" ~ ((row[1] / row[2] * 100) | round(2))
                ~ " %) quarantined (all reasons: " ~ ((table_share * 100) | round(2)) ~ " % of the table, above "
                ~ limit ~ "); sample row: " ~ (values | join(', ')) ~ ". To change: " ~ quarantine_hint(row[0]) -%}
            {%- do messages.update({row[0]: msg}) -%}
            {%- if is_error -%}
                {{ log(msg, info=True) }}
            {%- else -%}
                {%- do exceptions.warn(msg) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endif %}

with

reasons as (

    select
        {{ reason_column }} as dq_reason,
        count(*) as quarantined_rows

    from {{ model }}
    where {{ reason_column }} is not null
    group by {{ reason_column }}

),

total as (

    select count(*) as landed_rows from {{ model }}

),

shares as (

    select
        '{{ source_table }}' as source_table,
        reasons.dq_reason,
        reasons.quarantined_rows,
        total.landed_rows,
        reasons.quarantined_rows * 1.0 / total.landed_rows as quarantined_share,
        sum(reasons.quarantined_rows) over () * 1.0 / total.landed_rows as table_quarantined_share

    from reasons
    cross join total

)

select
    source_table,
    dq_reason,
    quarantined_rows,
    landed_rows,
    quarantined_share,
    table_quarantined_share,
    case when table_quarantined_share > {{ error_share }} then 2 else 1 end as level,
    case
        when dq_reason is null then null
    {%- for reason, msg in messages.items() %}
        when dq_reason = '{{ reason }}' then '{{ msg | replace("'", "''") }}'
    {%- endfor %}
        else 'see the dbt log of this test'
    end as message

from shares
where table_quarantined_share > {{ warn_share }}

{% endtest %}


{#- What to change when many rows fail a check: the var, the mapping or the format behind a dq_reason. -#}
{% macro quarantine_hint(reason) -%}
    {%- set mpa = var('min_plausible_at', none) -%}
    {%- if reason.startswith('implausible_') -%}
        timestamps before 1970 or in the future (more than a day after the run started), or before var min_plausible_at={{ mpa if mpa is not none else 'null' }}; check the timestamps' unit and time zone, or unset var min_plausible_at
    {%- elif reason == 'missing_product_id' -%}
        the event_roles seed: only product roles need a product_id (map each event name to its role)
    {%- elif reason.startswith('unparseable_') -%}
        check the format (ISO 8601 timestamps, numbers with a decimal point); `retail-lift prepare --delimiter/--decimal` for another CSV dialect
    {%- elif reason.startswith('duplicate_') -%}
        the key repeats: the first copy is kept and the others quarantined; check the key columns or deduplicate the export
    {%- elif reason.startswith('absurd_') -%}
        amounts above var max_order_amount={{ var('max_order_amount') }}; check the unit (cents?) or raise the var
    {%- elif reason.startswith('missing_') -%}
        a required column is empty: check the column mapping of the file (the contract in retail_lift/contract.py)
    {%- elif reason.startswith('orphan_') or reason.startswith('unknown_experiment') -%}
        the parent row is missing or quarantined: check the parent table's file and its quarantine
    {%- elif reason.startswith('unknown_') -%}
        a value outside the accepted list of the contract (retail_lift/contract.py): map it to an accepted value
    {%- elif reason.startswith('not_finite_') or reason.startswith('negative_') or reason.startswith('non_positive_') -%}
        NaN, infinite or negative numbers: check the export of that column
    {%- else -%}
        the data contract check {{ reason }} (retail_lift/contract.py and models/staging/shop/base)
    {%- endif -%}
{%- endmacro %}
