"""Customer lifetime value: BG/NBD for purchases, Gamma-Gamma for spend (retail_lift.clv), maximum likelihood."""

from retail_lift.tables import from_settings, model_store
from retail_lift.tables.customers import CustomerLifetimeValueConfig, ml_customer_lifetime_value


def model(dbt, session):
    dbt.config(materialized="table")
    # the defaults live in CustomerLifetimeValueConfig (a key left unset takes it; the yml states the same)
    config = from_settings(
        CustomerLifetimeValueConfig, "ml_customer_lifetime_value",
        discount_rate=dbt.config.get("discount_rate"),
        penalizer=dbt.config.get("penalizer"),
    )
    # built after the model that trains (and registers) the CLV parameters: this one applies its champion
    dbt.ref("ml_customer_lifetime_value_params")
    store = model_store(session)
    return ml_customer_lifetime_value({"fct_customer_ltv_inputs": dbt.ref("fct_customer_ltv_inputs")}, config,
                                      store=store)
