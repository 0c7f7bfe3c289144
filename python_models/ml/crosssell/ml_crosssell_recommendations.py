"""Top-N cross-sell recommendations per customer from the association rules."""

from retail_lift.tables import from_settings
from retail_lift.tables.crosssell import CrosssellRecommendationsConfig, ml_crosssell_recommendations


def model(dbt, session):
    dbt.config(materialized="table")
    # the defaults live in CrosssellRecommendationsConfig (a key left unset takes it; the yml states the same)
    config = from_settings(
        CrosssellRecommendationsConfig, "ml_crosssell_recommendations",
        top_n=dbt.config.get("top_n"),
        score=dbt.config.get("score"),
    )
    return ml_crosssell_recommendations(
        {"fct_customer_order_lines": dbt.ref("fct_customer_order_lines"),
         "ml_crosssell_rules": dbt.ref("ml_crosssell_rules")},
        config,
    )
