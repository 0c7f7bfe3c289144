-- Ground truth of the simulated world: latent parameters of each simulated customer. One row per customer.
-- Read only by the evaluation marts (models/marts/evaluation).
with

source as (

    select * from {{ source('simulation', 'truth_customers') }}

),

renamed as (

    select
        cast(customer_id as string) as customer_id,
        cast(active_from as timestamp) as active_from,
        cast(active_until as timestamp) as active_until,
        cast(online_order_rate as double) as online_order_rate,
        cast(store_order_rate as double) as store_order_rate,
        cast(price_sensitivity as double) as price_sensitivity,
        cast(uplift_type as string) as uplift_type,
        cast(mean_order_value as double) as mean_order_value

    from source

)

select * from renamed
