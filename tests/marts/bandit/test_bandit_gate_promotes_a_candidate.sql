-- A business signal, not a consistency check: no candidate passes the paired OPE gate, so the champion (the
-- logging policy) stays and the API serves the declared fallback. One row then, naming the candidate that
-- came closest (the smallest p-value among those tested, else the first refused) and why it was refused.
-- (test_bandit_published_policy_is_the_gate_choice recomputes the gate rule itself and always errors.)
-- Severity: var('bandit_gate_severity'), 'warn' by default ('error' makes a build fail until a candidate
-- is promoted). No rows when nothing was evaluated (no decision ledger).
{{ config(severity = var('bandit_gate_severity', 'warn')) }}

with

policy_evaluation as (

    select * from {{ ref('ml_bandit_policy_evaluation') }}

),

gate_rows as (

    select * from policy_evaluation
    where estimator = gate_estimator

),

closest_candidate as (

    select
        policy_id,
        gate_reason,
        row_number() over (
            order by gate_eligible desc, gate_p_value asc, gate_diff_ci_low desc, policy_id
        ) as closeness

    from gate_rows
    where not is_champion

),

final as (

    select
        'no candidate passes the OPE gate' as issue,
        'the champion ' || champion.policy_id || ' stays (DR value '
        || cast(round(champion.champion_value, 4) as string) || '); closest candidate '
        || coalesce(closest_candidate.policy_id, 'none') || ': '
        || coalesce(closest_candidate.gate_reason, 'n/a') as detail

    from gate_rows as champion
    left join closest_candidate
        on closest_candidate.closeness = 1
    where
        champion.is_champion
        and champion.gate_verdict = 'keep'

)

select * from final
