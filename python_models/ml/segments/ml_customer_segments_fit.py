"""Customer segments: k-means on scaled RFM and tenure of the buyers, k by silhouette, named segments."""

from retail_lift.pipelines import customer_segments_fit


def model(dbt, session):
    dbt.config(materialized="table")
    rfm = dbt.ref("dim_customer_rfm").to_arrow_table().to_pandas()
    features = dbt.ref("fct_customer_features").to_arrow_table().to_pandas()
    k_min, k_max = dbt.config.get("k_range", [2, 8])
    return customer_segments_fit(rfm, features, k_range=range(int(k_min), int(k_max) + 1))
