"""The predict area of the table layer (retail_lift.tables.predict) and the classifier fit table of the predict
family (retail_lift.predict.fit_table): fixed output schemas, populations, skipping on small data, out-of-time
validation, the fairness table, and the memory-bounded paths (Arrow, a DuckDB relation) giving the pandas tables.
(Moved from tests/python/test_pipelines.py and test_pipelines_at_scale.py with the code, issue 22 item 1.)"""

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from retail_lift.predict import fit_table as FT
from retail_lift.tables.predict import (
    CategoryPropensityFitConfig,
    FacebookAcquisitionFitConfig,
    PurchasePropensityFairnessConfig,
    PurchasePropensityFitConfig,
    ReturningCustomerFitConfig,
    ml_category_propensity_fit,
    ml_facebook_acquisition_fit,
    ml_purchase_propensity_fairness,
    ml_purchase_propensity_fit,
    ml_returning_customer_fit,
)

pytestmark = pytest.mark.slow  # over ~10 s of fitting per module; make test-fast leaves it out


def _settings(kw: dict) -> dict:
    """The old glue's keywords as config keys (models -> model_kinds)."""
    return {("model_kinds" if k == "models" else k): v for k, v in kw.items()}


def purchase_fit(features, **kw):
    return ml_purchase_propensity_fit({"fct_customer_features": features}, PurchasePropensityFitConfig(**_settings(kw)))


def returning_fit(features, **kw):
    return ml_returning_customer_fit({"fct_customer_features": features}, ReturningCustomerFitConfig(**_settings(kw)))


def acquisition_fit(features, **kw):
    return ml_facebook_acquisition_fit({"fct_customer_features": features},
                                       FacebookAcquisitionFitConfig(**_settings(kw)))


def category_fit(features, **kw):
    return ml_category_propensity_fit({"fct_customer_category_features": features},
                                      CategoryPropensityFitConfig(**_settings(kw)))


def fairness(fit, customers, **settings):
    return ml_purchase_propensity_fairness({"ml_purchase_propensity_fit": fit, "dim_customers": customers},
                                           PurchasePropensityFairnessConfig(**settings))


# ----------------------------------------------------------------------------------------------
# synthetic marts
# ----------------------------------------------------------------------------------------------


# `features` (a small synthetic fct_customer_features) is a fixture of tests/python/conftest.py


@pytest.fixture(scope="module")
def propensity_fit(features) -> pd.DataFrame:
    return purchase_fit(features, models=("logistic", "xgboost"),
                                     model_params={"xgboost": {"n_estimators": 20}})


# ----------------------------------------------------------------------------------------------
# classifiers
# ----------------------------------------------------------------------------------------------


def test_fit_table_stacks_every_record_type(propensity_fit, features):
    fit = propensity_fit
    assert list(fit.columns) == FT.CLASSIFIER_FIT_COLUMNS[:4] + ["customer_id"] + FT.CLASSIFIER_FIT_COLUMNS[5:]
    counts = fit["record_type"].value_counts()
    assert counts["run"] == 1
    assert counts["score"] == (features["snapshot_role"] == "score").sum()
    hold = fit[fit["record_type"] == "holdout"]
    assert set(hold["model"]) == {"logistic", "xgboost"}
    assert hold.groupby("model").size().nunique() == 1  # the same holdout customers for every model
    assert hold["label"].isin([0, 1]).all()
    run = fit[fit["record_type"] == "run"].iloc[0]
    assert run["status"] == "trained" and run["train_rows"] == 400 and run["model"] in ("logistic", "xgboost")
    scored = fit[fit["record_type"].isin(["score", "holdout"])]
    assert scored["probability"].between(0, 1).all()
    assert (scored["is_above_threshold"] == (scored["probability"] >= scored["threshold"])).all()
    # the chosen model is the one scored, and marked on its metric rows
    metrics = fit[fit["record_type"] == "metric"]
    assert set(metrics.loc[metrics["is_chosen_model"], "model"]) == {run["model"]}
    assert {"roc_auc", "log_loss", "ece", "f1", "accuracy"} <= set(metrics["metric"])
    assert fit.loc[fit["record_type"] == "score", "model"].eq(run["model"]).all()
    # the primary key of the yml test holds
    key = ["record_type", "model", "customer_id", "split", "metric", "feature"]
    assert not fit[key].astype(str).duplicated().any()


