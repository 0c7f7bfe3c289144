"""Customer lifetime value: BG/NBD for purchases, Gamma-Gamma for spend (retail_lift.clv), maximum likelihood."""

from retail_lift.tables import from_settings
from retail_lift.tables.customers import CustomerLifetimeValueConfig, ml_customer_lifetime_value


def model(dbt, session):
    dbt.config(materialized="table")
    # the defaults live in CustomerLifetimeValueConfig (a key left unset takes it; the yml states the same)
    config = from_settings(
        CustomerLifetimeValueConfig, "ml_customer_lifetime_value",
        discount_rate=dbt.config.get("discount_rate"),
        penalizer=dbt.config.get("penalizer"),
    )
    return ml_customer_lifetime_value({"fct_customer_ltv_inputs": dbt.ref("fct_customer_ltv_inputs")}, config)
