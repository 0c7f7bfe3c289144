-- The iso_weekday macro numbers days Monday = 1 ... Sunday = 7 on every engine
-- (2026-01-04 is a Sunday, 2026-01-05 a Monday, 2026-01-10 a Saturday).
with

known_days as (

    select cast('2026-01-04 23:59:59' as timestamp) as day_at, 7 as expected_iso_weekday, 'Sunday' as expected_name
    union all
    select cast('2026-01-05 00:00:00' as timestamp), 1, 'Monday'
    union all
    select cast('2026-01-07 12:00:00' as timestamp), 3, 'Wednesday'
    union all
    select cast('2026-01-10 18:30:00' as timestamp), 6, 'Saturday'

),

computed as (

    select
        day_at,
        expected_iso_weekday,
        expected_name,
        {{ iso_weekday('day_at') }} as iso_weekday

    from known_days

)

select *
from computed
where iso_weekday <> expected_iso_weekday
    or {{ iso_weekday_name('iso_weekday') }} <> expected_name