def test_training_rows_are_capped_by_a_seeded_sample_that_keeps_the_base_rate(features):
    fit = purchase_fit(features, models=("logistic",), max_train_rows=100)
    run = fit[fit["record_type"] == "run"].iloc[0]
    labels = features.loc[features["snapshot_role"] == "train", "purchased_next_30d"].astype(bool)
    assert run["train_rows"] == 100 and "a seeded sample of 400 (max_train_rows)" in run["message"]
    assert abs(run["train_positives"] - round(100 * labels.mean())) <= 1  # each class in proportion
    assert (fit["record_type"] == "score").sum() == (features["snapshot_role"] == "score").sum()  # all scored
    again = purchase_fit(features, models=("logistic",), max_train_rows=100)
    scores = fit[fit["record_type"] == "score"]["probability"].to_numpy()
    assert np.array_equal(scores, again[again["record_type"] == "score"]["probability"].to_numpy())  # seeded
    uncapped = purchase_fit(features, models=("logistic",), max_train_rows=None)
    assert uncapped[uncapped["record_type"] == "run"]["train_rows"].iloc[0] == 400


def test_leaky_and_label_columns_are_not_features(propensity_fit):
    used = set(propensity_fit.loc[propensity_fit["record_type"] == "importance", "source_column"])
    assert used and not used & {"orders_next_30d", "purchased_next_30d", "returned", "customer_id"}


def test_a_rare_class_skips_with_a_run_row(features):
    few = features.copy()
    train = few["snapshot_role"] == "train"
    few.loc[train, "purchased_next_30d"] = False
    few.loc[few.index[train][:5], "purchased_next_30d"] = True
    fit = purchase_fit(few)
    assert len(fit) == 1 and fit["record_type"].iloc[0] == "run"
    assert fit["status"].iloc[0] == "skipped" and "5 positive" in fit["message"].iloc[0]
    assert list(fit.columns) == list(FT._classifier_schema(("customer_id",)))
    assert fit["probability"].dtype == "float64" and fit["label"].dtype == "Int64"


def test_returning_customer_scores_only_first_time_buyers(features):
    fit = returning_fit(features, model_params={"xgboost": {"n_estimators": 20}})
    scored = set(fit.loc[fit["record_type"] == "score", "customer_id"])
    score_rows = features[features["snapshot_role"] == "score"]
    assert scored == set(score_rows.loc[score_rows["orders_all"] == 1, "customer_id"])
    assert fit["classifier"].eq("returning_customer").all()


def test_acquisition_channel_model_does_not_use_the_channel(features):
    fit = acquisition_fit(features, model_params={"xgboost": {"n_estimators": 20}})
    used = set(fit.loc[fit["record_type"] == "importance", "source_column"])
    assert "acquisition_channel" not in used and "follows_page" in used
    m = fit[(fit["record_type"] == "metric") & (fit["split"] == "holdout")].set_index("metric")["value"]
    assert m["roc_auc"] > 0.6 and 0 <= m["f1"] <= 1


# ----------------------------------------------------------------------------------------------
# fairness
# ----------------------------------------------------------------------------------------------


