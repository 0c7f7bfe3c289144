"""Uplift modelling: S/T/X meta-learners and Qini / AUUC metrics.

Learners (one module each, modelled on ``causalml.inference.meta``), scikit-learn style:

- :class:`SLearner` (``slearner.py``): one model, treatment indicator as a feature;
- :class:`TLearner` (``tlearner.py``): separate control and treated outcome models;
- :class:`XLearner` (``xlearner.py``): imputed effects, propensity-weighted combination.

All share :class:`~retail_lift.uplift.base.BaseMetaLearner`: ``fit(X, treatment, y)`` with arm
labels in ``treatment`` and one ``control_name``; ``predict_uplift(X)`` returns
``(n, n_arms)`` in the order of ``treatment_names_``; ``predict(X)`` is the 1-D single-arm form.

Base learners: by default (``"auto"``) each learner chooses its outcome-model family, L2-logistic
regression on standardised features or gradient boosting (:data:`~retail_lift.uplift.base.BASE_FAMILIES`),
by an inner cross-validated Qini on the rows given to ``fit`` (boosting must win by more than one
standard error), records it in ``base_learner_`` / ``base_learner_scores_`` and refits with it;
``"logistic"`` / ``"boosting"`` or an estimator force the choice
(:func:`~retail_lift.uplift.base.inner_cv_select` does the selection). Why: with a fixed boosted family
``TLearner()`` lost to an L2-logistic T-learner on a public e-mail experiment (Qini 0.043 against 0.074);
``bench/uplift_learners.py`` checks the defaults against that baseline on simulations, a committed
fixture and public data.

Metrics (``metrics.py``) follow scikit-uplift's definitions: :func:`qini_curve`,
:func:`uplift_curve`, :func:`perfect_qini_curve`, :func:`perfect_uplift_curve`,
:func:`qini_auc_score`, :func:`uplift_auc_score`, :func:`uplift_at_k`,
:func:`uplift_by_percentile`, plus :func:`qini_auc_from_true_uplift` (the oracle Qini on simulated
data), :func:`qini_oracle_ratio` and :func:`placebo_refutation`.

The warehouse pipeline (``pipeline.py``): :func:`retail_lift.uplift.pipeline.fit_score_uplift` (per
experiment: the learner kind and family chosen inside each cross-fitting training part, so the reported
out-of-fold Qini is not the one that chose, :func:`~retail_lift.uplift.selection.select_uplift_learner`;
a placebo of ``n_placebo`` = 100 label shuffles in the same folds with the pass rule "Qini above the
placebo's 95th percentile"; arms that are empty, have a single outcome value or too few treated
conversions reported "not estimable"), with its model matrix in ``features.py``, its learner selection in
``selection.py`` and its segments and targeting economics in ``economics.py``; ``champion.py`` registers
its fitted learners and scores with the registered champion (train once, score every build).
``ml_uplift_run``'s table
and config are the table layer's (:mod:`retail_lift.tables.uplift`). The evaluations against a simulated
world's truth and the limits of the oracle ratio live in :mod:`retail_lift.evaluation.uplift` and
:mod:`retail_lift.evaluation.uplift_limits` (the family keeps only the algorithms; only the evaluation layer
reads the truth).
"""

from retail_lift.uplift.base import (
    BASE_FAMILIES,
    BaseMetaLearner,
    default_classifier,
    default_regressor,
    inner_cv_select,
    logistic_outcome_learner,
)
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
    "BASE_FAMILIES",
    "BaseMetaLearner",
    "SLearner",
    "TLearner",
    "XLearner",
    "default_classifier",
    "default_regressor",
    "inner_cv_select",
    "logistic_outcome_learner",
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
