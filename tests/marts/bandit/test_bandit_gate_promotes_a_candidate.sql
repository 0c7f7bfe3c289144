-- The OPE gate, recomputed in SQL from the estimates of ml_bandit_policy_evaluation (not from its verdict
-- column): a candidate passes when the lower bound of its gate-estimator (dr) interval is above the
-- champion's estimate (and its ESS reaches gate_min_ess when set); the passing candidate with the highest
-- estimate is the gate's choice, else the champion. One row per problem:
--   * no candidate passes: the champion (the logging policy) stays, and the row names the candidate that
--     came closest (a business signal: the learned policies are not proven better yet);
--   * the active version of ml_bandit_published_policy is not the gate's choice (or not exactly one).
-- Severity: var('bandit_gate_severity'), 'warn' by default ('error' makes a build fail until a candidate
-- is promoted). No rows when nothing was evaluated (no decision ledger).
{{ config(severity = var('bandit_gate_severity', 'warn')) }}

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

champion as (

    select
        policy_id as champion_policy_id,
        value as champion_value

    from gate_rows
    where is_champion

),

ranked_candidates as (

    select
        gate_rows.policy_id,
        gate_rows.value,
        gate_rows.ci_low,
        gate_rows.ci_low > champion.champion_value
        and (gate_rows.gate_min_ess is null or gate_rows.ess >= gate_rows.gate_min_ess) as passes,
        row_number() over (order by gate_rows.ci_low - champion.champion_value desc, gate_rows.policy_id)
            as rank_by_margin

    from gate_rows
    cross join champion
    where not gate_rows.is_champion

),

ranked_passing as (

    select
        policy_id,
        row_number() over (order by value desc, policy_id) as rank_by_value

    from ranked_candidates
    where passes

),

gate_choice as (

    select
        champion.champion_policy_id,
        champion.champion_value,
        coalesce(best_passing.policy_id, champion.champion_policy_id) as chosen_policy_id,
        best_passing.policy_id is not null as has_passing_candidate

    from champion
    left join ranked_passing as best_passing
        on best_passing.rank_by_value = 1

),

closest_candidate as (

    select
        policy_id,
        ci_low

    from ranked_candidates
    where rank_by_margin = 1

),

active_versions as (

    select
        count(*) as n_active,
        max(policy_id) as active_policy_id

    from published_policy
    where is_active

),

no_candidate_passes as (

    select
        'no candidate passes the OPE gate' as issue,
        'the champion ' || gate_choice.champion_policy_id || ' stays (estimate '
        || cast(round(gate_choice.champion_value, 4) as string) || '); closest candidate '
        || coalesce(closest_candidate.policy_id, 'none') || ' with lower bound '
        || coalesce(cast(round(closest_candidate.ci_low, 4) as string), 'n/a') as detail

    from gate_choice
    left join closest_candidate
        on true
    where not gate_choice.has_passing_candidate

),

published_is_not_the_choice as (

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

    select * from no_candidate_passes
    union all
    select * from published_is_not_the_choice

)

select * from final