def test_fairness_gaps_on_the_chosen_models_holdout():
    fit = pd.DataFrame({
        "record_type": ["holdout"] * 8 + ["holdout"],
        "is_chosen_model": [True] * 8 + [False],
        "model": ["xgboost"] * 8 + ["logistic"],
        "customer_id": [f"c{i}" for i in range(8)] + ["c0"],
        "label": [1, 1, 0, 0, 1, 1, 0, 0, 1],
        "is_above_threshold": [True, True, True, False, True, False, False, False, True],
    })
    customers = pd.DataFrame({"customer_id": [f"c{i}" for i in range(8)],
                              "gender": ["f"] * 4 + ["m"] * 4, "age_band": ["18-24"] * 8})
    out = fairness(fit, customers, fairness_threshold=0.1, min_group_size=1).set_index(["attribute", "group_value"])
    assert out.loc[("gender", "f"), "selection_rate"] == 0.75 and out.loc[("gender", "m"), "selection_rate"] == 0.25
    assert out.loc[("gender", "m"), "tpr"] == 0.5
    assert out.loc[("gender", "f"), "demographic_parity_difference"] == pytest.approx(0.5)
    assert out.loc[("gender", "f"), "equal_opportunity_difference"] == pytest.approx(0.5)
    assert out.loc[("gender", "f"), "is_parity_gap_flagged"]
    assert not out.loc[("age_band", "18-24"), "is_parity_gap_flagged"]  # one group: no gap
    assert out.loc[("age_band", "18-24"), "demographic_parity_status"] == "too few"
    assert pd.isna(out.loc[("age_band", "18-24"), "demographic_parity_difference"])
    f = out.loc[("gender", "f")]
    assert f["demographic_parity_status"] == f["equal_opportunity_status"] == "ok"
    assert f["demographic_parity_ci_lower"] <= 0.5 <= f["demographic_parity_ci_upper"]
    assert f["equal_opportunity_ci_lower"] <= 0.5 <= f["equal_opportunity_ci_upper"]
    assert (f["min_group_size"], f["bootstrap_resamples"], f["ci_level"]) == (1, 1000, 0.95)
    assert fairness(fit.iloc[:0], customers).empty
    # 4 customers but 2 positives per gender: with a minimum of 3, the selection-rate gap is computed and the
    # TPR gap is "too few" (NULL), with is_tpr_compared false
    three = fairness(fit, customers, min_group_size=3).set_index(["attribute", "group_value"])
    g = three.loc[("gender", "f")]
    assert g["is_compared"] and not g["is_tpr_compared"]
    assert g["demographic_parity_status"] == "ok" and g["demographic_parity_difference"] == pytest.approx(0.5)
    assert g["equal_opportunity_status"] == "too few"
    assert pd.isna(g["equal_opportunity_difference"]) and pd.isna(g["equal_opportunity_ci_lower"])
    assert not g["is_opportunity_gap_flagged"]
    # seeded: the same table twice
    pd.testing.assert_frame_equal(fairness(fit, customers, min_group_size=1, bootstrap_seed=3),
                                  fairness(fit, customers, min_group_size=1, bootstrap_seed=3))


# ----------------------------------------------------------------------------------------------
# out-of-time validation (issue 21, item 2)
# ----------------------------------------------------------------------------------------------


def _oot_features(features: pd.DataFrame) -> pd.DataFrame:
    """The train snapshot copied to the three out-of-time roles (labels resampled), at c-90, c-60 and c-30."""
    rng = np.random.default_rng(8)
    train = features[features["snapshot_role"] == "train"]
    parts = [features]
    for role, date in (("oot_train", "2025-12-01"), ("oot_validation", "2025-12-31"), ("oot_test", "2026-01-30")):
        part = train.copy()
        p = 1 / (1 + np.exp(-(-2.0 + 0.8 * part["sessions_30d"].to_numpy())))
        bought = rng.random(len(part)) < p
        part = part.assign(snapshot_role=role, feature_date=pd.Timestamp(date).date(), purchased_next_30d=bought,
                           orders_next_30d=bought.astype(float),
                           returned=np.where(part["orders_all"] == 1, bought, None))
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def oot_fit(features) -> pd.DataFrame:
    return purchase_fit(_oot_features(features), models=("logistic", "xgboost"),
                                     model_params={"xgboost": {"n_estimators": 30}})


def test_out_of_time_fit_table_records_the_splits(oot_fit):
    run = oot_fit[oot_fit["record_type"] == "run"].iloc[0]
    assert run["status"] == "trained" and run["validation"] == "out_of_time"
    assert run["train_feature_date"] == pd.Timestamp("2025-12-01")
    assert run["validation_feature_date"] == pd.Timestamp("2025-12-31")
    assert run["test_feature_date"] == pd.Timestamp("2026-01-30")
    assert run["refit_feature_date"] == pd.Timestamp("2026-03-01")
    assert run["score_feature_date"] == pd.Timestamp("2026-04-01")
    m = oot_fit[oot_fit["record_type"] == "metric"]
    assert set(m["split"]) == {"train", "validation", "test"}
    dates = m.groupby("split")["split_feature_date"].unique()
    assert list(dates["test"]) == [pd.Timestamp("2026-01-30")]
    hold = oot_fit[oot_fit["record_type"] == "holdout"]
    assert set(hold["split"]) == {"test"} and len(hold) == 2 * 400
    # the scores use the chosen model's validation threshold
    chosen = run["model"]
    thr = m[(m["model"] == chosen) & (m["metric"] == "threshold") & (m["split"] == "validation")]["value"].iloc[0]
    assert (oot_fit[oot_fit["record_type"] == "score"]["threshold"] == thr).all()


