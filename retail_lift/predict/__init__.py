"""Predictive models: propensity classifiers, their metrics, calibration and fairness.

One module per concern (the dbt Python models in ``python_models/ml/`` are thin wrappers over them):

- ``features.py``: :func:`feature_matrix` / :func:`infer_feature_spec` turn a feature mart
  (``fct_customer_features``, ``fct_customer_category_features``) into model matrices (one-hot or
  native categoricals, deterministic column order) and :func:`check_no_leakage` refuses labels and
  ``*_next_*`` columns as features; :func:`derive_label` builds a 0/1 label from a column.
- ``classifiers.py``: :func:`make_classifier` for ``'logistic'``, ``'xgboost'`` and ``'catboost'``,
  with class balancing and ``CalibratedClassifierCV`` calibration; :func:`fit_with_oof`,
  :func:`feature_importance`.
- ``metrics.py``: :func:`classification_metrics` (ROC AUC, average precision, log loss, Brier, ECE,
  precision / recall / NDCG at k, thresholded F1 and accuracy), :func:`best_f1_threshold`,
  :func:`expected_calibration_error`, and :func:`oracle_metrics` / :func:`oracle_ratio` against the
  simulated world's true probabilities.
- ``train.py``: :func:`train_compare_score`, from a mart to holdout metrics of every model, the chosen
  model refitted on all train rows, its scores and feature importances (:class:`TrainResult`).
- ``drift.py``: :func:`population_stability_index` and :func:`feature_drift` (PSI per feature between
  the training and scoring snapshots, flagged above :data:`PSI_WARNING` = 0.2).
- ``fit_table.py``: :func:`classifier_fit_table`, one classifier trained, compared and scored once and
  stacked into the fit table of fixed schema (:data:`CLASSIFIER_FIT_COLUMNS`; it degrades on small data
  and caps the train rows), and :func:`fairness_table` from a fit table's holdout rows (the table layer,
  :mod:`retail_lift.tables.predict`, runs them for the dbt models).
- ``fairness.py``: :func:`fairness_report`, targeting rate, precision and TPR per group, with the
  demographic-parity and equal-opportunity gaps per attribute, their percentile bootstrap intervals
  (customers resampled within each group, seeded) and the status "too few" below the minimum group size.

Inputs are pandas DataFrames or pyarrow Tables; outputs are DataFrames (or dicts of floats for single
metric sets). Invalid inputs raise ``ValueError`` naming the argument or column.

Threads: xgboost runs on OpenMP (``n_jobs=2`` by default). OpenMP threads spin while they wait at a
barrier; on a small machine shared with other busy processes that spinning steals the very cores the
other thread needs: with a load average of 5 on 2 cores a small 2-thread xgboost fit took 10-15x
longer than a 1-thread fit, and the xgboost step of a 50k-customer comparison 42 s instead of 9 s.
Importing this package therefore sets ``OMP_WAIT_POLICY=PASSIVE`` (threads sleep instead of
spinning) *if the variable is unset*. OpenMP reads it once, when it is first loaded (importing
scikit-learn loads it), so it only takes effect when this package is imported first; set it in the
environment of ``make`` / CI / dbt to be sure.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from retail_lift.predict.classifiers import (
    CALIBRATION_METHODS,
    DEFAULT_CLIP,
    MODEL_KINDS,
    CatBoostNativeClassifier,
    XGBoostClassifier,
    feature_importance,
    fit_with_oof,
    make_classifier,
    predict_probability,
)
from retail_lift.predict.drift import PSI_WARNING, feature_drift, population_stability_index
from retail_lift.predict.fairness import fairness_report
from retail_lift.predict.features import (
    DEFAULT_ID_COLS,
    LABEL_COLUMNS,
    FeatureMatrix,
    FeatureSpec,
    check_no_leakage,
    derive_label,
    feature_matrix,
    infer_feature_spec,
)
from retail_lift.predict.fit_table import (
    CLASSIFIER_FIT_COLUMNS,
    FAIRNESS_COLUMNS,
    LABELLED_ROLES,
    classifier_fit_table,
    fairness_table,
)
from retail_lift.predict.metrics import (
    best_f1_threshold,
    brier_score,
    calibration_table,
    classification_metrics,
    expected_calibration_error,
    log_loss,
    ndcg_at_k,
    oracle_metrics,
    oracle_ratio,
    precision_at_k,
    rank_order,
    recall_at_k,
    threshold_metrics,
)
from retail_lift.predict.train import (
    OUT_OF_TIME_ROLES,
    NoPositiveLabelsError,
    TrainResult,
    customer_holdout_split,
    cv_splits,
    train_compare_score,
)

__all__ = [
    "CLASSIFIER_FIT_COLUMNS",
    "FAIRNESS_COLUMNS",
    "LABELLED_ROLES",
    "CALIBRATION_METHODS",
    "DEFAULT_CLIP",
    "DEFAULT_ID_COLS",
    "LABEL_COLUMNS",
    "MODEL_KINDS",
    "OUT_OF_TIME_ROLES",
    "PSI_WARNING",
    "NoPositiveLabelsError",
    "CatBoostNativeClassifier",
    "FeatureMatrix",
    "FeatureSpec",
    "TrainResult",
    "XGBoostClassifier",
    "best_f1_threshold",
    "brier_score",
    "calibration_table",
    "check_no_leakage",
    "classifier_fit_table",
    "classification_metrics",
    "customer_holdout_split",
    "cv_splits",
    "derive_label",
    "expected_calibration_error",
    "fairness_table",
    "fairness_report",
    "feature_drift",
    "feature_importance",
    "feature_matrix",
    "fit_with_oof",
    "infer_feature_spec",
    "log_loss",
    "make_classifier",
    "ndcg_at_k",
    "oracle_metrics",
    "oracle_ratio",
    "population_stability_index",
    "precision_at_k",
    "predict_probability",
    "rank_order",
    "recall_at_k",
    "threshold_metrics",
    "train_compare_score",
]
