"""retail_lift.campaign.reasons and uplift_contributions: contributions add up to (prediction - baseline), point
the right way on a model with a known effect, and read as text. Speed: bench/reasons_attribution.py."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from synthetic_uplift import one_arm_world

from retail_lift.campaign.reasons import (
    FEATURE_LABELS,
    MAX_TABLE_SPLITS,
    Attribution,
    _tree_parts,
    format_reason,
    group_columns,
    learner_contributions,
    model_contributions,
    top_reasons,
)
from retail_lift.predict.classifiers import XGBoostClassifier
from retail_lift.registry import ModelRegistry
from retail_lift.uplift import SLearner, TLearner, XLearner
from retail_lift.uplift.base import default_classifier, default_regressor, linear_regressor
from retail_lift.uplift.champion import (
    UpliftContributions,
    UpliftRegistry,
    load_uplift_champion,
    uplift_contributions,
    uplift_run,
)
from retail_lift.uplift.features import FEATURES
from retail_lift.uplift.pipeline import fit_score_uplift, score_uplift


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@pytest.fixture(scope="module")
def known_effect():
    """The arm adds 15 points of conversion where x0 > 0 and nothing elsewhere; x1 moves the baseline only;
    x2..x4 are noise."""
    rng = np.random.default_rng(0)
    n = 6000
    X = rng.normal(size=(n, 5))
    t = (rng.random(n) < 0.5).astype(int)
    y = (rng.random(n) < 0.1 + 0.05 * (X[:, 1] > 0) + t * 0.15 * (X[:, 0] > 0)).astype(int)
    return X, t, y


def _adds_up(att: Attribution, prediction):
    np.testing.assert_allclose(att.contributions.sum(axis=1) + att.baseline, att.prediction, rtol=0, atol=1e-12)
    np.testing.assert_allclose(att.prediction, prediction, rtol=0, atol=1e-12)


# ---- outcome models --------------------------------------------------------------------------------------------


def test_a_standardised_linear_regressor_is_coefficient_times_standardised_value(known_effect):
    X, _, y = known_effect
    model = linear_regressor().fit(X, y + X[:, 2])
    att = model_contributions(model, X)
    scaler, ridge = model.steps[0][1], model.steps[-1][1]
    np.testing.assert_allclose(att.contributions, ridge.coef_ * (X - scaler.mean_) / scaler.scale_, atol=1e-12)
    np.testing.assert_allclose(att.baseline, ridge.intercept_)
    _adds_up(att, model.predict(X))
    assert att.features == ("x0", "x1", "x2", "x3", "x4") and att.method.startswith("linear")


def test_a_logistic_model_adds_up_to_its_probability_and_keeps_the_log_odds_signs(known_effect):
    X, _, y = known_effect
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    att = model_contributions(model, pd.DataFrame(X, columns=list("abcde")))
    _adds_up(att, model.predict_proba(X)[:, 1])
    scaler, logistic = model.steps[0][1], model.steps[-1][1]
    log_odds = logistic.coef_[0] * (X - scaler.mean_) / scaler.scale_
    np.testing.assert_allclose(att.baseline, _sigmoid(logistic.intercept_[0]))
    assert np.array_equal(np.sign(att.contributions), np.sign(log_odds)) and att.features == tuple("abcde")
    # the rescale rule: one slope per row
    ratio = att.contributions / log_odds
    np.testing.assert_allclose(ratio, ratio[:, :1].repeat(5, axis=1), rtol=1e-9)


def test_an_imputer_s_missing_indicators_are_added_to_their_feature(known_effect):
    X, _, y = known_effect
    X = X.copy()
    X[::7, 3] = np.nan
    model = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler(),
                          LogisticRegression()).fit(X, y)
    att = model_contributions(model, X)
    assert att.contributions.shape == X.shape
    _adds_up(att, model.predict_proba(X)[:, 1])


def test_boosted_trees_get_the_exact_tree_shap_values_of_the_shap_package(known_effect):
    with warnings.catch_warnings():  # shap's plotting colours, on import
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap

    X, _, y = known_effect
    X = X.copy()
    X[::9, 1] = np.nan  # missing values take the split's learned direction
    clf = default_classifier(0).fit(X, y)
    att = model_contributions(clf, X[:800])
    _adds_up(att, clf.predict_proba(X[:800])[:, 1])
    assert att.method.startswith("tree SHAP (exact, path-dependent, one table per tree)")
    explainer = shap.TreeExplainer(clf)
    raw, _, _ = _tree_parts(clf, X[:800])
    np.testing.assert_allclose(raw, explainer.shap_values(X[:800]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(model_contributions(clf, X[:800]).baseline,
                               _sigmoid(np.ravel(explainer.expected_value)[-1]), atol=1e-12)
    reg = default_regressor(0).fit(X, y + np.nan_to_num(X[:, 2]))
    att = model_contributions(reg, X[:800])
    _adds_up(att, reg.predict(X[:800]))
    np.testing.assert_allclose(att.contributions, shap.TreeExplainer(reg).shap_values(X[:800]), rtol=0, atol=1e-12)


def test_deeper_trees_go_to_shap_and_xgboost_to_its_own_tree_shap(known_effect):
    X, _, y = known_effect
    deep = HistGradientBoostingClassifier(max_iter=10, max_leaf_nodes=31, max_depth=None, random_state=0).fit(X, y)
    assert max(int((~t[0].nodes["is_leaf"].astype(bool)).sum()) for t in deep._predictors) > MAX_TABLE_SPLITS
    att = model_contributions(deep, X[:300])
    assert att.method.startswith("tree SHAP (shap TreeExplainer)")
    _adds_up(att, deep.predict_proba(X[:300])[:, 1])
    xgb = XGBoostClassifier(n_estimators=40, n_jobs=1).fit(X, y)
    att = model_contributions(xgb, X[:500])
    np.testing.assert_allclose(att.prediction, xgb.predict_proba(X[:500])[:, 1], atol=1e-6)  # float32 booster
    np.testing.assert_allclose(att.contributions.sum(axis=1) + att.baseline, att.prediction, atol=1e-12)
    assert "xgboost" in att.method


def test_a_model_no_method_covers_is_named(known_effect):
    X, _, y = known_effect
    calibrated = CalibratedClassifierCV(HistGradientBoostingClassifier(max_iter=5), cv=2).fit(X, y)
    with pytest.raises(TypeError, match="no attribution method for a CalibratedClassifierCV"):
        model_contributions(calibrated, X)
    with pytest.raises(ValueError, match="features names 2 columns, X has 5"):
        model_contributions(linear_regressor().fit(X, y), X, features=["a", "b"])


# ---- uplift learners -------------------------------------------------------------------------------------------

LEARNERS = {
    "t_logistic": lambda: TLearner(learner="logistic", random_state=0),
    "t_boosting": lambda: TLearner(learner="boosting", random_state=0),
    "x_ridge": lambda: XLearner(outcome_learner="logistic", effect_learner="logistic", propensity=0.5, random_state=0),
    "x_boosting_estimated_propensity": lambda: XLearner(outcome_learner="boosting", effect_learner="boosting",
                                                        random_state=0),
    "s_logistic": lambda: SLearner(learner="logistic", random_state=0),
    "s_boosting": lambda: SLearner(learner="boosting", random_state=0),
}


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_uplift_contributions_add_up_and_find_the_known_effect(known_effect, name):
    X, t, y = known_effect
    learner = LEARNERS[name]().fit(X, t, y)
    att = learner_contributions(learner, X)
    _adds_up(att, learner.predict(X))
    phi = att.contributions
    works = X[:, 0] > 0
    # the effect lives in x0: its contribution is positive where the arm works, negative elsewhere, and it is the
    # strongest feature on average (the boosted arms' noise shows in the others at under half of it)
    assert phi[works, 0].mean() > 0 > phi[~works, 0].mean()
    strength = np.abs(phi).mean(axis=0)
    assert strength.argmax() == 0 and strength[1:].max() < 0.5 * strength[0], strength


def test_a_constant_propensity_x_learner_has_one_baseline_and_an_s_learner_s_indicator_stays_in_it(known_effect):
    X, t, y = known_effect
    x = LEARNERS["x_ridge"]().fit(X, t, y)
    att = learner_contributions(x, X)
    assert np.ptp(att.baseline) < 1e-12
    s = LEARNERS["s_logistic"]().fit(X, t, y)
    att = learner_contributions(s, X, features=list("abcde"))
    assert att.features == tuple("abcde") and att.contributions.shape == X.shape


def test_learner_contributions_check_the_arm_and_the_columns(known_effect):
    X, t, y = known_effect
    labels = np.where(t == 1, np.where(np.arange(t.size) % 2 == 0, "a", "b"), "control")
    learner = TLearner(learner="logistic", control_name="control", random_state=0).fit(X, labels, y)
    with pytest.raises(ValueError, match="arm must be given"):
        learner_contributions(learner, X)
    with pytest.raises(ValueError, match="arm='c' is not one of the fitted arms"):
        learner_contributions(learner, X, arm="c")
    with pytest.raises(ValueError, match="X has 4 columns but the learner was fitted with 5"):
        learner_contributions(learner, X[:, :4], arm="a")
    _adds_up(learner_contributions(learner, X, arm="b"), learner.predict_uplift(X, arm="b"))


# ---- grouping and text -----------------------------------------------------------------------------------------


def test_group_columns_adds_the_one_hot_levels_into_their_feature():
    att = Attribution(np.array([[0.01, 0.02, -0.005, 0.0]]), np.array([0.1]), np.array([0.125]),
                      ("orders_90d", "region=north", "region=south", "gender=f"), "linear")
    grouped = group_columns(att)
    assert grouped.features == ("orders_90d", "region", "gender")
    np.testing.assert_allclose(grouped.contributions, [[0.01, 0.015, 0.0]])
    np.testing.assert_allclose(grouped.contributions.sum(1) + grouped.baseline, grouped.prediction)
    assert group_columns(att, {"orders_90d": "orders"}).features == ("orders", "region=north", "region=south",
                                                                    "gender=f")


def test_top_reasons_reads_the_strongest_contributions_with_labels_and_units():
    contributions = pd.DataFrame({"days_since_last_order": [0.012, -0.001], "orders_90d": [0.008, 0.0],
                                  "region": [-0.02, 0.0], "follows_page": [0.0001, 0.0]})
    values = pd.DataFrame({"days_since_last_order": [12.0, np.nan], "orders_90d": [3.0, 0.0],
                           "region": ["north", "south"], "follows_page": [True, False]})
    text = top_reasons(contributions, values, k=2)
    assert text.tolist() == ["region north (-2.0 pp); last order 12 days ago (+1.2 pp)", "never ordered (-0.1 pp)"]
    # k larger than the features; a contribution that rounds to 0.0 pp is left out
    assert top_reasons(contributions, values, k=9).iloc[0] == (
        "region north (-2.0 pp); last order 12 days ago (+1.2 pp); 3 orders in the last 90 days (+0.8 pp)")
    assert top_reasons(contributions, values, k=1, digits=2).iloc[0] == "region north (-2.00 pp)"
    assert top_reasons(contributions, values, k=2, amounts=False).tolist() == [
        "region north; last order 12 days ago", "never ordered"]


def test_unknown_features_fall_back_to_the_column_name():
    assert format_reason("loyalty_score", 0.4567, 0.031) == "loyalty_score = 0.457 (+3.1 pp)"
    assert format_reason("tier", "gold", -0.004) == "tier = gold (-0.4 pp)"
    assert format_reason("tier", None, 0.004) == "tier unknown (+0.4 pp)"
    assert format_reason("follows_page", 1.0, 0.05) == "follows the shop's page: yes (+5.0 pp)"
    assert format_reason("revenue_90d", 10.0, 2.5, unit="", scale=1.0) == "revenue 10.00 in the last 90 days (+2.5)"
    # a label that cannot format the value falls back too
    assert format_reason("orders_90d", "many", 0.01) == "orders_90d = many (+1.0 pp)"
    # a contribution column without a value column, and labels given by the caller
    text = top_reasons(pd.DataFrame({"loyalty_score": [0.02]}), pd.DataFrame({"other": [1]}), k=1)
    assert text.iloc[0] == "loyalty_score (+2.0 pp)"
    text = top_reasons(pd.DataFrame({"score": [0.02]}), pd.DataFrame({"score": [7]}), labels={"score": "score {value}"})
    assert text.iloc[0] == "score 7 (+2.0 pp)"
    assert set(FEATURES) <= set(FEATURE_LABELS)


def test_top_reasons_checks_its_arguments():
    with pytest.raises(ValueError, match="k must be a positive integer"):
        top_reasons(pd.DataFrame({"a": [0.1]}), k=0)
    with pytest.raises(ValueError, match="values has 2 rows, contributions 1"):
        top_reasons(pd.DataFrame({"a": [0.1]}), pd.DataFrame({"a": [1, 2]}))
    assert top_reasons(pd.DataFrame(index=[0, 1])).tolist() == ["", ""]


# ---- the uplift scoring path -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def one_arm_model():
    training, _, _ = one_arm_world(hidden=False, n=3000)
    scoring = training.drop(columns=["exposure_id", "experiment_id", "variant", "is_control", "is_converted"])
    result = fit_score_uplift(training, scoring, n_folds=None, n_placebo=0)
    return result, scoring


def test_uplift_contributions_explain_the_scores_without_changing_them(one_arm_model):
    result, scoring = one_arm_model
    before = result.scores.copy()
    c = uplift_contributions(result.model, scoring, "arm", block_rows=700)
    assert isinstance(c, UpliftContributions) and (c.promotion_id, c.experiment_id) == ("arm", "exp")
    assert c.attribution.features == tuple(FEATURES) and list(c.values.columns) == FEATURES
    assert np.array_equal(c.customer_id, scoring["customer_id"].to_numpy())
    scores = result.scores.set_index("customer_id").loc[c.customer_id, "predicted_uplift"].to_numpy()
    _adds_up(c.attribution, scores)
    pd.testing.assert_frame_equal(result.scores, before)
    rescored = score_uplift(result.model, scoring, metrics=result.metrics,
                            holdout_predictions=result.holdout_predictions)
    pd.testing.assert_frame_equal(rescored.scores, before)
    # the blocks do not change the numbers
    whole = uplift_contributions(result.model, scoring, "arm")
    np.testing.assert_allclose(whole.attribution.contributions, c.attribution.contributions, rtol=0, atol=1e-15)


def test_uplift_contributions_name_the_feature_that_decides_who_the_arm_works_on(one_arm_model):
    result, scoring = one_arm_model
    c = uplift_contributions(result.model, scoring, "arm")
    frame = c.frame()
    follows = scoring["follows_page"].to_numpy()
    assert frame["follows_page"][follows].mean() > 0.05 > -0.02 > frame["follows_page"][~follows].mean()
    assert frame.abs().mean().idxmax() == "follows_page"
    reasons = c.reasons(k=2)
    assert reasons.index.name == "customer_id" and len(reasons) == len(scoring)
    assert reasons[follows].str.startswith("follows the shop's page: yes (+").mean() > 0.9


def test_the_registered_champion_explains_the_scores_it_writes(tmp_path):
    training, _, _ = one_arm_world(hidden=False, n=2000, seed=3)
    scoring = training.drop(columns=["exposure_id", "experiment_id", "variant", "is_control", "is_converted"])
    store = ModelRegistry(tmp_path / "models")
    assert load_uplift_champion(store) is None
    kwargs = dict(n_folds=None, n_placebo=0, base_learner="boosting", learner="t")
    run = uplift_run(training, scoring, registry=UpliftRegistry(store, "ml_uplift_run", params=kwargs), **kwargs)
    assert run.action == "train" and run.version == 1
    champ = load_uplift_champion(store)  # from the model file, as a score-only build loads it
    assert champ.version.version == 1 and load_uplift_champion(store, version=1).version.version == 1
    c = uplift_contributions(champ, scoring, "arm")
    assert c.attribution.method.startswith("tree SHAP (exact")
    scores = run.result.scores.set_index("customer_id").loc[c.customer_id, "predicted_uplift"].to_numpy()
    _adds_up(c.attribution, scores)


def test_uplift_contributions_name_a_promotion_it_does_not_score(one_arm_model):
    result, scoring = one_arm_model
    with pytest.raises(ValueError, match="promotion 'bogo' is not scored by this uplift model; it scores arm"):
        uplift_contributions(result.model, scoring, "bogo")
    with pytest.raises(ValueError, match="features is missing column"):
        uplift_contributions(result.model, scoring.drop(columns=["region"]), "arm")
    with pytest.raises(TypeError, match="champion must be an UpliftChampion or an UpliftModel"):
        uplift_contributions(object(), scoring, "arm")
    import duckdb

    con = duckdb.connect()
    relation = con.from_df(scoring.assign(days_since_last_order=np.where(scoring.index % 5 == 0, np.nan,
                                                                         scoring["days_since_last_order"])))
    from_db = uplift_contributions(result.model, relation, "arm")  # read column by column, categoricals as codes
    assert from_db.values["region"].dtype.name == "category"
    assert from_db.reasons(k=len(FEATURES)).str.contains("never ordered").any()
    empty = uplift_contributions(result.model, scoring.iloc[:0], "arm")
    assert empty.attribution.contributions.shape == (0, len(FEATURES)) and empty.reasons().empty
