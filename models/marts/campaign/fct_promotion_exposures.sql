-- One row per promotion contact: a logged policy decision (fct_decision_ledger) or an experiment
-- assignment (fct_experiment_exposures) whose arm is a promotion, not the control. With the customer,
-- the promotion, when it was sent and whether the customer converted in its attribution window (NULL
-- while the window is open). The contact history behind the fatigue flags.
with

decisions as (

    select * from {{ ref('fct_decision_ledger') }}

),

experiment_exposures as (

    select * from {{ ref('fct_experiment_exposures') }}

),

decision_contacts as (

    select
        decision_id as exposure_id,
        'decision' as exposure_kind,
        customer_id,
        promotion_id,
        decided_at as exposed_at,
        not is_pending as is_window_closed,
        is_converted

    from decisions
    where promotion_id <> 'control'

),

experiment_contacts as (

    select
        assignment_id as exposure_id,
        'experiment' as exposure_kind,
        customer_id,
        variant as promotion_id,
        assigned_at as exposed_at,
        is_window_closed,
        is_converted

    from experiment_exposures
    where not is_control

),

unioned as (

    select * from decision_contacts
    union all
    select * from experiment_contacts

),

final as (

    select
        exposure_id,
        exposure_kind,
        customer_id,
        promotion_id,
        exposed_at,
        is_window_closed,
        is_converted

    from unioned

)

select * from final
