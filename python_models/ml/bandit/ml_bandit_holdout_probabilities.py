"""Target probabilities of the logging policy and every candidate on the time holdout (retail_lift.bandit.publish)."""

from retail_lift.bandit.publish import (
    LEDGER_COLUMNS,
    empty_table,
    has_enough_decisions,
    holdout_probabilities,
    published_arms,
)


def model(dbt, session):
    dbt.config(materialized="table")
    ledger = dbt.ref("fct_decision_ledger").project(", ".join(LEDGER_COLUMNS)).to_arrow_table().to_pandas()
    promotions = dbt.ref("stg_shop__promotions").project("promotion_id, launched_at").to_arrow_table().to_pandas()
    if not has_enough_decisions(ledger, int(dbt.config.get("min_settled_decisions"))):
        return empty_table("holdout_probabilities")
    arms = published_arms(promotions, ledger, ledger["data_ends_at"].max())
    return holdout_probabilities(
        ledger,
        arms,
        holdout_fraction=float(dbt.config.get("holdout_fraction")),
        random_state=int(dbt.config.get("random_state")),
        n_mc_draws=int(dbt.config.get("n_mc_draws")),
        params=dbt.config.get("candidate_params") or None,
    )
