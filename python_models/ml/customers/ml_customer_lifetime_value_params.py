"""The CLV models' parameters, fit statuses and bootstrap intervals (retail_lift.clv.lifetime_value_table)."""

from retail_lift.clv import lifetime_value_table


def model(dbt, session):
    dbt.config(materialized="table")
    inputs = dbt.ref("fct_customer_ltv_inputs").to_arrow_table().to_pandas()
    # the same deterministic fit as ml_customer_lifetime_value, plus the bootstrap
    _scores, params = lifetime_value_table(
        inputs,
        discount_rate=float(dbt.config.get("discount_rate", 0.01)),
        penalizer=float(dbt.config.get("penalizer", 0.0)),
        n_bootstrap=int(dbt.config.get("n_bootstrap", 100)),
        ci_level=float(dbt.config.get("ci_level", 0.95)),
        random_state=int(dbt.config.get("random_state", 0)),
    )
    return params
