"""Every policy version of the build (candidates refit on all settled decisions, serialised with their
encoder), the OPE gate's choice active (retail_lift.bandit.publish)."""

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
    if evaluation.empty or not has_enough_decisions(ledger, int(dbt.config.get("min_settled_decisions"))):
        return empty_table("published_policies")
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
    )