def test_out_of_time_fit_table_has_the_drift_rows(oot_fit, features):
    d = oot_fit[oot_fit["record_type"] == "drift"]
    assert not d.empty and (d["metric"] == "psi").all()
    assert d["feature"].is_unique and (d["value"] >= 0).all()
    assert (d["is_drift_warning"] == (d["value"] > 0.2)).all()
    assert "purchased_next_30d" not in set(d["feature"])


def test_a_train_snapshot_without_positive_labels_gives_a_named_status(features):
    f = _oot_features(features)
    f.loc[f["snapshot_role"] == "train", "purchased_next_30d"] = False
    for data in (f, pa.Table.from_pandas(f.astype({"purchased_next_30d": "boolean", "returned": "boolean"}),
                                         preserve_index=False)):
        fit = purchase_fit(data, models=("logistic",))
        assert len(fit) == 1 and fit["record_type"].iloc[0] == "run"
        assert fit["status"].iloc[0] == "no_positive_labels"
        assert "not trained: no positive labels in snapshot 'train' (400 labelled rows)" in fit["message"].iloc[0]
        assert list(fit.columns) == list(FT._classifier_schema(("customer_id",)))


@pytest.mark.parametrize("role", ["oot_train", "oot_validation", "oot_test"])
@pytest.mark.parametrize("positives", [0, 5])
def test_an_unusable_out_of_time_snapshot_falls_back_to_a_recorded_random_holdout(features, role, positives):
    f = _oot_features(features)
    rows = f.index[f["snapshot_role"] == role]
    f.loc[rows, "purchased_next_30d"] = False
    f.loc[rows[:positives], "purchased_next_30d"] = True
    fit = purchase_fit(f, models=("logistic",))
    run = fit[fit["record_type"] == "run"].iloc[0]
    assert run["status"] == "trained" and run["validation"] == "random_customer_holdout"
    assert "out-of-time validation not possible: " in run["message"]
    assert (f"no positive labels in snapshot '{role}'" if positives == 0 else
            f"400 labelled rows in snapshot '{role}' with 5 positive") in run["message"]
    assert set(fit.loc[fit["record_type"] == "metric", "split"]) == {"holdout", "train"}
    assert pd.isna(run["validation_feature_date"]) and pd.isna(run["test_feature_date"])
    assert run["train_feature_date"] == run["refit_feature_date"] == pd.Timestamp("2026-03-01")


def test_returning_customer_trains_on_the_out_of_time_first_time_buyers(features):
    fit = returning_fit(_oot_features(features))
    run = fit[fit["record_type"] == "run"].iloc[0]
    assert run["status"] == "trained" and run["validation"] == "out_of_time"


def test_out_of_time_arrow_input_gives_the_pandas_result(features, oot_fit):
    f = _oot_features(features)
    f["purchased_next_30d"] = f["purchased_next_30d"].astype("boolean")
    f["returned"] = f["returned"].astype("boolean")
    fit = purchase_fit(pa.Table.from_pandas(f, preserve_index=False), models=("logistic", "xgboost"),
                                    model_params={"xgboost": {"n_estimators": 30}})
    key = ["record_type", "model", "split", "metric"]
    a = fit[fit["record_type"] == "metric"].sort_values(key)["value"].to_numpy()
    b = oot_fit[oot_fit["record_type"] == "metric"].sort_values(key)["value"].to_numpy()
    assert np.allclose(a, b, equal_nan=True)


# ----------------------------------------------------------------------------------------------
# at scale: Arrow and DuckDB relations give the pandas tables
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def category_features() -> pd.DataFrame:
    """A customer x category feature mart (train with labels, score without), rows shuffled."""
    rng = np.random.default_rng(4)
    rows = []
    for role in ("train", "score"):
        for cat in ("k1", "k2", "k3"):
            n = 300
            views = rng.poisson(2.0, n)
            spend = np.where(rng.random(n) < 0.3, np.nan, rng.gamma(2.0, 20.0, n))
            p = 1 / (1 + np.exp(-(-2.0 + 0.7 * views + (cat == "k2"))))
            rows.append(pd.DataFrame({
                "customer_id": [f"C{i:04d}" for i in range(n)], "top_level_category_id": cat, "snapshot_role": role,
                "feature_date": pd.Timestamp("2026-03-01").date(), "views": views, "spend": spend,
                "segment": rng.choice(["a", "b", None], n),
                "purchased_category_next_30d": (rng.random(n) < p) if role == "train" else np.full(n, None),
                "spend_next_30d": rng.random(n) if role == "train" else np.full(n, np.nan),
            }))
    return pd.concat(rows, ignore_index=True).sample(frac=1.0, random_state=2).reset_index(drop=True)


