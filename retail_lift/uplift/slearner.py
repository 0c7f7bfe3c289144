"""S-learner: one model with the treatment indicator as a feature (as ``causalml``'s ``BaseSLearner``).

For each arm ``k`` a single outcome model ``mu_k(x, w)`` is fitted on the control rows and the rows
of arm ``k``, with the indicator ``w = 1{T = k}`` as an extra first feature. The uplift is

    tau_k(x) = mu_k(x, 1) - mu_k(x, 0)

(probabilities from ``predict_proba`` for a binary outcome). The S-learner shares all data between
the two groups, which makes it stable, but a regularised tree model may ignore ``w`` when the effect
is small relative to the baseline, shrinking the estimated uplift towards 0.
"""

from __future__ import annotations

import numpy as np

from retail_lift.uplift.base import BaseMetaLearner

__all__ = ["SLearner"]


class SLearner(BaseMetaLearner):
    """S-learner (single model, treatment as a feature).

    Args:
        learner: base outcome model (cloned once per arm): ``"auto"`` (default: the family chosen
            by inner cross-validated Qini), ``"logistic"`` / ``"boosting"`` to force one, ``None``
            (= ``"boosting"``) or an estimator template (see :mod:`retail_lift.uplift.base`).
        control_name: the label of the control group in ``treatment`` (default ``0``).
        outcome: ``"auto"``, ``"binary"`` or ``"continuous"``.
        random_state: seed for unseeded base learners and the inner folds.
        inner_folds: folds of the inner cross-validation of ``"auto"`` (default 3).

    Fitted attributes: ``treatment_names_`` (arm labels, column order of ``predict_uplift``),
    ``outcome_``, ``n_features_in_``, ``models_`` (dict arm -> fitted model), ``base_learner_`` and
    ``base_learner_scores_`` (as the T-learner).
    """

    def __init__(self, learner="auto", control_name=0, outcome="auto", random_state=None, inner_folds=3):
        self.learner = learner
        self.control_name = control_name
        self.outcome = outcome
        self.random_state = random_state
        self.inner_folds = inner_folds

    _BASE_LEARNER_PARAMS = ("learner",)

    def _fit(self, X, labels, y):
        self.models_ = {}
        for arm in self.treatment_names_:
            rows = (labels == self.control_name) | (labels == arm)
            w = (labels[rows] == arm).astype(float)
            model = self._new_model(self.learner, "outcome", arm)
            model.fit(np.column_stack([w, X[rows]]), y[rows])
            self.models_[arm] = model

    def _predict_uplift(self, X):
        ones, zeros = np.ones((X.shape[0], 1)), np.zeros((X.shape[0], 1))
        cols = []
        for arm in self.treatment_names_:
            model = self.models_[arm]
            cols.append(
                self._predict_outcome(model, np.hstack([ones, X])) - self._predict_outcome(model, np.hstack([zeros, X]))
            )
        return np.column_stack(cols)
