{{ config(severity='warn') }}
-- The frontier's point at the plan's budget (is_plan_budget) is the plan: per promotion the same customers and
-- expected incremental margin as ml_promotion_plan, and exactly one such point. The frontier solves the plan's
-- candidates and limits with the plan's solver, so a fresh build always agrees (tests/python/warehouse checks it
-- exactly); warn, not error: a plan reused from the plan store keeps what the solver of its day chose. One row
-- per promotion that differs (every promotion of the plan when no point or several are marked as its own).
with

frontier as (

    select * from {{ ref('ml_promotion_plan_frontier') }}

),

plan as (

    select * from {{ ref('ml_promotion_plan') }}

),

plan_points as (

    select count(distinct point) as points from frontier where is_plan_budget

),

at_plan as (

    select promotion_id, planned_customers, expected_incremental_margin
    from frontier
    where is_plan_budget

),

planned as (

    select
        promotion_id,
        count(*) as planned_customers,
        sum(expected_incremental_margin) as expected_incremental_margin

    from plan
    where promotion_id is not null
    group by promotion_id

),

final as (

    select
        coalesce(at_plan.promotion_id, planned.promotion_id) as promotion_id,
        at_plan.planned_customers as frontier_customers,
        planned.planned_customers as plan_customers,
        at_plan.expected_incremental_margin as frontier_margin,
        planned.expected_incremental_margin as plan_margin,
        plan_points.points as plan_points

    from at_plan
    full outer join planned on at_plan.promotion_id = planned.promotion_id
    cross join plan_points
    where plan_points.points <> 1
        or coalesce(at_plan.planned_customers, 0) <> coalesce(planned.planned_customers, 0)
        or abs(coalesce(at_plan.expected_incremental_margin, 0) - coalesce(planned.expected_incremental_margin, 0))
        > 1e-6 * (1 + abs(coalesce(planned.expected_incremental_margin, 0)))

)

select * from final
