"""Cross-sell association rules A -> B (support, confidence, lift) over every order's basket."""

from retail_lift.tables import from_settings, model_store
from retail_lift.tables.crosssell import CrosssellRulesConfig, ml_crosssell_rules


def model(dbt, session):
    dbt.config(materialized="table")
    # the defaults live in CrosssellRulesConfig (a key left unset takes it; the yml states the same)
    config = from_settings(
        CrosssellRulesConfig, "ml_crosssell_rules",
        item_level=dbt.config.get("item_level"),
        min_support=dbt.config.get("min_support"),
        min_pair_orders=dbt.config.get("min_pair_orders"),
        min_confidence=dbt.config.get("min_confidence"),
        min_lift=dbt.config.get("min_lift"),
        retrain=dbt.config.get("retrain"),
        max_model_age_days=dbt.config.get("max_model_age_days"),
        registry_on_mismatch=dbt.config.get("registry_on_mismatch"),
        registry_alias=dbt.config.get("registry_alias"),
    )
    # the relation is read as Arrow, only the columns used (no Python string per order line); the model
    # registry beside the warehouse file: repeat the champion's rules, mine when training_decision says so
    return ml_crosssell_rules({"fct_customer_order_lines": dbt.ref("fct_customer_order_lines")}, config,
                              store=model_store(session))
