"""Cross-sell association rules A -> B (support, confidence, lift) over every order's basket."""

from retail_lift.pipelines import crosssell_rules


def model(dbt, session):
    dbt.config(materialized="table")
    # Arrow, only the columns read: the package codes the ids as integers (no Python string per order line)
    lines = dbt.ref("fct_customer_order_lines").project(
        "order_id, product_id, category_id, top_level_category_id").to_arrow_table()
    return crosssell_rules(
        lines,
        item_level=dbt.config.get("item_level", "product"),
        min_support=float(dbt.config.get("min_support", 0.0001)),
        min_pair_orders=int(dbt.config.get("min_pair_orders", 10)),
        min_confidence=float(dbt.config.get("min_confidence", 0.01)),
        min_lift=float(dbt.config.get("min_lift", 1.0)),
    )
