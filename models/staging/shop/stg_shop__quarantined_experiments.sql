{{ config(materialized='table') }}

-- Rows of the raw experiments that break the data contract, kept with the original values and the reason.
with

checked as (

    select * from {{ ref('base_shop__experiments') }}

),

quarantined as (

    select *

    from checked
    where dq_reason is not null

)

select * from quarantined
