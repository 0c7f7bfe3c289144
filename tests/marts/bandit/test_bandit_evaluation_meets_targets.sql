-- The issue's targets, judged against the ground truth (rpt_eval_bandit_policy_value_vs_truth): every policy's DR
-- estimate within var('bandit_dr_tolerance') (10 %) of its true value, and the best learned policy at or
-- above var('bandit_oracle_share_target') (90 %) of the oracle. A warning: the targets describe how well
-- the off-policy evaluation and the candidates do on this world, not a broken build.
{{ config(severity = 'warn') }}

with

policy_values as (

    select * from {{ ref('rpt_eval_bandit_policy_value_vs_truth') }}

),

dr_misses as (

    select
        policy_id,
        'DR estimate off by more than the tolerance' as issue,
        dr_relative_error as measure

    from policy_values
    where not is_dr_within_tolerance

),

oracle_misses as (

    select
        policy_id,
        'best learned policy below the oracle share target' as issue,
        share_of_oracle as measure

    from policy_values
    where is_best_learned_policy
        and not meets_oracle_share_target

),

final as (

    select * from dr_misses
    union all
    select * from oracle_misses

)

select * from final
