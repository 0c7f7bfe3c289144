"""Cross-sell on a time holdout: rules from before the train cutoff, scored on the purchases after it."""

from retail_lift.pipelines import crosssell_evaluation


def model(dbt, session):
    dbt.config(materialized="table")
    # Arrow, only the columns read: the package codes the ids as integers (no Python string per order line)
    lines = dbt.ref("fct_customer_order_lines").project(
        "order_id, customer_id, ordered_at, product_id, category_id, top_level_category_id").to_arrow_table()
    snapshots = dbt.ref("int_snapshot_dates").to_arrow_table().to_pandas()
    cutoff = snapshots.loc[snapshots["snapshot_role"] == "train", "feature_cutoff_at"].iloc[0]
    return crosssell_evaluation(
        lines,
        cutoff,
        levels=tuple(dbt.config.get("item_levels", ["product", "category"])),
        ns=tuple(int(n) for n in dbt.config.get("top_ns", [1, 3, 5, 10])),
        min_support=float(dbt.config.get("min_support", 0.0001)),
        min_pair_orders=int(dbt.config.get("min_pair_orders", 10)),
        min_confidence=float(dbt.config.get("min_confidence", 0.01)),
        min_lift=float(dbt.config.get("min_lift", 1.0)),
    )
