"""Meta-learners on seeded synthetic experiments with a known heterogeneous effect.

Binary world: five standard-normal features, 50/50 randomized treatment, baseline conversion 0.1
and effect tau(x) = 0.1 * 1{x0 > 0}. Learners train on 8,000 rows and are scored on 20,000
held-out rows against the TRUE effect (correlation) and against the oracle Qini (the Qini of
ranking the held-out rows by the true effect).
"""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.exceptions import NotFittedError

from retail_lift.uplift import (
    SLearner,
    TLearner,
    XLearner,
    placebo_refutation,
    qini_auc_from_true_uplift,
    qini_auc_score,
    qini_oracle_ratio,
)

pytestmark = pytest.mark.slow  # over ~10 s of fitting or simulation per module; make test-fast leaves it out

N_TRAIN, N_TEST = 8_000, 20_000


def binary_world(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    tau = 0.1 * (X[:, 0] > 0)
    t = rng.integers(0, 2, n)
    y = (rng.random(n) < 0.1 + tau * t).astype(int)
    return X, t, y, tau


@pytest.fixture(scope="module")
def train():
    return binary_world(N_TRAIN, seed=2024)


@pytest.fixture(scope="module")
def test_set():
    return binary_world(N_TEST, seed=4202)


@pytest.fixture(scope="module")
def fitted(train):
    X, t, y, _ = train
    return {
        # boosting forced: a logistic S-learner has no treatment x feature interaction to show the step
        # effect's size ("auto" may pick logistic on these data)
        "S": SLearner(learner="boosting", random_state=0).fit(X, t, y),
        "T": TLearner(random_state=0).fit(X, t, y),
        "X": XLearner(random_state=0).fit(X, t, y),
        "X_const": XLearner(propensity=0.5, random_state=0).fit(X, t, y),
    }


# ---- recovery of the known effect --------------------------------------------------------------


@pytest.mark.parametrize("name", ["T", "X", "X_const", "S"])
def test_learners_recover_the_sign_pattern(fitted, test_set, name):
    X, _, _, tau = test_set
    pred = fitted[name].predict_uplift(X)
    assert pred.shape == (N_TEST, 1)
    assert np.corrcoef(pred[:, 0], tau)[0, 1] > 0.5
    effect_half, null_half = pred[X[:, 0] > 0, 0].mean(), pred[X[:, 0] <= 0, 0].mean()
    assert effect_half == pytest.approx(0.1, abs=0.03)
    assert null_half == pytest.approx(0.0, abs=0.03)


@pytest.mark.parametrize("name", ["T", "X", "X_const"])
def test_learners_reach_most_of_the_oracle_qini(fitted, test_set, name):
    X, t, y, tau = test_set
    oracle = qini_auc_from_true_uplift(y, tau, t)
    assert oracle > 0.05
    ratio = qini_oracle_ratio(y, fitted[name].predict(X), tau, t)
    assert ratio > 0.6


def test_estimated_propensity_matches_the_randomization(fitted, test_set, train):
    X = test_set[0]
    g = fitted["X"].predict_propensity(X)
    assert g.shape == (N_TEST, 1)
    assert g.mean() == pytest.approx(train[1].mean(), abs=0.01)
    assert g.std() < 0.03  # randomized: no feature predicts treatment
    np.testing.assert_array_equal(fitted["X_const"].predict_propensity(X[:3]), [[0.5], [0.5], [0.5]])


def test_binary_outcome_uses_classifier_probabilities(fitted, train):
    t_learner = fitted["T"]
    assert t_learner.outcome_ == "binary"
    assert t_learner.base_learner_ in ("logistic", "boosting")  # chosen inside fit ("auto")
    X, t, y, _ = train
    forced = TLearner(learner="boosting", random_state=0).fit(X[:3000], t[:3000], y[:3000])
    assert isinstance(forced.control_model_, HistGradientBoostingClassifier)
    x_boost = XLearner(outcome_learner="boosting", effect_learner="boosting", random_state=0).fit(
        X[:3000], t[:3000], y[:3000])
    assert isinstance(x_boost.effect_models_[1][0], HistGradientBoostingRegressor)


def test_placebo_refutation_is_near_zero(train, fitted, test_set):
    # One placebo run scores a 4,000-row held-out half, where Qini noise alone is about +-0.04, as
    # large as a real model's held-out Qini at that size; so average over seeded repeats.
    X, t, y, _ = train
    placebo_t = [placebo_refutation(TLearner, X, t, y, random_state=s) for s in range(6)]
    placebo_x = [placebo_refutation(XLearner(propensity=0.5), X, t, y, random_state=s) for s in range(6)]
    assert all(isinstance(v, float) for v in placebo_t)
    assert min(placebo_t) < 0 < max(placebo_t)  # scattered around zero, not a systematic effect
    assert abs(np.mean(placebo_t)) < 0.025 and abs(np.mean(placebo_x)) < 0.025
    real = qini_auc_score(test_set[2], fitted["T"].predict(test_set[0]), test_set[1])
    assert real > 0.06 > 2 * abs(np.mean(placebo_t))


# ---- multiple treatments -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def three_arms():
    rng = np.random.default_rng(99)
    n = 9_000
    X = rng.normal(size=(n, 4))
    arm = rng.choice(np.array(["control", "A", "B"]), size=n)
    tau_a, tau_b = 0.15 * (X[:, 0] > 0), 0.15 * (X[:, 1] > 0)
    p = 0.1 + np.where(arm == "A", tau_a, 0) + np.where(arm == "B", tau_b, 0)
    y = (rng.random(n) < p).astype(int)
    return X, arm, y, tau_a, tau_b


@pytest.mark.parametrize("cls", [SLearner, TLearner, XLearner])
def test_multi_treatment_shape_names_and_arm_effects(three_arms, cls):
    X, arm, y, tau_a, tau_b = three_arms
    learner = cls(control_name="control", random_state=0).fit(X, arm, y)
    assert learner.treatment_names_ == ["A", "B"]
    pred = learner.predict_uplift(X)
    assert pred.shape == (X.shape[0], 2)
    np.testing.assert_array_equal(learner.predict_uplift(X, arm="B"), pred[:, 1])
    assert np.corrcoef(pred[:, 0], tau_a)[0, 1] > 0.5  # arm A's column follows A's effect (x0) ...
    assert np.corrcoef(pred[:, 1], tau_b)[0, 1] > 0.5  # ... and B's follows B's (x1)
    assert abs(np.corrcoef(pred[:, 0], tau_b)[0, 1]) < 0.3
    with pytest.raises(ValueError, match="predict_uplift"):
        learner.predict(X)


def test_integer_arm_labels_are_sorted(three_arms):
    X, arm, y, _, _ = three_arms
    codes = np.select([arm == "control", arm == "B", arm == "A"], [0, 1, 2])
    learner = TLearner(random_state=0).fit(X[:3000], codes[:3000], y[:3000])
    assert learner.treatment_names_ == [1, 2]
    assert learner.predict_uplift(X[:10]).shape == (10, 2)


# ---- continuous outcome, other base learners ----------------------------------------------------


def test_continuous_outcome_is_detected_and_recovered():
    rng = np.random.default_rng(5)
    n = 4_000
    X = rng.normal(size=(n, 3))
    tau = 1.0 + 1.0 * (X[:, 0] > 0)
    t = rng.integers(0, 2, n)
    y = 5 + X[:, 1] + tau * t + rng.normal(scale=1.0, size=n)
    for cls in (TLearner, XLearner):
        learner = cls(random_state=0).fit(X, t, y)
        assert learner.outcome_ == "continuous"
        pred = learner.predict(X)
        assert np.corrcoef(pred, tau)[0, 1] > 0.7
        assert pred.mean() == pytest.approx(tau.mean(), abs=0.15)


def test_forced_continuous_outcome_on_binary_data_uses_regressors(train):
    X, t, y, _ = train
    learner = TLearner(learner=None, outcome="continuous", random_state=0).fit(X[:2000], t[:2000], y[:2000])
    assert learner.outcome_ == "continuous"
    assert isinstance(learner.control_model_, HistGradientBoostingRegressor)


def test_xgboost_base_learner(train, test_set):
    xgb = pytest.importorskip("xgboost")
    X, t, y, _ = train
    base = xgb.XGBClassifier(n_estimators=100, max_depth=2, learning_rate=0.05, min_child_weight=20, n_jobs=2)
    learner = TLearner(learner=base, random_state=0).fit(X, t, y)
    assert learner.control_model_.get_params()["n_jobs"] == 2
    assert learner.control_model_.get_params()["random_state"] is not None  # seeded from random_state
    pred = learner.predict(test_set[0])
    assert np.corrcoef(pred, test_set[3])[0, 1] > 0.5


# ---- scikit-learn conventions -------------------------------------------------------------------


def test_get_params_and_clone():
    base = HistGradientBoostingClassifier(max_iter=20)
    learner = XLearner(outcome_learner=base, propensity=0.5, control_name="ctl", random_state=3)
    params = learner.get_params(deep=False)
    assert params == {
        "outcome_learner": base,
        "effect_learner": "auto",
        "propensity_learner": None,
        "propensity": 0.5,
        "control_name": "ctl",
        "outcome": "auto",
        "random_state": 3,
        "inner_folds": 3,
    }
    assert learner.get_params()["outcome_learner__max_iter"] == 20
    copy = clone(learner)
    assert copy is not learner and copy.outcome_learner is not base
    assert copy.get_params()["outcome_learner__max_iter"] == 20
    copy.set_params(outcome_learner__max_iter=5, random_state=4)
    assert copy.outcome_learner.max_iter == 5 and copy.random_state == 4
    assert base.max_iter == 20
    assert set(SLearner().get_params()) == {"learner", "control_name", "outcome", "random_state", "inner_folds"}
    assert set(TLearner().get_params(deep=False)) == {
        "learner",
        "control_learner",
        "treatment_learner",
        "control_name",
        "outcome",
        "random_state",
        "inner_folds",
    }


def test_clone_of_fitted_learner_is_unfitted_and_refits_identically(train):
    X, t, y, _ = train
    X, t, y = X[:2000], t[:2000], y[:2000]
    first = TLearner(random_state=7).fit(X, t, y)
    copy = clone(first)
    assert not hasattr(copy, "treatment_names_")
    with pytest.raises(NotFittedError):
        copy.predict_uplift(X)
    np.testing.assert_array_equal(copy.fit(X, t, y).predict_uplift(X), first.predict_uplift(X))


# ---- validation ---------------------------------------------------------------------------------


def _small():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    t = np.tile([0, 1], 100)
    y = np.tile([0, 0, 1, 1], 50)
    return X, t, y


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda X, t, y: TLearner().fit(np.where(np.eye(200, 3) == 1, np.nan, X), t, y), "X contains"),
        (lambda X, t, y: TLearner().fit(X, t[:-1], y), "treatment=199"),
        (lambda X, t, y: TLearner().fit(X, t, y.reshape(-1, 2).repeat(2, axis=0)), "y must be one-dimensional"),
        (lambda X, t, y: TLearner(control_name="control").fit(X, t, y), "control_name"),
        (lambda X, t, y: TLearner().fit(X, np.zeros(200), y), "treatment"),
        (lambda X, t, y: TLearner().fit(X, np.where(t == 1, None, "c"), y), "treatment"),
        (lambda X, t, y: SLearner(outcome="probability").fit(X, t, y), "outcome"),
        (lambda X, t, y: SLearner(outcome="binary").fit(X, t, y * 2.5), "y must contain only 0 and 1"),
        (lambda X, t, y: TLearner().fit(X, t, np.where(t == 1, 1, y)), "y takes a single value"),
        (lambda X, t, y: XLearner(propensity=1.0).fit(X, t, y), "propensity"),
        (lambda X, t, y: XLearner(propensity={2: 0.5}).fit(X, t, y), "propensity"),
        (lambda X, t, y: XLearner(propensity="half").fit(X, t, y), "propensity"),
        (lambda X, t, y: TLearner().fit(X, t, y).predict_uplift(X[:, :2]), "X has 2 columns"),
        (lambda X, t, y: TLearner().fit(X, t, y).predict_uplift(X, arm=2), "arm"),
    ],
)
def test_invalid_inputs_raise_value_error_naming_the_argument(make, match):
    X, t, y = _small()
    with pytest.raises(ValueError, match=match):
        make(X, t, y)


def test_predict_before_fit_raises():
    with pytest.raises(NotFittedError):
        SLearner().predict_uplift(np.zeros((2, 2)))
