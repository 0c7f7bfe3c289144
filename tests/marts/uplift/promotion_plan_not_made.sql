{{ config(severity='warn') }}
-- Warns when promotions have per-customer uplift (a valid experiment) but ml_promotion_plan is empty: the
-- catalogue has no product with a known unit cost, so dim_campaign_promotions.gross_margin_rate is missing and
-- no promotion's margin can be priced. Set the config margin_rate of ml_promotion_plan (e.g. in
-- dbt_project.yml) to plan with a stated margin. One row per such promotion.
with

uplift as (

    select distinct promotion_id, experiment_id from {{ ref('ml_customer_uplift') }}

),

plan as (

    select count(*) as plan_rows from {{ ref('ml_promotion_plan') }}

),

final as (

    select
        uplift.promotion_id,
        uplift.experiment_id,
        'promotion ' || uplift.promotion_id || ' has uplift scores but no plan: ml_promotion_plan is empty '
        || '(no gross margin rate: set margin_rate of ml_promotion_plan)' as problem

    from uplift
    cross join plan
    where plan.plan_rows = 0

)

select * from final
