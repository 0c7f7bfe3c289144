"""Shared machinery of the meta-learners (modelled on ``causalml.inference.meta.base``).

A meta-learner turns ordinary supervised models ("base learners") into an estimate of the
conditional average treatment effect ``tau_k(x) = E[Y | X=x, T=k] - E[Y | X=x, T=control]`` for
every non-control arm ``k``.

Conventions shared by :class:`~retail_lift.uplift.SLearner`, :class:`~retail_lift.uplift.TLearner`
and :class:`~retail_lift.uplift.XLearner`:

- scikit-learn style: ``__init__`` only stores its arguments (so ``get_params``, ``set_params`` and
  ``sklearn.base.clone`` work); base learners passed in are templates, cloned at ``fit``.
- ``fit(X, treatment, y)``: ``treatment`` holds arm labels (strings or integers) and exactly one
  of them equals ``control_name`` (default ``0``, so a 0/1 indicator works as is). Every other label
  is a treatment arm; arms are sorted (``numpy.unique`` order) into ``treatment_names_``.
- ``predict_uplift(X)`` always returns a 2-D array of shape ``(n_rows, n_arms)``, column ``j``
  being the uplift of ``treatment_names_[j]`` over control. ``predict_uplift(X, arm=label)`` returns
  one arm's column as a 1-D array, and ``predict(X)`` is the 1-D convenience for the common
  single-arm case (it raises if the learner was fitted with several arms).
- Outcomes: ``outcome="auto"`` (default) treats ``y`` as binary when all its values are 0 or 1,
  continuous otherwise; ``"binary"`` / ``"continuous"`` force the choice. For a binary outcome the
  outcome models are classifiers and their ``predict_proba`` (probability of class 1) is used, so
  uplift is a difference of probabilities; for a continuous outcome they are regressors.
- Base learners: every base-learner argument (``learner`` of the S- and T-learner, ``outcome_learner``
  and ``effect_learner`` of the X-learner) accepts a family name, ``None`` or an estimator:

  * ``"auto"`` (the default): the family is **chosen on the rows given to** ``fit`` by an inner
    ``inner_folds``-fold cross-validation (stratified by arm and outcome): every family of
    :data:`BASE_FAMILIES` is fitted on ``inner_folds - 1`` folds and predicts the last, its score is
    the Qini coefficient (:func:`~retail_lift.uplift.qini_auc_score`, averaged over the arms) of its
    pooled out-of-fold predictions, and the family with the best score wins, except that
    ``"boosting"`` must beat ``"logistic"`` by more than one (paired bootstrap) standard error of the
    difference (the one-standard-error rule: the simpler model unless the flexible one is clearly
    better; see :func:`inner_cv_select`); the learner is then refitted on all its rows with that family. Fitted
    attributes ``base_learner_`` (the family) and ``base_learner_scores_`` (family -> inner
    Qini) record the choice. With several arms the family is chosen **per arm**, on that arm's and the
    control's rows: ``base_learners_`` (arm -> family) records it, ``base_learner_scores_`` is then
    arm -> (family -> inner Qini) and ``base_learner_`` is the common family, or ``"per_arm"`` when the
    arms chose differently (the T- and X-learners then keep one control model per family).
    A learner fitted inside an outer cross-validation therefore chooses
    its family without the outer held-out rows (nested selection).
  * ``"logistic"``: an L2-penalised ``LogisticRegression(C=0.1)`` on standardised features
    (:func:`logistic_outcome_learner`) for a binary outcome; a ridge regression on standardised
    features with its penalty chosen by cross-validation (:func:`linear_regressor`) for a continuous
    outcome and for the X-learner's effect models.
  * ``"boosting"`` (also ``None``, the former default): scikit-learn's regularised
    ``HistGradientBoostingClassifier`` / ``HistGradientBoostingRegressor`` (see
    :func:`default_classifier`), deterministic for a given ``random_state``. They use all cores
    through OpenMP; cap them with ``threadpoolctl.threadpool_limits(n)`` or ``OMP_NUM_THREADS``.
  * any scikit-learn compatible estimator, e.g. ``xgboost.XGBClassifier(n_estimators=200,
    max_depth=3, n_jobs=2)``: used as given (no selection).

  Why ``"auto"``: on a public randomised e-mail experiment (Hillstrom) the boosted T-learner reached
  a Qini of 0.043 against 0.074 for the L2-logistic one, while on data with a nonlinear effect the
  boosted models win; neither family is a safe fixed default (``bench/uplift_learners.py``).
- ``random_state`` (int or ``None``) seeds every cloned base learner that has a ``random_state``
  parameter left at ``None``; an explicitly seeded base learner is left as given.
- Invalid inputs raise ``ValueError`` naming the argument (via :mod:`retail_lift.validation`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from retail_lift.uplift.metrics import _normalised_area, _qini_points, qini_auc_score
from retail_lift.validation import as_1d_float, as_2d_float, check_binary, check_same_length

__all__ = [
    "BASE_FAMILIES",
    "BaseMetaLearner",
    "SELECTION_N_SE",
    "InnerSelection",
    "default_classifier",
    "default_regressor",
    "family_model",
    "inner_cv_select",
    "linear_regressor",
    "logistic_outcome_learner",
    "selection_score",
]

#: Standard errors by which a more complex candidate must beat a simpler one in :func:`inner_cv_select`
#: (1.645: the one-sided 95 % paired bootstrap lower bound of its gain is above 0).
SELECTION_N_SE = 1.645

#: Base-learner families that ``"auto"`` chooses between (in this order: the first wins a tie).
BASE_FAMILIES = ("logistic", "boosting")

_OUTCOMES = ("auto", "binary", "continuous")

# Shallow, slowly learning trees: uplift is a small difference of two noisy quantities, and the
# regularised setting keeps the per-arm models from chasing noise that would swamp it.
_HGB_DEFAULTS = dict(
    learning_rate=0.05,
    max_iter=100,
    max_depth=3,
    min_samples_leaf=100,
    l2_regularization=1.0,
    early_stopping=False,
)


def default_classifier(random_state=None) -> HistGradientBoostingClassifier:
    """The default outcome / propensity classifier: a regularised ``HistGradientBoostingClassifier``

    (learning_rate=0.05, max_iter=100, max_depth=3, min_samples_leaf=100, l2_regularization=1.0,
    no early stopping, so the fit is deterministic).
    """
    return HistGradientBoostingClassifier(random_state=random_state, **_HGB_DEFAULTS)


def default_regressor(random_state=None) -> HistGradientBoostingRegressor:
    """The default outcome / effect regressor: ``HistGradientBoostingRegressor`` with the same settings."""
    return HistGradientBoostingRegressor(random_state=random_state, **_HGB_DEFAULTS)


def logistic_outcome_learner():
    """Linear outcome classifier: L2-penalised logistic regression (``C=0.1``) on standardised features."""
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))


def linear_regressor():
    """Linear regressor: ridge regression on standardised features, penalty chosen by cross-validation."""
    return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-1, 4, 11)))


def family_model(family: str, kind: str, random_state=None):
    """A fresh model of ``family`` (``"logistic"`` or ``"boosting"``); ``kind`` is ``"classifier"`` or
    ``"regressor"`` (the logistic family's regressor is :func:`linear_regressor`)."""
    if family not in BASE_FAMILIES:
        raise ValueError(f"base-learner family must be one of {list(BASE_FAMILIES)}, got {family!r}")
    if kind not in ("classifier", "regressor"):
        raise ValueError(f"kind must be 'classifier' or 'regressor', got {kind!r}")
    if family == "logistic":
        return logistic_outcome_learner() if kind == "classifier" else linear_regressor()
    return default_classifier(random_state) if kind == "classifier" else default_regressor(random_state)


def selection_score(y, uplift, treatment, outcome: str = "binary") -> float:
    """The score that ranks candidates in an inner cross-validation: the Qini coefficient
    (:func:`~retail_lift.uplift.qini_auc_score`) for a binary outcome; for a continuous outcome the
    area between the Qini curve and the random line divided by the same area of the ranking by
    ``y * t - y * (1 - t)`` (the same normalisation on a continuous ``y``). NaN when undefined."""
    y = np.asarray(y, dtype=float)
    u = np.asarray(uplift, dtype=float)
    t = np.asarray(treatment).astype(int)
    if y.size < 2 or not (t == 1).any() or not (t == 0).any():
        return float("nan")
    try:
        if outcome == "binary":
            return float(qini_auc_score(y, u, t))
        return float(_normalised_area(_qini_points(y, u, t), _qini_points(y, y * t - y * (1 - t), t), "Qini"))
    except ValueError:
        return float("nan")


@dataclass(frozen=True)
class InnerSelection:
    """Result of :func:`inner_cv_select`: the winner, each candidate's score (pooled out-of-fold Qini) and its
    per-fold scores."""

    best: str
    scores: dict
    fold_scores: dict
    n_folds: int


def _inner_folds(labels: np.ndarray, y: np.ndarray, n_folds: int, random_state, binary: bool) -> np.ndarray:
    """Fold of each row, stratified by arm and outcome (by arm only when a stratum is too small)."""
    from sklearn.model_selection import StratifiedKFold

    strata_options = [labels.astype(str)]
    if binary:
        strata_options.insert(0, np.char.add(labels.astype(str), y.astype(int).astype(str)))
    seed = None if random_state is None else int(random_state) % (2**32)
    for strata in strata_options:
        _, counts = np.unique(strata, return_counts=True)
        if counts.min() >= n_folds:
            fold = np.full(labels.size, -1, dtype=np.int64)
            splits = StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(np.zeros(labels.size), strata)
            for f, (_, test) in enumerate(splits):
                fold[test] = f
            return fold
    raise ValueError(f"too few rows for an inner {n_folds}-fold cross-validation: an arm has fewer than "
                     f"{n_folds} rows")


def inner_cv_select(  # noqa: C901 - the selection rule with its documented fallbacks
    candidates: Mapping[str, Callable[[], object]],
    X,
    labels,
    y,
    control_name,
    *,
    n_folds: int = 3,
    random_state=None,
    outcome: str = "binary",
    complexity: Mapping[str, int] | None = None,
    n_bootstrap: int = 100,
    n_se: float = SELECTION_N_SE,
) -> InnerSelection:
    """Choose among uplift learners by cross-validated Qini on the given rows only.

    Args:
        candidates: name -> zero-argument factory of an unfitted meta-learner (ordered: the first
            wins a tie).
        X, labels, y: the rows to choose on (2-D float array, arm labels, outcome).
        control_name: the control label.
        n_folds: inner folds (>= 2), stratified by arm and outcome.
        random_state: seed of the folds.
        outcome: ``"binary"`` or ``"continuous"`` (the score, :func:`selection_score`).
        complexity: name -> level for the one-standard-error rule (lower = simpler).
        n_bootstrap: paired bootstrap resamples for the standard error of a difference of scores.
        n_se: a more complex candidate wins only if its score exceeds the simpler one's by more than
            ``n_se`` standard errors of the difference (default :data:`SELECTION_N_SE` = 1.645: the
            one-sided 95 % paired lower bound of the gain is above 0).

    Each candidate is fitted on ``n_folds - 1`` folds and predicts the remaining one, so every row gets
    an out-of-fold prediction; a candidate's score is :func:`selection_score` of its pooled out-of-fold
    predictions per arm (that arm's and the control rows), averaged over the arms (a candidate that
    cannot be fitted in a fold, e.g. an outcome missing from a training part, scores NaN). The best
    score wins (ties and all-NaN: the first candidate), **unless a simpler candidate is not clearly
    worse**: with ``complexity`` (name -> level, lower = simpler; default all 0) the winner is the best
    candidate of the simplest level whose score is at least the best score minus ``n_se`` standard
    errors of the difference between the two, estimated by ``n_bootstrap`` paired bootstrap resamples
    of the rows (both candidates' predictions of the same resampled rows). With the default ``n_se`` a
    more flexible model must show a gain whose one-sided 95 % paired lower bound is above 0. (A
    one-standard-error rule, ``n_se=1``, left logistic for boosting on 10-30 % of the splits of
    simulations where boosting then lost out of sample: ``bench/results/uplift_learners.md``.)
    ``fold_scores`` (each fold's score) are kept for information.
    """
    if not candidates:
        raise ValueError("candidates must not be empty")
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) or n_folds < 2:
        raise ValueError(f"inner_folds must be an int >= 2, got {n_folds!r}")
    X = np.asarray(X, dtype=float)
    labels = np.asarray(labels)
    y = np.asarray(y, dtype=float)
    names = list(candidates)
    if len(names) == 1:
        return InnerSelection(names[0], {names[0]: float("nan")}, {names[0]: []}, 0)
    fold = _inner_folds(labels, y, int(n_folds), random_state, outcome == "binary")
    arms = [a for a in pd.unique(labels) if a != control_name]
    compare = {arm: np.flatnonzero((labels == arm) | (labels == control_name)) for arm in arms}

    def score(pred, rows=None) -> float:
        per_arm = []
        for j, arm in enumerate(arms):
            r = compare[arm] if rows is None else rows[j]
            per_arm.append(selection_score(y[r], pred[r, j], (labels[r] == arm).astype(int), outcome))
        per_arm = [v for v in per_arm if np.isfinite(v)]
        return float(np.mean(per_arm)) if per_arm else float("nan")

    preds, fold_scores = {}, {name: [] for name in names}
    for name in names:
        pred = np.full((labels.size, len(arms)), np.nan)
        for f in range(int(n_folds)):
            train, test = fold != f, fold == f
            try:
                model = candidates[name]().fit(X[train], labels[train], y[train])
            except ValueError:
                fold_scores[name].append(float("nan"))
                pred[:] = np.nan
                break
            p = model.predict_uplift(X[test])
            for j, arm in enumerate(arms):
                if arm in model.treatment_names_:
                    pred[test, j] = p[:, model.treatment_names_.index(arm)]
            lab, yt, per_arm = labels[test], y[test], []
            for j, arm in enumerate(arms):
                r = (lab == arm) | (lab == control_name)
                per_arm.append(selection_score(yt[r], pred[test][r, j], (lab[r] == arm).astype(int), outcome))
            per_arm = [v for v in per_arm if np.isfinite(v)]
            fold_scores[name].append(float(np.mean(per_arm)) if per_arm else float("nan"))
        preds[name] = pred
    scores = {name: (score(preds[name]) if np.isfinite(preds[name]).all() else float("nan")) for name in names}

    def argmax(group):
        top = group[0]
        for name in group[1:]:
            if np.isfinite(scores[name]) and (not np.isfinite(scores[top]) or scores[name] > scores[top]):
                top = name
        return top

    best = argmax(names)
    level = {name: int((complexity or {}).get(name, 0)) for name in names}
    simpler = sorted({level[n] for n in names if level[n] < level[best]})
    if simpler and np.isfinite(scores[best]):
        rng = np.random.default_rng([0 if random_state is None else int(random_state) % (2**32), 7])
        resamples = [[rng.choice(compare[arm], compare[arm].size) for arm in arms] for _ in range(n_bootstrap)]
        boot_best = np.array([score(preds[best], r) for r in resamples])
        for lv in simpler:
            simple = argmax([n for n in names if level[n] == lv])
            if not np.isfinite(scores[simple]):
                continue
            diff = boot_best - np.array([score(preds[simple], r) for r in resamples])
            diff = diff[np.isfinite(diff)]
            se = float(diff.std(ddof=1)) if diff.size > 1 else float("inf")
            if scores[best] - scores[simple] <= float(n_se) * se:
                best = simple
                break
    return InnerSelection(best, scores, fold_scores, int(n_folds))


