"""Acquisition channel: does the customer look like one who came from facebook (channel itself excluded)?"""

from retail_lift.tables import from_settings, model_store
from retail_lift.tables.predict import FacebookAcquisitionFitConfig, ml_facebook_acquisition_fit


def model(dbt, session):
    dbt.config(materialized="table")
    # the defaults live in FacebookAcquisitionFitConfig (a key left unset takes it; the yml states the same)
    config = from_settings(
        FacebookAcquisitionFitConfig, "ml_facebook_acquisition_fit",
        model_kinds=dbt.config.get("model_kinds"),
        model_params=dbt.config.get("model_params"),
        min_class_rows=dbt.config.get("min_class_rows"),
        max_train_rows=dbt.config.get("max_train_rows"),
        balance=dbt.config.get("balance"),
        cv=dbt.config.get("cv"),
        retrain=dbt.config.get("retrain"),
        max_model_age_days=dbt.config.get("max_model_age_days"),
        registry_on_mismatch=dbt.config.get("registry_on_mismatch"),
        registry_alias=dbt.config.get("registry_alias"),
    )
    # the model registry beside the warehouse file: score with the champion, train when training_decision says
    store = model_store(session)
    # the relation itself: the package reads it as Arrow and converts only the rows it trains on or scores
    return ml_facebook_acquisition_fit({"fct_customer_features": dbt.ref("fct_customer_features")},
                                       config, store=store)
