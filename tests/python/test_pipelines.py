"""The glue of retail_lift.pipelines: fixed output schemas, populations, skipping on small data, and the
arithmetic that is not in the model packages (oracle probabilities, carried-over campaign response)."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from retail_lift import pipelines as P
from retail_lift.evaluation import predict as EP

pytestmark = pytest.mark.slow  # over ~10 s of fitting or simulation per module; make test-fast leaves it out

# ----------------------------------------------------------------------------------------------
# synthetic marts
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    """A small fct_customer_features: 400 customers in both snapshots, purchase driven by recent visits."""
    rng = np.random.default_rng(3)
    n = 400
    ids = [f"C{i:04d}" for i in range(n)]
    rows = []
    for role in ("train", "score"):
        sessions = rng.poisson(2.0, n)
        orders = rng.poisson(0.8, n)
        p = 1 / (1 + np.exp(-(-2.0 + 0.8 * sessions)))
        bought = rng.random(n) < p
        channel = np.where(rng.random(n) < 0.4, "facebook", "organic_search")
        follows = np.where(channel == "facebook", rng.random(n) < 0.7, rng.random(n) < 0.15)
        rows.append(pd.DataFrame({
            "customer_id": ids,
            "snapshot_role": role,
            "feature_date": pd.Timestamp("2026-03-01" if role == "train" else "2026-04-01").date(),
            "age_band": rng.choice(["18-24", "25-34", "35-44"], n),
            "gender": rng.choice(["female", "male"], n),
            "acquisition_channel": channel,
            "follows_page": follows,
            "sessions_30d": sessions,
            "orders_all": orders,
            "revenue_all": orders * 40.0,
            "discount_amount": orders * rng.uniform(0, 6, n),
            "discounted_order_share": np.where(orders > 0, rng.uniform(0, 1, n), np.nan),
            "avg_order_value": np.where(orders > 0, 40.0, np.nan),
            "days_since_first_order": np.where(orders > 0, rng.uniform(5, 200, n), np.nan),
            "sessions_all": sessions * 3,
            "online_order_share": np.where(orders > 0, 0.5, np.nan),
            "purchased_next_30d": (bought if role == "train" else np.full(n, None)),
            "orders_next_30d": (bought.astype(float) if role == "train" else np.full(n, np.nan)),
            "returned": (np.where(orders == 1, bought, None) if role == "train" else np.full(n, None)),
        }))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def propensity_fit(features) -> pd.DataFrame:
    return P.purchase_propensity_fit(features, models=("logistic", "xgboost"),
                                     model_params={"xgboost": {"n_estimators": 20}})


# ----------------------------------------------------------------------------------------------
# classifiers
# ----------------------------------------------------------------------------------------------


def test_fit_table_stacks_every_record_type(propensity_fit, features):
    fit = propensity_fit
    assert list(fit.columns) == P.CLASSIFIER_FIT_COLUMNS[:4] + ["customer_id"] + P.CLASSIFIER_FIT_COLUMNS[5:]
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
    fit = P.purchase_propensity_fit(features, models=("logistic",), max_train_rows=100)
    run = fit[fit["record_type"] == "run"].iloc[0]
    labels = features.loc[features["snapshot_role"] == "train", "purchased_next_30d"].astype(bool)
    assert run["train_rows"] == 100 and "a seeded sample of 400 (max_train_rows)" in run["message"]
    assert abs(run["train_positives"] - round(100 * labels.mean())) <= 1  # each class in proportion
    assert (fit["record_type"] == "score").sum() == (features["snapshot_role"] == "score").sum()  # all scored
    again = P.purchase_propensity_fit(features, models=("logistic",), max_train_rows=100)
    scores = fit[fit["record_type"] == "score"]["probability"].to_numpy()
    assert np.array_equal(scores, again[again["record_type"] == "score"]["probability"].to_numpy())  # seeded
    uncapped = P.purchase_propensity_fit(features, models=("logistic",), max_train_rows=None)
    assert uncapped[uncapped["record_type"] == "run"]["train_rows"].iloc[0] == 400


def test_leaky_and_label_columns_are_not_features(propensity_fit):
    used = set(propensity_fit.loc[propensity_fit["record_type"] == "importance", "source_column"])
    assert used and not used & {"orders_next_30d", "purchased_next_30d", "returned", "customer_id"}


def test_a_rare_class_skips_with_a_run_row(features):
    few = features.copy()
    train = few["snapshot_role"] == "train"
    few.loc[train, "purchased_next_30d"] = False
    few.loc[few.index[train][:5], "purchased_next_30d"] = True
    fit = P.purchase_propensity_fit(few)
    assert len(fit) == 1 and fit["record_type"].iloc[0] == "run"
    assert fit["status"].iloc[0] == "skipped" and "5 positive" in fit["message"].iloc[0]
    assert list(fit.columns) == list(P._classifier_schema(("customer_id",)))
    assert fit["probability"].dtype == "float64" and fit["label"].dtype == "Int64"


def test_returning_customer_scores_only_first_time_buyers(features):
    fit = P.returning_customer_fit(features, model_params={"xgboost": {"n_estimators": 20}})
    scored = set(fit.loc[fit["record_type"] == "score", "customer_id"])
    score_rows = features[features["snapshot_role"] == "score"]
    assert scored == set(score_rows.loc[score_rows["orders_all"] == 1, "customer_id"])
    assert fit["classifier"].eq("returning_customer").all()


def test_acquisition_channel_model_does_not_use_the_channel(features):
    fit = P.acquisition_channel_fit(features, model_params={"xgboost": {"n_estimators": 20}})
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
    out = P.fairness_table(fit, customers, threshold=0.1, min_group_size=1).set_index(["attribute", "group_value"])
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
    assert P.fairness_table(fit.iloc[:0], customers).empty
    # 4 customers but 2 positives per gender: with a minimum of 3, the selection-rate gap is computed and the
    # TPR gap is "too few" (NULL), with is_tpr_compared false
    three = P.fairness_table(fit, customers, min_group_size=3).set_index(["attribute", "group_value"])
    g = three.loc[("gender", "f")]
    assert g["is_compared"] and not g["is_tpr_compared"]
    assert g["demographic_parity_status"] == "ok" and g["demographic_parity_difference"] == pytest.approx(0.5)
    assert g["equal_opportunity_status"] == "too few"
    assert pd.isna(g["equal_opportunity_difference"]) and pd.isna(g["equal_opportunity_ci_lower"])
    assert not g["is_opportunity_gap_flagged"]
    # seeded: the same table twice
    pd.testing.assert_frame_equal(P.fairness_table(fit, customers, min_group_size=1, random_state=3),
                                  P.fairness_table(fit, customers, min_group_size=1, random_state=3))


# ----------------------------------------------------------------------------------------------
# segments
# ----------------------------------------------------------------------------------------------


def test_segments_stack_assignments_profiles_and_k_scores(features):
    score = features[(features["snapshot_role"] == "score") & (features["orders_all"] > 0)]
    rng = np.random.default_rng(0)
    rfm = pd.DataFrame({"customer_id": score["customer_id"], "recency_days": rng.exponential(30, len(score)),
                        "frequency": score["orders_all"], "monetary": score["revenue_all"]})
    fit = P.customer_segments_fit(rfm, features, k_range=range(2, 5))
    assign = fit[fit["record_type"] == "assignment"]
    prof = fit[fit["record_type"] == "profile"]
    ks = fit[fit["record_type"] == "k_score"]
    assert len(assign) == len(rfm) and assign["customer_id"].is_unique
    assert list(ks["k"]) == [2, 3, 4] and ks["is_chosen"].sum() == 1
    k = int(ks.loc[ks["is_chosen"], "k"].iloc[0])
    assert len(prof) == k and prof["share"].sum() == pytest.approx(1.0)
    assert set(assign["segment_name"]) == set(prof["segment_name"])
    assert fit.loc[fit["record_type"] == "run", "status"].iloc[0] == "trained"


def test_segments_skip_with_too_few_buyers(features):
    rfm = pd.DataFrame({"customer_id": ["C0000", "C0001"], "recency_days": [1, 2], "frequency": [1, 2],
                        "monetary": [10.0, 20.0]})
    fit = P.customer_segments_fit(rfm, features, k_range=range(2, 9))
    assert fit["record_type"].tolist() == ["run"] and fit["status"].iloc[0] == "skipped"


# ----------------------------------------------------------------------------------------------
# evaluation against the simulated world
# ----------------------------------------------------------------------------------------------


def test_window_probability_counts_only_active_days():
    p = EP.window_purchase_probability(
        [0.1, 0.1, 0.1, 0.0],
        pd.to_datetime(["2026-01-01", "2026-03-11", "2026-01-01", "2026-01-01"]),
        pd.to_datetime(["2027-01-01", "2027-01-01", "2026-03-06", "2027-01-01"]),
        pd.to_datetime(["2026-03-01"] * 4), 30)
    assert p == pytest.approx([1 - np.exp(-3.0), 1 - np.exp(-2.0), 1 - np.exp(-0.5), 0.0])
    # churned before the window: no chance
    assert EP.window_purchase_probability([1.0], ["2026-01-01"], ["2026-02-01"], ["2026-03-01"], 30)[0] == 0.0


def _rates(ids, rate):
    return pd.DataFrame({"customer_id": ids, "online_order_rate": rate, "store_order_rate": 0.0,
                         "active_from": pd.Timestamp("2025-01-01"), "active_until": pd.Timestamp("2030-01-01"),
                         "mean_order_value": 50.0})


def test_oracle_comparison_against_the_true_probabilities():
    rng = np.random.default_rng(1)
    n = 3000
    ids = [f"c{i}" for i in range(n)]
    rate = rng.gamma(1.0, 0.01, n)
    true_p = 1 - np.exp(-rate * 30)
    y = (rng.random(n) < true_p).astype(int)
    noisy = np.clip(true_p + rng.normal(0, 0.1, n), 0.001, 0.999)
    fit = pd.DataFrame({"record_type": "holdout", "model": "xgboost", "is_chosen_model": False,
                        "customer_id": ids, "probability": noisy, "label": y})
    snapshots = pd.DataFrame({"snapshot_role": ["train", "score"],
                              "feature_cutoff_at": pd.to_datetime(["2026-03-01", "2026-04-01"])})
    out = EP.predict_oracle_comparison({"purchase_propensity": fit}, _rates(ids, rate), snapshots).iloc[0]
    assert out["n"] == n and 0.5 < out["model_roc_auc"] < out["oracle_roc_auc"]
    assert out["auc_ratio"] == pytest.approx(out["model_roc_auc"] / out["oracle_roc_auc"])
    assert out["oracle_log_loss"] < out["model_log_loss"]
    # customers the truth does not know are left out; without any, no row
    assert EP.predict_oracle_comparison({"purchase_propensity": fit}, _rates(["zz"], 0.1), snapshots).empty


def test_campaign_response_is_carried_over_to_the_send_time():
    ids = pd.Series(["c1", "c2"])
    arms = pd.DataFrame({"customer_id": ["c1", "c1", "c2", "c2"],
                         "promotion_id": ["control", "email_10pct", "control", "email_10pct"],
                         "p_convert": [0.2, 0.3, 0.2, 0.1]})
    rate = -np.log(0.9) / 14  # p0 = 0.1 over a 14-day window
    out = EP._true_campaign_response(ids, _rates(ids, rate), arms, "email_10pct", pd.Timestamp("2026-04-01"), 14)
    assert out["p_control"].tolist() == pytest.approx([0.1, 0.1])
    # c1: the offer adds e = 1 - 0.7 / 0.8 = 0.125 -> 1 - 0.9 * 0.875; c2 (suppressed): 0.1 * 0.1 / 0.2
    assert out["p_offer"].tolist() == pytest.approx([1 - 0.9 * 0.875, 0.05])


def test_typed_gives_empty_tables_their_columns():
    out = P.typed_frame(None, {"a": "str", "b": "float", "c": "int", "d": "bool", "e": "ts"})
    assert list(out.columns) == list("abcde") and len(out) == 0
    assert [str(t) for t in out.dtypes] == ["str", "float64", "Int64", "boolean", "datetime64[us]"]


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
    return P.purchase_propensity_fit(_oot_features(features), models=("logistic", "xgboost"),
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
        fit = P.purchase_propensity_fit(data, models=("logistic",))
        assert len(fit) == 1 and fit["record_type"].iloc[0] == "run"
        assert fit["status"].iloc[0] == "no_positive_labels"
        assert "not trained: no positive labels in snapshot 'train' (400 labelled rows)" in fit["message"].iloc[0]
        assert list(fit.columns) == list(P._classifier_schema(("customer_id",)))


@pytest.mark.parametrize("role", ["oot_train", "oot_validation", "oot_test"])
@pytest.mark.parametrize("positives", [0, 5])
def test_an_unusable_out_of_time_snapshot_falls_back_to_a_recorded_random_holdout(features, role, positives):
    f = _oot_features(features)
    rows = f.index[f["snapshot_role"] == role]
    f.loc[rows, "purchased_next_30d"] = False
    f.loc[rows[:positives], "purchased_next_30d"] = True
    fit = P.purchase_propensity_fit(f, models=("logistic",))
    run = fit[fit["record_type"] == "run"].iloc[0]
    assert run["status"] == "trained" and run["validation"] == "random_customer_holdout"
    assert "out-of-time validation not possible: " in run["message"]
    assert (f"no positive labels in snapshot '{role}'" if positives == 0 else
            f"400 labelled rows in snapshot '{role}' with 5 positive") in run["message"]
    assert set(fit.loc[fit["record_type"] == "metric", "split"]) == {"holdout", "train"}
    assert pd.isna(run["validation_feature_date"]) and pd.isna(run["test_feature_date"])
    assert run["train_feature_date"] == run["refit_feature_date"] == pd.Timestamp("2026-03-01")


def test_returning_customer_trains_on_the_out_of_time_first_time_buyers(features):
    fit = P.returning_customer_fit(_oot_features(features))
    run = fit[fit["record_type"] == "run"].iloc[0]
    assert run["status"] == "trained" and run["validation"] == "out_of_time"


def test_out_of_time_arrow_input_gives_the_pandas_result(features, oot_fit):
    f = _oot_features(features)
    f["purchased_next_30d"] = f["purchased_next_30d"].astype("boolean")
    f["returned"] = f["returned"].astype("boolean")
    fit = P.purchase_propensity_fit(pa.Table.from_pandas(f, preserve_index=False), models=("logistic", "xgboost"),
                                    model_params={"xgboost": {"n_estimators": 30}})
    key = ["record_type", "model", "split", "metric"]
    a = fit[fit["record_type"] == "metric"].sort_values(key)["value"].to_numpy()
    b = oot_fit[oot_fit["record_type"] == "metric"].sort_values(key)["value"].to_numpy()
    assert np.allclose(a, b, equal_nan=True)
