-- ml_bandit_holdout_probabilities and ml_bandit_policy_evaluation train the candidates separately (same split,
-- same seed). They must describe the same policies: every policy's probabilities sum to 1 on each holdout
-- decision, the holdout has the evaluation's n_decisions, and the IPS estimate recomputed here,
-- mean(probability of the logged arm / logged propensity * is_converted), equals the evaluation's (1e-9).
with

holdout_probabilities as (

    select * from {{ ref('ml_bandit_holdout_probabilities') }}

),

policy_evaluation as (

    select * from {{ ref('ml_bandit_policy_evaluation') }}

),

decision_ledger as (

    select * from {{ ref('fct_decision_ledger') }}

),

decision_sums as (

    select
        policy_id,
        decision_id,
        sum(probability) as total_probability

    from holdout_probabilities
    group by policy_id, decision_id

),

not_summing_to_one as (

    select
        'probabilities do not sum to 1' as issue,
        policy_id || ' at ' || decision_id as detail

    from decision_sums
    where abs(total_probability - 1) > 1e-4

),

recomputed_ips as (

    select
        holdout_probabilities.policy_id,
        count(*) as n_decisions,
        avg(
            holdout_probabilities.probability / decision_ledger.propensity
            * case when decision_ledger.is_converted then 1.0 else 0.0 end
        ) as ips_value

    from holdout_probabilities
    inner join decision_ledger
        on holdout_probabilities.decision_id = decision_ledger.decision_id
        and holdout_probabilities.promotion_id = decision_ledger.promotion_id
    group by holdout_probabilities.policy_id

),

evaluated_ips as (

    select
        policy_id,
        n_decisions,
        value as ips_value

    from policy_evaluation
    where estimator = 'ips'

),

mismatches as (

    select
        'IPS or holdout size differs from ml_bandit_policy_evaluation' as issue,
        coalesce(evaluated_ips.policy_id, recomputed_ips.policy_id) || ': recomputed '
        || coalesce(cast(recomputed_ips.ips_value as string), 'none') || ' on '
        || coalesce(cast(recomputed_ips.n_decisions as string), '0') || ', evaluated '
        || coalesce(cast(evaluated_ips.ips_value as string), 'none') || ' on '
        || coalesce(cast(evaluated_ips.n_decisions as string), '0') as detail

    from evaluated_ips
    full outer join recomputed_ips
        on evaluated_ips.policy_id = recomputed_ips.policy_id
    where evaluated_ips.policy_id is null
        or recomputed_ips.policy_id is null
        or evaluated_ips.n_decisions <> recomputed_ips.n_decisions
        or abs(evaluated_ips.ips_value - recomputed_ips.ips_value) > 1e-9

),

final as (

    select * from not_summing_to_one
    union all
    select * from mismatches

)

select * from final
