-- Each logged decision's action probabilities sum to 1 (within 1e-4). A decision without any
-- probability (malformed or missing action_probabilities JSON) fails too: it cannot be used for
-- off-policy evaluation. Returns the offending decisions with their sum.
with

ledger as (

    select * from {{ ref('fct_decision_ledger') }}

),

arm_probabilities as (

    select * from {{ ref('fct_decision_arm_probabilities') }}

),

sums as (

    select
        decision_id,
        count(*) as arms,
        sum(action_probability) as probability_sum

    from arm_probabilities
    group by decision_id

),

checked as (

    select
        ledger.decision_id,
        ledger.action_probabilities,
        sums.arms,
        sums.probability_sum

    from ledger
    left join sums
        on ledger.decision_id = sums.decision_id

)

select * from checked
where probability_sum is null
    or abs(probability_sum - 1.0) > 1e-4
