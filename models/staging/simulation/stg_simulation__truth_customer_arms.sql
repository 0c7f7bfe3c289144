-- Ground truth of the simulated world: true response of each customer to each promotion within the attribution window. One row per customer and promotion.
-- Read only by the evaluation marts (models/marts/evaluation).
with

source as (

    select * from {{ source('simulation', 'truth_customer_arms') }}

),

renamed as (

    select
        cast(customer_id as string) as customer_id,
        cast(promotion_id as string) as promotion_id,
        cast(p_convert as double) as p_convert,
        cast(true_uplift as double) as true_uplift,
        cast(expected_revenue as double) as expected_revenue,
        cast(is_oracle_arm as boolean) as is_oracle_arm

    from source

)

select * from renamed
