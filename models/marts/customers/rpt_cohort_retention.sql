-- Cohort retention as a long table: one row per cohort type x period grain x cohort x period number,
-- from the member activity periods of int_cohort_activity_periods (first_purchase: customers by
-- first order, active = ordered; first_visit: visitors by first session, active = had a session).
-- Every period from 0 to the period holding the last day of data has a row, with active = 0 when
-- nobody came back. See doc cohort_retention.
with

member_periods as (

    select * from {{ ref('int_cohort_activity_periods') }}

),

snapshots as (

    select * from {{ ref('int_snapshot_dates') }}

),

as_of as (

    select last_data_date
    from snapshots
    where snapshot_role = 'score'

),

cohorts as (

    select
        cohort_type,
        period_grain,
        cohort_start,
        max(last_period_number) as last_period_number,
        count(distinct member_id) as cohort_size

    from member_periods
    group by 1, 2, 3

),

active_counts as (

    select
        cohort_type,
        period_grain,
        cohort_start,
        period_number,
        count(*) as active

    from member_periods
    group by 1, 2, 3, 4

),

period_spine as (

    select cast(generated_number - 1 as integer) as period_number
    from ({{ dbt.generate_series(var('cohort_max_periods', 520) + 1) }}) as series

),

cohort_periods as (

    -- Every period from 0 to the cohort's last one (the spine covers var cohort_max_periods, default
    -- 520 periods); the union keeps an active period beyond the spine as well.
    select
        cohorts.cohort_type,
        cohorts.period_grain,
        cohorts.cohort_start,
        period_spine.period_number

    from cohorts
    inner join period_spine
        on period_spine.period_number <= cohorts.last_period_number

    union

    select
        cohort_type,
        period_grain,
        cohort_start,
        period_number

    from active_counts

),

dated as (

    select
        cohort_type,
        period_grain,
        cohort_start,
        period_number,
        cast(
            case
                when period_grain = 'week'
                    then {{ dbt.dateadd('day', '7 * period_number', 'cohort_start') }}
                else {{ dbt.dateadd('month', 'period_number', 'cohort_start') }}
            end
            as date
        ) as period_start,
        cast(
            case
                when period_grain = 'week'
                    then {{ dbt.dateadd('day', '7 * period_number + 7', 'cohort_start') }}
                else {{ dbt.dateadd('month', 'period_number + 1', 'cohort_start') }}
            end
            as date
        ) as next_period_start

    from cohort_periods

),

final as (

    select
        dated.cohort_type,
        dated.period_grain,
        dated.cohort_start,
        dated.period_number,
        dated.period_start,
        cast(cohorts.cohort_size as bigint) as cohort_size,
        cast(coalesce(active_counts.active, 0) as bigint) as active,
        cast(coalesce(active_counts.active, 0) as double) / cohorts.cohort_size as retention_rate,
        dated.next_period_start <= cast({{ dbt.dateadd('day', 1, 'as_of.last_data_date') }} as date)
            as is_complete_period

    from dated
    cross join as_of
    inner join cohorts
        on dated.cohort_type = cohorts.cohort_type
        and dated.period_grain = cohorts.period_grain
        and dated.cohort_start = cohorts.cohort_start
    left join active_counts
        on dated.cohort_type = active_counts.cohort_type
        and dated.period_grain = active_counts.period_grain
        and dated.cohort_start = active_counts.cohort_start
        and dated.period_number = active_counts.period_number

)

select * from final