def _arrow(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df, preserve_index=False)


_FIT = dict(models=("xgboost",), model_params={"xgboost": {"n_estimators": 15}})


@pytest.mark.parametrize("max_train_rows", [None, 500])
def test_category_fit_from_arrow_and_from_a_relation_equal_the_pandas_fit(category_features, max_train_rows):
    ref = category_fit(category_features, max_train_rows=max_train_rows, **_FIT)
    run = ref[ref["record_type"] == "run"].iloc[0]
    assert run["status"] == "trained" and run["score_rows"] == 900
    assert run["train_rows"] == (900 if max_train_rows is None else 500)
    pd.testing.assert_frame_equal(category_fit(_arrow(category_features), max_train_rows=max_train_rows,
                                                            **_FIT), ref)
    con = duckdb.connect()
    con.register("features_view", _arrow(category_features))
    rel = con.sql("select * from features_view")
    pd.testing.assert_frame_equal(category_fit(rel, max_train_rows=max_train_rows, **_FIT), ref)
    con.close()


def test_a_skipped_fit_from_arrow_equals_the_pandas_one(category_features):
    few = category_features[(category_features["snapshot_role"] == "score") | (category_features.index < 15)]
    ref = category_fit(few, **_FIT)
    assert ref["status"].tolist() == ["no_negative_labels"]  # the 15 labelled rows are all positive
    pd.testing.assert_frame_equal(category_fit(_arrow(few), **_FIT), ref)


@pytest.fixture(scope="module")
def customer_features() -> pd.DataFrame:
    """A small fct_customer_features (both snapshots), rows shuffled; floats with many decimals."""
    rng = np.random.default_rng(8)
    n, rows = 500, []
    for role in ("train", "score"):
        orders = rng.poisson(0.9, n)
        sessions = rng.poisson(2.0, n)
        bought = rng.random(n) < 1 / (1 + np.exp(-(-1.5 + 0.6 * sessions)))
        rows.append(pd.DataFrame({
            "customer_id": [f"C{i:04d}" for i in range(n)], "snapshot_role": role,
            "acquisition_channel": rng.choice(["facebook", "organic_search", None], n, p=[0.4, 0.5, 0.1]),
            "gender": rng.choice(["female", "male"], n), "sessions_30d": sessions, "orders_all": orders,
            "revenue_all": orders * rng.uniform(10, 90, n) / 3.0,
            "purchased_next_30d": bought if role == "train" else np.full(n, None),
            "orders_next_30d": bought.astype(float) if role == "train" else np.full(n, np.nan),
            "returned": np.where(orders == 1, bought, None) if role == "train" else np.full(n, None),
        }))
    return pd.concat(rows, ignore_index=True).sample(frac=1.0, random_state=3).reset_index(drop=True)


@pytest.mark.parametrize("fit", [returning_fit, acquisition_fit, purchase_fit])
def test_customer_fits_from_arrow_and_from_a_relation_equal_the_pandas_fits(customer_features, fit):
    kw = dict(models=("xgboost",), model_params={"xgboost": {"n_estimators": 10}})
    ref = fit(customer_features, **kw)
    assert ref.loc[ref["record_type"] == "run", "status"].tolist() == ["trained"]
    pd.testing.assert_frame_equal(fit(_arrow(customer_features), **kw), ref)
    con = duckdb.connect()
    con.register("features_view", _arrow(customer_features))
    pd.testing.assert_frame_equal(fit(con.sql("select * from features_view"), **kw), ref)
    con.close()


