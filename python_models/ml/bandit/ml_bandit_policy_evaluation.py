"""Off-policy evaluation of the logging policy and every candidate on the time holdout, with the paired
OPE gate (retail_lift.bandit.publish -> pipeline.run_offline_evaluation, retail_lift.bandit.gate)."""

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
    # dbt reads config keys from literal dbt.config.get calls; a null setting keeps GateConfig's default
    gate = {
        "alpha": dbt.config.get("gate_alpha"),
        "min_ess": dbt.config.get("gate_min_ess"),
        "max_unsupported_share": dbt.config.get("gate_max_unsupported_share"),
        "n_bootstrap": dbt.config.get("gate_n_bootstrap"),
        "interval": dbt.config.get("gate_interval"),
        "random_state": int(dbt.config.get("random_state")),
    }
    return policy_evaluation(
        ledger,
        arms,
        holdout_fraction=float(dbt.config.get("holdout_fraction")),
        random_state=int(dbt.config.get("random_state")),
        n_mc_draws=int(dbt.config.get("n_mc_draws")),
        params=dbt.config.get("candidate_params") or None,
        n_bootstrap=int(dbt.config.get("n_bootstrap")),
        reward_model=str(dbt.config.get("reward_model")),
        gate=gate,
    )
