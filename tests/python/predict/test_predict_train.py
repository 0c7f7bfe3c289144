"""train_compare_score: result shapes, holdout and fold design, model choice, the four warehouse labels."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from predict_synthetic import FAST_PARAMS, make_category_features, make_customer_features

from retail_lift.predict import (
    classification_metrics,
    customer_holdout_split,
    cv_splits,
    derive_label,
    threshold_metrics,
    train_compare_score,
)

LOGISTIC_ONLY = dict(models=("logistic",), k=(50,))


def test_result_tables(propensity_result, customer_mart):
    frame, _ = customer_mart
    r = propensity_result
    m = r.metrics
    assert list(m.columns) == ["model", "metric", "split", "value"]
    assert set(m["model"]) == {"logistic", "xgboost", "catboost"} and set(m["split"]) == {"holdout", "train"}
    assert not m.duplicated(["model", "metric", "split"]).any()
    expected_metrics = {"n", "positives", "prevalence", "roc_auc", "pr_auc", "log_loss", "brier", "ece",
                        "precision_at_50", "recall_at_50", "ndcg_at_50", "precision_at_100", "recall_at_100",
                        "ndcg_at_100", "threshold", "f1", "accuracy", "precision", "recall"}
    assert set(m["metric"]) == expected_metrics
    assert len(m) == 3 * 2 * len(expected_metrics)
    # 30 % of the 3,000 labelled customers are held out
    assert r.metric("logistic", "n", "holdout") == 900 and r.metric("logistic", "n", "train") == 2100
    # the chosen model has the lowest holdout log loss
    ll = {k: r.metric(k, "log_loss") for k in ("logistic", "xgboost", "catboost")}
    assert r.chosen_model == min(ll, key=ll.get)
    # scores: every 'score' row once, with the chosen model's clipped probability
    score_ids = frame.loc[frame["snapshot_role"] == "score", "customer_id"]
    assert list(r.scores.columns) == ["customer_id", "probability", "model"]
    assert r.scores["customer_id"].tolist() == score_ids.tolist()
    assert (r.scores["model"] == r.chosen_model).all()
    assert r.scores["probability"].between(1e-3, 1 - 1e-3).all()
    # importances of the final model
    imp = r.feature_importance
    assert list(imp.columns) == ["model", "feature", "source_column", "importance", "rank"]
    assert imp["importance"].sum() == pytest.approx(1.0) and imp["rank"].tolist() == list(range(1, len(imp) + 1))
    assert set(imp["feature"]) == set(r.feature_columns)
    assert set(r.timings) == {"fit_logistic", "fit_xgboost", "fit_catboost", "final_fit", "total"}


def test_holdout_metrics_match_the_holdout_predictions(propensity_result):
    r = propensity_result
    h = r.holdout_predictions
    for kind in ("logistic", "xgboost", "catboost"):
        thr = r.metric(kind, "threshold", "holdout")
        assert thr == r.metric(kind, "threshold", "train")  # chosen once, out of fold
        again = classification_metrics(h["purchased_next_30d"], h[f"probability_{kind}"], k=(50, 100), threshold=thr)
        for name, value in again.items():
            assert r.metric(kind, name) == pytest.approx(value, nan_ok=True)
        # the threshold is an F1 choice: F1 at it beats F1 at the naive 0.5 cut-off
        assert r.metric(kind, "f1") > threshold_metrics(h["purchased_next_30d"], h[f"probability_{kind}"], 0.5)["f1"]


def test_customer_holdout_split_is_disjoint_stratified_and_seeded():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(400), 3)  # 3 rows per customer
    y = (rng.random(1200) < 0.1).astype(int)
    tr, ho = customer_holdout_split(y, groups, holdout=0.25, random_state=1)
    assert np.intersect1d(groups[tr], groups[ho]).size == 0
    assert np.union1d(tr, ho).size == 1200
    assert np.unique(groups[ho]).size == 100  # a quarter of the customers
    has_pos = pd.Series(y).groupby(groups).max()
    assert has_pos[np.unique(groups[ho])].mean() == pytest.approx(has_pos.mean(), abs=0.01)
    tr2, ho2 = customer_holdout_split(y, groups, holdout=0.25, random_state=1)
    np.testing.assert_array_equal(ho, ho2)
    with pytest.raises(ValueError, match="holdout must lie in"):
        customer_holdout_split(y, groups, holdout=1.0)


def test_cv_splits_keep_customers_together():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(200), 4)
    y = (rng.random(800) < 0.2).astype(int)
    splits = cv_splits(y, groups, 3, random_state=0)
    assert len(splits) == 3
    assert np.sort(np.concatenate([te for _, te in splits])).tolist() == list(range(800))
    for tr, te in splits:
        assert np.intersect1d(groups[tr], groups[te]).size == 0
    unique = cv_splits(y, np.arange(800), 3)  # one row per customer: plain stratified folds
    assert [len(te) for _, te in unique] == [267, 267, 266]


def test_returned_uses_only_labelled_rows(customer_mart):
    frame, _ = customer_mart
    first_time = frame[frame["frequency"] == 0]
    r = train_compare_score(first_time, "returned", **LOGISTIC_ONLY)
    n_labelled = int(first_time.loc[first_time["snapshot_role"] == "train", "returned"].notna().sum())
    assert r.metric("logistic", "n", "holdout") + r.metric("logistic", "n", "train") == n_labelled
    assert len(r.scores) == int((first_time["snapshot_role"] == "score").sum())
    assert "returned" not in r.feature_columns and "purchased_next_30d" not in r.feature_columns


@pytest.mark.slow
def test_derived_facebook_label_requires_excluding_its_source(customer_mart):
    frame, _ = customer_mart
    fb = derive_label(frame, "acquisition_channel", "facebook", name="is_facebook")
    expected = r"label leakage.*'acquisition_channel=facebook'.*exclude=\('acquisition_channel',\)"
    with pytest.raises(ValueError, match=expected):
        train_compare_score(fb, "is_facebook", **LOGISTIC_ONLY)
    r = train_compare_score(fb, "is_facebook", exclude=("acquisition_channel",),
                            models=("logistic", "xgboost"), model_params={"xgboost": FAST_PARAMS["xgboost"]})
    assert "acquisition_channel" not in r.feature_spec.source_columns
    assert r.feature_spec.dropped["acquisition_channel"] == "exclude"
    # facebook customers prefer mobile devices (80 % vs 40 %): learnable without the channel itself
    assert r.metric(r.chosen_model, "roc_auc") > 0.65
    top = r.feature_importance.iloc[0]["source_column"]
    assert top == "device_preference"
    # the label is known for 'score' rows too, but they are scored, not trained on
    assert len(r.scores) == 600


def test_customer_category_model():
    frame, _ = make_category_features(n_train=600, n_score=150, seed=3)
    r = train_compare_score(frame, "purchased_category_next_30d", id_cols=("customer_id", "category_id"),
                            id_features=("category_id",), models=("logistic", "catboost"), k=(50,),
                            model_params={"catboost": FAST_PARAMS["catboost"]})
    h = r.holdout_predictions
    assert (h.groupby("customer_id").size() == 4).all()  # all four categories of a held-out customer
    assert h["customer_id"].nunique() == 180  # 30 % of 600 customers
    assert list(r.scores.columns) == ["customer_id", "category_id", "probability", "model"]
    assert len(r.scores) == 150 * 4
    assert "category_id" in r.feature_spec.source_columns and "customer_id" not in r.feature_spec.source_columns
    # the category's base rate is learned: mean score rises with the true base rate
    by_cat = r.scores.groupby("category_id")["probability"].mean()
    assert by_cat["books"] < by_cat["garden"] < by_cat["toys"] < by_cat["tech"]


@pytest.mark.slow
def test_select_by_roc_auc_and_arrow_input(customer_mart):
    frame, _ = customer_mart
    small = frame.iloc[:1500]
    table = pa.Table.from_pandas(small, preserve_index=False)
    r = train_compare_score(table, "purchased_next_30d", models=("xgboost", "logistic"), select_by="roc_auc",
                            calibrate="sigmoid", model_params={"xgboost": FAST_PARAMS["xgboost"]}, k=(50,))
    auc = {k: r.metric(k, "roc_auc") for k in ("xgboost", "logistic")}
    assert r.chosen_model == max(auc, key=auc.get)
    again = train_compare_score(small, "purchased_next_30d", models=("xgboost", "logistic"), select_by="roc_auc",
                                calibrate="sigmoid", model_params={"xgboost": FAST_PARAMS["xgboost"]}, k=(50,))
    pd.testing.assert_frame_equal(r.scores, again.scores)  # Arrow or pandas, same seed: same scores
    pd.testing.assert_frame_equal(r.metrics, again.metrics)


def test_balance_auto_follows_the_minority_share(customer_mart):
    frame, _ = customer_mart
    small = frame.iloc[:1200]
    prevalence = small.loc[small["snapshot_role"] == "train", "purchased_next_30d"].mean()
    assert 0.1 < prevalence < 0.3
    rare = train_compare_score(small, "purchased_next_30d", calibrate=None, rare_threshold=0.3, **LOGISTIC_ONLY)
    common = train_compare_score(small, "purchased_next_30d", calibrate=None, rare_threshold=0.1, **LOGISTIC_ONLY)
    assert rare.model.named_steps["logistic"].class_weight == "balanced"
    assert common.model.named_steps["logistic"].class_weight is None
    # uncalibrated balanced probabilities overshoot the base rate; unweighted ones do not
    assert rare.holdout_predictions["probability_logistic"].mean() > 1.5 * prevalence
    assert common.holdout_predictions["probability_logistic"].mean() == pytest.approx(prevalence, abs=0.03)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(label="nope"), r"label: column\(s\) \['nope'\] not in features"),
        (dict(models=("forest",)), "kind must be one of"),
        (dict(models=()), "at least one model"),
        (dict(select_by="f1"), "select_by must be one of"),
        (dict(model_params={"xgboost": {}}), r"model_params has key\(s\) \['xgboost'\]"),
        (dict(id_cols=("customer_id",), id_features=("category_id",)), "id_features must be a subset"),
        (dict(holdout=0.0), "holdout must lie in"),
        (dict(balance="yes"), "balance must be True, False or 'auto'"),
    ],
)
def test_invalid_arguments(customer_mart, kwargs, message):
    frame, _ = customer_mart
    args = dict(label="purchased_next_30d", models=("logistic",))
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        train_compare_score(frame.iloc[:300], **args)


def test_invalid_data():
    frame, _ = make_customer_features(n_train=200, n_score=10, seed=1)
    with pytest.raises(ValueError, match=r"snapshot_role must be 'train', 'score' or one of \['oot_train', "
                                         r"'oot_validation', 'oot_test'\], found \['test'\]"):
        train_compare_score(frame.assign(snapshot_role="test"), "purchased_next_30d", models=("logistic",))
    with pytest.raises(ValueError, match="purchased_next_30d must contain only 0 and 1"):
        train_compare_score(frame.assign(purchased_next_30d=2.0), "purchased_next_30d", models=("logistic",))
    with pytest.raises(ValueError, match="snapshot 'train' has no positive labels"):
        train_compare_score(frame.assign(purchased_next_30d=0.0), "purchased_next_30d", models=("logistic",))
    with pytest.raises(ValueError, match="no 'snapshot_role = train' rows"):
        train_compare_score(frame.assign(snapshot_role="score"), "purchased_next_30d", models=("logistic",))


def test_select_rows_is_the_boolean_selection_and_shares_memory_when_the_rows_are_one_run():
    """The snapshots of a feature mart sorted by role are contiguous: their rows are taken as a slice (no copy of
    a million rows per snapshot at the large preset), and the result is the boolean selection's in every case."""
    from retail_lift.predict.train import _select_rows

    frame = pd.DataFrame({"role": ["oot"] * 3 + ["train"] * 4 + ["score"] * 3, "x": np.arange(10.0),
                          "s": list("abcdefghij")}, index=np.arange(100, 110))
    cases = [frame["role"] == "train", (frame["role"] == "train") & (frame["x"] != 4.0), frame["role"] == "none",
             frame["role"] != "train", np.arange(10) == 9]
    for mask in cases:
        pd.testing.assert_frame_equal(_select_rows(frame, mask.to_numpy() if hasattr(mask, "to_numpy") else mask),
                                      frame[mask])
    for pos in ([7, 8, 9], [0, 2], [2, 1, 3], [4]):
        pd.testing.assert_frame_equal(_select_rows(frame, np.array(pos)), frame.iloc[pos])
    train = _select_rows(frame, (frame["role"] == "train").to_numpy())
    assert np.shares_memory(train["x"].to_numpy(), frame["x"].to_numpy())
    split = _select_rows(frame, ((frame["role"] == "train") & (frame["x"] != 4.0)).to_numpy())
    assert not np.shares_memory(split["x"].to_numpy(), frame["x"].to_numpy())
    train.loc[train.index[0], "x"] = -1.0  # copy on write: the frame keeps its values
    assert frame["x"].iloc[3] == 3.0
