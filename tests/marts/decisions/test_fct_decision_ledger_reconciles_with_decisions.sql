-- Every clean decision appears in fct_decision_ledger exactly once, and nothing else does.
-- Returns the decision_ids that are missing, extra or duplicated.
with

decisions as (

    select * from {{ ref('stg_shop__decisions') }}

),

ledger as (

    select * from {{ ref('fct_decision_ledger') }}

),

ledger_counts as (

    select
        decision_id,
        count(*) as ledger_rows

    from ledger
    group by decision_id

),

compared as (

    select
        coalesce(decisions.decision_id, ledger_counts.decision_id) as decision_id,
        decisions.decision_id is not null as is_in_staging,
        coalesce(ledger_counts.ledger_rows, 0) as ledger_rows

    from decisions
    full outer join ledger_counts
        on decisions.decision_id = ledger_counts.decision_id

)

select * from compared
where not is_in_staging or ledger_rows <> 1
