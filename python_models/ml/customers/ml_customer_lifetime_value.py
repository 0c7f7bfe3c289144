"""Customer lifetime value: BG/NBD for purchases, Gamma-Gamma for spend (retail_lift.clv)."""

from retail_lift.clv import lifetime_value_table


def model(dbt, session):
    dbt.config(materialized="table")
    inputs = dbt.ref("fct_customer_ltv_inputs").to_arrow_table().to_pandas()
    scores, _params = lifetime_value_table(inputs)
    return scores
