-- Every raw logged decision, typed, with the first data-contract check it fails (dq_reason; NULL when clean).
-- A propensity must lie in (0, 1]: a zero or missing propensity makes the decision unusable for
-- off-policy evaluation, so such rows are quarantined rather than silently reweighted.
with

source as (

    select * from {{ source('shop', 'decisions') }}

),

typed as (

    select
        {{ clean_text('decision_id') }} as decision_id,
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_text('policy_id') }} as policy_id,
        {{ clean_text('promotion_id') }} as promotion_id,
        cast(action_probabilities as string) as action_probabilities,
        cast(context as string) as context,
        cast(propensity as string) as propensity_raw,
        try_cast(propensity as double) as propensity,
        cast(decided_at as string) as decided_at_raw,
        try_cast(decided_at as timestamp) as decided_at

    from source

),

ranked as (

    select
        *,
        row_number() over (partition by decision_id order by decided_at, customer_id) as copy_number

    from typed

),

checked as (

    select
        decision_id,
        customer_id,
        policy_id,
        promotion_id,
        action_probabilities,
        context,
        propensity_raw,
        propensity,
        decided_at_raw,
        decided_at,
        copy_number,
        {{ first_failed_check([
            ['missing_decision_id', 'decision_id is null'],
            ['missing_customer_id', 'customer_id is null'],
            ['missing_promotion_id', 'promotion_id is null'],
            ['missing_decided_at', 'decided_at_raw is null'],
            ['unparseable_decided_at', is_unparseable('decided_at_raw', 'decided_at')],
            ['implausible_decided_at', is_implausible_time('decided_at')],
            ['missing_propensity', 'propensity is null'],
            ['not_finite_propensity', is_not_finite('propensity')],
            ['propensity_out_of_range', 'propensity <= 0 or propensity > 1'],
            ['duplicate_decision_id', 'copy_number > 1'],
        ]) }} as dq_reason

    from ranked

)

select * from checked
