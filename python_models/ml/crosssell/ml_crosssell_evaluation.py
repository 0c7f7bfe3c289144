"""Cross-sell on a time holdout: rules from before the train cutoff, scored on the purchases after it."""

from retail_lift.tables import from_settings
from retail_lift.tables.crosssell import CrosssellEvaluationConfig, ml_crosssell_evaluation


def model(dbt, session):
    dbt.config(materialized="table")
    # the defaults live in CrosssellEvaluationConfig (a key left unset takes it; the yml states the same)
    config = from_settings(
        CrosssellEvaluationConfig, "ml_crosssell_evaluation",
        item_levels=dbt.config.get("item_levels"),
        top_ns=dbt.config.get("top_ns"),
        min_support=dbt.config.get("min_support"),
        min_pair_orders=dbt.config.get("min_pair_orders"),
        min_confidence=dbt.config.get("min_confidence"),
        min_lift=dbt.config.get("min_lift"),
    )
    return ml_crosssell_evaluation(
        {"fct_customer_order_lines": dbt.ref("fct_customer_order_lines"),
         "int_snapshot_dates": dbt.ref("int_snapshot_dates")},
        config,
    )
