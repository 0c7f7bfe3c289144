"""Classifier factory: configuration, class balancing, calibration, out-of-fold predictions, importances."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline

from retail_lift.predict import (
    CatBoostNativeClassifier,
    XGBoostClassifier,
    expected_calibration_error,
    feature_importance,
    fit_with_oof,
    make_classifier,
    predict_probability,
)

SMALL = {"xgboost": {"n_estimators": 40, "max_depth": 3}, "catboost": {"iterations": 40, "depth": 4},
         "logistic": {}}


@pytest.fixture(scope="module")
def rare_data():
    """1,500 rows, 4 features, only x0 and x1 matter; about 9 % positives."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(1500, 4))
    p = 1 / (1 + np.exp(-(-3.0 + 1.5 * X[:, 0] - 1.0 * X[:, 1])))
    y = (rng.random(1500) < p).astype(int)
    return X, y


def test_factory_configuration():
    lr = make_classifier("logistic")
    assert isinstance(lr, Pipeline)
    assert list(lr.named_steps) == ["impute", "scale", "logistic"]
    assert lr.named_steps["impute"].strategy == "median" and lr.named_steps["impute"].add_indicator
    assert lr.named_steps["logistic"].l1_ratio == 0.0 and lr.named_steps["logistic"].C == 1.0  # L2
    assert make_classifier("logistic", params={"C": 0.1}).named_steps["logistic"].C == 0.1
    xgb = make_classifier("xgboost", random_state=4)
    assert isinstance(xgb, XGBoostClassifier) and xgb.n_jobs == 2 and xgb.random_state == 4
    cb = make_classifier("catboost")
    assert isinstance(cb, CatBoostNativeClassifier) and cb.n_jobs == 2
    cal = make_classifier("xgboost", calibrate="sigmoid", cv=4, random_state=1)
    assert isinstance(cal, CalibratedClassifierCV) and cal.method == "sigmoid" and cal.ensemble is True
    assert isinstance(cal.cv, StratifiedKFold) and cal.cv.n_splits == 4 and cal.cv.random_state == 1
    assert clone(cal).get_params()["estimator__n_estimators"] == 300


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(kind="forest"), "kind must be one of"),
        (dict(kind="logistic", calibrate="beta"), "calibrate must be one of"),
        (dict(kind="xgboost", params={"depth": 3}), r"params has unknown key\(s\) \['depth'\]"),
        (dict(kind="xgboost", calibrate="isotonic", cv=0), "cv must be a positive integer"),
    ],
)
def test_factory_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_classifier(**kwargs)


@pytest.mark.slow
def test_balancing_weights_the_rare_class(rare_data):
    X, y = rare_data
    n_neg, n_pos = (y == 0).sum(), (y == 1).sum()
    xgb = make_classifier("xgboost", balance=True, params=SMALL["xgboost"]).fit(X, y)
    assert xgb.scale_pos_weight_ == pytest.approx(n_neg / n_pos)
    assert make_classifier("xgboost", params=SMALL["xgboost"]).fit(X, y).scale_pos_weight_ == 1.0
    assert make_classifier("logistic", balance=True).named_steps["logistic"].class_weight == "balanced"
    cb = make_classifier("catboost", balance=True, params=SMALL["catboost"]).fit(X, y)
    assert cb.model_.get_params()["auto_class_weights"] == "Balanced"
    assert cb.model_.get_params()["allow_writing_files"] is False and cb.model_.get_params()["thread_count"] == 2
    # balanced weights push the mean probability far above the base rate ...
    raw = make_classifier("logistic", balance=True).fit(X, y).predict_proba(X)[:, 1]
    assert raw.mean() > 3 * y.mean()
    # ... and calibration brings it back, with a much smaller calibration error
    cal = make_classifier("logistic", balance=True, calibrate="isotonic").fit(X, y).predict_proba(X)[:, 1]
    assert cal.mean() == pytest.approx(y.mean(), abs=0.01)
    assert expected_calibration_error(y, cal) < 0.03 < 0.2 < expected_calibration_error(y, raw)


