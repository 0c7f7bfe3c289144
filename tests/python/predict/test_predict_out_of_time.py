"""Out-of-time validation of train_compare_score, the PSI drift table and the no-positive-labels status."""

import numpy as np
import pandas as pd
import pytest
from predict_synthetic import FAST_PARAMS, make_customer_features

from retail_lift.predict import (
    NoPositiveLabelsError,
    classification_metrics,
    feature_drift,
    infer_feature_spec,
    population_stability_index,
    train_compare_score,
)

ROLES = {"oot_train": "2024-03-03", "oot_validation": "2024-04-02", "oot_test": "2024-05-02",
         "train": "2024-06-01"}


def _snapshots(seed: int = 3, n: int = 1500, shift: float = 0.0) -> pd.DataFrame:
    """Five snapshots of independent synthetic customers; the score snapshot's sessions shifted by ``shift``."""
    parts = []
    for i, (role, date) in enumerate(ROLES.items()):
        f, _ = make_customer_features(n_train=n, n_score=0, seed=seed + i)
        parts.append(f.assign(snapshot_role=role, feature_date=pd.Timestamp(date).date(),
                              customer_id=[f"c{j:06d}" for j in range(n)]))
    s, _ = make_customer_features(n_train=0, n_score=600, seed=seed + 9)
    s = s.assign(feature_date=pd.Timestamp("2024-07-01").date(), customer_id=[f"c{j:06d}" for j in range(600)])
    s["sessions_30d"] = s["sessions_30d"] + shift
    parts.append(s)
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def oot_result():
    return train_compare_score(_snapshots(), "purchased_next_30d", models=("logistic", "xgboost"), k=(50,),
                               model_params={"xgboost": FAST_PARAMS["xgboost"]})


@pytest.mark.slow
def test_splits_are_the_snapshots_and_are_recorded(oot_result):
    r = oot_result
    assert r.validation == "out_of_time"
    sp = r.splits.set_index("split")
    assert list(sp.index) == ["train", "validation", "test", "refit", "score"]
    assert list(sp["snapshot_role"]) == ["oot_train", "oot_validation", "oot_test", "train", "score"]
    assert sp.loc["validation", "feature_date"] == pd.Timestamp("2024-04-02")
    assert sp.loc["test", "rows"] == 1500 and sp.loc["score", "rows"] == 600
    assert set(r.metrics["split"]) == {"train", "validation", "test"}
    # the holdout rows are the test snapshot
    assert len(r.holdout_predictions) == 1500


@pytest.mark.slow
def test_model_and_threshold_are_chosen_on_validation_and_reported_on_test(oot_result):
    r = oot_result
    frame = _snapshots()
    m = r.metrics
    val = m[(m["split"] == "validation") & (m["metric"] == "log_loss")].set_index("model")["value"]
    assert r.chosen_model == val.idxmin()
    # the test metrics are those of the test-snapshot predictions at the validation threshold
    test = frame[frame["snapshot_role"] == "oot_test"]
    y = test["purchased_next_30d"].astype(float).to_numpy()
    for kind in ("logistic", "xgboost"):
        thr = r.metric(kind, "threshold", "validation")
        assert r.metric(kind, "threshold", "test") == thr
        p = r.holdout_predictions[f"probability_{kind}"].to_numpy()
        again = classification_metrics(y, p, k=(50,), threshold=thr)
        assert r.metric(kind, "roc_auc") == pytest.approx(again["roc_auc"])
        assert r.metric(kind, "brier", "test") == pytest.approx(again["brier"])
    assert r.threshold == r.metric(r.chosen_model, "threshold", "validation")
    # the threshold is the F1 optimum on validation, not on test
    assert r.metric(r.chosen_model, "roc_auc", "test") > 0.7


def test_random_holdout_is_kept_without_out_of_time_snapshots():
    frame, _ = make_customer_features(n_train=800, n_score=100, seed=2)
    r = train_compare_score(frame, "purchased_next_30d", models=("logistic",), k=(50,))
    assert r.validation == "random_customer_holdout"
    assert set(r.metrics["split"]) == {"holdout", "train"}
    with pytest.raises(ValueError, match="oot_train"):
        train_compare_score(frame, "purchased_next_30d", models=("logistic",), validation="out_of_time")


@pytest.mark.parametrize("role", ["oot_train", "oot_validation", "oot_test", "train"])
def test_a_snapshot_without_positive_labels_raises_a_named_error(role):
    frame = _snapshots(seed=7, n=300)
    frame.loc[frame["snapshot_role"] == role, "purchased_next_30d"] = 0.0
    with pytest.raises(NoPositiveLabelsError, match=f"snapshot '{role}' has no positive labels") as err:
        train_compare_score(frame, "purchased_next_30d", models=("logistic",))
    assert err.value.snapshot == role and err.value.positives == 0 and err.value.rows == 300


def test_psi_values():
    rng = np.random.default_rng(0)
    a = rng.normal(size=20_000)
    assert population_stability_index(a, rng.normal(size=20_000)) < 0.01
    shifted = population_stability_index(a, rng.normal(0.5, 1, size=20_000))
    assert 0.2 < shifted < 0.35  # the textbook value of a half-sd mean shift is ~0.25
    # categorical: hand computed
    e = pd.Series(["a"] * 50 + ["b"] * 50)
    x = pd.Series(["a"] * 80 + ["b"] * 20)
    want = (0.8 - 0.5) * np.log(0.8 / 0.5) + (0.2 - 0.5) * np.log(0.2 / 0.5)
    assert population_stability_index(e, x, kind="categorical") == pytest.approx(want)
    # missing values are their own bin
    assert population_stability_index([1.0, 2.0, np.nan, np.nan], [1.0, 2.0, 1.0, 2.0]) > 1


def test_drift_table_flags_a_shifted_feature():
    r = train_compare_score(_snapshots(seed=3, n=800, shift=4.0), "purchased_next_30d", models=("logistic",),
                            k=(50,))
    d = r.feature_drift.set_index("feature")
    assert d.loc["sessions_30d", "is_drift_warning"]
    assert d.loc["sessions_30d", "psi"] > 0.2
    assert not d.drop(index="sessions_30d")["is_drift_warning"].any()
    spec = infer_feature_spec(_snapshots(n=100), label="purchased_next_30d",
                              id_cols=("customer_id", "snapshot_role", "feature_date"))
    assert set(feature_drift(spec, _snapshots(n=100), _snapshots(n=100))["feature"]) == set(spec.source_columns)
