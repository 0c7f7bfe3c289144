-- Rows of the raw decisions that pass every data-contract check, typed (see base_shop__decisions).
with

checked as (

    select * from {{ ref('base_shop__decisions') }}

),

clean as (

    select
        decision_id,
        customer_id,
        policy_id,
        promotion_id,
        action_probabilities,
        context,
        propensity,
        decided_at

    from checked
    where dq_reason is null

)

select * from clean
