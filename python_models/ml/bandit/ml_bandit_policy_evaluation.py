"""Off-policy evaluation of the logging policy and every candidate on the time holdout, with the paired
OPE gate (retail_lift.tables.bandit.ml_bandit_policy_evaluation -> pipeline.run_offline_evaluation,
retail_lift.bandit.gate)."""

from retail_lift.tables import from_settings, model_store
from retail_lift.tables.bandit import BanditPolicyEvaluationConfig, ml_bandit_policy_evaluation


def model(dbt, session):
    dbt.config(materialized="table")
    # the defaults live in BanditPolicyEvaluationConfig (a key left unset takes it; the yml states the same);
    # the gate_* keys are the paired gate's (retail_lift.bandit.gate.GateConfig), seeded with random_state
    config = from_settings(
        BanditPolicyEvaluationConfig, "ml_bandit_policy_evaluation",
        holdout_fraction=dbt.config.get("holdout_fraction"),
        random_state=dbt.config.get("random_state"),
        n_mc_draws=dbt.config.get("n_mc_draws"),
        min_settled_decisions=dbt.config.get("min_settled_decisions"),
        candidate_params=dbt.config.get("candidate_params"),
        n_bootstrap=dbt.config.get("n_bootstrap"),
        reward_model=dbt.config.get("reward_model"),
        gate_alpha=dbt.config.get("gate_alpha"),
        gate_min_ess=dbt.config.get("gate_min_ess"),
        gate_max_unsupported_share=dbt.config.get("gate_max_unsupported_share"),
        gate_n_bootstrap=dbt.config.get("gate_n_bootstrap"),
        gate_interval=dbt.config.get("gate_interval"),
        retrain=dbt.config.get("retrain"),
        max_model_age_days=dbt.config.get("max_model_age_days"),
        registry_on_mismatch=dbt.config.get("registry_on_mismatch"),
        registry_alias=dbt.config.get("registry_alias"),
    )
    return ml_bandit_policy_evaluation(
        {"fct_decision_ledger": dbt.ref("fct_decision_ledger"),
         "stg_shop__promotions": dbt.ref("stg_shop__promotions")},
        config,
        # the registry beside the warehouse file: train and evaluate only when new decisions (or settings) came
        store=model_store(session),
    )
