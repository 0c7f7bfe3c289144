"""Customer segments: k-means on scaled RFM and tenure of the buyers, k by silhouette, named segments."""

from retail_lift.tables import from_settings, model_store
from retail_lift.tables.segments import CustomerSegmentsFitConfig, ml_customer_segments_fit


def model(dbt, session):
    dbt.config(materialized="table")
    # the defaults live in CustomerSegmentsFitConfig (a key left unset takes it; the yml states the same)
    config = from_settings(
        CustomerSegmentsFitConfig, "ml_customer_segments_fit",
        k_range=dbt.config.get("k_range"),
        random_state=dbt.config.get("random_state"),
        sample_size=dbt.config.get("sample_size"),
        n_init=dbt.config.get("n_init"),
        retrain=dbt.config.get("retrain"),
        max_model_age_days=dbt.config.get("max_model_age_days"),
        registry_on_mismatch=dbt.config.get("registry_on_mismatch"),
        registry_alias=dbt.config.get("registry_alias"),
    )
    # the model registry beside the warehouse file: assign with the champion, train when training_decision
    # says so (or the fit settings changed)
    return ml_customer_segments_fit(
        {"dim_customer_rfm": dbt.ref("dim_customer_rfm"), "fct_customer_features": dbt.ref("fct_customer_features")},
        config, store=model_store(session),
    )
