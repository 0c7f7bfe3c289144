-- One row per promotion arm x targeting strategy (uplift, propensity, everyone) x share targeted: the
-- expected incremental conversions, revenue, discount and contact cost and incremental margin from
-- the model's predictions, from the training run ml_uplift_run (table_name = 'incremental_roi').
with

runs as (

    select * from {{ ref('ml_uplift_run') }}

),

final as (

    select
        promotion_id,
        experiment_id,
        strategy,
        k_fraction,
        cast(customers_targeted as integer) as customers_targeted,
        expected_incremental_conversions,
        expected_incremental_revenue,
        expected_discount_cost,
        expected_contact_cost,
        expected_incremental_margin,
        value_per_conversion,
        discount_rate,
        contact_cost,
        margin_rate,
        model_version,
        trained_at

    from runs
    where table_name = 'incremental_roi'

)

select * from final