def _check_labels(treatment, name: str = "treatment") -> np.ndarray:
    labels = np.asarray(treatment)
    if labels.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {labels.shape}")
    missing = pd.isna(labels)
    if np.any(missing):
        i = int(np.flatnonzero(missing)[0])
        raise ValueError(f"{name} contains {int(np.sum(missing))} missing value(s); first at position {i}")
    return labels


class BaseMetaLearner(BaseEstimator):
    """Base class: input checks, arm bookkeeping, base-learner cloning and prediction helpers.

    Subclasses implement ``_fit(X, labels, y)`` (inputs already validated, ``self.outcome_``,
    ``self.treatment_names_`` set) and ``_predict_uplift(X)`` returning ``(n, n_arms)``.
    """

    # ---- fitting ---------------------------------------------------------------------------

    def fit(self, X, treatment, y):
        """Fit the learner.

        Args:
            X: features, shape ``(n, p)`` (array or DataFrame; NaN / inf rejected).
            treatment: arm label per row; one label equals ``control_name``.
            y: outcome per row (binary 0/1 or continuous, see ``outcome``).

        Returns:
            self
        """
        X_arr = as_2d_float(X, "X")
        y_arr = as_1d_float(y, "y")
        labels = _check_labels(treatment)
        check_same_length(X=X_arr, treatment=labels, y=y_arr)

        outcome = self.outcome
        if outcome not in _OUTCOMES:
            raise ValueError(f"outcome must be one of {list(_OUTCOMES)}, got {outcome!r}")
        if outcome == "auto":
            outcome = "binary" if np.isin(y_arr, (0.0, 1.0)).all() else "continuous"
        if outcome == "binary":
            y_arr = check_binary(y_arr, "y").astype(float)

        is_control = labels == self.control_name
        if not np.any(is_control):
            raise ValueError(f"control_name={self.control_name!r} does not occur in treatment")
        try:
            arms = np.unique(labels[~is_control])
        except TypeError as exc:  # mixed, unorderable label types
            raise ValueError(f"treatment labels must be of one comparable type: {exc}") from None
        if arms.size == 0:
            raise ValueError(f"treatment contains only the control label {self.control_name!r}; no arm to compare")

        if outcome == "binary":
            for arm in [self.control_name, *arms.tolist()]:
                if np.unique(y_arr[labels == arm]).size < 2:
                    raise ValueError(
                        f"y takes a single value among rows with treatment == {arm!r}; "
                        "a binary outcome model needs both 0 and 1 in every arm"
                    )
        self.outcome_ = outcome
        self.treatment_names_ = arms.tolist()
        self.n_features_in_ = X_arr.shape[1]
        auto = self._check_base_learners()
        self.base_learner_, self.base_learner_scores_, self.base_learners_ = None, {}, {}
        if auto and arms.size == 1:
            self.base_learner_, self.base_learner_scores_ = self._select_family(X_arr, labels, y_arr, auto)
            self.base_learners_ = {self.treatment_names_[0]: self.base_learner_}
        elif auto:
            # several arms: each arm's family is chosen on its own rows and the control's (a family that
            # suits one arm's effect is not forced on another)
            for arm in self.treatment_names_:
                rows = is_control | (labels == arm)
                fam, scores = self._select_family(X_arr[rows], labels[rows], y_arr[rows], auto)
                self.base_learners_[arm], self.base_learner_scores_[arm] = fam, scores
            fams = set(self.base_learners_.values())
            self.base_learner_ = fams.pop() if len(fams) == 1 else "per_arm"
        self._rng = check_random_state(self.random_state) if self.random_state is not None else None
        try:
            self._fit(X_arr, labels, y_arr)
        finally:
            del self._rng
        return self

    def _fit(self, X, labels, y):  # pragma: no cover - abstract
        raise NotImplementedError

    #: the constructor arguments that take a base learner (a family name, ``None`` or an estimator)
    _BASE_LEARNER_PARAMS: tuple[str, ...] = ()

    def _check_base_learners(self) -> list[str]:
        """Validate the base-learner arguments; return those set to ``"auto"``."""
        auto = []
        for name in self._BASE_LEARNER_PARAMS:
            value = getattr(self, name)
            if isinstance(value, str):
                if value == "auto":
                    auto.append(name)
                elif value not in BASE_FAMILIES:
                    raise ValueError(f"{name} must be 'auto', one of {list(BASE_FAMILIES)}, None or an estimator, "
                                     f"got {value!r}")
        return auto

    def _select_family(self, X, labels, y, auto: list[str]) -> tuple[str, dict]:
        """The family of the ``"auto"`` arguments, by inner cross-validated Qini on these rows."""
        folds = getattr(self, "inner_folds", 3)
        if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
            raise ValueError(f"inner_folds must be an int >= 2, got {folds!r}")

        def factory(family):
            return lambda: clone(self).set_params(**{name: family for name in auto}, outcome=self.outcome_)

        try:
            sel = inner_cv_select({f: factory(f) for f in BASE_FAMILIES}, X, labels, y, self.control_name,
                                  n_folds=folds, random_state=self.random_state, outcome=self.outcome_,
                                  complexity={f: i for i, f in enumerate(BASE_FAMILIES)})
        except ValueError as exc:
            warnings.warn(f"base learner 'auto' could not cross-validate ({exc}); using {BASE_FAMILIES[0]!r}",
                          UserWarning, stacklevel=3)
            return BASE_FAMILIES[0], {}
        return sel.best, dict(sel.scores)

    # ---- prediction ------------------------------------------------------------------------

    def predict_uplift(self, X, arm=None) -> np.ndarray:
        """Predicted uplift over control.

        Args:
            X: features with the same columns as at fit.
            arm: ``None`` for all arms, or one label of ``treatment_names_``.

        Returns:
            ``(n, len(treatment_names_))`` array (column ``j`` = arm ``treatment_names_[j]``), or a
            1-D array of length ``n`` when ``arm`` is given. Binary outcomes: clipped to [-1, 1].
        """
        check_is_fitted(self, "treatment_names_")
        X_arr = as_2d_float(X, "X")
        if X_arr.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X_arr.shape[1]} columns but the learner was fitted with {self.n_features_in_}")
        tau = np.asarray(self._predict_uplift(X_arr), dtype=float)
        if self.outcome_ == "binary":
            # a difference of two probabilities lies in [-1, 1]; a linear effect model (the X-learner's
            # ridge stage) can extrapolate past it on unusual rows
            tau = np.clip(tau, -1.0, 1.0)
        if arm is None:
            return tau
        if arm not in self.treatment_names_:
            raise ValueError(f"arm={arm!r} is not one of the fitted arms {self.treatment_names_}")
        return tau[:, self.treatment_names_.index(arm)]

    def predict(self, X) -> np.ndarray:
        """1-D predicted uplift, for a learner fitted with a single treatment arm."""
        check_is_fitted(self, "treatment_names_")
        if len(self.treatment_names_) != 1:
            raise ValueError(
                f"predict gives a 1-D uplift only for a single arm; this learner has arms "
                f"{self.treatment_names_}: use predict_uplift(X) or predict_uplift(X, arm=...)"
            )
        return self.predict_uplift(X)[:, 0]

    def _predict_uplift(self, X):  # pragma: no cover - abstract
        raise NotImplementedError

    # ---- helpers for subclasses ------------------------------------------------------------

    def _family_key(self, template, arm):
        """The family ``"auto"`` resolves to for ``arm`` (``None`` when ``template`` is not ``"auto"``)."""
        return self.base_learners_[arm] if isinstance(template, str) and template == "auto" else None

    def _new_model(self, template, kind: str, arm=None):
        """Clone ``template`` (or build the model of the family it names) and seed it if it is unseeded.

        ``kind`` is ``"outcome"`` (classifier for a binary outcome, regressor otherwise),
        ``"regressor"`` or ``"classifier"``; ``arm``: whose chosen family ``"auto"`` means (default: the
        common one).
        """
        if template is None or isinstance(template, str):
            family = "boosting" if template is None else template
            if family == "auto":
                family = self.base_learner_ if arm is None else self.base_learners_[arm]
            if kind == "outcome":
                kind = "classifier" if self.outcome_ == "binary" else "regressor"
            model = family_model(family, kind)
        else:
            model = clone(template)
        if self._rng is not None and hasattr(model, "get_params"):
            params = model.get_params(deep=False)
            if "random_state" in params and params["random_state"] is None:
                model.set_params(random_state=int(self._rng.randint(np.iinfo(np.int32).max)))
        return model

    def _predict_outcome(self, model, X) -> np.ndarray:
        """``P(y=1 | x)`` from ``predict_proba`` for a binary outcome, ``predict`` otherwise."""
        if self.outcome_ == "binary" and hasattr(model, "predict_proba"):
            classes = list(model.classes_)
            return model.predict_proba(X)[:, classes.index(1)]
        return np.asarray(model.predict(X), dtype=float)
