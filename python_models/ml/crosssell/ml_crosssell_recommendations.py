"""Top-N cross-sell recommendations per customer from the association rules."""

from retail_lift.pipelines import crosssell_recommendations


def model(dbt, session):
    dbt.config(materialized="table")
    lines = dbt.ref("fct_customer_order_lines").to_arrow_table().to_pandas()
    rules = dbt.ref("ml_crosssell_rules").to_arrow_table().to_pandas()
    return crosssell_recommendations(lines, rules, n=int(dbt.config.get("top_n", 5)))
