-- The logged propensity of each decision equals the logging probability of the arm it chose (within
-- 1e-4), and the chosen arm is one of the arms in action_probabilities. Returns the offending
-- decisions.
with

ledger as (

    select * from {{ ref('fct_decision_ledger') }}

),

arm_probabilities as (

    select * from {{ ref('fct_decision_arm_probabilities') }}

),

chosen as (

    select
        decision_id,
        promotion_id,
        action_probability

    from arm_probabilities
    where is_chosen

),

checked as (

    select
        ledger.decision_id,
        ledger.promotion_id,
        ledger.propensity,
        chosen.action_probability

    from ledger
    left join chosen
        on ledger.decision_id = chosen.decision_id

)

select * from checked
where action_probability is null
    or abs(action_probability - propensity) > 1e-4
