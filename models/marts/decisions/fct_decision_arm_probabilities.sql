-- One row per logged decision x arm that the logging policy could choose at that moment: the arm's
-- probability under the logging policy, read from the decision's action_probabilities JSON
-- ({"control":0.05,"email_10pct":0.75,...}). A decision whose JSON is not an object has no rows (the
-- singular tests in tests/marts/decisions/ flag it).
with

decisions as (

    select * from {{ ref('stg_shop__decisions') }}

),

arm_entries as (

    select
        decision_id,
        policy_id,
        promotion_id as chosen_promotion_id,
        decided_at,
        {{ explode_array(json_object_entries('action_probabilities', 'double')) }} as arm_entry

    from decisions

),

final as (

    select
        decision_id,
        arm_entry.key as promotion_id,
        policy_id,
        arm_entry.value as action_probability,
        arm_entry.key = chosen_promotion_id as is_chosen,
        decided_at

    from arm_entries

)

select * from final
