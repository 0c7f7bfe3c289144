"""Uplift modelling: S/T/X meta-learners and Qini / AUUC metrics.

Learners (one module each, modelled on ``causalml.inference.meta``), scikit-learn style:

- :class:`SLearner` (``slearner.py``): one model, treatment indicator as a feature;
- :class:`TLearner` (``tlearner.py``): separate control and treated outcome models;
- :class:`XLearner` (``xlearner.py``): imputed effects, propensity-weighted combination.

All share :class:`~retail_lift.uplift.base.BaseMetaLearner`: ``fit(X, treatment, y)`` with arm
labels in ``treatment`` and one ``control_name``; ``predict_uplift(X)`` returns
``(n, n_arms)`` in the order of ``treatment_names_``; ``predict(X)`` is the 1-D single-arm form.

Metrics (``metrics.py``) follow scikit-uplift's definitions: :func:`qini_curve`,
:func:`uplift_curve`, :func:`perfect_qini_curve`, :func:`perfect_uplift_curve`,
:func:`qini_auc_score`, :func:`uplift_auc_score`, :func:`uplift_at_k`,
:func:`uplift_by_percentile`, plus :func:`qini_auc_from_true_uplift` (the oracle Qini on simulated
data), :func:`qini_oracle_ratio` and :func:`placebo_refutation`.

The warehouse pipeline (``pipeline.py``): :func:`retail_lift.uplift.pipeline.fit_score_uplift` and the
evaluations against a simulated world's truth; ``limits.py``: how much of the oracle any model could
reach there, from the features (:func:`retail_lift.uplift.limits.feature_ceiling`) and from the data
(:func:`retail_lift.uplift.limits.type_revealed`).
"""

from retail_lift.uplift.base import BaseMetaLearner, default_classifier, default_regressor
from retail_lift.uplift.metrics import (
    perfect_qini_curve,
    perfect_uplift_curve,
    placebo_refutation,
    qini_auc_from_true_uplift,
    qini_auc_score,
    qini_curve,
    qini_oracle_ratio,
    uplift_at_k,
    uplift_auc_score,
    uplift_by_percentile,
    uplift_curve,
)
from retail_lift.uplift.slearner import SLearner
from retail_lift.uplift.tlearner import TLearner
from retail_lift.uplift.xlearner import XLearner

__all__ = [
    "BaseMetaLearner",
    "SLearner",
    "TLearner",
    "XLearner",
    "default_classifier",
    "default_regressor",
    "perfect_qini_curve",
    "perfect_uplift_curve",
    "placebo_refutation",
    "qini_auc_from_true_uplift",
    "qini_auc_score",
    "qini_curve",
    "qini_oracle_ratio",
    "uplift_at_k",
    "uplift_auc_score",
    "uplift_by_percentile",
    "uplift_curve",
]
