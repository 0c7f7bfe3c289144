"""The three classifier families compared by :func:`retail_lift.predict.train_compare_score`.

:func:`make_classifier` builds a scikit-learn compatible estimator for ``kind``:

- ``"logistic"``: ``SimpleImputer(median, add_indicator=True)`` -> ``StandardScaler`` ->
  ``LogisticRegression`` (L2 penalty, ``C=1``, lbfgs). Missing values are imputed with the training
  median and flagged by indicator columns, both learned on the rows the pipeline is fitted on.
- ``"xgboost"``: :class:`XGBoostClassifier`, gradient-boosted trees (``hist``; 300 trees, depth 4,
  learning rate 0.05, row / column subsampling 0.8, ``min_child_weight=5``); ``NaN`` is handled
  natively (a learned default direction per split).
- ``"catboost"``: :class:`CatBoostNativeClassifier`, ordered boosting with CatBoost's own
  categorical encoding (300 iterations, depth 6, learning rate 0.08). Feed it a DataFrame from
  ``feature_matrix(..., encoding="native")``: its string columns become CatBoost categoricals.

Threads: xgboost ``n_jobs`` and CatBoost ``thread_count`` are ``n_jobs`` (default 2); CatBoost never
writes its training logs to disk (``allow_writing_files=False``). Every model is seeded by
``random_state``, so a fit is reproducible.

Class imbalance (``balance=True``): the positive and negative classes get equal total weight, i.e.
``class_weight="balanced"`` for the logistic model, ``scale_pos_weight = n_negative / n_positive``
for xgboost and ``auto_class_weights="Balanced"`` for CatBoost, computed at ``fit`` from the rows it
is given. Weighting helps a rare class shape the trees but inflates the probabilities of the rare
class, so combine it with calibration.

Calibration (``calibrate="isotonic"`` or ``"sigmoid"``): the model is wrapped in scikit-learn's
``CalibratedClassifierCV(method=calibrate, cv=cv, ensemble=True)``. For each of the ``cv`` folds a
copy of the model is fitted on the other folds and a calibrator (isotonic regression, or Platt's
sigmoid) is fitted on that fold's *unweighted* predictions; ``predict_proba`` averages the ``cv``
calibrated models. An integer ``cv`` means ``StratifiedKFold(cv, shuffle=True,
random_state=random_state)``; pass explicit ``(train, test)`` index pairs for grouped folds. Isotonic
is more flexible and needs a few thousand rows; sigmoid is safer on small data. ``None`` returns the
bare model (its probabilities are then biased by ``balance``).

Isotonic regression is a step function fitted on finite folds: its lowest step is exactly 0 when the
lowest-scored block of a fold held no positive, and its highest step exactly 1 when the highest block
held no negative. A probability of exactly 0 or 1 is never credible and costs a log loss of about 34.5
per surprise, so :func:`predict_probability` (used by :func:`fit_with_oof` and by
:func:`retail_lift.predict.train_compare_score`) clips to ``[clip, 1 - clip]``, default
:data:`DEFAULT_CLIP` = 0.001 (about the resolution of a calibrator fitted on a thousand rows).

:func:`fit_with_oof` fits such a model and returns out-of-fold probabilities at no extra cost (the
calibrated fold models' predictions on their own held-out folds), which
:func:`retail_lift.predict.metrics.best_f1_threshold` needs. :func:`feature_importance` reads a
normalised importance from any of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from retail_lift.validation import check_binary, check_positive_int

__all__ = [
    "MODEL_KINDS",
    "CALIBRATION_METHODS",
    "XGBoostClassifier",
    "CatBoostNativeClassifier",
    "make_classifier",
    "fit_with_oof",
    "feature_importance",
    "native_encoding",
    "predict_probability",
    "DEFAULT_CLIP",
]

MODEL_KINDS: tuple[str, ...] = ("logistic", "xgboost", "catboost")
CALIBRATION_METHODS: tuple[str | None, ...] = ("isotonic", "sigmoid", None)
DEFAULT_CLIP = 1e-3


def native_encoding(kind: str) -> bool:
    """True when ``kind`` takes native categoricals (``feature_matrix(encoding="native")``)."""
    _check_kind(kind)
    return kind == "catboost"


def _check_kind(kind: str) -> None:
    if kind not in MODEL_KINDS:
        raise ValueError(f"kind must be one of {list(MODEL_KINDS)}, got {kind!r}")


def _binary_target(y) -> np.ndarray:
    y = check_binary(y, "y")
    if not ((y == 1).any() and (y == 0).any()):
        raise ValueError("y must contain both classes (0 and 1)")
    return y


class XGBoostClassifier(ClassifierMixin, BaseEstimator):
    """``xgboost.XGBClassifier`` with ``scale_pos_weight`` set from the data when ``balance=True``.

    A thin scikit-learn estimator (``__init__`` stores, ``fit`` builds the booster), so it clones,
    calibrates and cross-validates like any other. ``feature_importances_`` is the normalised total
    gain per column.
    """

    def __init__(self, n_estimators: int = 300, learning_rate: float = 0.05, max_depth: int = 4,
                 min_child_weight: float = 5.0, subsample: float = 0.8, colsample_bytree: float = 0.8,
                 reg_lambda: float = 1.0, balance: bool = False, n_jobs: int = 2, random_state: int = 0):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.balance = balance
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X, y):
        from xgboost import XGBClassifier

        X = np.asarray(X, dtype=float)
        y = _binary_target(y)
        spw = float((y == 0).sum() / (y == 1).sum()) if self.balance else 1.0
        self.model_ = XGBClassifier(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate, max_depth=self.max_depth,
            min_child_weight=self.min_child_weight, subsample=self.subsample,
            colsample_bytree=self.colsample_bytree, reg_lambda=self.reg_lambda, scale_pos_weight=spw,
            tree_method="hist", eval_metric="logloss", importance_type="total_gain",
            n_jobs=self.n_jobs, random_state=self.random_state,
        )
        self.model_.fit(X, y)
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        self.scale_pos_weight_ = spw
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(np.asarray(X, dtype=float))

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    @property
    def feature_importances_(self) -> np.ndarray:
        check_is_fitted(self, "model_")
        imp = np.asarray(self.model_.feature_importances_, dtype=float)
        return imp / imp.sum() if imp.sum() > 0 else imp


class CatBoostNativeClassifier(ClassifierMixin, BaseEstimator):
    """``catboost.CatBoostClassifier`` that treats a DataFrame's string columns as categoricals.

    ``cat_features="auto"`` takes every ``object`` / string / categorical column of a DataFrame (a
    NumPy input has none); a list of names or positions is used as given. ``balance=True`` sets
    ``auto_class_weights="Balanced"``. Always ``allow_writing_files=False`` and ``thread_count =
    n_jobs``.
    """

    def __init__(self, iterations: int = 300, learning_rate: float = 0.08, depth: int = 6,
                 l2_leaf_reg: float = 3.0, cat_features: str | Sequence = "auto", balance: bool = False,
                 n_jobs: int = 2, random_state: int = 0):
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.depth = depth
        self.l2_leaf_reg = l2_leaf_reg
        self.cat_features = cat_features
        self.balance = balance
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _cat_features(self, X) -> list:
        if isinstance(self.cat_features, str):
            if self.cat_features != "auto":
                raise ValueError(f"cat_features must be 'auto' or a list, got {self.cat_features!r}")
            if not isinstance(X, pd.DataFrame):
                return []
            return [c for c in X.columns
                    if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))]
        return list(self.cat_features)

    def fit(self, X, y):
        from catboost import CatBoostClassifier

        y = _binary_target(y)
        cats = self._cat_features(X)
        self.model_ = CatBoostClassifier(
            iterations=self.iterations, learning_rate=self.learning_rate, depth=self.depth,
            l2_leaf_reg=self.l2_leaf_reg, auto_class_weights="Balanced" if self.balance else None,
            random_seed=self.random_state, thread_count=self.n_jobs, allow_writing_files=False,
            verbose=False,
        )
        self.model_.fit(X, y, cat_features=cats or None)
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        self.cat_features_ = cats
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    @property
    def feature_importances_(self) -> np.ndarray:
        check_is_fitted(self, "model_")
        imp = np.asarray(self.model_.get_feature_importance(), dtype=float)
        return imp / imp.sum() if imp.sum() > 0 else imp


def _logistic(random_state: int, balance: bool) -> Pipeline:
    return Pipeline([
        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
        ("scale", StandardScaler()),
        ("logistic", LogisticRegression(C=1.0, l1_ratio=0.0, max_iter=2000,
                                        class_weight="balanced" if balance else None,
                                        random_state=random_state)),
    ])


def make_classifier(kind: str, random_state: int = 0, *, calibrate: str | None = None,
                    cv: int | Sequence = 3, balance: bool = False, n_jobs: int = 2,
                    params: Mapping | None = None):
    """A classifier of family ``kind`` (``"logistic"``, ``"xgboost"`` or ``"catboost"``).

    Args:
        kind: the family, see the module docstring for the defaults.
        random_state: seed of the model and of the calibration folds.
        calibrate: ``"isotonic"``, ``"sigmoid"`` or ``None`` (see the module docstring).
        cv: folds of the calibration: an integer (stratified, shuffled, seeded) or a list of
            ``(train_index, test_index)`` pairs.
        balance: weight the classes equally (for a rare label).
        n_jobs: threads of xgboost / CatBoost.
        params: hyper-parameters overriding the defaults, e.g. ``{"n_estimators": 100}`` for xgboost
            or ``{"C": 0.1}`` for the logistic model.

    Returns:
        An unfitted scikit-learn estimator with ``fit`` / ``predict_proba``.
    """
    _check_kind(kind)
    if calibrate not in CALIBRATION_METHODS:
        raise ValueError(f"calibrate must be one of {list(CALIBRATION_METHODS)}, got {calibrate!r}")
    params = dict(params or {})
    if kind == "logistic":
        base = _logistic(random_state, balance)
        params = {(k if "__" in k else f"logistic__{k}"): v for k, v in params.items()}
    elif kind == "xgboost":
        base = XGBoostClassifier(balance=balance, n_jobs=n_jobs, random_state=random_state)
    else:
        base = CatBoostNativeClassifier(balance=balance, n_jobs=n_jobs, random_state=random_state)
    if params:
        valid = base.get_params()
        unknown = [k for k in params if k not in valid]
        if unknown:
            raise ValueError(f"params has unknown key(s) {unknown} for kind {kind!r}")
        base.set_params(**params)
    if calibrate is None:
        return base
    if isinstance(cv, (int, np.integer)):
        folds = StratifiedKFold(check_positive_int(cv, "cv"), shuffle=True, random_state=random_state)
    else:
        folds = list(cv)
    return CalibratedClassifierCV(base, method=calibrate, cv=folds, ensemble=True)


def _take(X, idx: np.ndarray):
    return X.iloc[idx] if isinstance(X, pd.DataFrame) else np.asarray(X)[idx]


def _check_clip(clip: float) -> float:
    clip = float(clip)
    if not 0.0 <= clip < 0.5:
        raise ValueError(f"clip must lie in [0, 0.5), got {clip}")
    return clip


def predict_probability(model, X, *, clip: float = DEFAULT_CLIP) -> np.ndarray:
    """The positive-class probability of a fitted classifier, clipped to ``[clip, 1 - clip]``."""
    clip = _check_clip(clip)
    return np.clip(model.predict_proba(X)[:, 1], clip, 1.0 - clip)


def fit_with_oof(model, X, y, splits: Sequence[tuple[np.ndarray, np.ndarray]], *,
                 clip: float = DEFAULT_CLIP):
    """Fit ``model`` and return ``(fitted_model, out_of_fold_probability)``.

    ``splits`` is a list of ``(train_index, test_index)`` pairs that partition the rows. For a
    ``CalibratedClassifierCV`` the splits become its calibration folds and the out-of-fold
    probability of a row is the prediction of the fold model that did not see it (its calibrator was
    fitted on that fold), so no extra fit is needed; a bare model is cross-validated over the splits
    (``cross_val_predict``) and then refitted on all rows. The probabilities are clipped as in
    :func:`predict_probability`.
    """
    clip = _check_clip(clip)
    y = _binary_target(y)
    splits = [(np.asarray(tr), np.asarray(te)) for tr, te in splits]
    covered = np.concatenate([te for _, te in splits]) if splits else np.array([], dtype=int)
    if covered.size != y.size or np.unique(covered).size != y.size:
        raise ValueError("splits must put every row in exactly one test fold")
    oof = np.empty(y.size, dtype=float)
    if isinstance(model, CalibratedClassifierCV):
        model = clone(model).set_params(cv=splits, ensemble=True)
        model.fit(X, y)
        for fold_model, (_, test) in zip(model.calibrated_classifiers_, splits, strict=True):
            oof[test] = fold_model.predict_proba(_take(X, test))[:, 1]
    else:
        oof[:] = cross_val_predict(clone(model), X, y, cv=splits, method="predict_proba")[:, 1]
        model = clone(model).fit(X, y)
    return model, np.clip(oof, clip, 1.0 - clip)


def _base_importance(est) -> np.ndarray:
    if isinstance(est, Pipeline):
        imputer, lr = est.named_steps["impute"], est.named_steps["logistic"]
        n_features = imputer.n_features_in_
        coef = np.abs(lr.coef_.ravel())
        imp = coef[:n_features].copy()
        indicator = getattr(imputer, "indicator_", None)
        if indicator is not None and coef.size > n_features:
            np.add.at(imp, indicator.features_, coef[n_features:])
        return imp / imp.sum() if imp.sum() > 0 else imp
    return np.asarray(est.feature_importances_, dtype=float)


def feature_importance(model, feature_names: Sequence[str]) -> pd.Series:
    """Normalised importance per feature (sums to 1), sorted descending, indexed by feature name.

    Logistic: ``|coefficient|`` of the standardised feature plus that of its missing-value
    indicator. xgboost: total gain. CatBoost: ``PredictionValuesChange``. A calibrated model averages
    its fold models.
    """
    names = list(feature_names)
    if isinstance(model, CalibratedClassifierCV):
        check_is_fitted(model, "calibrated_classifiers_")
        imps = [_base_importance(c.estimator) for c in model.calibrated_classifiers_]
        imp = np.mean(imps, axis=0)
    else:
        imp = _base_importance(model)
    if imp.size != len(names):
        raise ValueError(f"feature_names has {len(names)} names but the model has {imp.size} features")
    total = imp.sum()
    s = pd.Series(imp / total if total > 0 else imp, index=names, name="importance")
    return s.sort_values(ascending=False, kind="stable")
