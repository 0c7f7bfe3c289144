"""Every policy version of the build (candidates refit on all settled decisions, serialised with their
encoder), the OPE gate's choice active, and the declared fallback (the logging policy's arm shares)
that the decision API serves when the logging policy stays active
(retail_lift.tables.bandit.ml_bandit_published_policy). A ledger with decisions but too few settled ones
for the evaluation still gets the logging policy (active) and the fallback; a ledger without decisions
gives an empty table."""

from retail_lift.tables import from_settings, model_store
from retail_lift.tables.bandit import BanditPublishedPolicyConfig, ml_bandit_published_policy


def model(dbt, session):
    dbt.config(materialized="table")
    # the defaults live in BanditPublishedPolicyConfig (a key left unset takes it; the yml states the same)
    config = from_settings(
        BanditPublishedPolicyConfig, "ml_bandit_published_policy",
        random_state=dbt.config.get("random_state"),
        n_mc_draws=dbt.config.get("n_mc_draws"),
        min_settled_decisions=dbt.config.get("min_settled_decisions"),
        candidate_params=dbt.config.get("candidate_params"),
        fallback_min_decisions=dbt.config.get("fallback_min_decisions"),
        retrain=dbt.config.get("retrain"),
        max_model_age_days=dbt.config.get("max_model_age_days"),
        registry_on_mismatch=dbt.config.get("registry_on_mismatch"),
        registry_alias=dbt.config.get("registry_alias"),
    )
    return ml_bandit_published_policy(
        {"fct_decision_ledger": dbt.ref("fct_decision_ledger"),
         "stg_shop__promotions": dbt.ref("stg_shop__promotions"),
         "ml_bandit_policy_evaluation": dbt.ref("ml_bandit_policy_evaluation")},
        config,
        # the registry beside the warehouse file: train and evaluate only when new decisions (or settings) came
        store=model_store(session),
    )
