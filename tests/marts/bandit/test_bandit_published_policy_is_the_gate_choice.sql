-- Consistency of the gate's outputs (always an error, unlike the business signal of
-- test_bandit_gate_promotes_a_candidate): the verdict column of ml_bandit_policy_evaluation follows the paired
-- gate's rule recomputed from its statistics (eligible = ESS >= gate_min_ess and unsupported_share <=
-- gate_max_unsupported_share; Holm's step-down over the eligible candidates' one-sided p-values at
-- gate_alpha; of those that pass, the highest gate_diff_ci_low ships), every estimator row of a policy carries
-- the same verdict, and exactly one version of ml_bandit_published_policy is active, the gate's choice (the
-- promoted candidate, else the champion). One row per inconsistency.
with

policy_evaluation as (

    select * from {{ ref('ml_bandit_policy_evaluation') }}

),

published_policy as (

    select * from {{ ref('ml_bandit_published_policy') }}

),

gate_rows as (

    select * from policy_evaluation
    where estimator = gate_estimator

),

eligible as (

    select
        policy_id,
        gate_p_value,
        gate_alpha,
        row_number() over (order by gate_p_value, policy_id) as p_rank,
        count(*) over () as n_tested

    from gate_rows
    where
        not is_champion
        and ess >= gate_min_ess
        and unsupported_share <= gate_max_unsupported_share
        and gate_p_value is not null

),

holm as (

    select
        policy_id,
        p_rank,
        min(case when gate_p_value > gate_alpha / (n_tested - p_rank + 1) then p_rank end) over () as first_failing_rank

    from eligible

),

judged as (

    select
        gate_rows.policy_id,
        gate_rows.is_champion,
        gate_rows.gate_diff_ci_low,
        gate_rows.gate_verdict,
        coalesce(holm.p_rank < coalesce(holm.first_failing_rank, holm.p_rank + 1), false) as passes

    from gate_rows
    left join holm
        on gate_rows.policy_id = holm.policy_id

),

champion as (

    select policy_id as champion_policy_id
    from gate_rows
    where is_champion

),

ranked_passing as (

    select
        policy_id,
        row_number() over (order by gate_diff_ci_low desc, policy_id) as rank_by_value

    from judged
    where passes

),

gate_choice as (

    select
        champion.champion_policy_id,
        coalesce(best_passing.policy_id, champion.champion_policy_id) as chosen_policy_id

    from champion
    left join ranked_passing as best_passing
        on best_passing.rank_by_value = 1

),

expected_verdicts as (

    select
        judged.policy_id,
        judged.gate_verdict,
        case
            when judged.is_champion and gate_choice.chosen_policy_id = judged.policy_id then 'keep'
            when judged.is_champion then 'replace'
            when gate_choice.chosen_policy_id = judged.policy_id then 'promote'
            when judged.passes then 'pass'
            else 'refuse'
        end as expected_verdict

    from judged
    cross join gate_choice

),

wrong_verdicts as (

    select
        'verdict differs from the gate rule' as issue,
        policy_id || ': ' || gate_verdict || ', expected ' || expected_verdict as detail

    from expected_verdicts
    where gate_verdict <> expected_verdict

),

mixed_verdicts as (

    select
        'estimator rows of one policy carry different verdicts' as issue,
        policy_id as detail

    from policy_evaluation
    group by policy_id
    having count(distinct gate_verdict) > 1

),

active_versions as (

    select
        count(*) as n_active,
        max(policy_id) as active_policy_id

    from published_policy
    where is_active

),

wrong_active as (

    select
        'the active published version is not the choice of the gate' as issue,
        'gate chose ' || gate_choice.chosen_policy_id || '; active: '
        || coalesce(active_versions.active_policy_id, 'none') || ' ('
        || cast(active_versions.n_active as string) || ' active rows)' as detail

    from gate_choice
    cross join active_versions
    where active_versions.n_active <> 1
        or active_versions.active_policy_id <> gate_choice.chosen_policy_id

),

final as (

    select * from wrong_verdicts
    union all
    select * from mixed_verdicts
    union all
    select * from wrong_active

)

select * from final
