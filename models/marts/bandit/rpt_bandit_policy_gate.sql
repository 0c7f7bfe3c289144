-- One row per policy evaluated by the paired OPE gate: the gate estimator's row of ml_bandit_policy_evaluation
-- (the long table has one row per policy x estimator and repeats the gate on each), next to the policy's
-- published version. The lift is the paired DR difference relative to the champion's value.
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

final as (

    select
        gate_rows.policy_id,
        published_policy.version,
        published_policy.policy_class,
        gate_rows.gate_estimator,
        gate_rows.value as estimated_value,
        gate_rows.ci_low,
        gate_rows.ci_high,
        gate_rows.champion_value,
        gate_rows.gate_diff / nullif(gate_rows.champion_value, 0) as estimated_lift_vs_champion,
        gate_rows.gate_diff,
        gate_rows.gate_diff_ci_low,
        gate_rows.gate_diff_ci_high,
        gate_rows.gate_snips_diff,
        gate_rows.gate_p_value,
        gate_rows.gate_holm_threshold,
        gate_rows.ess,
        gate_rows.max_weight,
        gate_rows.unsupported_share,
        gate_rows.n_decisions,
        gate_rows.n_train_decisions,
        gate_rows.is_champion,
        gate_rows.gate_eligible,
        gate_rows.passes_gate,
        coalesce(published_policy.is_active, false) as is_active,
        gate_rows.gate_verdict,
        gate_rows.gate_reason,
        gate_rows.holdout_starts_at

    from gate_rows
    left join published_policy
        on gate_rows.policy_id = published_policy.policy_id

)

select * from final
