"""Customer segments: k-means on scaled RFM and tenure of the buyers, k by silhouette, named segments."""

from retail_lift.pipelines import customer_segments_fit


def model(dbt, session):
    dbt.config(materialized="table")
    rfm = dbt.ref("dim_customer_rfm").to_arrow_table().to_pandas()
    # only the columns the segments use (the table has 50; a million customers in two snapshots)
    features = dbt.ref("fct_customer_features").project(
        "customer_id, snapshot_role, days_since_first_order, avg_order_value, sessions_all, "
        "discounted_order_share, online_order_share, age_band").to_arrow_table().to_pandas()
    k_min, k_max = dbt.config.get("k_range", [2, 8])
    return customer_segments_fit(rfm, features, k_range=range(int(k_min), int(k_max) + 1))
