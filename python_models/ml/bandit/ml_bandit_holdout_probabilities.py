"""Target probabilities of the logging policy and every candidate on the time holdout
(retail_lift.tables.bandit.ml_bandit_holdout_probabilities)."""

from retail_lift.tables import from_settings, model_store
from retail_lift.tables.bandit import BanditHoldoutProbabilitiesConfig, ml_bandit_holdout_probabilities


def model(dbt, session):
    dbt.config(materialized="table")
    # the defaults live in BanditHoldoutProbabilitiesConfig (a key left unset takes it; the yml states the same)
    config = from_settings(
        BanditHoldoutProbabilitiesConfig, "ml_bandit_holdout_probabilities",
        holdout_fraction=dbt.config.get("holdout_fraction"),
        random_state=dbt.config.get("random_state"),
        n_mc_draws=dbt.config.get("n_mc_draws"),
        min_settled_decisions=dbt.config.get("min_settled_decisions"),
        candidate_params=dbt.config.get("candidate_params"),
        retrain=dbt.config.get("retrain"),
        max_model_age_days=dbt.config.get("max_model_age_days"),
        registry_on_mismatch=dbt.config.get("registry_on_mismatch"),
        registry_alias=dbt.config.get("registry_alias"),
    )
    return ml_bandit_holdout_probabilities(
        {"fct_decision_ledger": dbt.ref("fct_decision_ledger"),
         "stg_shop__promotions": dbt.ref("stg_shop__promotions")},
        config,
        # the registry beside the warehouse file: train and evaluate only when new decisions (or settings) came
        store=model_store(session),
    )
