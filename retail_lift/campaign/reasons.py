"""Reasons: per-customer feature contributions to a model's prediction, and the strongest of them as text.

Every method returns an :class:`Attribution`: one contribution per row and feature, a baseline per row and the
prediction, with ``contributions.sum(axis=1) + baseline == prediction`` exactly (to floating point) for every
method below; what the baseline is depends on the model.

**Outcome models** (:func:`model_contributions`), on the model's own scale first:

- linear models (a scikit-learn ``Pipeline`` of an optional ``SimpleImputer``, a ``StandardScaler`` and a
  ``LogisticRegression`` / ridge / any estimator with ``coef_`` and ``intercept_``): coefficient x standardised
  value, ``coef_j * (x_j - mean_j) / scale_j``. The baseline is the intercept: the prediction at the scaler's
  mean (the mean of the rows the model was fitted on). A ``SimpleImputer``'s missing-value indicators are added
  to the feature they flag. Without a scaler the value is used as it is (the baseline is then the prediction at
  0).
- gradient-boosted trees (scikit-learn's ``HistGradientBoostingClassifier`` / ``Regressor``): exact Tree SHAP
  values, "path-dependent" (the trees' own training covers are the background), as the ``shap`` package's
  ``TreeExplainer`` computes them; the baseline is their expected value. Trees of at most
  :data:`MAX_TABLE_SPLITS` splits (the uplift learners' are depth 3: at most 7) are computed here, one table of
  every pattern of split outcomes per tree (:func:`_tree_table`), about ten times faster than ``shap`` and equal
  to it to 1e-12 (tested); deeper trees go to ``shap.TreeExplainer``.
- XGBoost (``xgboost.XGBClassifier`` / ``XGBRegressor`` and the classifiers' :class:`XGBoostClassifier`
  wrapper): XGBoost's own Tree SHAP (``pred_contribs=True``), the same algorithm, without ``shap``.

For a classifier these are contributions to the log-odds; they are carried to the probability by the rescale
rule of DeepLIFT (Shrikumar et al. 2017): every log-odds contribution is multiplied by the same slope
``(sigmoid(eta) - sigmoid(eta_0)) / (eta - eta_0)`` of the row (``sigmoid'(eta_0)`` when ``eta = eta_0``), so
they keep their sign and order and add up to ``P(y=1 | x) - sigmoid(eta_0)``: in probability units, the
baseline is ``sigmoid(eta_0)``.

**Uplift learners** (:func:`learner_contributions`, the meta-learners of :mod:`retail_lift.uplift`), in
probability units (percentage points once multiplied by 100):

- T-learner: the treated model's contributions minus the control model's; baseline: the difference of their
  baselines.
- X-learner: the effect models' contributions ``g * tau_0 + (1 - g) * tau_1`` (its CATE models; the pipeline's
  are standardised ridges, so they are the CATE model's own coefficients x standardised values). With a
  constant propensity ``g`` (the pipeline's: a randomised experiment) the baseline is a constant; with an
  estimated ``g(x)`` the baseline varies by row (the propensity's own dependence on ``x`` is not attributed).
- S-learner: the contributions of the model with the indicator at 1 minus those with it at 0; the indicator's
  own contribution stays in the baseline (which varies by row for trees).

The prediction explained is the learner's uplift before :meth:`~retail_lift.uplift.BaseMetaLearner.predict_uplift`
clips it to ``[-1, 1]`` (equal to it on every row the clip leaves as it is).

**Text** (:func:`top_reasons`): the ``k`` contributions of largest absolute value per row, each a feature label
with the customer's value (:data:`FEATURE_LABELS`, a format string per column; an unknown column is shown as
``column = value``) and the contribution in percentage points: "last order 12 days ago (+1.2 pp); 3 orders in
the last 90 days (+0.8 pp)". :func:`group_columns` first adds the one-hot columns of a categorical feature
(``region=north``, ``region=south``...) into the feature (``region``), keeping the sum.

Cost (``bench/reasons_attribution.py``, measured figures in docs/models.md): the linear methods are a matrix
product; Tree SHAP grows with the rows x trees x leaves x depth squared.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retail_lift.uplift.base import BaseMetaLearner
from retail_lift.uplift.slearner import SLearner
from retail_lift.uplift.tlearner import TLearner
from retail_lift.uplift.xlearner import XLearner
from retail_lift.validation import as_2d_float, check_positive_int

__all__ = [
    "FEATURE_LABELS",
    "MAX_TABLE_SPLITS",
    "MISSING_LABELS",
    "Attribution",
    "format_reason",
    "group_columns",
    "learner_contributions",
    "model_contributions",
    "top_reasons",
]

#: how a feature reads in a reason: a format string of the customer's value ``{value}`` (numbers as they are in
#: the scoring table, before the model's transformations), or for a categorical feature of its level
FEATURE_LABELS: dict[str, str] = {
    "follows_page": "follows the shop's page: {value:yesno}",
    "heard_of_shop": "had heard of the shop: {value:yesno}",
    "tenure_days": "customer for {value:.0f} days",
    "orders_before": "{value:.0f} orders before",
    "orders_30d": "{value:.0f} orders in the last 30 days",
    "orders_90d": "{value:.0f} orders in the last 90 days",
    "revenue_before": "revenue {value:.2f} before",
    "revenue_30d": "revenue {value:.2f} in the last 30 days",
    "revenue_90d": "revenue {value:.2f} in the last 90 days",
    "discounted_order_share": "{value:.0%} of orders discounted",
    "days_since_last_order": "last order {value:.0f} days ago",
    "sessions_30d": "{value:.0f} sessions in the last 30 days",
    "sessions_90d": "{value:.0f} sessions in the last 90 days",
    "views_30d": "{value:.0f} product views in the last 30 days",
    "views_90d": "{value:.0f} product views in the last 90 days",
    "carts_30d": "{value:.0f} cart adds in the last 30 days",
    "carts_90d": "{value:.0f} cart adds in the last 90 days",
    "days_since_last_visit": "last visit {value:.0f} days ago",
    "age_band": "age band {value}",
    "gender": "gender {value}",
    "region": "region {value}",
    "acquisition_channel": "acquired through {value}",
    "device_preference": "prefers {value}",
}

#: how a missing value reads, per column (the others: "<column> unknown")
MISSING_LABELS: dict[str, str] = {
    "days_since_last_order": "never ordered",
    "days_since_last_visit": "never visited",
}


@dataclass(frozen=True)
class Attribution:
    """Per-row feature contributions: ``contributions`` ``(n, p)`` in the columns ``features``, ``baseline``
    ``(n,)`` and ``prediction`` ``(n,)``, with ``contributions.sum(1) + baseline == prediction``; ``method``
    names how they were computed."""

    contributions: np.ndarray
    baseline: np.ndarray
    prediction: np.ndarray
    features: tuple[str, ...]
    method: str

    def frame(self, index=None) -> pd.DataFrame:
        """The contributions as a DataFrame (one column per feature)."""
        return pd.DataFrame(self.contributions, columns=list(self.features), index=index)

    def __sub__(self, other: Attribution) -> Attribution:
        return self._combine(other, 1.0, -1.0)

    def _combine(self, other: Attribution, a, b) -> Attribution:
        """``a * self + b * other`` (``a`` / ``b``: numbers or per-row arrays)."""
        if self.features != other.features:
            raise ValueError("attributions over different features cannot be combined")
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)

        def col(w):
            return w[:, None] if w.ndim else w

        method = self.method if self.method == other.method else f"{self.method} / {other.method}"
        return Attribution(col(a) * self.contributions + col(b) * other.contributions,
                           a * self.baseline + b * other.baseline, a * self.prediction + b * other.prediction,
                           self.features, method)


def _names(features, p: int) -> tuple[str, ...]:
    if features is None:
        return tuple(f"x{j}" for j in range(p))
    names = tuple(str(f) for f in features)
    if len(names) != p:
        raise ValueError(f"features names {len(names)} columns, X has {p}")
    return names


def _matrix(X, allow_nan: bool) -> np.ndarray:
    """``X`` as a 2-D float array; NaN only where the model takes it (trees, an imputer), never infinity."""
    if not allow_nan:
        return as_2d_float(X, "X")
    arr = np.asarray(X, dtype=float)
    arr = arr.reshape(-1, 1) if arr.ndim == 1 else arr
    if arr.ndim != 2:
        raise ValueError(f"X must be two-dimensional, got shape {arr.shape}")
    if np.isinf(arr).any():
        raise ValueError("X contains infinite values")
    return arr


def _takes_nan(model) -> bool:
    from sklearn.impute import SimpleImputer

    steps = [s for _, s in model.steps] if hasattr(model, "steps") else []
    return _xgb_booster(model) is not None or _is_hgb(model) or (bool(steps) and isinstance(steps[0], SimpleImputer))


def _summing_matrix(target: np.ndarray, width: int) -> np.ndarray:
    """``(len(target), width)`` 0/1 matrix: right-multiplied, column ``j`` is added into column ``target[j]``."""
    m = np.zeros((len(target), width))
    m[np.arange(len(target)), target] = 1.0
    return m


def _sigmoid(z):
    from scipy.special import expit

    return expit(z)


def _to_probability(phi: np.ndarray, eta: np.ndarray, eta0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-odds contributions ``phi`` of rows with log-odds ``eta`` and baseline ``eta0`` as probability
    contributions (DeepLIFT's rescale rule), and the baseline probability."""
    p, p0 = _sigmoid(eta), _sigmoid(eta0)
    d = eta - eta0
    small = np.abs(d) < 1e-9
    slope = np.where(small, p0 * (1.0 - p0), (p - p0) / np.where(small, 1.0, d))
    return phi * slope[:, None], p0


