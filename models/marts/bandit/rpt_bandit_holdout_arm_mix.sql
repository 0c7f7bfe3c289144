-- One row per policy x arm: the share of the holdout decisions each policy would give the arm (its mean
-- probability over the settled holdout decisions of ml_bandit_holdout_probabilities), next to the share
-- the logging policy actually chose it and the share of decisions at which it was available.
with

holdout_probabilities as (

    select * from {{ ref('ml_bandit_holdout_probabilities') }}

),

decision_ledger as (

    select * from {{ ref('fct_decision_ledger') }}

),

holdout_decisions as (

    select distinct decision_id
    from holdout_probabilities

),

logged_choices as (

    select
        decision_ledger.promotion_id,
        count(*) as logged_decisions

    from decision_ledger
    inner join holdout_decisions
        on decision_ledger.decision_id = holdout_decisions.decision_id
    group by decision_ledger.promotion_id

),

policy_mix as (

    select
        policy_id,
        promotion_id,
        count(*) as holdout_decisions,
        avg(probability) as expected_share,
        avg(case when is_available then cast(1 as double) else cast(0 as double) end) as available_share

    from holdout_probabilities
    group by policy_id, promotion_id

),

final as (

    select
        policy_mix.policy_id,
        policy_mix.promotion_id,
        policy_mix.holdout_decisions,
        policy_mix.expected_share,
        -- doubles, not decimal literals: Spark keeps 1.0 as a decimal and would round these shares
        cast(coalesce(logged_choices.logged_decisions, 0) as double) / policy_mix.holdout_decisions as logged_share,
        policy_mix.available_share

    from policy_mix
    left join logged_choices
        on policy_mix.promotion_id = logged_choices.promotion_id

)

select * from final
