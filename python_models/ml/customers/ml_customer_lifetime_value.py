"""Customer lifetime value: BG/NBD for purchases, Gamma-Gamma for spend (retail_lift.clv), maximum likelihood."""

from retail_lift.clv import lifetime_value_table


def model(dbt, session):
    dbt.config(materialized="table")
    inputs = dbt.ref("fct_customer_ltv_inputs").to_arrow_table().to_pandas()
    scores, _params = lifetime_value_table(
        inputs,
        discount_rate=float(dbt.config.get("discount_rate", 0.01)),
        penalizer=float(dbt.config.get("penalizer", 0.0)),
    )
    return scores