def test_fairness_from_the_holdout_rows_and_used_columns_only():
    """ml_purchase_propensity_fairness reads only the holdout rows and the columns fairness_table uses."""
    rng = np.random.default_rng(4)
    n = 400
    ids = [f"c{i}" for i in range(n)]
    holdout = pd.DataFrame({"record_type": "holdout", "is_chosen_model": rng.random(n) < 0.8, "model": "xgboost",
                            "customer_id": ids, "label": rng.integers(0, 2, n),
                            "is_above_threshold": rng.random(n) < 0.4, "probability": rng.random(n)})
    scores = holdout.assign(record_type="score", label=None)
    fit = pd.concat([scores, holdout, pd.DataFrame({"record_type": ["metric"], "metric": ["f1"]})], ignore_index=True)
    customers = pd.DataFrame({"customer_id": ids, "gender": rng.choice(["f", "m"], n),
                              "age_band": rng.choice(["18-24", "25-34", "65+"], n), "region": "north"})
    full = fairness(fit, customers, min_group_size=10)
    used = ["record_type", "is_chosen_model", "customer_id", "model", "label", "is_above_threshold"]
    narrow = fairness(fit.loc[fit["record_type"] == "holdout", used],
                      customers[["customer_id", "gender", "age_band"]], min_group_size=10)
    assert len(full) == 5
    pd.testing.assert_frame_equal(full, narrow, check_exact=True)
    # from DuckDB relations (as dbt hands them over): only the holdout rows and the used columns are read
    con = duckdb.connect()
    con.register("fit_frame", fit)
    con.register("customers_frame", customers)
    from_duckdb = fairness(con.table("fit_frame"), con.table("customers_frame"), min_group_size=10)
    pd.testing.assert_frame_equal(from_duckdb, full, check_exact=True)
    con.close()


def test_a_fairness_config_names_the_model_and_the_key():
    for settings, key in (({"attributes": []}, "attributes"), ({"attributes": "gender"}, "attributes"),
                          ({"ci_level": 1.0}, "ci_level"), ({"fairness_threshold": -0.1}, "fairness_threshold"),
                          ({"min_group_size": 0}, "min_group_size"),
                          ({"bootstrap_resamples": 10.0}, "bootstrap_resamples"),
                          ({"bootstrap_seed": True}, "bootstrap_seed")):
        with pytest.raises(ValueError, match=f"ml_purchase_propensity_fairness: {key} must be"):
            PurchasePropensityFairnessConfig(**settings)
    assert PurchasePropensityFairnessConfig(fairness_threshold=1, attributes=["gender"]).fairness_threshold == 1.0


@pytest.mark.parametrize("config_class", [PurchasePropensityFitConfig, CategoryPropensityFitConfig,
                                          ReturningCustomerFitConfig, FacebookAcquisitionFitConfig])
def test_a_classifier_config_names_the_model_and_the_key(config_class):
    for settings, key in (({"model_kinds": []}, "model_kinds"), ({"model_kinds": ["xgb"]}, "model_kinds"),
                          ({"model_kinds": "xgboost"}, "model_kinds"), ({"model_params": {"svm": {}}}, "model_params"),
                          ({"min_class_rows": 0}, "min_class_rows"), ({"max_train_rows": 2.5}, "max_train_rows"),
                          ({"balance": "yes"}, "balance"), ({"cv": 1}, "cv")):
        with pytest.raises(ValueError, match=f"{config_class.MODEL}: {key} must be"):
            config_class(**settings)


def test_the_classifier_defaults_are_the_builds_settings():
    """What the default build used before the configs (issue 22 item 1): the use cases' kinds, parameters, folds and
    class weights, at most a million labelled train rows, ten of each class."""
    fast = {"xgboost": {"n_estimators": 150, "learning_rate": 0.1},
            "catboost": {"iterations": 150, "depth": 4, "learning_rate": 0.15}}
    purchase, category = PurchasePropensityFitConfig(), CategoryPropensityFitConfig()
    returning, facebook = ReturningCustomerFitConfig(), FacebookAcquisitionFitConfig()
    assert purchase.model_kinds == ("logistic", "xgboost", "catboost") and purchase.model_params == fast
    assert category.model_kinds == returning.model_kinds == facebook.model_kinds == ("xgboost",)
    assert category.model_params == {"xgboost": {"n_estimators": 60, "learning_rate": 0.2, "max_depth": 3}}
    assert (category.cv, purchase.cv, returning.cv) == (2, 3, 3)
    assert (purchase.balance, category.balance, returning.balance, facebook.balance) == ("auto", "auto", True, True)
    assert {c.min_class_rows for c in (purchase, category, returning, facebook)} == {10}
    assert {c.max_train_rows for c in (purchase, category, returning, facebook)} == {1_000_000}


def test_the_classifiers_take_a_model_registry_as_store(features):
    # (the registry itself: tests/python/test_tables_predict_registry.py)
    with pytest.raises(TypeError, match="ml_purchase_propensity_fit: store must be a retail_lift.registry"):
        ml_purchase_propensity_fit({"fct_customer_features": features}, store=object())
