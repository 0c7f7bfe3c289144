"""Top-N cross-sell recommendations per customer from the association rules."""

from retail_lift.pipelines import crosssell_recommendations


def model(dbt, session):
    dbt.config(materialized="table")
    # Arrow, only the columns read: the package codes the ids as integers (no Python string per order line)
    lines = dbt.ref("fct_customer_order_lines").project(
        "customer_id, product_id, category_id, top_level_category_id").to_arrow_table()
    rules = dbt.ref("ml_crosssell_rules").to_arrow_table().to_pandas()
    return crosssell_recommendations(lines, rules, n=int(dbt.config.get("top_n", 5)))
