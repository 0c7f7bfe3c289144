{{ config(materialized='view') }}

-- Every raw experiment assignment, typed (text kept for values that do not parse), keyed and numbered within its
-- key. The data-contract checks are in base_shop__experiment_assignments.
with

source as (

    select * from {{ source('shop', 'experiment_assignments') }}

),

typed as (

    select
        {{ clean_text('experiment_id') }} as experiment_id,
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_text('variant') }} as variant,
        cast(assigned_at as string) as assigned_at_raw,
        try_cast(assigned_at as timestamp) as assigned_at

    from source

),

keyed as (

    select
        {{ surrogate_key(['experiment_id', 'customer_id']) }} as assignment_id,
        typed.*,
        row_number() over (
            partition by experiment_id, customer_id order by assigned_at, variant
        ) as copy_number

    from typed

)

select * from keyed
