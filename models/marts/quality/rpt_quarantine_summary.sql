-- One row per raw table of the data contract and quarantine reason (plus one row per table with the
-- CSV lines that could not be parsed at all): how many rows were kept out of the clean staging
-- tables, next to the rows that arrived. Nothing is dropped in silence: raw rows = clean rows +
-- quarantined rows (tested per table in staging).
with

load_report as (

    select * from {{ ref('stg_shop__load_report') }}

),

quarantined as (

    select
        source_table,
        dq_reason

    from {{ ref('stg_shop__quarantined_rows') }}

),

by_reason as (

    select
        source_table,
        dq_reason,
        count(*) as quarantined_rows

    from quarantined
    group by source_table, dq_reason

    union all

    select
        table_name as source_table,
        'unparseable_csv_line' as dq_reason,
        rejected_lines as quarantined_rows

    from load_report
    where rejected_lines > 0

),

final as (

    select
        by_reason.source_table,
        by_reason.dq_reason,
        by_reason.quarantined_rows,
        load_report.row_count as landed_rows,
        load_report.status as load_status,
        case
            when by_reason.dq_reason = 'unparseable_csv_line' then 'prepare'
            else 'staging'
        end as caught_in,
        by_reason.quarantined_rows * 1.0 / nullif(load_report.row_count + case
            when by_reason.dq_reason = 'unparseable_csv_line' then by_reason.quarantined_rows else 0 end, 0)
            as quarantined_share

    from by_reason
    left join load_report
        on by_reason.source_table = load_report.table_name

)

select * from final