def _linear_parts(model, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """Contributions ``(n, p)`` and baseline ``(n,)`` of a linear model (or a Pipeline ending in one) on the
    scale of its ``decision_function`` / ``predict``."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    steps = list(model.steps) if isinstance(model, Pipeline) else [(None, model)]
    *pre, (_, final) = steps
    coef = np.asarray(final.coef_, dtype=float)
    if coef.ndim == 2 and coef.shape[0] != 1:
        raise TypeError(f"{type(final).__name__} has {coef.shape[0]} outputs; only one output is attributed")
    coef = coef.ravel()
    intercept = float(np.ravel(final.intercept_)[0]) if np.size(final.intercept_) else 0.0
    Z = X
    source = np.arange(X.shape[1])  # the input column every column of Z comes from
    scaled = False
    for _, step in pre:
        if isinstance(step, SimpleImputer):
            kept = np.arange(X.shape[1]) if step.keep_empty_features else \
                np.flatnonzero(~np.isnan(np.asarray(step.statistics_, dtype=float)))
            flags = step.indicator_.features_ if step.add_indicator and step.indicator_ is not None else []
            source = np.concatenate([source[kept], source[np.asarray(flags, dtype=int)]]).astype(int)
        elif isinstance(step, StandardScaler):
            scaled = True
        else:
            raise TypeError(f"cannot attribute through a {type(step).__name__} step (only SimpleImputer and "
                            "StandardScaler before a linear model)")
        Z = step.transform(Z)
    Z = np.asarray(Z, dtype=float)
    terms = Z * coef
    if np.array_equal(source, np.arange(X.shape[1])):
        phi = terms
    else:  # an imputer's indicator columns go to the feature they flag
        phi = terms @ _summing_matrix(source, X.shape[1])
    method = "linear: coefficient x standardised value" if scaled else "linear: coefficient x value"
    return phi, np.full(X.shape[0], intercept), method


def _is_hgb(model) -> bool:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    return isinstance(model, HistGradientBoostingClassifier | HistGradientBoostingRegressor)


def _xgb_booster(model):
    """The ``xgboost.Booster`` of an XGBoost estimator (or of the classifiers' wrapper), else None."""
    inner = getattr(model, "model_", model)
    if type(inner).__module__.startswith("xgboost") and hasattr(inner, "get_booster"):
        return inner.get_booster()
    return None


#: trees with at most this many split nodes are attributed by :func:`_hgb_tree_shap` (one table of 2 ** splits
#: rows per tree); deeper trees by ``shap``
MAX_TABLE_SPLITS = 10


def _shapley_weights(d: int) -> np.ndarray:
    """``w[s] = s! (d - s - 1)! / d!``: the Shapley weight of a coalition of ``s`` of the other ``d - 1`` players."""
    from math import factorial

    return np.array([factorial(s) * factorial(d - s - 1) / factorial(d) for s in range(d)])


def _tree_table(nodes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float] | None:
    """One scikit-learn histogram-gradient-boosting tree as a table: its split nodes' features, thresholds and
    missing-value directions, the features it uses, the exact path-dependent Tree SHAP values of every pattern
    of split outcomes (row ``sum_b 2**b * [goes left at split b]``, one column per used feature) and its
    expected value. None when the tree has more than :data:`MAX_TABLE_SPLITS` splits or a categorical split.

    Each leaf is a product game over the distinct features on its path: with ``a_f`` = 1 when the row follows
    every split on ``f`` towards the leaf and ``r_f`` = the product of the training-cover shares of those
    branches, the path-dependent expectation given the features ``S`` is ``value * prod_{f in S} a_f *
    prod_{f not in S} r_f`` (Lundberg et al. 2020, Algorithm 1 computes the same), whose Shapley values are
    ``value * (a_i - r_i) * sum_{S of the others} w(|S|) prod_{S} a prod_{others not in S} r``."""
    from itertools import combinations

    split = np.flatnonzero(~nodes["is_leaf"].astype(bool))
    m = split.size
    if m > MAX_TABLE_SPLITS or (m and nodes["is_categorical"][split].any()):
        return None
    bit = {int(node): b for b, node in enumerate(split)}
    feats = nodes["feature_idx"][split].astype(np.int64)
    used = np.unique(feats)
    col = {int(f): c for c, f in enumerate(used)}
    left = ((np.arange(2 ** m)[:, None] >> np.arange(m)) & 1).astype(bool)  # pattern x split: goes left
    table = np.zeros((2 ** m, used.size))
    count = nodes["count"].astype(float)
    expected = 0.0
    stack = [(0, [])]
    while stack:
        node, path = stack.pop()
        if nodes["is_leaf"][node]:
            a, r = {}, {}
            for parent, went_left, child in path:
                f = int(nodes["feature_idx"][parent])
                on = left[:, bit[parent]] if went_left else ~left[:, bit[parent]]
                a[f] = a.get(f, True) & on
                r[f] = r.get(f, 1.0) * (count[child] / count[parent] if count[parent] > 0 else 0.0)
            value = float(nodes["value"][node])
            expected += value * float(np.prod(list(r.values()))) if r else value
            players = list(a)
            w = _shapley_weights(len(players))
            for i in players:
                others = [j for j in players if j != i]
                total = np.zeros(2 ** m)
                for size in range(len(others) + 1):
                    for chosen in combinations(others, size):
                        term = np.full(2 ** m, w[size])
                        for j in others:
                            term = term * (a[j] if j in chosen else r[j])
                        total += term
                table[:, col[i]] += value * (a[i] - r[i]) * total
            continue
        stack.append((int(nodes["left"][node]), [*path, (node, True, int(nodes["left"][node]))]))
        stack.append((int(nodes["right"][node]), [*path, (node, False, int(nodes["right"][node]))]))
    return feats, nodes["num_threshold"][split].astype(float), nodes["missing_go_to_left"][split].astype(bool), \
        used, table, expected


def _hgb_tree_shap(model, X: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Exact path-dependent Tree SHAP of a binary / regression ``HistGradientBoosting*`` model by one table per
    tree (:func:`_tree_table`): per tree, a row's pattern of split outcomes indexes the table. The same values
    as ``shap.TreeExplainer`` (checked in the tests), without a per-row tree walk. None when a tree is too deep
    or has a categorical split (``shap`` is used then)."""
    predictors = getattr(model, "_predictors", None)
    if predictors is None or any(len(it) != 1 for it in predictors):
        return None
    tables = []
    for (tree,) in predictors:
        t = _tree_table(tree.nodes)
        if t is None:
            return None
        tables.append(t)
    n = X.shape[0]
    X = np.asfortranarray(X)  # a column per split: contiguous
    phi = np.zeros((n, X.shape[1]), order="F")
    base = float(np.ravel(model._baseline_prediction)[0])
    has_nan = np.isnan(X).any(axis=0)
    for feats, thresholds, nan_left, used, table, expected in tables:
        base += expected
        if not used.size:
            continue
        code = np.zeros(n, dtype=np.int16)  # at most MAX_TABLE_SPLITS bits
        for b, (f, thr, nl) in enumerate(zip(feats, thresholds, nan_left, strict=True)):
            goes_left = X[:, f] <= thr
            if nl and has_nan[f]:
                goes_left |= np.isnan(X[:, f])
            code += goes_left * np.int16(1 << b)
        for c, f in enumerate(used):
            phi[:, f] += table[:, c].take(code)
    return phi, np.full(n, base)


def _tree_parts(model, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """Tree SHAP contributions ``(n, p)`` and baseline on the raw (log-odds / regression) scale."""
    if _is_hgb(model):
        fast = _hgb_tree_shap(model, X)
        if fast is not None:
            return fast[0], fast[1], "tree SHAP (exact, path-dependent, one table per tree)"
    booster = _xgb_booster(model)
    if booster is not None:
        import xgboost

        contribs = booster.predict(xgboost.DMatrix(X), pred_contribs=True)
        return contribs[:, :-1].astype(float), contribs[:, -1].astype(float), "tree SHAP (xgboost pred_contribs)"
    import warnings

    with warnings.catch_warnings():  # shap's plotting colours warn about matplotlib deprecations on import
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap

    explainer = shap.TreeExplainer(model)
    values = explainer.shap_values(X, check_additivity=False)
    if isinstance(values, list):  # older shap: one array per class
        values = values[-1]
    values = np.asarray(values, dtype=float)
    if values.ndim == 3:
        values = values[:, :, -1]
    base = float(np.ravel(explainer.expected_value)[-1])
    return values, np.full(X.shape[0], base), "tree SHAP (shap TreeExplainer)"


def _is_classifier(model) -> bool:
    from sklearn.base import is_classifier
    from sklearn.pipeline import Pipeline

    final = model.steps[-1][1] if isinstance(model, Pipeline) else model
    inner = getattr(final, "model_", final)
    return bool(is_classifier(final) or is_classifier(inner) or hasattr(final, "predict_proba"))


def model_contributions(model, X, features: Sequence[str] | None = None) -> Attribution:
    """Per-row feature contributions of a fitted outcome model (module docstring): for a classifier to the
    probability of class 1 (binary classifiers only), for a regressor to its prediction.

    ``X``: the rows, as the model takes them; ``features``: their column names (default: the DataFrame's, else
    ``x0``, ``x1``...). Raises ``TypeError`` for a model none of the methods covers (for example a
    ``CalibratedClassifierCV``: calibration is not additive)."""
    if features is None and isinstance(X, pd.DataFrame):
        features = list(X.columns)
    X = _matrix(X, allow_nan=_takes_nan(model))
    names = _names(features, X.shape[1])
    if hasattr(model, "coef_") or (hasattr(model, "steps") and hasattr(model.steps[-1][1], "coef_")):
        phi, base, method = _linear_parts(model, X)
    elif _is_hgb(model) or _xgb_booster(model) is not None:
        if _is_hgb(model) and getattr(model, "n_trees_per_iteration_", 1) != 1:
            raise TypeError("only binary HistGradientBoostingClassifier models are attributed")
        phi, base, method = _tree_parts(model, X)
    else:
        raise TypeError(f"no attribution method for a {type(model).__name__}: linear models (optionally after a "
                        "SimpleImputer and a StandardScaler), HistGradientBoosting and XGBoost models are covered")
    eta = phi.sum(axis=1) + base
    if _is_classifier(model):
        phi, base = _to_probability(phi, eta, base)
        return Attribution(phi, base, _sigmoid(eta), names, method + ", rescaled to the probability")
    return Attribution(phi, base, eta, names, method)


def _outcome(learner: BaseMetaLearner, model, X: np.ndarray, names) -> Attribution:
    """Contributions of one outcome model of ``learner`` (probability for a binary outcome)."""
    att = model_contributions(model, X, names)
    if learner.outcome_ == "binary" and not _is_classifier(model):
        raise TypeError("a binary-outcome learner with a regressor as outcome model is not attributed")
    return att


def _slearner(learner: SLearner, arm, X: np.ndarray, names) -> Attribution:
    model = learner.models_[arm]
    n = X.shape[0]
    treated = model_contributions(model, np.hstack([np.ones((n, 1)), X]), ("__treated__", *names))
    control = model_contributions(model, np.hstack([np.zeros((n, 1)), X]), ("__treated__", *names))
    diff = treated - control

    # the indicator's own share goes to the baseline
    return Attribution(diff.contributions[:, 1:], diff.baseline + diff.contributions[:, 0], diff.prediction,
                       tuple(names), diff.method)


def _xlearner(learner: XLearner, arm, X: np.ndarray, names) -> Attribution:
    j = learner.treatment_names_.index(arm)
    g = learner._propensity(X)[:, j]
    tau0, tau1 = learner.effect_models_[arm]
    a0, a1 = model_contributions(tau0, X, names), model_contributions(tau1, X, names)
    att = a0._combine(a1, g, 1.0 - g)
    return Attribution(att.contributions, att.baseline, att.prediction, att.features,
                       att.method + " (effect models, propensity-weighted)")


def learner_contributions(learner: BaseMetaLearner, X, arm=None, features: Sequence[str] | None = None
                          ) -> Attribution:
    """Per-row feature contributions to the uplift of ``arm`` predicted by a fitted S-, T- or X-learner (module
    docstring), in the outcome's units (probability for a binary outcome). ``arm``: one of
    ``learner.treatment_names_`` (default: the only one)."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(learner, "treatment_names_")
    if arm is None:
        if len(learner.treatment_names_) != 1:
            raise ValueError(f"arm must be given: the learner has arms {learner.treatment_names_}")
        arm = learner.treatment_names_[0]
    if arm not in learner.treatment_names_:
        raise ValueError(f"arm={arm!r} is not one of the fitted arms {learner.treatment_names_}")
    if features is None and isinstance(X, pd.DataFrame):
        features = list(X.columns)
    X = as_2d_float(X, "X")
    if X.shape[1] != learner.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} columns but the learner was fitted with {learner.n_features_in_}")
    names = _names(features, X.shape[1])
    if isinstance(learner, TLearner):
        control = learner.control_models_[learner._control_key[arm]]
        return _outcome(learner, learner.models_[arm], X, names) - _outcome(learner, control, X, names)
    if isinstance(learner, XLearner):
        return _xlearner(learner, arm, X, names)
    if isinstance(learner, SLearner):
        return _slearner(learner, arm, X, names)
    raise TypeError(f"no attribution method for a {type(learner).__name__}: S-, T- and X-learners are covered")


def group_columns(att: Attribution, groups: Mapping[str, str] | Callable[[str], str] | None = None) -> Attribution:
    """``att`` with the columns of a group added into one (sums and so the identity are kept). ``groups``: column
    -> group name, or a function of the column; default: a one-hot column ``feature=level`` goes to
    ``feature``, any other stays itself. Groups are in the order of their first column."""
    if groups is None:
        def key(c):
            return c.split("=", 1)[0]
    elif callable(groups):
        key = groups
    else:
        def key(c):
            return groups.get(c, c)
    keys = [key(c) for c in att.features]
    order = list(dict.fromkeys(keys))
    index = np.array([order.index(k) for k in keys], dtype=int)
    out = att.contributions @ _summing_matrix(index, len(order))
    return Attribution(out, att.baseline, att.prediction, tuple(order), att.method)


def _format_value(template: str, value) -> str:
    if ":yesno}" in template:
        yes = bool(value) if not isinstance(value, str) else value.lower() in ("true", "1", "yes", "t")
        return template.replace("{value:yesno}", "yes" if yes else "no")
    return template.format(value=value)


def _label(feature: str, value, labels: Mapping[str, str]) -> str:
    """The feature's label with the customer's value (format_reason's text before the amount)."""
    missing = value is None or (not isinstance(value, str) and bool(pd.isna(value)))
    if missing:
        return MISSING_LABELS.get(feature, f"{feature} unknown")
    if feature in labels:
        try:
            return _format_value(labels[feature], value)
        except (ValueError, TypeError):
            return f"{feature} = {value}"
    return f"{feature} = {value:.3g}" if isinstance(value, float | np.floating) else f"{feature} = {value}"


def _amount(contribution: float, unit: str, scale: float, digits: int) -> str:
    amount = f"{np.round(contribution * scale, int(digits)):+.{int(digits)}f}"
    return f"({amount} {unit})" if unit else f"({amount})"


def format_reason(feature: str, value, contribution: float, labels: Mapping[str, str] | None = None,
                  unit: str = "pp", scale: float = 100.0, digits: int = 1) -> str:
    """One reason: the feature's label with the customer's ``value`` and the signed ``contribution`` x ``scale``
    in ``unit``, rounded to ``digits`` (``"last order 12 days ago (+1.2 pp)"``). A column without a label reads
    ``column = value``; a missing value reads as :data:`MISSING_LABELS` says, else ``column unknown``."""
    labels = FEATURE_LABELS if labels is None else labels
    return f"{_label(feature, value, labels)} {_amount(contribution, unit, scale, digits)}"


def _texts(strings: list[str], inverse: np.ndarray) -> np.ndarray:
    return np.asarray(strings, dtype=object)[inverse] if len(strings) else np.empty(0, dtype=object)


def top_reasons(contributions: pd.DataFrame, values: pd.DataFrame | None = None, k: int = 3,
                labels: Mapping[str, str] | None = None, unit: str = "pp", scale: float = 100.0, digits: int = 1,
                min_abs: float = 0.0, sep: str = "; ", amounts: bool = True) -> pd.Series:
    """The ``k`` strongest contributions of every row as text (module docstring), strongest first.

    ``contributions``: one row per customer, one column per feature (:meth:`Attribution.frame`, after
    :func:`group_columns`); ``values``: the customers' feature values (same row order; a column not in it shows
    without a value); ``labels``: column -> label format (default :data:`FEATURE_LABELS`). A contribution whose
    absolute value is at most ``min_abs``, or that rounds to 0 at ``digits``, is left out, so a row can have
    fewer than ``k`` reasons (an empty string when none). Returns a Series with the index of ``contributions``.

    Each distinct value and each distinct rounded amount of a feature is formatted once (the text is assembled
    with array operations), so the cost is a few passes over the rows, not a format call per reason.
    ``amounts=False`` leaves the amounts out ("last order 12 days ago; 3 orders in the last 90 days").
    """
    check_positive_int(k, "k")
    if values is not None and len(values) != len(contributions):
        raise ValueError(f"values has {len(values)} rows, contributions {len(contributions)}")
    labels = FEATURE_LABELS if labels is None else labels
    C = np.nan_to_num(contributions.to_numpy(dtype=float))
    cols = list(contributions.columns)
    n = C.shape[0]
    if C.size == 0:
        return pd.Series(np.full(n, "", dtype=object), index=contributions.index, dtype=object)
    kk = min(int(k), C.shape[1])
    rounded = np.round(C * float(scale), int(digits))
    strength = np.abs(C)
    shown = (np.abs(rounded) > 0) & (strength > float(min_abs))
    # the k largest per row (a partial sort), then in order: strongest first, ties by column order
    part = np.argpartition(-strength, kk - 1, axis=1)[:, :kk] if kk < C.shape[1] else \
        np.broadcast_to(np.arange(C.shape[1]), C.shape)
    top = np.take_along_axis(part, np.lexsort((part, -np.take_along_axis(strength, part, axis=1)), axis=1), axis=1)
    rows = np.arange(n)
    vals = {c: values[c].to_numpy() for c in cols if values is not None and c in values.columns}
    pieces = []
    for pos in range(kk):
        j = top[:, pos]
        keep = shown[rows, j]
        piece = np.full(n, "", dtype=object)
        for f in np.unique(j[keep]):
            at = np.flatnonzero(keep & (j == f))
            col = cols[f]
            distinct, a_code = np.unique(rounded[at, f], return_inverse=True)
            amount = [_amount(a / float(scale), unit, scale, digits) for a in distinct]
            if col in vals:
                l_code, uniq = pd.factorize(vals[col][at], use_na_sentinel=False)
                label = [_label(col, u, labels) for u in uniq]
            else:
                l_code, label = np.zeros(at.size, dtype=np.int64), [col]
            if not amounts:
                piece[at] = _texts(label, l_code)
                continue
            pairs, p_code = np.unique(l_code.astype(np.int64) * len(distinct) + a_code, return_inverse=True)
            piece[at] = _texts([f"{label[q // len(distinct)]} {amount[q % len(distinct)]}" for q in pairs], p_code)
        pieces.append(piece)
    out = pieces[0] if kk == 1 else \
        np.array([sep.join([t for t in row if t]) for row in zip(*pieces, strict=True)], dtype=object)
    return pd.Series(out, index=contributions.index, dtype=object)
