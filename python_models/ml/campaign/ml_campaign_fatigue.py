"""Promotion fatigue flags per contacted customer (recent contacts and a significant drop in response)."""

from retail_lift.pipelines import fatigue_table


def model(dbt, session):
    dbt.config(materialized="table")
    exposures = dbt.ref("fct_promotion_exposures").to_arrow_table().to_pandas()
    return fatigue_table(
        exposures,
        window_days=float(dbt.config.get("window_days", 30)),
        recent_n=int(dbt.config.get("recent_n", 5)),
        min_recent_exposures=int(dbt.config.get("min_recent_exposures", 3)),
        alpha=float(dbt.config.get("alpha", 0.1)),
    )
