"""T-learner: separate outcome models per group (as ``causalml``'s ``BaseTLearner``).

A control model ``mu_0(x)`` is fitted on the control rows and, for each arm ``k``, a model
``mu_k(x)`` on that arm's rows. The uplift is

    tau_k(x) = mu_k(x) - mu_0(x)

(probabilities from ``predict_proba`` for a binary outcome). Simple and unbiased when both models
are good, but each model is fitted on part of the data and the two models' errors add up, which
hurts most when one group is small (the X-learner addresses that).
"""

from __future__ import annotations

import numpy as np

from retail_lift.uplift.base import BaseMetaLearner

__all__ = ["TLearner"]


class TLearner(BaseMetaLearner):
    """T-learner (two models: control and treated).

    Args:
        learner: base outcome model for both groups: ``"auto"`` (default: the family, ``"logistic"``
            or ``"boosting"``, chosen by inner cross-validated Qini on the rows given to ``fit``),
            ``"logistic"`` / ``"boosting"`` to force a family, ``None`` (= ``"boosting"``) or an
            estimator template (see :mod:`retail_lift.uplift.base`).
        control_learner: template (or family) for the control model, overriding ``learner``.
        treatment_learner: template (or family) for the per-arm treated models, overriding ``learner``.
        control_name: the label of the control group in ``treatment`` (default ``0``).
        outcome: ``"auto"``, ``"binary"`` or ``"continuous"``.
        random_state: seed for unseeded base learners and the inner folds.
        inner_folds: folds of the inner cross-validation of ``"auto"`` (default 3).

    Fitted attributes: ``treatment_names_``, ``outcome_``, ``n_features_in_``, ``control_model_``,
    ``models_`` (dict arm -> fitted treated model), ``base_learner_`` (the family chosen for the
    ``"auto"`` arguments, ``None`` without any, ``"per_arm"`` when several arms chose differently),
    ``base_learners_`` (arm -> family), ``base_learner_scores_`` (family -> inner cross-validated Qini;
    with several arms arm -> that) and ``control_models_`` (family -> control model).
    """

    def __init__(
        self,
        learner="auto",
        control_learner=None,
        treatment_learner=None,
        control_name=0,
        outcome="auto",
        random_state=None,
        inner_folds=3,
    ):
        self.learner = learner
        self.control_learner = control_learner
        self.treatment_learner = treatment_learner
        self.control_name = control_name
        self.outcome = outcome
        self.random_state = random_state
        self.inner_folds = inner_folds

    _BASE_LEARNER_PARAMS = ("learner", "control_learner", "treatment_learner")

    def _fit(self, X, labels, y):
        control = labels == self.control_name
        c_template = self.control_learner if self.control_learner is not None else self.learner
        template = self.treatment_learner if self.treatment_learner is not None else self.learner
        # one control model per family the arms chose (one in all but the per-arm "auto" case)
        self.control_models_, self._control_key, self.models_ = {}, {}, {}
        for arm in self.treatment_names_:
            key = self._family_key(c_template, arm)
            if key not in self.control_models_:
                self.control_models_[key] = self._new_model(c_template, "outcome", arm).fit(X[control], y[control])
            self._control_key[arm] = key
            rows = labels == arm
            self.models_[arm] = self._new_model(template, "outcome", arm).fit(X[rows], y[rows])
        self.control_model_ = self.control_models_[self._control_key[self.treatment_names_[0]]]

    def _predict_uplift(self, X):
        mu0 = {key: self._predict_outcome(m, X) for key, m in self.control_models_.items()}
        return np.column_stack([self._predict_outcome(self.models_[arm], X) - mu0[self._control_key[arm]]
                                for arm in self.treatment_names_])
