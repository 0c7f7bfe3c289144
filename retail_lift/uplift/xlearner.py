"""X-learner (Kuenzel et al. 2019), as ``causalml``'s ``BaseXLearner``.

For each arm ``k`` (fitted on the control rows and the rows of arm ``k``):

1. outcome models, as in the T-learner: ``mu_0(x)`` on control rows, ``mu_k(x)`` on arm-``k`` rows
   (classifier probabilities for a binary outcome, regressions otherwise);
2. imputed individual effects: ``D_1 = y - mu_0(x)`` on the treated rows and ``D_0 = mu_k(x) - y``
   on the control rows, each regressed on ``x`` by an effect model: ``tau_1k(x)`` and ``tau_0k(x)``;
3. a propensity-weighted combination

       tau_k(x) = g_k(x) * tau_0k(x) + (1 - g_k(x)) * tau_1k(x),

   where ``g_k(x) = P(T = k | x, T in {control, k})``. ``g_k`` comes from a propensity classifier
   (default: logistic regression) or, for a randomized experiment, from a given constant.

The weighting leans on the effect model fitted from the larger group's counterfactuals, so the
X-learner does well when one group (often the control) is much smaller than the other.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from retail_lift.uplift.base import BaseMetaLearner
from retail_lift.validation import as_2d_float, check_in_range

__all__ = ["XLearner"]


class XLearner(BaseMetaLearner):
    """X-learner with propensity-weighted combination of the two effect models.

    Args:
        outcome_learner: the stage-1 outcome models ``mu_0`` and ``mu_k``: ``"auto"`` (default: the
            family chosen by inner cross-validated Qini on the rows given to ``fit``),
            ``"logistic"`` / ``"boosting"`` to force one, ``None`` (= ``"boosting"``) or an estimator
            template (see :mod:`retail_lift.uplift.base`).
        effect_learner: the stage-2 effect regressors ``tau_0k`` and ``tau_1k`` (always regressors:
            imputed effects are continuous), same choices; ``"auto"`` (default) takes the family
            chosen for both stages together (the ``"logistic"`` family's regressor is a standardised
            ridge regression with a cross-validated penalty).
        propensity_learner: classifier template for ``g_k``; ``None`` uses
            ``LogisticRegression(max_iter=1000)``. Ignored when ``propensity`` is given.
        propensity: ``None`` (estimate ``g_k`` with ``propensity_learner``), a float in ``(0, 1)``
            used for every arm, or a dict ``{arm: float}``: the known probability of being in arm
            ``k`` among rows in control or ``k`` (for a 50/50 randomized test, ``0.5``).
        control_name: the label of the control group in ``treatment`` (default ``0``).
        outcome: ``"auto"``, ``"binary"`` or ``"continuous"``.
        random_state: seed for unseeded base learners and the inner folds.
        inner_folds: folds of the inner cross-validation of ``"auto"`` (default 3).

    Fitted attributes: ``base_learner_``, ``base_learner_scores_`` (as the T-learner),
    ``base_learners_``, ``treatment_names_``, ``outcome_``, ``n_features_in_``, ``control_model_`` (of the
    first arm's family; ``control_models_``: family -> control model),
    ``outcome_models_`` (arm -> ``mu_k``), ``effect_models_`` (arm -> ``(tau_0k, tau_1k)``),
    ``propensity_models_`` (arm -> classifier, when estimated) and ``propensity_`` (arm -> constant
    or ``None`` when estimated).
    """

    def __init__(
        self,
        outcome_learner="auto",
        effect_learner="auto",
        propensity_learner=None,
        propensity=None,
        control_name=0,
        outcome="auto",
        random_state=None,
        inner_folds=3,
    ):
        self.outcome_learner = outcome_learner
        self.effect_learner = effect_learner
        self.propensity_learner = propensity_learner
        self.propensity = propensity
        self.control_name = control_name
        self.outcome = outcome
        self.random_state = random_state
        self.inner_folds = inner_folds

    _BASE_LEARNER_PARAMS = ("outcome_learner", "effect_learner")

    def _constant_propensities(self) -> dict:
        p = self.propensity
        if p is None:
            return {arm: None for arm in self.treatment_names_}
        if isinstance(p, Mapping):
            missing = [arm for arm in self.treatment_names_ if arm not in p]
            if missing:
                raise ValueError(f"propensity has no value for arm(s) {missing}")
            values = {arm: p[arm] for arm in self.treatment_names_}
        else:
            values = {arm: p for arm in self.treatment_names_}
        for arm, value in values.items():
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ValueError(f"propensity for arm {arm!r} must be a number in (0, 1), got {value!r}")
            check_in_range(np.array([float(value)]), "propensity", 0.0, 1.0, low_inclusive=False, high_inclusive=False)
        return {arm: float(v) for arm, v in values.items()}

    def _fit(self, X, labels, y):
        self.propensity_ = self._constant_propensities()
        control = labels == self.control_name
        X0, y0 = X[control], y[control]
        # one control model per family the arms chose (one in all but the per-arm "auto" case)
        self.control_models_ = {}
        self.outcome_models_, self.effect_models_, self.propensity_models_ = {}, {}, {}
        for arm in self.treatment_names_:
            key = self._family_key(self.outcome_learner, arm)
            if key not in self.control_models_:
                self.control_models_[key] = self._new_model(self.outcome_learner, "outcome", arm).fit(X0, y0)
            mu0 = self.control_models_[key]
            treated = labels == arm
            X1, y1 = X[treated], y[treated]
            mu_k = self._new_model(self.outcome_learner, "outcome", arm).fit(X1, y1)
            mu0_treated = self._predict_outcome(mu0, X1)
            d1 = y1 - mu0_treated
            d0 = self._predict_outcome(mu_k, X0) - y0
            tau0 = self._new_model(self.effect_learner, "regressor", arm).fit(X0, d0)
            tau1 = self._new_model(self.effect_learner, "regressor", arm).fit(X1, d1)
            self.outcome_models_[arm] = mu_k
            self.effect_models_[arm] = (tau0, tau1)
            if self.propensity_[arm] is None:
                rows = control | treated
                template = self.propensity_learner
                if template is None:
                    template = LogisticRegression(max_iter=1000)
                model = self._new_model(template, "classifier")
                self.propensity_models_[arm] = model.fit(X[rows], (labels[rows] == arm).astype(int))
        self.control_model_ = self.control_models_[self._family_key(self.outcome_learner, self.treatment_names_[0])]

    def predict_propensity(self, X) -> np.ndarray:
        """``g_k(x)`` per arm, shape ``(n, n_arms)`` (constant columns for a given propensity)."""
        check_is_fitted(self, "treatment_names_")
        return self._propensity(as_2d_float(X, "X"))

    def _propensity(self, X) -> np.ndarray:
        cols = []
        for arm in self.treatment_names_:
            if self.propensity_[arm] is not None:
                cols.append(np.full(X.shape[0], self.propensity_[arm]))
            else:
                model = self.propensity_models_[arm]
                cols.append(model.predict_proba(X)[:, list(model.classes_).index(1)])
        return np.column_stack(cols)

    def _predict_uplift(self, X):
        g = self._propensity(X)
        cols = []
        for j, arm in enumerate(self.treatment_names_):
            tau0, tau1 = self.effect_models_[arm]
            cols.append(g[:, j] * tau0.predict(X) + (1.0 - g[:, j]) * tau1.predict(X))
        return np.column_stack(cols)
