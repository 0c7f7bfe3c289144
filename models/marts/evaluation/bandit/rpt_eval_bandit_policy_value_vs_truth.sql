-- One row per policy of ml_bandit_holdout_probabilities: its true value on the settled holdout decisions,
-- next to the off-policy estimates of ml_bandit_policy_evaluation. Reads the simulated world's ground truth
-- (an evaluation model: the only kind allowed to).
--   true value:  mean over the holdout decisions of sum over arms of pi(arm | context) * p_convert(decision, arm),
--                p_convert = the true probability of an order in the attribution window had the arm been played
--                (stg_simulation__truth_exposures, exposure_kind = 'decision', exposure_id = decision_id).
--   oracle:      mean over the holdout decisions of the highest p_convert among the arms available then.
--   errors:      estimate / true value - 1, per estimator; targets in var('bandit_dr_tolerance') (0.10) and
--                var('bandit_oracle_share_target') (0.90).
--   the gate:    the true difference to the champion (the logging policy) next to the gate's paired DR
--                difference and its interval: whether the policy the gate shipped is truly better.
with

holdout_probabilities as (

    select * from {{ ref('ml_bandit_holdout_probabilities') }}

),

policy_evaluation as (

    select * from {{ ref('ml_bandit_policy_evaluation') }}

),

published_policy as (

    select * from {{ ref('ml_bandit_published_policy') }}

),

truth_exposures as (

    select * from {{ ref('stg_simulation__truth_exposures') }}

),

decision_truth as (

    select
        exposure_id as decision_id,
        promotion_id,
        p_convert

    from truth_exposures
    where exposure_kind = 'decision'

),

scored_arms as (

    select
        holdout_probabilities.policy_id,
        holdout_probabilities.decision_id,
        holdout_probabilities.promotion_id,
        holdout_probabilities.probability,
        holdout_probabilities.is_available,
        decision_truth.p_convert

    from holdout_probabilities
    inner join decision_truth
        on holdout_probabilities.decision_id = decision_truth.decision_id
        and holdout_probabilities.promotion_id = decision_truth.promotion_id

),

decision_values as (

    select
        policy_id,
        decision_id,
        sum(probability * p_convert) as true_value,
        max(case when is_available then p_convert end) as oracle_value

    from scored_arms
    group by policy_id, decision_id

),

holdout_sizes as (

    select
        policy_id,
        count(distinct decision_id) as n_decisions

    from holdout_probabilities
    group by policy_id

),

policy_values as (

    select
        decision_values.policy_id,
        count(*) as n_decisions_with_truth,
        avg(decision_values.true_value) as true_value,
        avg(decision_values.oracle_value) as oracle_value

    from decision_values
    group by decision_values.policy_id

),

estimates as (

    select
        policy_id,
        bool_or(is_champion) as is_champion,
        max(gate_verdict) as gate_verdict,
        {%- for estimator in ['ips', 'snips', 'dm', 'dr', 'switch_dr'] %}
        max(case when estimator = '{{ estimator }}' then value end) as {{ estimator }}_value,
        {%- endfor %}
        max(case when estimator = 'dr' then ci_low end) as dr_ci_low,
        max(case when estimator = 'dr' then ci_high end) as dr_ci_high,
        max(case when estimator = 'dr' then gate_diff end) as gate_diff,
        max(case when estimator = 'dr' then gate_diff_ci_low end) as gate_diff_ci_low,
        max(case when estimator = 'dr' then gate_diff_ci_high end) as gate_diff_ci_high

    from policy_evaluation
    group by policy_id

),

compared as (

    select
        policy_values.policy_id,
        estimates.is_champion,
        coalesce(published_policy.is_active, false) as is_active,
        estimates.gate_verdict,
        holdout_sizes.n_decisions,
        policy_values.n_decisions_with_truth,
        policy_values.true_value,
        policy_values.oracle_value,
        policy_values.true_value / policy_values.oracle_value as share_of_oracle,
        {%- for estimator in ['ips', 'snips', 'dm', 'dr', 'switch_dr'] %}
        estimates.{{ estimator }}_value,
        estimates.{{ estimator }}_value / policy_values.true_value - 1 as {{ estimator }}_relative_error,
        {%- endfor %}
        estimates.dr_ci_low,
        estimates.dr_ci_high,
        estimates.gate_diff,
        estimates.gate_diff_ci_low,
        estimates.gate_diff_ci_high

    from policy_values
    inner join holdout_sizes
        on policy_values.policy_id = holdout_sizes.policy_id
    left join estimates
        on policy_values.policy_id = estimates.policy_id
    left join published_policy
        on policy_values.policy_id = published_policy.policy_id

),

best_learned as (

    select max(true_value) as best_learned_true_value
    from compared
    where not coalesce(is_champion, policy_id = 'logging')

),

champion_truth as (

    select max(true_value) as champion_true_value
    from compared
    where coalesce(is_champion, policy_id = 'logging')

),

final as (

    select
        compared.*,
        compared.true_value >= compared.dr_ci_low
        and compared.true_value <= compared.dr_ci_high as is_true_value_in_dr_interval,
        abs(compared.dr_relative_error) <= {{ var('bandit_dr_tolerance', 0.10) }} as is_dr_within_tolerance,
        not coalesce(compared.is_champion, compared.policy_id = 'logging')
        and compared.true_value = best_learned.best_learned_true_value as is_best_learned_policy,
        compared.share_of_oracle >= {{ var('bandit_oracle_share_target', 0.90) }} as meets_oracle_share_target,
        compared.true_value - champion_truth.champion_true_value as true_diff_vs_champion,
        compared.true_value > champion_truth.champion_true_value as is_truly_better_than_champion,
        compared.true_value - champion_truth.champion_true_value >= compared.gate_diff_ci_low
        and compared.true_value - champion_truth.champion_true_value <= compared.gate_diff_ci_high
            as is_true_diff_in_gate_interval

    from compared
    cross join best_learned
    cross join champion_truth

)

select * from final
