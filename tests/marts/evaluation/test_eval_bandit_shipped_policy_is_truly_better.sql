-- Against the simulated world's truth: the policy the paired OPE gate shipped (verdict 'promote') is truly
-- better than the champion (the logging policy) on the holdout decisions, and it is never a policy that is
-- truly worse. One row per violation. No rows when the gate kept the champion, or without truth (bring your
-- own data: the report is empty). The gate controls this at family-wise level gate_alpha (2.5 %), so a
-- violation is either that rare event or a broken gate: both worth a failing build on the simulated world.
with

report as (

    select * from {{ ref('rpt_eval_bandit_policy_value_vs_truth') }}

),

final as (

    select
        policy_id,
        true_value,
        true_diff_vs_champion,
        gate_diff,
        gate_diff_ci_low

    from report
    where
        gate_verdict = 'promote'
        and not is_truly_better_than_champion

)

select * from final
