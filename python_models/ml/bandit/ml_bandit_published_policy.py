"""Every policy version of the build (candidates refit on all settled decisions, serialised with their
encoder), the OPE gate's choice active, and the declared fallback (the logging policy's arm shares)
that the decision API serves when the logging policy stays active (retail_lift.bandit.publish).
A ledger with decisions but too few settled ones for the evaluation still gets the logging policy
(active) and the fallback; a ledger without decisions gives an empty table."""

from retail_lift.bandit.publish import (
    LEDGER_COLUMNS,
    empty_table,
    has_enough_decisions,
    published_arms,
    published_policies,
)


def model(dbt, session):
    dbt.config(materialized="table")
    ledger = dbt.ref("fct_decision_ledger").project(", ".join(LEDGER_COLUMNS)).to_arrow_table().to_pandas()
    promotions = dbt.ref("stg_shop__promotions").project("promotion_id, launched_at").to_arrow_table().to_pandas()
    evaluation = dbt.ref("ml_bandit_policy_evaluation").to_arrow_table().to_pandas()
    if ledger.empty:
        return empty_table("published_policies")
    if not has_enough_decisions(ledger, int(dbt.config.get("min_settled_decisions"))):
        evaluation = evaluation.iloc[0:0]
    created_at = ledger["data_ends_at"].max()
    arms = published_arms(promotions, ledger, created_at)
    return published_policies(
        ledger,
        evaluation,
        arms,
        created_at=created_at,
        random_state=int(dbt.config.get("random_state")),
        n_mc_draws=int(dbt.config.get("n_mc_draws")),
        params=dbt.config.get("candidate_params") or None,
        fallback_min_decisions=int(dbt.config.get("fallback_min_decisions")),
    )
