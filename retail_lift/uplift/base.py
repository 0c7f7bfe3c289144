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
- Default base learners are scikit-learn's ``HistGradientBoostingClassifier`` /
  ``HistGradientBoostingRegressor`` (see :func:`default_classifier`). They were chosen over
  xgboost because they are deterministic for a given ``random_state``, clone cleanly, need no
  thread configuration and are fast on the small-to-medium tables of a marketing warehouse. Any
  scikit-learn compatible model can be passed instead, e.g.
  ``xgboost.XGBClassifier(n_estimators=200, max_depth=3, n_jobs=2)``. The HistGradientBoosting
  models use all cores through OpenMP; cap them with ``threadpoolctl.threadpool_limits(n)`` or
  ``OMP_NUM_THREADS`` on a shared machine.
- ``random_state`` (int or ``None``) seeds every cloned base learner that has a ``random_state``
  parameter left at ``None``; an explicitly seeded base learner is left as given.
- Invalid inputs raise ``ValueError`` naming the argument (via :mod:`retail_lift.validation`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from retail_lift.validation import as_1d_float, as_2d_float, check_binary, check_same_length

__all__ = ["BaseMetaLearner", "default_classifier", "default_regressor"]

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
        self._rng = check_random_state(self.random_state) if self.random_state is not None else None
        try:
            self._fit(X_arr, labels, y_arr)
        finally:
            del self._rng
        return self

    def _fit(self, X, labels, y):  # pragma: no cover - abstract
        raise NotImplementedError

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

    def _new_model(self, template, kind: str):
        """Clone ``template`` (or build the default of ``kind``) and seed it if it is unseeded.

        ``kind`` is ``"outcome"`` (classifier for a binary outcome, regressor otherwise),
        ``"regressor"`` or ``"classifier"``.
        """
        if template is None:
            if kind == "outcome":
                kind = "classifier" if self.outcome_ == "binary" else "regressor"
            model = default_classifier() if kind == "classifier" else default_regressor()
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
