"""The CLV models' parameters, fit statuses and bootstrap intervals (retail_lift.clv.lifetime_value_table)."""

from retail_lift.tables import from_settings, model_store
from retail_lift.tables.customers import CustomerLifetimeValueParamsConfig, ml_customer_lifetime_value_params


def model(dbt, session):
    dbt.config(materialized="table")
    # the same deterministic fit as ml_customer_lifetime_value, plus the bootstrap; the defaults live in
    # CustomerLifetimeValueParamsConfig (a key left unset takes it; the yml states the same)
    config = from_settings(
        CustomerLifetimeValueParamsConfig, "ml_customer_lifetime_value_params",
        discount_rate=dbt.config.get("discount_rate"),
        penalizer=dbt.config.get("penalizer"),
        n_bootstrap=dbt.config.get("n_bootstrap"),
        ci_level=dbt.config.get("ci_level"),
        random_state=dbt.config.get("random_state"),
        retrain=dbt.config.get("retrain"),
        max_model_age_days=dbt.config.get("max_model_age_days"),
        registry_on_mismatch=dbt.config.get("registry_on_mismatch"),
        registry_alias=dbt.config.get("registry_alias"),
    )
    # the model registry beside the warehouse file: repeat the champion's parameters, train when
    # training_decision says so (or the fit settings changed)
    store = model_store(session)
    return ml_customer_lifetime_value_params({"fct_customer_ltv_inputs": dbt.ref("fct_customer_ltv_inputs")},
                                             config, store=store)
