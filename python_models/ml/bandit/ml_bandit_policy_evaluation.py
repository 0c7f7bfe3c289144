"""Off-policy evaluation of the logging policy and every candidate on the time holdout, with the OPE gate
(retail_lift.bandit.publish -> pipeline.run_offline_evaluation)."""

from retail_lift.bandit.publish import (
    LEDGER_COLUMNS,
    empty_table,
    has_enough_decisions,
    policy_evaluation,
    published_arms,
)


def model(dbt, session):
    dbt.config(materialized="table")
    ledger = dbt.ref("fct_decision_ledger").project(", ".join(LEDGER_COLUMNS)).to_arrow_table().to_pandas()
    promotions = dbt.ref("stg_shop__promotions").project("promotion_id, launched_at").to_arrow_table().to_pandas()
    if not has_enough_decisions(ledger, int(dbt.config.get("min_settled_decisions"))):
        return empty_table("policy_evaluation")
    arms = published_arms(promotions, ledger, ledger["data_ends_at"].max())
    min_ess = dbt.config.get("gate_min_ess")
    return policy_evaluation(
        ledger,
        arms,
        holdout_fraction=float(dbt.config.get("holdout_fraction")),
        random_state=int(dbt.config.get("random_state")),
        n_mc_draws=int(dbt.config.get("n_mc_draws")),
        params=dbt.config.get("candidate_params") or None,
        n_bootstrap=int(dbt.config.get("n_bootstrap")),
        reward_model=str(dbt.config.get("reward_model")),
        estimator=str(dbt.config.get("gate_estimator")),
        min_ess=None if min_ess is None else float(min_ess),
    )