def test_oof_of_a_calibrated_model_is_the_fold_models_prediction(rare_data):
    """Recompute the isotonic out-of-fold probabilities by hand: fit on the other folds, calibrate on the fold."""
    X, y = rare_data
    splits = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    model, oof = fit_with_oof(make_classifier("logistic", calibrate="isotonic"), X, y, splits, clip=0.0)
    assert len(model.calibrated_classifiers_) == 3
    expected = np.empty(y.size)
    for train, test in splits:
        base = make_classifier("logistic").fit(X[train], y[train])
        score = base.decision_function(X[test])
        iso = IsotonicRegression(out_of_bounds="clip").fit(score, y[test])
        expected[test] = iso.predict(score)
    np.testing.assert_allclose(oof, expected, atol=1e-9)
    # isotonic steps reach exactly 0 here; the default clip keeps probabilities off 0 and 1
    assert oof.min() == 0.0
    _, clipped = fit_with_oof(make_classifier("logistic", calibrate="isotonic"), X, y, splits)
    assert clipped.min() == pytest.approx(1e-3) and clipped.max() <= 1 - 1e-3
    assert predict_probability(model, X, clip=0.01).min() >= 0.01


def test_oof_of_a_bare_model_is_cross_val_predict(rare_data):
    X, y = rare_data
    splits = list(StratifiedKFold(3, shuffle=True, random_state=2).split(X, y))
    model, oof = fit_with_oof(make_classifier("logistic"), X, y, splits, clip=0.0)
    expected = cross_val_predict(make_classifier("logistic"), X, y, cv=splits, method="predict_proba")[:, 1]
    np.testing.assert_allclose(oof, expected)
    np.testing.assert_allclose(model.predict_proba(X), make_classifier("logistic").fit(X, y).predict_proba(X))
    with pytest.raises(ValueError, match="every row in exactly one test fold"):
        fit_with_oof(make_classifier("logistic"), X, y, splits[:2])


@pytest.mark.parametrize("kind", ["logistic", "xgboost", "catboost"])
def test_importance_finds_the_signal_and_fits_are_reproducible(rare_data, kind):
    X, y = rare_data
    names = ["x0", "x1", "noise_a", "noise_b"]
    model = make_classifier(kind, calibrate="sigmoid", params=SMALL[kind]).fit(X, y)
    imp = feature_importance(model, names)
    assert imp.sum() == pytest.approx(1.0)
    assert list(imp.index[:2]) == ["x0", "x1"]
    assert imp["x0"] > 2 * imp["noise_a"]
    again = make_classifier(kind, calibrate="sigmoid", params=SMALL[kind]).fit(X, y)
    np.testing.assert_array_equal(model.predict_proba(X), again.predict_proba(X))
    with pytest.raises(ValueError, match="feature_names has 3 names but the model has 4"):
        feature_importance(model, names[:3])


def test_logistic_imputes_missing_values_and_counts_the_indicator():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 2))
    y = (rng.random(600) < 0.5).astype(int)
    X[y == 1, 1] = np.nan  # the signal is in the missingness of x1
    X[rng.random(600) < 0.05, 1] = np.nan
    model = make_classifier("logistic").fit(X, y)
    assert model.predict_proba(X).shape == (600, 2)
    imp = feature_importance(model, ["x0", "x1"])
    assert imp.index[0] == "x1" and imp["x1"] > 0.9


def test_catboost_uses_string_columns_as_categoricals():
    rng = np.random.default_rng(2)
    n = 800
    city = rng.choice(["north", "south", "east"], n)
    x = rng.normal(size=n)
    y = (rng.random(n) < np.where(city == "north", 0.7, 0.15)).astype(int)
    X = pd.DataFrame({"x": x, "city": city})
    model = make_classifier("catboost", params={"iterations": 60, "depth": 3}).fit(X, y)
    assert model.cat_features_ == ["city"]
    p = model.predict_proba(X)[:, 1]
    assert p[city == "north"].mean() > 0.55 > 0.25 > p[city != "north"].mean()
    # calibrated, the DataFrame reaches every fold model intact
    cal = make_classifier("catboost", calibrate="sigmoid", params={"iterations": 60, "depth": 3}).fit(X, y)
    assert feature_importance(cal, ["x", "city"]).index[0] == "city"


def test_models_reject_a_single_class():
    X = np.zeros((10, 2))
    for kind in ("xgboost", "catboost"):
        with pytest.raises(ValueError, match="both classes"):
            make_classifier(kind).fit(X, np.zeros(10))
    with pytest.raises(ValueError, match="y must contain only 0 and 1"):
        make_classifier("xgboost").fit(X, np.arange(10))
