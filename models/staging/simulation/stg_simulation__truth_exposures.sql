-- Ground truth of the simulated world: true response to every arm at the moment of each logged exposure (experiment assignment or policy decision), accounting for churn. One row per exposure and promotion.
-- Read only by the evaluation marts (models/marts/evaluation).
with

source as (

    select * from {{ source('simulation', 'truth_exposures') }}

),

renamed as (

    select
        cast(exposure_kind as string) as exposure_kind,
        cast(exposure_id as string) as exposure_id,
        cast(customer_id as string) as customer_id,
        cast(promotion_id as string) as promotion_id,
        cast(p_convert as double) as p_convert,
        cast(true_uplift as double) as true_uplift,
        cast(expected_revenue as double) as expected_revenue

    from source

)

select * from renamed
