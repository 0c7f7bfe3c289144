"""From randomized experiments to uplift scores, segments and the economics of targeting.

:func:`fit_score_uplift` takes the warehouse's uplift training table (``fct_uplift_training_exposures``:
one row per experiment exposure with a closed attribution window, its arm, its outcome and the
customer's state strictly before the assignment) and scoring table (``fct_uplift_scoring_customers``:
every customer's state before the score cutoff, same feature definitions) and returns an
:class:`UpliftResult` with five tables:

``scores``
    one row per customer x arm: ``predicted_uplift``, ``predicted_control_probability`` (from the
    control-outcome model), ``predicted_treated_probability`` (``clip(p0 + uplift, 0, 1)``),
    ``uplift_rank`` and ``propensity_rank`` (1 = first to target) and the ``segment``.
``holdout_predictions``
    one row per evaluated exposure x arm it is compared in (the arm's own treated exposures and the
    experiment's control exposures): the exposure key, ``is_treated``, the outcome, the cross-fitting
    ``fold``, the out-of-fold ``predicted_uplift`` and the ``learner`` / ``base_learner`` that the
    fold's own nested selection chose (fitted without the exposure's fold). With cross-fitting every
    exposure of a modelled arm is evaluated; with ``n_folds=None`` only the holdout.
``metrics``
    one row per arm x learner x base learner x metric. The selected learner's rows
    (``is_selected_learner``): ``qini_auc``, ``uplift_auc``, ``uplift_at_10`` ... (one per
    ``k_fractions``) and ``observed_uplift`` on the nested out-of-fold predictions,
    ``placebo_qini_mean`` / ``placebo_qini_sd`` / ``placebo_qini_p95``, ``n_placebo``, ``placebo_pass``
    (1 / 0), ``selection_agreement`` (share of the outer folds whose own selection chose the same
    learner and family as the scoring learner, which is the folds' majority choice), ``n_treated`` /
    ``n_control``; every candidate's ``inner_qini`` (its inner cross-validated Qini in the folds'
    training parts, averaged over the folds). ``status`` rows (``learner`` NULL)
    say why an arm was not estimated (``note``: "not estimable: ..." or "experiment dropped: ...");
    ``placebo_status`` rows say when an arm's Qini is not above the placebo's 95th percentile.
``segments``
    one row per arm x segment (persuadables, sure things, lost causes, do-not-disturbs).
``incremental_roi``
    one row per arm x strategy (``uplift``, ``propensity``, ``everyone``) x share targeted.

Design choices
--------------
* **Sample-ratio mismatch.** An experiment whose users per variant do not match its planned split
  (:func:`retail_lift.experiments.srm_test`, chi-square ``p < 0.001``, the same test and threshold as
  ``ml_experiment_results``) is dropped before anything is fitted: the mismatch means exposures were
  lost non-randomly, so its treated and control groups are no longer comparable. The test runs in
  Python because portable SQL has no chi-square distribution function; pass ``srm`` (the rows of
  ``fct_experiment_srm``) to enable it.
* **One multi-arm learner per experiment, on its own control.** Arms are only randomized against
  the control of their own experiment (experiments ran at different times, on different customers),
  so each experiment gets its own learner, fitted on its control and arms. An arm tested in several
  experiments is scored by the experiment with the most treated exposures of that arm.
* **Cross-fitting and nested learner selection.** Per experiment the exposures are split into
  ``n_folds`` folds (default 5, stratified by variant and outcome). In each fold, **each arm's learner is
  chosen using the other folds' exposures of that arm and the control only** (:func:`select_uplift_learner`;
  arms of one experiment may choose differently): every candidate (kind x
  family: ``learner="auto"`` compares the X- and the T-learner, ``base_learner="auto"`` L2-logistic and
  gradient-boosted outcome models, so four candidates) is scored by an inner ``inner_folds``-fold
  cross-validation (default 3) of the fold's training part, by the Qini coefficient of its pooled inner
  out-of-fold predictions. The winner is the simplest candidate whose score is within
  :data:`~retail_lift.uplift.base.SELECTION_N_SE` (1.645) standard errors (paired bootstrap of the
  difference, ``n_bootstrap`` resamples) of the best (:func:`retail_lift.uplift.base.inner_cv_select`),
  with the order T-logistic, X-logistic, T-boosting, X-boosting: a second model stage, then a more
  flexible family, must show a gain whose one-sided 95 % lower bound is above 0 (with one standard
  error, boosting won by chance on 10-30 % of the splits of noisy simulations and then lost out of
  sample). The winner is fitted on the whole training part
  and predicts the fold's exposures. So **every participant gets an out-of-fold prediction from a learner that was
  neither chosen nor fitted with it**, and the reported ``qini_auc`` (on all of them, pooled into one
  ranking) evaluates the whole procedure "select, then fit": it is not the score that made any choice.
  What is nested: the choice of kind and family and the fit. What is not: the candidate set, the
  hyper-parameters of each family (fixed: ``C=0.1``; the boosting settings of
  :func:`retail_lift.uplift.default_classifier`), the features and the fold design. The scoring learner
  is the (kind, family) **most folds chose** (a tie goes to the simpler), refitted on all of the
  experiment's exposures of the arm and the control; ``selection_agreement`` is the share of folds that
  chose it and the ``inner_qini`` rows are each candidate's inner score averaged over the folds. (A new
  selection on all rows could pick a learner that no fold chose and whose out-of-fold Qini was never
  measured; it also cost a fifth more fits.) A forced ``learner`` and ``base_learner`` (one candidate) skip the inner
  cross-validation. ``n_folds=None`` restores the single split: a stratified ``holdout`` share is held
  out, the selection runs on the rest and the holdout is predicted (``refit``: that choice refitted on all rows).
* **Base learners.** ``base_learner``: ``"auto"`` (default, chosen as above), ``"logistic"``
  (:func:`logistic_outcome_learner`: L2-penalised ``LogisticRegression(C=0.1)`` on standardised
  features) or ``"boosting"`` (the package's regularised gradient boosting,
  :func:`retail_lift.uplift.default_classifier`) to force a family. On a public randomised e-mail
  experiment the boosted T-learner lost to the logistic one (Qini 0.043 against 0.074) while on
  nonlinear effects boosting wins, so neither is a safe fixed choice (``bench/uplift_learners.py``).
  The X-learner's stage-2 effect models regress very noisy imputed effects (``y - mu0(x)`` is 0/1
  minus a probability); a linear ridge regression on standardised features with its penalty chosen by
  cross-validation (``RidgeCV``) ranks better out of sample than a boosted regressor on these data,
  so it is the effect model of both families here (and costs a fraction of a boosted one). The
  X-learner's propensity is the known randomization share of each arm (treated rows of the arm / (its
  treated rows + control rows)), not an estimate.
* **Arms that cannot be estimated.** An arm is reported "not estimable" (a ``status`` row with the
  reason in ``note``) and the experiment's other arms go on when: it is empty (known from an exposure
  without an outcome or from ``srm``, but without a row with an outcome), every outcome of the arm is
  equal, it has fewer than ``min_treated_conversions`` conversions (default 10) or fewer than
  ``min_group_size`` exposures (default 20), or a cross-fitting training part lacks one of its
  outcomes. An empty control group, or one with a single outcome value or too few rows, makes every
  arm of the experiment not estimable.
* **Features.** :data:`CATEGORICAL_FEATURES` are one-hot encoded over the categories seen in the
  training and scoring tables (a NULL is all zeros); :data:`NUMERIC_FEATURES` are used with
  ``log1p`` on counts and amounts, recency in days capped at :data:`RECENCY_CAP_DAYS` (NULL, i.e.
  never, is the cap), NULL tenure and discount share as 0. Only these columns are read: the outcome,
  the arm and the keys never enter a feature. ``extra_features`` (of :func:`fit_score_uplift` and
  :func:`build_features`) appends further numeric columns of both tables as they are (NULL is 0):
  a score from another system, or, in ``bench/uplift_ceiling.py``, the simulated world's hidden
  uplift type to measure what the learner makes of this many exposures when a feature reveals it.
* **Placebo.** Per arm, the labels of the arm's and the control's modelled exposures are permuted
  ``n_placebo`` times (default 100; in ``placebo_jobs`` processes, the same result); each time the arm's
  selected learner, with its kind and family fixed (no inner selection
  per shuffle, which would multiply the cost by the candidates x inner folds), is refitted in the same
  cross-fitting folds and its pooled out-of-fold Qini measured against the permuted labels, exactly
  as the real ``qini_auc``. The placebo treatment has no effect on anyone, so these Qinis are the
  distribution of what the procedure finds in noise. **Pass rule: the real out-of-fold Qini is above
  the 95th percentile of the placebo Qinis** (``placebo_pass``; a one-sided permutation test at 5 %
  for the fixed learner). The real Qini also went through the selection, the placebo's did not, so the
  test is slightly lenient towards the model.
* **Threads.** Scoring runs under ``threadpoolctl.threadpool_limits(n_threads)`` (default 2), and so do the
  fits of an experiment with at least :data:`THREADED_FIT_MIN_ROWS` (100,000) exposures; smaller experiments
  and the placebo runs fit single-threaded. On the tiny world two threads made ``ml_uplift_run`` 10x slower
  (222 s against 20 s of CPU, on a machine with other jobs): on a few thousand rows the second OpenMP thread
  mostly waits, spinning. ``placebo_jobs`` (default 1) runs the placebo shuffles in that many processes.

Segments (:data:`SEGMENTS`)
---------------------------
From the predicted uplift ``u`` and predicted control probability ``p0`` of each customer x arm,
with ``uplift_threshold`` ``t_u`` (default 0.01: one percentage point of conversion probability) and
``control_probability_threshold`` ``t_p`` (default: the conversion rate of the experiment's control
group, i.e. "buys more often than the average customer without a promotion")::

    persuadable      u >= t_u                 the promotion makes a purchase likelier
    do_not_disturb   u <= -t_u                the promotion makes a purchase less likely
    sure_thing       |u| < t_u and p0 >= t_p  buys anyway
    lost_cause       |u| < t_u and p0 <  t_p  does not buy either way

Each segment's row gives its size, share of the scored customers, its sum of predicted uplift
(``predicted_incremental_conversions``) and that sum's share of the arm's total (shares add up to 1;
a do-not-disturb share is negative).

Economics (``incremental_roi``)
-------------------------------
The per-customer arithmetic of :func:`retail_lift.campaign.targeting.expected_economics` with
``p = predicted_treated_probability``, ``baseline_probability = predicted_control_probability``, the
arm's ``discount_rate`` ``d`` and ``contact_cost`` ``c`` (from ``promotions``), the gross
``margin_rate`` ``m`` and the order value at full price ``v`` = mean revenue in the attribution window
of the experiment's converting control exposures (no discount in control)::

    expected_incremental_conversions = sum(p - p0)
    expected_incremental_revenue     = sum(p * v * (1 - d) - p0 * v)
    expected_discount_cost           = sum(p * v * d)        paid on every treated purchase
    expected_contact_cost            = n * c
    expected_incremental_margin      = sum((p - p0) * v * m) - discount cost - contact cost

Strategies: ``uplift`` targets the top ``k`` share of customers by predicted uplift, ``propensity`` the
top ``k`` by predicted treated probability (the classic "likely buyers" list, which also picks sure
things that buy anyway and collect the discount), ``everyone`` all customers (``k = 1``).

Evaluation on simulated data
----------------------------
:func:`retail_lift.evaluation.uplift.evaluate_uplift_against_truth` and
:func:`~retail_lift.evaluation.uplift.evaluate_targeting_against_truth` compare the outputs with the
simulated world's known effects; they live in the evaluation layer, and nothing in this module can see
the truth (``make lint``). The helpers they share with this module (:func:`require_columns`,
:func:`safe_score`, :func:`typed_table`, :func:`promotion_terms`, :func:`economics_rows`,
:func:`top_k_mask`, :func:`input_frame`) are public for that reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from retail_lift.campaign.targeting import expected_economics
from retail_lift.experiments.srm import srm_test
from retail_lift.uplift.base import (
    BASE_FAMILIES,
    inner_cv_select,
    linear_regressor,
    logistic_outcome_learner,
)
from retail_lift.uplift.metrics import (
    qini_auc_score,
    uplift_at_k,
    uplift_auc_score,
)
from retail_lift.uplift.slearner import SLearner
from retail_lift.uplift.tlearner import TLearner
from retail_lift.uplift.xlearner import XLearner

__all__ = [
    "BASE_LEARNERS",
    "CATEGORICAL_FEATURES",
    "NUMERIC_FEATURES",
    "SEGMENTS",
    "STRATEGIES",
    "SelectedLearner",
    "UpliftResult",
    "build_features",
    "select_uplift_learner",
    "logistic_outcome_learner",
    "srm_experiments",
    "assign_segments",
    "fit_score_uplift",
    "uplift_run_table",
]

CATEGORICAL_FEATURES = ("age_band", "gender", "region", "acquisition_channel", "device_preference")
NUMERIC_FEATURES = (
    "follows_page", "heard_of_shop", "tenure_days",
    "orders_before", "orders_30d", "orders_90d", "revenue_before", "revenue_30d", "revenue_90d",
    "discounted_order_share", "days_since_last_order",
    "sessions_30d", "sessions_90d", "views_30d", "views_90d", "carts_30d", "carts_90d",
    "days_since_last_visit",
)
_LOG_FEATURES = (
    "orders_before", "orders_30d", "orders_90d", "revenue_before", "revenue_30d", "revenue_90d",
    "sessions_30d", "sessions_90d", "views_30d", "views_90d", "carts_30d", "carts_90d",
)
_RECENCY_FEATURES = ("days_since_last_order", "days_since_last_visit")
#: Recency features (days since the last order / visit) are capped here; "never" is the cap.
RECENCY_CAP_DAYS = 365.0

SEGMENTS = ("persuadable", "sure_thing", "lost_cause", "do_not_disturb")
STRATEGIES = ("uplift", "propensity", "everyone")
LEARNERS = ("t", "x", "s")

_TRAINING_COLUMNS = ("exposure_id", "experiment_id", "customer_id", "variant", "is_control", "is_converted")


# ----------------------------------------------------------------------------------------------
# result container
# ----------------------------------------------------------------------------------------------


SCORE_COLUMNS = [
    "customer_id", "promotion_id", "experiment_id", "learner", "base_learner", "predicted_uplift",
    "predicted_control_probability", "predicted_treated_probability", "uplift_rank", "propensity_rank",
    "segment",
]
HOLDOUT_COLUMNS = [
    "exposure_id", "promotion_id", "customer_id", "experiment_id", "variant", "is_treated", "is_converted",
    "revenue", "learner", "base_learner", "fold", "predicted_uplift", "predicted_control_probability",
]
METRIC_COLUMNS = [
    "experiment_id", "promotion_id", "learner", "base_learner", "metric_name", "metric_value", "is_selected_learner",
    "note",
]
SEGMENT_COLUMNS = [
    "promotion_id", "experiment_id", "segment", "customers", "share_of_customers",
    "predicted_incremental_conversions", "share_of_predicted_incremental_conversions",
    "mean_predicted_uplift", "mean_predicted_control_probability", "uplift_threshold",
    "control_probability_threshold",
]
EVALUATION_COLUMNS = [
    "experiment_id", "promotion_id", "learner", "evaluation_method", "n_treated", "n_control", "model_qini",
    "oracle_qini",
    "qini_oracle_ratio", "ratio_ci_low", "ratio_ci_high", "true_gain_ratio", "pearson_correlation",
    "spearman_correlation", "mean_predicted_uplift", "mean_true_uplift", "target_ratio", "meets_target",
]
TARGETING_COLUMNS = [
    "promotion_id", "experiment_id", "strategy", "k_fraction", "customers_targeted",
    "true_incremental_conversions", "true_incremental_revenue", "true_discount_cost", "true_contact_cost",
    "true_incremental_margin", "discount_rate", "contact_cost", "margin_rate", "margin_vs_propensity",
    "expected_incremental_conversions", "expected_incremental_margin",
]
ROI_COLUMNS = [
    "promotion_id", "experiment_id", "strategy", "k_fraction", "customers_targeted",
    "expected_incremental_conversions", "expected_incremental_revenue", "expected_discount_cost",
    "expected_contact_cost", "expected_incremental_margin", "value_per_conversion", "discount_rate",
    "contact_cost", "margin_rate",
]

#: Column types of the long table of :meth:`UpliftResult.to_long` (pandas nullable dtypes).
_LONG_TYPES = {
    "table_name": "string", "customer_id": "string", "exposure_id": "string", "promotion_id": "string",
    "experiment_id": "string", "variant": "string", "learner": "string", "base_learner": "string",
    "segment": "string",
    "evaluation_method": "string", "fold": "Int64",
    "strategy": "string", "metric_name": "string", "note": "string",
    "is_treated": "boolean", "is_converted": "boolean", "is_selected_learner": "boolean",
    "uplift_rank": "Int64", "propensity_rank": "Int64", "customers": "Int64", "customers_targeted": "Int64",
    "n_treated": "Int64", "n_control": "Int64", "meets_target": "boolean",
}


def _arrow_types() -> dict:
    import pyarrow as pa

    return {"string": pa.string(), "Int64": pa.int64(), "boolean": pa.bool_(), "float64": pa.float64()}


class _LazyArrowTypes(dict):
    def __missing__(self, key):
        self.update(_arrow_types())
        return dict.__getitem__(self, key)


_ARROW_TYPES = _LazyArrowTypes()


def _arrow_column(s: pd.Series, dtype: str, arrow_type):
    """One column of :meth:`UpliftResult.to_arrow`: the values :func:`typed_table` gives, as Arrow (NaN -> null)."""
    import pyarrow as pa

    if dtype == "float64":
        values = s.to_numpy() if s.dtype == np.float64 else \
            pd.to_numeric(s, errors="coerce").astype("float64").to_numpy()
        return pa.array(values, type=arrow_type, from_pandas=True)
    if dtype == "string" and s.dtype == object:
        try:  # str values (and None / NaN) convert as they are; anything else as typed_table converts it
            return pa.array(s.to_numpy(), type=arrow_type, from_pandas=True)
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            pass
    return pa.array(s.astype(dtype), type=arrow_type, from_pandas=True)


def typed_table(df: pd.DataFrame) -> pd.DataFrame:
    """Columns cast to the nullable types of :data:`_LONG_TYPES` (float64 otherwise), so that an empty
    table still has typed columns when a dbt model writes it."""
    out = df.copy()
    for col in out.columns:
        dtype = _LONG_TYPES.get(col, "float64")
        if dtype == "float64":
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
        elif dtype == "string":
            out[col] = out[col].astype("string")
        else:
            out[col] = out[col].astype(dtype)
    return out


@dataclass(frozen=True)
class UpliftResult:
    """The five output tables of :func:`fit_score_uplift` (columns: the ``*_COLUMNS`` lists)."""

    scores: pd.DataFrame
    holdout_predictions: pd.DataFrame
    metrics: pd.DataFrame
    segments: pd.DataFrame
    incremental_roi: pd.DataFrame

    TABLES = ("scores", "holdout_predictions", "metrics", "segments", "incremental_roi")

    def to_long(self) -> pd.DataFrame:
        """All five tables stacked into one, with a ``table_name`` column and the union of their columns.

        A dbt Python model returns one table; ``ml_uplift_run`` returns this one and SQL models select
        each table back out of it (``where table_name = 'scores'``), so the learners are trained once.
        Columns a table does not have are NULL in its rows.
        """
        columns = ["table_name"]
        for name in self.TABLES:
            columns += [c for c in getattr(self, name).columns if c not in columns]
        parts = []
        for name in self.TABLES:
            part = getattr(self, name).copy()
            part.insert(0, "table_name", name)
            parts.append(part.reindex(columns=columns))
        return typed_table(pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True))

    def to_arrow(self):
        """:meth:`to_long` as a ``pyarrow.Table`` (same columns, same types; NaN and missing values are
        nulls, as when the warehouse reads the pandas table), built table by table and column by column,
        without the wide intermediate pandas frames of :meth:`to_long` (the ``scores`` table has one row
        per customer x arm)."""
        import pyarrow as pa

        columns = ["table_name"]
        for name in self.TABLES:
            columns += [c for c in getattr(self, name).columns if c not in columns]
        schema = pa.schema([(c, _ARROW_TYPES[_LONG_TYPES.get(c, "float64")]) for c in columns])
        parts = []
        for name in self.TABLES:
            df = getattr(self, name)
            n = len(df)
            if not n:
                continue
            arrays = []
            for col, field in zip(columns, schema, strict=True):
                if col == "table_name":
                    arrays.append(pa.array(np.full(n, name, dtype=object), type=field.type))
                elif col not in df.columns:
                    arrays.append(pa.nulls(n, type=field.type))
                else:
                    arrays.append(_arrow_column(df[col], _LONG_TYPES.get(col, "float64"), field.type))
            parts.append(pa.Table.from_arrays(arrays, schema=schema))
        return pa.concat_tables(parts) if parts else schema.empty_table()


# ----------------------------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------------------------


def require_columns(df: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{name} is missing column(s) {', '.join(missing)}; found {', '.join(map(str, df.columns))}")


def _category_codes(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    """``(codes, categories)`` of a column read as strings (``astype("string")``): ``categories`` are the
    distinct non-null values as str, ``codes`` index them (-1 = NULL). A categorical column (the Arrow
    dictionary path) is read through its codes, without a string per row."""
    cat = s.array if isinstance(s.dtype, pd.CategoricalDtype) else pd.Categorical(s)
    names = [str(c) for c in cat.categories]
    uniq = sorted(set(names))
    if len(uniq) == len(names) and uniq == names:
        return np.asarray(cat.codes, dtype=np.int64), names
    remap = np.array([uniq.index(n) for n in names] + [-1], dtype=np.int64)  # categories equal as str
    return remap[np.asarray(cat.codes, dtype=np.int64)], uniq


def _feature_levels(*frames: pd.DataFrame) -> dict[str, list[str]]:
    """The sorted levels of every categorical feature over ``frames`` (as :func:`build_features`)."""
    levels = {}
    for col in CATEGORICAL_FEATURES:
        seen: set = set()
        for frame in frames:
            seen.update(_category_codes(frame[col])[1])
        levels[col] = sorted(seen)
    return levels


def _feature_names(levels: Mapping[str, list[str]], extra: Sequence[str] = ()) -> list[str]:
    return (list(NUMERIC_FEATURES) + [f"{col}={lv}" for col in CATEGORICAL_FEATURES for lv in levels[col]]
            + list(extra))


def _check_extra_features(extra_features: Sequence[str]) -> tuple[str, ...]:
    """``extra_features`` as a tuple of distinct column names that are not already features."""
    if isinstance(extra_features, str):
        raise ValueError(f"extra_features must be a sequence of column names, got the string {extra_features!r}")
    extra = tuple(str(c) for c in extra_features)
    clash = sorted(set(extra) & set(FEATURES))
    if clash:
        raise ValueError(f"extra_features {', '.join(clash)} are already features of the model "
                         "(CATEGORICAL_FEATURES / NUMERIC_FEATURES)")
    repeated = sorted({c for c in extra if extra.count(c) > 1})
    if repeated:
        raise ValueError(f"extra_features names {', '.join(repeated)} more than once")
    return extra


def _feature_matrix(frame: pd.DataFrame, levels: Mapping[str, list[str]], extra: Sequence[str] = (),
                    name: str = "frame") -> np.ndarray:
    """The float model matrix of ``frame`` (columns :func:`_feature_names`), filled column by column."""
    n = len(frame)
    # column-major, like the matrix of the consolidated DataFrame of build_features: the BLAS products of
    # the learners then add in the same order, so the scores do not change in the last bit
    out = np.zeros((n, len(_feature_names(levels, extra))), dtype=float, order="F")
    for j, col in enumerate(NUMERIC_FEATURES):
        v = pd.to_numeric(frame[col], errors="coerce").astype(float).to_numpy()
        if col in _RECENCY_FEATURES:
            v = np.clip(np.where(np.isnan(v), RECENCY_CAP_DAYS, v), 0.0, RECENCY_CAP_DAYS)
        v = np.where(np.isnan(v), 0.0, v)
        if col in _LOG_FEATURES:
            v = np.log1p(np.clip(v, 0.0, None))
        out[:, j] = v
    j = len(NUMERIC_FEATURES)
    for col in CATEGORICAL_FEATURES:
        codes, names = _category_codes(frame[col])
        position = {lv: i for i, lv in enumerate(levels[col])}
        to_level = np.array([position[nm] for nm in names] + [-1], dtype=np.int64)[codes]
        for i in range(len(levels[col])):
            out[:, j + i] = to_level == i
        j += len(levels[col])
    for col in extra:
        raw = frame[col]
        v = pd.to_numeric(raw, errors="coerce").astype(float).to_numpy()
        bad = np.isnan(v) & raw.notna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name}: extra feature {col!r} is not numeric at row {i} ({raw.iloc[i]!r})")
        out[:, j] = np.where(np.isnan(v), 0.0, v)
        j += 1
    return out


def build_features(training: pd.DataFrame, scoring: pd.DataFrame,
                   extra_features: Sequence[str] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The model matrices of the training and scoring rows, encoded identically.

    Reads only :data:`CATEGORICAL_FEATURES`, :data:`NUMERIC_FEATURES` and ``extra_features`` (numeric
    columns appended as they are, NULL as 0; see the module docstring for the transformations);
    returns two float DataFrames with the same columns, row order preserved.
    """
    extra = _check_extra_features(extra_features)
    features = list(CATEGORICAL_FEATURES) + list(NUMERIC_FEATURES) + list(extra)
    require_columns(training, "training", features)
    require_columns(scoring, "scoring", features)
    levels = _feature_levels(training, scoring)
    names = _feature_names(levels, extra)
    return tuple(pd.DataFrame(_feature_matrix(frame, levels, extra, label), columns=names)
                 for frame, label in ((training, "training"), (scoring, "scoring")))


FEATURES = list(CATEGORICAL_FEATURES) + list(NUMERIC_FEATURES)


def input_frame(data, name: str, required: Sequence[str], optional: Sequence[str] = ()) -> pd.DataFrame:
    """A pandas DataFrame from a DataFrame (as it is), an Arrow table or a DuckDB relation.

    From Arrow / a relation only ``required`` and the present ``optional`` columns are read, one column at
    a time, and the string columns of :data:`CATEGORICAL_FEATURES` become pandas categoricals (a code per
    row instead of a Python string per row): at a million customers the full table as pandas objects
    takes several GiB.
    """
    if isinstance(data, pd.DataFrame):
        return data
    import pyarrow as pa

    if not isinstance(data, pa.Table):
        if not hasattr(data, "to_arrow_table"):
            raise ValueError(f"{name} must be a pandas DataFrame, a pyarrow Table or a DuckDB relation, "
                             f"got {type(data).__name__}")
        present = set(data.columns)
        cols = [c for c in dict.fromkeys([*required, *optional]) if c in present]
        if set(required) <= present:
            data = data.select(*[f'"{c}"' for c in cols])
        data = data.to_arrow_table()
    missing = [c for c in required if c not in data.column_names]
    if missing:
        raise ValueError(f"{name} is missing column(s) {', '.join(missing)}; found {', '.join(data.column_names)}")
    out = {}
    for col in dict.fromkeys([*required, *[c for c in optional if c in data.column_names]]):
        arr = data.column(col)
        if col in CATEGORICAL_FEATURES and (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            arr = arr.dictionary_encode()
        out[col] = arr.to_pandas()
    return pd.DataFrame(out)


def srm_experiments(srm: pd.DataFrame | None, threshold: float = 0.001) -> dict[str, float]:
    """``{experiment_id: p_value}`` of the experiments with a sample-ratio mismatch (``p < threshold``).

    ``srm`` has the columns of ``fct_experiment_srm`` (``experiment_id``, ``observed_users``,
    ``planned_share``); planned variants only (``planned_share > 0``) are tested, as in
    ``ml_experiment_results``. A variant assigned but not planned is itself a mismatch (p = 0).
    """
    if srm is None:
        return {}
    require_columns(srm, "srm", ["experiment_id", "observed_users", "planned_share"])
    flagged = {}
    for exp_id, g in srm.groupby("experiment_id", sort=True):
        unplanned = g["planned_share"].isna() & (g["observed_users"] > 0)
        if unplanned.any():
            flagged[str(exp_id)] = 0.0
            continue
        g = g[g["planned_share"].notna() & (g["planned_share"] > 0)]
        if len(g) < 2 or g["observed_users"].sum() == 0:
            continue
        res = srm_test(g["observed_users"].to_numpy(float), g["planned_share"].to_numpy(float), threshold=threshold)
        if res.is_srm:
            flagged[str(exp_id)] = float(res.p_value)
    return flagged


def _number_or_zero(value) -> float:
    """A finite float, or 0 for a missing / NULL / NaN value."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return 0.0
    return value if np.isfinite(value) else 0.0


def promotion_terms(promotions: Mapping | pd.DataFrame | None, arm: str) -> tuple[float, float]:
    """``(discount_rate, contact_cost)`` of ``arm``; 0 for an arm (or a value) that is not given."""
    if promotions is None:
        return 0.0, 0.0
    if isinstance(promotions, pd.DataFrame):
        require_columns(promotions, "promotions", ["promotion_id", "discount_rate", "contact_cost"])
        row = promotions[promotions["promotion_id"] == arm]
        if row.empty:
            return 0.0, 0.0
        return _number_or_zero(row["discount_rate"].iloc[0]), _number_or_zero(row["contact_cost"].iloc[0])
    terms = promotions.get(arm) or {}
    return _number_or_zero(terms.get("discount_rate")), _number_or_zero(terms.get("contact_cost"))


# ----------------------------------------------------------------------------------------------
# learners
# ----------------------------------------------------------------------------------------------


def default_effect_learner():
    """The X-learner's stage-2 effect model of the logistic family: standardised ridge, penalty by cross-validation."""
    return linear_regressor()


#: Outcome-model families of :func:`fit_score_uplift` (``base_learner``; ``"auto"`` chooses among them).
BASE_LEARNERS = BASE_FAMILIES


def _make_learner(kind: str, control: str, propensity: dict, random_state, base_learner: str = "boosting"):
    """One meta-learner of ``kind`` (t, x, s) with the outcome models of the family ``base_learner`` forced (no
    inner selection: the pipeline selects itself, see :func:`_select`); the X-learner's effect models are
    always the standardised ridge (:func:`default_effect_learner`)."""
    if kind == "t":
        return TLearner(learner=base_learner, control_name=control, random_state=random_state)
    if kind == "x":
        return XLearner(outcome_learner=base_learner, effect_learner=default_effect_learner(),
                        propensity=dict(propensity), control_name=control, random_state=random_state)
    return SLearner(learner=base_learner, control_name=control, random_state=random_state)


def _candidates(learner: str, base_learner: str) -> list[tuple[str, str]]:
    """The (kind, family) pairs compared by the nested selection, in tie-break order."""
    kinds = ["x", "t"] if learner == "auto" else [learner]
    families = list(BASE_FAMILIES) if base_learner == "auto" else [base_learner]
    return [(k, f) for f in families for k in kinds]


def _complexity(kind: str, family: str) -> int:
    """Order of the one-standard-error rule of the selection, simplest first: the T-learner (two outcome
    models) before the X-learner (a second, effect-model stage) before the S-learner, logistic before
    boosting: t_logistic, x_logistic, s_logistic, t_boosting, x_boosting, s_boosting."""
    return 3 * BASE_FAMILIES.index(family) + "txs".index(kind)


def _select(candidates, X, labels, y, rows, control, arms, inner_folds, random_state,
            n_bootstrap: int = 100) -> tuple[tuple, dict]:
    """The (kind, family) with the best inner cross-validated Qini on ``rows`` only, and every candidate's
    inner cross-validated Qini (:func:`retail_lift.uplift.base.inner_cv_select`; one candidate: no selection)."""
    if len(candidates) == 1:
        return candidates[0], {}
    lab = labels[rows]
    prop = {arm: float((lab == arm).sum() / max(1, (lab == arm).sum() + (lab == control).sum())) for arm in arms}

    def factory(kind, family):
        return lambda: _make_learner(kind, control, prop, random_state, family)

    sel = inner_cv_select({c: factory(*c) for c in candidates}, X[rows], lab, y[rows], control,
                          n_folds=inner_folds, random_state=random_state,
                          complexity={c: _complexity(*c) for c in candidates}, n_bootstrap=n_bootstrap)
    return sel.best, dict(sel.scores)


@dataclass(frozen=True)
class SelectedLearner:
    """The learner :func:`select_uplift_learner` chose and fitted: ``kind`` (t, x, s), ``base_learner`` (the
    outcome-model family), the fitted ``model`` and ``inner_scores`` ((kind, family) -> inner cross-validated Qini;
    empty when there was a single candidate)."""

    kind: str
    base_learner: str
    model: object
    inner_scores: dict


def select_uplift_learner(X, labels, y, control, *, learner: str = "auto", base_learner: str = "auto",
                          inner_folds: int = 3, random_state: int | None = 0, rows=None,
                          n_bootstrap: int = 100) -> SelectedLearner:
    """The warehouse's learner on the given rows: choose (kind, family) by inner cross-validated Qini on
    ``rows`` only, then fit it on those rows.

    This is what :func:`fit_score_uplift` does in every cross-fitting training part (nested selection;
    the scoring learner is then the folds' majority choice refitted on all exposures): the candidates are
    the X- and the T-learner
    (``learner="auto"``, else the one given) with L2-logistic and gradient-boosted outcome models
    (``base_learner="auto"``, else the one given); the X-learner's effect models are the standardised
    ridge and its propensity the known share of the arm in ``rows``.

    Args:
        X: 2-D float feature matrix; labels: arm label per row; y: 0/1 outcome; control: the control label.
        learner, base_learner: as in :func:`fit_score_uplift`.
        inner_folds: folds of the inner cross-validation (>= 2).
        random_state: seed of the inner folds and the learners.
        rows: row indices to use (default all).
        n_bootstrap: paired bootstrap resamples of the inner out-of-fold predictions for the standard error
            of the selection rule (:func:`retail_lift.uplift.base.inner_cv_select`).
    """
    X = np.asarray(X, dtype=float)
    labels = np.asarray(labels).astype(str)
    y = np.asarray(y).astype(int)
    control = str(control)
    rows = np.arange(labels.size) if rows is None else np.asarray(rows)
    if learner != "auto" and learner not in LEARNERS:
        raise ValueError(f"learner must be 'auto' or one of {list(LEARNERS)}, got {learner!r}")
    if base_learner != "auto" and base_learner not in BASE_LEARNERS:
        raise ValueError(f"base_learner must be 'auto' or one of {list(BASE_LEARNERS)}, got {base_learner!r}")
    lab = labels[rows]
    arms = sorted(set(lab.tolist()) - {control})
    (kind, family), scores = _select(_candidates(learner, base_learner), X, labels, y, rows, control, arms,
                                     inner_folds, random_state, n_bootstrap)
    model = _fit_learner((kind, family), X, labels, y, control, rows, random_state)
    return SelectedLearner(kind, family, model, scores)


def _majority_choice(choices: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """The (kind, family) chosen by most folds; a tie goes to the simpler (:func:`_complexity`)."""
    counts: dict = {}
    for c in choices:
        counts[c] = counts.get(c, 0) + 1
    return min(counts, key=lambda c: (-counts[c], _complexity(*c)))


def _mean_inner_scores(per_fold: Sequence[Mapping]) -> dict:
    """Every candidate's inner cross-validated Qini averaged over the folds (NaN scores left out)."""
    out = {}
    for key in dict.fromkeys(k for scores in per_fold for k in scores):
        values = [float(s[key]) for s in per_fold if key in s and np.isfinite(s[key])]
        out[key] = float(np.mean(values)) if values else float("nan")
    return out


def _fit_learner(choice: tuple[str, str], X, labels, y, control: str, rows, random_state):
    """The meta-learner ``choice`` = (kind, family) fitted on ``rows`` (no selection), with the known arm shares
    of ``rows`` as the X-learner's propensity."""
    lab = labels[rows]
    arms = sorted(set(lab.tolist()) - {control})
    prop = {arm: float((lab == arm).sum() / ((lab == arm).sum() + (lab == control).sum())) for arm in arms}
    return _make_learner(choice[0], control, prop, random_state, choice[1]).fit(X[rows], lab, y[rows])


def _control_probability(learner, X: np.ndarray, arm) -> np.ndarray:
    """``P(convert | x, control)`` from the learner's control-outcome model."""
    if isinstance(learner, SLearner):
        model = learner.models_[arm]
        return learner._predict_outcome(model, np.hstack([np.zeros((X.shape[0], 1)), X]))
    return learner._predict_outcome(learner.control_model_, X)


def _fittable_arms(labels: np.ndarray, y: np.ndarray, control: str, arms: list,
                   min_group_size: int) -> tuple[list, dict]:
    """Arms with at least ``min_group_size`` rows and both outcomes here (and the reason for every other arm)."""
    skipped = {}
    c = labels == control
    if c.sum() < min_group_size or np.unique(y[c]).size < 2:
        return [], {arm: "too few control rows or a single control outcome" for arm in arms}
    keep = []
    for arm in arms:
        t = labels == arm
        if t.sum() < min_group_size or np.unique(y[t]).size < 2:
            skipped[arm] = "too few rows of the arm or a single outcome"
        else:
            keep.append(arm)
    return keep, skipped


def _known_variants(training: pd.DataFrame, srm: pd.DataFrame | None) -> dict[str, dict[str, bool]]:
    """``{experiment_id: {variant: is_control}}`` from every training row (with or without an outcome) and,
    when ``srm`` has ``variant`` and ``is_control``, its planned or observed variants: an arm planned but
    without a row with an outcome is known, and reported as empty."""
    out: dict[str, dict[str, bool]] = {}
    frames = [training[["experiment_id", "variant", "is_control"]]]
    if srm is not None and {"variant", "is_control"} <= set(srm.columns):
        planned = pd.to_numeric(srm["planned_share"], errors="coerce").fillna(0) > 0
        observed = pd.to_numeric(srm["observed_users"], errors="coerce").fillna(0) > 0
        frames.append(srm.loc[planned | observed, ["experiment_id", "variant", "is_control"]])
    for frame in frames:
        frame = frame[frame["variant"].notna() & frame["experiment_id"].notna()]
        for exp_id, variant, is_control in zip(frame["experiment_id"].astype(str), frame["variant"].astype(str),
                                               frame["is_control"].fillna(False).astype(bool), strict=True):
            known = out.setdefault(exp_id, {})
            known[variant] = known.get(variant, False) or bool(is_control)
    return out


def _estimable_arms(labels: np.ndarray, y: np.ndarray, control: str, arms: list, min_group_size: int,
                    min_treated_conversions: int) -> tuple[list, dict]:
    """The arms an uplift model can be estimated for, and the reason for every other one.

    Not estimable (checked in this order): the control group is empty / has a single outcome value /
    fewer than ``min_group_size`` rows (then every arm); the arm is empty (no exposure with a closed
    window and an outcome), every outcome of the arm is equal, the arm has fewer than
    ``min_treated_conversions`` conversions or fewer than ``min_group_size`` rows.
    """
    c = labels == control
    n_c = int(c.sum())
    reason = None
    if n_c == 0:
        reason = "the control group is empty (no exposure with a closed window and an outcome)"
    elif np.unique(y[c]).size < 2:
        reason = f"every outcome of the control group is {int(y[c][0])} ({n_c} exposures)"
    elif n_c < min_group_size:
        reason = f"{n_c} control exposures < min_group_size = {min_group_size}"
    if reason is not None:
        return [], {arm: reason for arm in arms}
    keep, skipped = [], {}
    for arm in arms:
        t = labels == arm
        n_t, conv = int(t.sum()), int(y[t].sum())
        if n_t == 0:
            skipped[arm] = "empty arm (no exposure with a closed window and an outcome)"
        elif np.unique(y[t]).size < 2:
            skipped[arm] = f"every outcome of the arm is {int(y[t][0])} ({n_t} exposures)"
        elif conv < min_treated_conversions:
            skipped[arm] = f"{conv} treated conversions < min_treated_conversions = {min_treated_conversions}"
        elif n_t < min_group_size:
            skipped[arm] = f"{n_t} treated exposures < min_group_size = {min_group_size}"
        else:
            keep.append(arm)
    return keep, skipped


def _placebo_run(kind: str, family: str, control: str, arms: list, X: np.ndarray, labels: np.ndarray,
                 y: np.ndarray, plan: list, random_state, rows: np.ndarray, permuted: np.ndarray):
    """One placebo run: the labels of ``rows`` replaced by ``permuted``, the learner refitted in every fold of
    ``plan``; the pooled out-of-fold Qini per arm (``None`` when a fit fails)."""
    from threadpoolctl import threadpool_limits

    shuffled = labels.copy()
    shuffled[rows] = permuted
    eval_idx = np.concatenate([te for _, te, _ in plan])
    pred = np.full((eval_idx.size, len(arms)), np.nan)
    pos = 0
    with threadpool_limits(limits=1):
        try:
            for train_idx, test_idx, _ in plan:
                lab = shuffled[train_idx]
                prop = {arm: float((lab == arm).sum() / ((lab == arm).sum() + (lab == control).sum())) for arm in arms}
                model = _make_learner(kind, control, prop, random_state, family).fit(X[train_idx], lab, y[train_idx])
                pred[pos:pos + test_idx.size] = model.predict_uplift(X[test_idx])[
                    :, [model.treatment_names_.index(a) for a in arms]]
                pos += test_idx.size
        except ValueError:
            return None
    e_lab, e_y = shuffled[eval_idx], y[eval_idx].astype(float)
    out = {}
    for j, arm in enumerate(arms):
        cmp = (e_lab == control) | (e_lab == arm)
        out[arm] = safe_score(qini_auc_score, e_y[cmp], pred[cmp, j], (e_lab[cmp] == arm).astype(int))
    return out


def _placebo_cross_fit(kind: str, family: str, control: str, arms: list, X: np.ndarray, labels: np.ndarray,
                       y: np.ndarray, plan: list, random_state, n_placebo: int, n_jobs: int = 1) -> dict:
    """Out-of-fold Qini per arm of ``n_placebo`` placebo runs: ``{arm: array of Qinis}``.

    Each run permutes the arm labels among the rows of ``plan`` (so the placebo treatment has no effect
    on anyone), then refits the learner ``kind`` with the ``family`` fixed in every fold of ``plan`` (the
    same cross-fitting folds as the real fit) and scores the pooled out-of-fold predictions against the
    permuted labels, exactly as the real out-of-fold Qini. Runs whose fit fails (a training part left
    without an outcome of an arm) are skipped. The permutations are drawn up front from ``random_state``,
    so the result does not depend on ``n_jobs`` (runs in parallel processes when > 1).
    """
    seed = 0 if random_state is None else int(random_state)
    rng = np.random.default_rng([seed, 1000])
    rows = np.unique(np.concatenate([np.concatenate([tr, te]) for tr, te, _ in plan]))
    perms = [rng.permutation(labels[rows]) for _ in range(n_placebo)]
    args = (kind, family, control, arms, X, labels, y, plan, random_state, rows)
    if n_jobs > 1 and n_placebo > 1:
        from joblib import Parallel, delayed

        runs = Parallel(n_jobs=n_jobs)(delayed(_placebo_run)(*args, p) for p in perms)
    else:
        runs = [_placebo_run(*args, p) for p in perms]
    out: dict = {arm: [] for arm in arms}
    for run in runs:
        if run is None:
            continue
        for arm in arms:
            out[arm].append(run[arm])
    return {arm: np.asarray([q for q in v if np.isfinite(q)]) for arm, v in out.items()}


def _placebo_metrics(qini: float, runs, n_placebo: int) -> dict:
    """``placebo_qini_mean`` / ``_sd`` / ``_p95``, ``n_placebo`` (runs done) and ``placebo_pass`` (1 when the
    real out-of-fold Qini is above the 95th percentile of the placebo Qinis, else 0; NaN without runs)."""
    runs = np.asarray([] if runs is None else runs, dtype=float)
    if n_placebo <= 0 or runs.size == 0:
        return {"placebo_qini_mean": np.nan, "placebo_qini_sd": np.nan, "placebo_qini_p95": np.nan,
                "n_placebo": float(runs.size), "placebo_pass": np.nan}
    p95 = float(np.quantile(runs, 0.95))
    return {"placebo_qini_mean": float(runs.mean()),
            "placebo_qini_sd": float(runs.std(ddof=1)) if runs.size > 1 else np.nan,
            "placebo_qini_p95": p95, "n_placebo": float(runs.size),
            "placebo_pass": float(np.isfinite(qini) and qini > p95)}


#: experiments with fewer exposures than this fit their learners single-threaded (see :func:`fit_score_uplift`)
THREADED_FIT_MIN_ROWS = 100_000


def _with_threads(n: int, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` under ``threadpool_limits(n)``."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n):
        return fn(*args, **kwargs)


def safe_score(fn, *args, **kwargs) -> float:
    try:
        return float(fn(*args, **kwargs))
    except ValueError:
        return float("nan")


def _cross_fit_folds(n: int, labels: np.ndarray, y: np.ndarray, n_folds: int, random_state) -> np.ndarray:
    """Fold number (0 .. n_folds - 1) of each row, stratified by variant and outcome where possible."""
    from sklearn.model_selection import KFold, StratifiedKFold

    idx = np.arange(n)
    fold = np.full(n, -1, dtype=np.int64)
    seed = None if random_state is None else int(random_state)
    for strata in (np.char.add(labels.astype(str), y.astype(int).astype(str)), labels.astype(str)):
        _, counts = np.unique(strata, return_counts=True)
        if counts.min() >= n_folds:
            splits = StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(idx, strata)
            break
    else:
        splits = KFold(n_folds, shuffle=True, random_state=seed).split(idx)
    for f, (_, test) in enumerate(splits):
        fold[test] = f
    return fold


def _split(n: int, labels: np.ndarray, y: np.ndarray, holdout: float, random_state) -> tuple[np.ndarray, np.ndarray]:
    idx = np.arange(n)
    for strata in (np.char.add(labels.astype(str), y.astype(int).astype(str)), labels.astype(str), None):
        try:
            return train_test_split(idx, test_size=holdout, random_state=random_state, stratify=strata)
        except ValueError:
            continue
    raise ValueError(f"cannot split {n} rows into a training part and a holdout of {holdout}")  # pragma: no cover


# ----------------------------------------------------------------------------------------------
# segments and economics
# ----------------------------------------------------------------------------------------------


def assign_segments(uplift, control_probability, uplift_threshold: float,
                    control_probability_threshold: float) -> np.ndarray:
    """Segment label per row (see the module docstring); NaN inputs count as 0."""
    u = np.nan_to_num(np.asarray(uplift, dtype=float))
    p0 = np.nan_to_num(np.asarray(control_probability, dtype=float))
    return np.select(
        [u >= uplift_threshold, u <= -uplift_threshold, p0 >= control_probability_threshold],
        ["persuadable", "do_not_disturb", "sure_thing"],
        "lost_cause",
    )


def _segment_table(scores: pd.DataFrame, thresholds: dict) -> pd.DataFrame:
    rows = []
    for (arm, exp_id), g in scores.groupby(["promotion_id", "experiment_id"], sort=True):
        total_n, total_u = len(g), float(g["predicted_uplift"].sum())
        for seg in SEGMENTS:
            s = g[g["segment"] == seg]
            inc = float(s["predicted_uplift"].sum())
            rows.append({
                "promotion_id": arm, "experiment_id": exp_id, "segment": seg, "customers": len(s),
                "share_of_customers": len(s) / total_n if total_n else np.nan,
                "predicted_incremental_conversions": inc,
                "share_of_predicted_incremental_conversions": inc / total_u if total_u != 0 else np.nan,
                "mean_predicted_uplift": float(s["predicted_uplift"].mean()) if len(s) else np.nan,
                "mean_predicted_control_probability":
                    float(s["predicted_control_probability"].mean()) if len(s) else np.nan,
                "uplift_threshold": thresholds[arm][0], "control_probability_threshold": thresholds[arm][1],
            })
    return pd.DataFrame(rows, columns=SEGMENT_COLUMNS)


def top_k_mask(score: np.ndarray, ids: np.ndarray, k: float) -> np.ndarray:
    """The first ``ceil(k * n)`` rows by decreasing score (ties by id), as a boolean mask."""
    n = score.size
    size = n if k >= 1 else int(math.ceil(k * n))
    order = np.lexsort((ids, -np.nan_to_num(score, nan=-np.inf)))
    mask = np.zeros(n, dtype=bool)
    mask[order[:size]] = True
    return mask


def economics_rows(p1, p0, ids, rank_scores: dict, *, v, d, c, m, k_fractions) -> list[dict]:
    """Summed economics of every strategy x k for one arm (shared by the model and the evaluation)."""
    econ = expected_economics(np.clip(p1, 0, 1), v, d, contact_cost=c, margin_rate=m,
                              baseline_probability=np.clip(p0, 0, 1))
    rows = []
    for strategy, score in rank_scores.items():
        ks = [1.0] if strategy == "everyone" else list(k_fractions)
        for k in ks:
            mask = np.ones(len(ids), dtype=bool) if strategy == "everyone" else top_k_mask(score, ids, k)
            sel = econ[mask]
            n_sel = int(mask.sum())
            rows.append({
                "strategy": strategy, "k_fraction": float(k), "customers_targeted": n_sel,
                "incremental_conversions": float(sel["expected_conversions"].sum()),
                "incremental_revenue": float(sel["expected_revenue"].sum()),
                "discount_cost": float(sel["expected_discount_cost"].sum()),
                "contact_cost_total": n_sel * c,
                "incremental_margin": float(sel["expected_profit"].sum()),
            })
    return rows


def _roi_table(scores: pd.DataFrame, values: dict, promotions, margin_rate: float, k_fractions) -> pd.DataFrame:
    rows = []
    for (arm, exp_id), g in scores.groupby(["promotion_id", "experiment_id"], sort=True):
        d, c = promotion_terms(promotions, arm)
        v = values.get(exp_id, 0.0)
        p0 = g["predicted_control_probability"].to_numpy(float)
        p1 = g["predicted_treated_probability"].to_numpy(float)
        ids = g["customer_id"].astype(str).to_numpy()
        ranks = {"uplift": g["predicted_uplift"].to_numpy(float), "propensity": p1, "everyone": p1}
        for r in economics_rows(p1, p0, ids, ranks, v=v, d=d, c=c, m=margin_rate, k_fractions=k_fractions):
            rows.append({
                "promotion_id": arm, "experiment_id": exp_id, "strategy": r["strategy"],
                "k_fraction": r["k_fraction"], "customers_targeted": r["customers_targeted"],
                "expected_incremental_conversions": r["incremental_conversions"],
                "expected_incremental_revenue": r["incremental_revenue"],
                "expected_discount_cost": r["discount_cost"], "expected_contact_cost": r["contact_cost_total"],
                "expected_incremental_margin": r["incremental_margin"], "value_per_conversion": v,
                "discount_rate": d, "contact_cost": c, "margin_rate": margin_rate,
            })
    return pd.DataFrame(rows, columns=ROI_COLUMNS)


# ----------------------------------------------------------------------------------------------
# the pipeline
# ----------------------------------------------------------------------------------------------


def _holdout_metrics(y, u, t, k_fractions) -> dict:
    out = {
        "qini_auc": safe_score(qini_auc_score, y, u, t),
        "uplift_auc": safe_score(uplift_auc_score, y, u, t),
    }
    for k in k_fractions:
        out[f"uplift_at_{round(100 * k)}"] = safe_score(uplift_at_k, y, u, t, float(k))
    out["observed_uplift"] = float(y[t == 1].mean() - y[t == 0].mean()) if (t == 1).any() and (t == 0).any() \
        else float("nan")
    return out


def fit_score_uplift(  # noqa: C901, PLR0912, PLR0913, PLR0915 - one keyword per yml config key of ml_uplift_run; to split with issue 22 item 1
    training: pd.DataFrame,
    scoring: pd.DataFrame,
    *,
    learner: str = "auto",
    base_learner: str = "auto",
    n_folds: int | None = 5,
    inner_folds: int = 3,
    holdout: float = 0.3,
    random_state: int | None = 0,
    k_fractions: Sequence[float] = (0.1, 0.2, 0.3),
    srm: pd.DataFrame | None = None,
    srm_threshold: float = 0.001,
    promotions: Mapping | pd.DataFrame | None = None,
    margin_rate: float = 0.35,
    uplift_threshold: float = 0.01,
    control_probability_threshold: float | None = None,
    n_placebo: int = 100,
    refit: bool = True,
    min_group_size: int = 20,
    min_treated_conversions: int = 10,
    n_threads: int = 2,
    placebo_jobs: int = 1,
    n_bootstrap: int = 100,
    score_block_rows: int | None = 200_000,
    extra_features: Sequence[str] = (),
) -> UpliftResult:
    """Fit uplift learners per experiment, keep the better one out of sample, score every customer.

    Args:
        training: one row per exposure with ``exposure_id``, ``experiment_id``, ``customer_id``,
            ``variant``, ``is_control``, ``is_converted`` (0/1; rows with a NULL outcome are dropped),
            optionally ``revenue``, and the feature columns.
        scoring: one row per customer with ``customer_id`` and the feature columns.
        learner: ``"auto"`` (the X- and the T-learner are candidates of the nested selection, see the
            module docstring), or one of ``"t"``, ``"x"``, ``"s"`` to force the kind.
        base_learner: the outcome-model family: ``"auto"`` (``"logistic"`` and ``"boosting"`` are
            candidates of the nested selection), ``"logistic"`` (:func:`logistic_outcome_learner`) or
            ``"boosting"`` (:func:`retail_lift.uplift.default_classifier`) to force it. The X-learner's
            effect models are ridge either way.
        n_folds: cross-fitting folds (an int >= 2): every exposure of an experiment gets an out-of-fold
            prediction from the learner fitted on the other folds, and the metrics are computed on all
            of them. ``None`` uses a single split with ``holdout`` instead.
        inner_folds: folds of the inner cross-validation that chooses the learner (an int >= 2; unused
            with a single candidate).
        holdout: share of each experiment's exposures held out when ``n_folds`` is ``None``, in (0, 1).
        random_state: seed of the split, the learners and the placebo shuffles.
        k_fractions: shares targeted for ``uplift_at_k`` and the ROI table, each in (0, 1).
        srm: rows of ``fct_experiment_srm``; experiments with a sample-ratio mismatch are dropped.
        srm_threshold: SRM flag threshold on the chi-square p-value.
        promotions: ``{promotion_id: {"discount_rate": d, "contact_cost": c}}`` (or the promotions
            table); an arm not in it has no discount and no contact cost.
        margin_rate: gross margin as a share of the full price, in [0, 1].
        uplift_threshold, control_probability_threshold: segment thresholds (module docstring).
        n_placebo: placebo shuffles of the arm labels, each refitting the selected learner in the same
            cross-fitting folds (0 to skip; default 100). Pass rule: Qini above their 95th percentile.
        refit: refit the kept learner on all exposures of the experiment before scoring (always done
            with cross-fitting; without it, the single-split mode scores with the training-part fit).
        min_group_size: fewer rows than this in the control or an arm makes the arm not estimable (a
            ``status`` row in ``metrics`` with the reason in ``note``; the other arms go on).
        min_treated_conversions: fewer conversions than this among an arm's exposures makes the arm not
            estimable (default 10).
        n_threads: OpenMP / BLAS threads of the base learners when scoring, and when fitting on an
            experiment with at least :data:`THREADED_FIT_MIN_ROWS` exposures (smaller ones, and the placebo
            runs, are fitted single-threaded: a second thread mostly waits on a few thousand rows).
        placebo_jobs: processes of the placebo runs (joblib; default 1, in this process); the shuffles are
            drawn up front, so the result does not depend on it.
        n_bootstrap: paired bootstrap resamples of the selection rule's standard error (default 100).
        score_block_rows: customers scored per block (``None``: all at once; rounded up to a multiple
            of 64); only the memory of the learners' intermediate arrays depends on it (with
            ``n_threads=1`` the scores are bit for bit the same, see :func:`_score_blocks`).
        extra_features: further numeric columns of ``training`` and ``scoring`` appended to the model
            matrix as they are (NULL as 0; a non-numeric value is an error naming the column and row).
            Empty by default: the warehouse model uses the features of the two tables.

    ``training`` and ``scoring`` may also be Arrow tables or DuckDB relations: then only the columns used
    are read (the categorical features as codes), which is what ``ml_uplift_run`` passes at a million
    customers.

    Returns:
        :class:`UpliftResult`.
    """
    from threadpoolctl import threadpool_limits

    extra = _check_extra_features(extra_features)
    training = input_frame(training, "training", _TRAINING_COLUMNS, [*FEATURES, *extra, "revenue"])
    scoring = input_frame(scoring, "scoring", ["customer_id"], [*FEATURES, *extra])
    require_columns(training, "training", _TRAINING_COLUMNS)
    require_columns(scoring, "scoring", ["customer_id"])
    if score_block_rows is not None and (isinstance(score_block_rows, bool) or int(score_block_rows) < 1):
        raise ValueError(f"score_block_rows must be None or a positive int, got {score_block_rows!r}")
    if learner != "auto" and learner not in LEARNERS:
        raise ValueError(f"learner must be 'auto' or one of {list(LEARNERS)}, got {learner!r}")
    if base_learner != "auto" and base_learner not in BASE_LEARNERS:
        raise ValueError(f"base_learner must be 'auto' or one of {list(BASE_LEARNERS)}, got {base_learner!r}")
    for name, value, low in (("inner_folds", inner_folds, 2), ("n_placebo", n_placebo, 0),
                             ("placebo_jobs", placebo_jobs, 1), ("n_bootstrap", n_bootstrap, 2),
                             ("min_group_size", min_group_size, 2),
                             ("min_treated_conversions", min_treated_conversions, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if n_folds is not None and (isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer))
                                or n_folds < 2):
        raise ValueError(f"n_folds must be None or an int >= 2, got {n_folds!r}")
    if not (isinstance(holdout, float) and 0 < holdout < 1):
        raise ValueError(f"holdout must be a float in (0, 1), got {holdout!r}")
    k_fractions = tuple(float(k) for k in k_fractions)
    if not k_fractions or any(not 0 < k < 1 for k in k_fractions):
        raise ValueError(f"k_fractions must be fractions in (0, 1), got {k_fractions!r}")
    if not 0 <= margin_rate <= 1:
        raise ValueError(f"margin_rate must be in [0, 1], got {margin_rate!r}")
    if uplift_threshold < 0:
        raise ValueError(f"uplift_threshold must be >= 0, got {uplift_threshold!r}")
    if scoring["customer_id"].duplicated().any():
        raise ValueError("scoring must have one row per customer_id")

    # every variant of every experiment, also those left without a row with an outcome (an empty arm)
    variants = _known_variants(training, srm)
    # a stable row order, so that the split and the fits do not depend on the order the warehouse returns
    training = (training[training["is_converted"].notna()]
                .sort_values(["experiment_id", "exposure_id"], kind="mergesort").reset_index(drop=True))
    scoring = scoring.sort_values("customer_id", kind="mergesort").reset_index(drop=True)
    require_columns(training, "training", [*FEATURES, *extra])
    require_columns(scoring, "scoring", [*FEATURES, *extra])
    levels = _feature_levels(training, scoring)
    X_all = _feature_matrix(training, levels, extra, "training")
    X_score = _feature_matrix(scoring, levels, extra, "scoring")
    score_ids = scoring["customer_id"].astype(str).to_numpy(dtype=object)
    scoring = None  # only the ids and the matrix are needed from here on
    flagged = srm_experiments(srm, srm_threshold)

    metric_rows, holdout_parts, score_parts = [], [], {}
    values, thresholds, arm_owner = {}, {}, {}
    with threadpool_limits(limits=n_threads):
        exp_of_row = training["experiment_id"].astype(str).to_numpy()
        for exp_id in sorted(variants):
            rows = np.flatnonzero(exp_of_row == exp_id)
            exp = training.iloc[rows].reset_index(drop=True)
            controls = sorted(v for v, is_control in variants[exp_id].items() if is_control)
            arms = sorted(v for v, is_control in variants[exp_id].items() if not is_control)
            if exp_id in flagged:
                for arm in arms:
                    metric_rows.append(_note_row(exp_id, arm, f"experiment dropped: sample-ratio mismatch "
                                                                 f"(p = {flagged[exp_id]:.2g} < {srm_threshold})"))
                continue
            if len(controls) != 1:
                for arm in arms:
                    metric_rows.append(_note_row(exp_id, arm, "experiment dropped: no single control variant"))
                continue
            control = controls[0]
            labels = exp["variant"].astype(str).to_numpy()
            y = exp["is_converted"].astype(float).to_numpy().astype(int)
            X = X_all[rows]
            # arms that cannot be estimated (empty, one outcome value, too few treated conversions or rows)
            ok_arms, skipped = _estimable_arms(labels, y, control, arms, min_group_size, min_treated_conversions)
            if not ok_arms:
                for arm in arms:
                    metric_rows.append(_note_row(exp_id, arm, f"not estimable: {skipped[arm]}"))
                continue
            # evaluation plan: (training rows, evaluated rows, fold label) per fit
            if n_folds:
                fold_of = _cross_fit_folds(len(exp), labels, y, n_folds, random_state)
                plan = [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f), f) for f in range(n_folds)]
            else:
                idx_train, idx_test = _split(len(exp), labels, y, holdout, random_state)
                plan = [(idx_train, idx_test, None)]
            # ... and those whose cross-fitting training parts cannot be fitted
            for train_idx, _, _ in plan:
                part_ok, part_skipped = _fittable_arms(labels[train_idx], y[train_idx], control, ok_arms, 2)
                ok_arms = [a for a in ok_arms if a in part_ok]
                for arm, why in part_skipped.items():
                    skipped.setdefault(arm, f"a cross-fitting training part has {why}")
            for arm in arms:
                if arm in skipped:
                    metric_rows.append(_note_row(exp_id, arm, f"not estimable: {skipped[arm]}"))
            if not ok_arms:
                continue
            keep = np.isin(labels, [control, *ok_arms])
            plan = [(tr[keep[tr]], te[keep[te]], f) for tr, te, f in plan]
            eval_idx = np.concatenate([te for _, te, _ in plan])
            eval_fold = np.concatenate([np.full(te.size, -1 if f is None else f) for _, te, f in plan])

            # nested, per arm: in every fold the (kind, family) of each arm is chosen by an inner
            # cross-validation of the fold's training rows of that arm and the control only, fitted on them
            # and predicts the fold's exposures; the out-of-fold Qini of these predictions is reported, so it
            # is not the score that made any choice
            def _arm_rows(idx, arm_, labels=labels, control=control):
                return idx[(labels[idx] == control) | (labels[idx] == arm_)]

            # OpenMP / BLAS threads only pay on large fits: on a few thousand rows a second thread mostly
            # waits (and spins on a busy machine: 10x slower measured on the tiny world), so smaller
            # experiments fit single-threaded; scoring every customer uses n_threads
            fit_threads = n_threads if len(exp) >= THREADED_FIT_MIN_ROWS else 1
            pred = np.full((eval_idx.size, len(ok_arms)), np.nan)
            p0 = np.full((eval_idx.size, len(ok_arms)), np.nan)
            row_kind = np.empty((eval_idx.size, len(ok_arms)), dtype=object)
            row_family = np.empty((eval_idx.size, len(ok_arms)), dtype=object)
            fold_choices, pos = [], 0
            for train_idx, test_idx, _ in plan:
                choice = {}
                for j, arm in enumerate(ok_arms):
                    sel = _with_threads(fit_threads, select_uplift_learner, X, labels, y, control, learner=learner,
                                        base_learner=base_learner, inner_folds=inner_folds, random_state=random_state,
                                        rows=_arm_rows(train_idx, arm), n_bootstrap=n_bootstrap)
                    choice[arm] = ((sel.kind, sel.base_learner), sel.inner_scores, sel.model)
                    pred[pos:pos + test_idx.size, j] = sel.model.predict_uplift(X[test_idx], arm=arm)
                    p0[pos:pos + test_idx.size, j] = _control_probability(sel.model, X[test_idx], arm)
                    row_kind[pos:pos + test_idx.size, j] = sel.kind
                    row_family[pos:pos + test_idx.size, j] = sel.base_learner
                fold_choices.append(choice)
                pos += test_idx.size

            # the learner that scores each arm: the (kind, family) most of the folds chose (ties: the simpler,
            # as the selection rule), refitted on all of the experiment's exposures of the arm and the control
            # (in the single-split mode without refit: the training part's fit). No new selection on all rows:
            # the scoring model is the one whose out-of-fold Qini is reported, not a choice that no fold made.
            final = {}
            for arm in ok_arms:
                best = _majority_choice([c[arm][0] for c in fold_choices])
                inner = _mean_inner_scores([c[arm][1] for c in fold_choices])
                if n_folds or refit:
                    model = _with_threads(fit_threads, _fit_learner, best, X, labels, y, control,
                                          _arm_rows(np.flatnonzero(keep), arm), random_state)
                else:
                    model = fold_choices[0][arm][2]
                final[arm] = (best, inner, model)

            # placebo, per arm: the labels of the arm's and the control's exposures shuffled n_placebo times,
            # the arm's kept (kind, family) refitted in the same cross-fitting folds (no inner selection per
            # shuffle); run in placebo_jobs processes (the permutations are drawn up front: same result)
            placebo = {}
            if n_placebo > 0:
                for arm in ok_arms:
                    a_plan = [(_arm_rows(tr, arm), _arm_rows(te, arm), f) for tr, te, f in plan]
                    placebo.update(_placebo_cross_fit(*final[arm][0], control, [arm], X, labels, y, a_plan,
                                                      random_state, n_placebo, n_jobs=placebo_jobs))
            e_lab, e_y = labels[eval_idx], y[eval_idx]
            for j, arm in enumerate(ok_arms):
                best, inner_scores, _ = final[arm]
                kind, family = best
                agreement = float(np.mean([c[arm][0] == best for c in fold_choices]))
                cmp = (e_lab == control) | (e_lab == arm)
                t = (e_lab[cmp] == arm).astype(int)
                m = _holdout_metrics(e_y[cmp].astype(float), pred[cmp, j], t, k_fractions)
                m.update(_placebo_metrics(m["qini_auc"], placebo.get(arm), n_placebo))
                m["selection_agreement"] = agreement
                m["n_treated"], m["n_control"] = float(t.sum()), float((1 - t).sum())
                for name, value in m.items():
                    metric_rows.append({
                        "experiment_id": exp_id, "promotion_id": arm, "learner": kind, "base_learner": family,
                        "metric_name": name, "metric_value": value, "is_selected_learner": True, "note": None,
                    })
                for (c_kind, c_family), score in inner_scores.items():
                    metric_rows.append({
                        "experiment_id": exp_id, "promotion_id": arm, "learner": c_kind, "base_learner": c_family,
                        "metric_name": "inner_qini", "metric_value": score,
                        "is_selected_learner": (c_kind, c_family) == best, "note": None,
                    })
                if n_placebo > 0 and m["placebo_pass"] == 0.0:
                    metric_rows.append(_note_row(
                        exp_id, arm, f"placebo not passed: out-of-fold Qini {m['qini_auc']:.4f} is not above the "
                                     f"95th percentile {m['placebo_qini_p95']:.4f} of {int(m['n_placebo'])} shuffles",
                        metric_name="placebo_status"))
                elif n_placebo > 0 and not np.isfinite(m["placebo_pass"]):
                    metric_rows.append(_note_row(exp_id, arm, "placebo not run: no shuffle could be fitted",
                                                 metric_name="placebo_status"))

            # out-of-sample predictions (out-of-fold, or on the holdout), each from its fold's chosen learner
            for j, arm in enumerate(ok_arms):
                cmp = (e_lab == control) | (e_lab == arm)
                sub = exp.iloc[eval_idx[cmp]]
                holdout_parts.append(pd.DataFrame({
                    "exposure_id": sub["exposure_id"].astype(str).to_numpy(),
                    "promotion_id": arm,
                    "customer_id": sub["customer_id"].astype(str).to_numpy(),
                    "experiment_id": exp_id,
                    "variant": e_lab[cmp],
                    "is_treated": e_lab[cmp] == arm,
                    "is_converted": e_y[cmp].astype(bool),
                    "revenue": pd.to_numeric(sub["revenue"], errors="coerce").to_numpy(float)
                    if "revenue" in sub else np.nan,
                    "learner": row_kind[cmp, j],
                    "base_learner": row_family[cmp, j],
                    "fold": pd.array(np.where(eval_fold[cmp] >= 0, eval_fold[cmp], 0), dtype="Int64")
                    if n_folds else pd.array([None] * int(cmp.sum()), dtype="Int64"),
                    "predicted_uplift": pred[cmp, j],
                    "predicted_control_probability": p0[cmp, j],
                }))

            control_rate = float(y[labels == control].mean())
            conv = (labels == control) & (y == 1)
            rev = pd.to_numeric(exp["revenue"], errors="coerce").to_numpy(float) if "revenue" in exp else None
            conv_revenue = rev[conv] if rev is not None else np.array([])
            conv_revenue = conv_revenue[np.isfinite(conv_revenue)]
            values[exp_id] = float(conv_revenue.mean()) if conv_revenue.size else 0.0
            for arm in ok_arms:
                n_treated = int((labels == arm).sum())
                if arm in arm_owner and arm_owner[arm][1] >= n_treated:
                    continue
                arm_owner[arm] = (exp_id, n_treated)
                (kind, family), _, model = final[arm]
                u, p0 = _score_blocks(model, X_score, arm, score_block_rows)
                t_p = control_rate if control_probability_threshold is None else float(control_probability_threshold)
                thresholds[arm] = (float(uplift_threshold), t_p)
                # the arm's scores from the experiment that owns it (most treated exposures) replace any earlier
                score_parts[arm] = (exp_id, kind, family, u, p0)
    del X_score

    if score_parts:
        scores = _scores_table(score_ids, score_parts, thresholds)
    else:
        scores = pd.DataFrame(columns=SCORE_COLUMNS)
    holdout_predictions = (pd.concat(holdout_parts, ignore_index=True)[HOLDOUT_COLUMNS] if holdout_parts
                           else pd.DataFrame(columns=HOLDOUT_COLUMNS))
    metrics = pd.DataFrame(metric_rows, columns=METRIC_COLUMNS)
    segments = _segment_table(scores, thresholds) if len(scores) else pd.DataFrame(columns=SEGMENT_COLUMNS)
    roi = _roi_table(scores, values, promotions, margin_rate, k_fractions) if len(scores) \
        else pd.DataFrame(columns=ROI_COLUMNS)
    return UpliftResult(scores=scores, holdout_predictions=holdout_predictions, metrics=metrics,
                        segments=segments, incremental_roi=roi)


def _note_row(exp_id: str, arm: str, note: str, metric_name: str = "status") -> dict:
    return {"experiment_id": exp_id, "promotion_id": arm, "learner": None, "base_learner": None,
            "metric_name": metric_name, "metric_value": np.nan, "is_selected_learner": False, "note": note}


def _score_blocks(model, X: np.ndarray, arm, block_rows: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Predicted uplift and control probability of every row of ``X``, ``block_rows`` rows at a time.

    The blocks are column-major copies (as ``X``) of a multiple of 64 rows (``block_rows`` rounded up), so
    BLAS's matrix-vector products take the same per-row path as on the whole matrix: with one BLAS thread
    the scores are bit for bit those of one block. (With several threads BLAS splits the rows between
    them, and rows at a split can differ in the last bit, as between thread counts.)
    """
    n = X.shape[0]
    step = n if not block_rows else -(-int(block_rows) // 64) * 64
    if n <= step:
        return (np.asarray(model.predict_uplift(X, arm=arm), dtype=float),
                np.asarray(_control_probability(model, X, arm), dtype=float))
    u, p0 = np.empty(n), np.empty(n)
    for a in range(0, n, step):
        block = np.asfortranarray(X[a:a + step])  # laid out as the whole matrix
        u[a:a + step] = model.predict_uplift(block, arm=arm)
        p0[a:a + step] = _control_probability(model, block, arm)
    return u, p0


def _tie_order(ids: np.ndarray) -> np.ndarray:
    """An integer key ordering ``ids`` as their str does (the ranks' tie-break), without a str per row
    when the ids are already sorted strings (the scoring rows are sorted by customer_id)."""
    n = ids.size
    if n and all(isinstance(v, str) for v in ids[: min(n, 1000)]):
        try:
            if bool(np.all(ids[1:] > ids[:-1])):
                return np.arange(n)
        except TypeError:
            pass
    strs = np.asarray([str(v) for v in ids])
    key = np.empty(n, dtype=np.int64)
    key[np.argsort(strs, kind="mergesort")] = np.arange(n)
    return key


def _scores_table(ids: np.ndarray, parts: Mapping, thresholds: Mapping) -> pd.DataFrame:
    """The ``scores`` table from each arm's ``(experiment_id, learner, base_learner, uplift, control probability)``:
    ranks within the arm (ties by customer_id), segments, rows by promotion_id and uplift rank."""
    tie = _tie_order(ids)
    frames = []
    for arm in sorted(parts):
        exp_id, kind, family, u, p0 = parts[arm]
        p1 = np.clip(p0 + u, 0.0, 1.0)
        order = np.lexsort((tie, -u))  # the uplift ranking: row order of the arm's rows
        prop_order = np.lexsort((tie, -p1))
        prop_rank = np.empty(ids.size, dtype=np.int64)
        prop_rank[prop_order] = np.arange(1, ids.size + 1)
        t_u, t_p = thresholds[arm]
        frames.append(pd.DataFrame({
            "customer_id": ids[order],
            "promotion_id": arm, "experiment_id": exp_id, "learner": kind, "base_learner": family,
            "predicted_uplift": u[order], "predicted_control_probability": p0[order],
            "predicted_treated_probability": p1[order],
            "uplift_rank": np.arange(1, ids.size + 1, dtype=np.int64), "propensity_rank": prop_rank[order],
            "segment": assign_segments(u[order], p0[order], t_u, t_p).astype(object),
        }))
        del order, prop_order, prop_rank
    return pd.concat(frames, ignore_index=True)[SCORE_COLUMNS]


def _rank_within(scores: pd.DataFrame, column: str) -> np.ndarray:
    """1 = highest ``column`` within the arm; ties broken by customer_id (a strict order)."""
    ranks = np.zeros(len(scores), dtype=np.int64)
    for _, idx in scores.groupby("promotion_id", sort=False).groups.items():
        sub = scores.loc[idx]
        order = np.lexsort((sub["customer_id"].astype(str).to_numpy(), -sub[column].to_numpy(float)))
        r = np.empty(len(sub), dtype=np.int64)
        r[order] = np.arange(1, len(sub) + 1)
        ranks[scores.index.get_indexer(idx)] = r
    return ranks


def uplift_run_table(
    training: pd.DataFrame,
    scoring: pd.DataFrame,
    srm: pd.DataFrame | None = None,
    promotions: pd.DataFrame | Mapping | None = None,
    *,
    as_arrow: bool = False,
    **kwargs,
) -> pd.DataFrame:
    """:func:`fit_score_uplift` as one long table (:meth:`UpliftResult.to_long`), for ``ml_uplift_run``.

    ``training`` / ``scoring`` may be Arrow tables or DuckDB relations (see :func:`fit_score_uplift`);
    ``as_arrow=True`` returns the same table as a ``pyarrow.Table`` (:meth:`UpliftResult.to_arrow`),
    which ``ml_uplift_run`` hands to the warehouse without a wide pandas copy.

    ``promotions`` may be the promotions table (``promotion_id``, ``discount_rate``, ``contact_cost``);
    it is turned into the dict :func:`fit_score_uplift` takes. Other keyword arguments are passed on
    (``k_fractions`` may be a list).
    """
    if isinstance(promotions, pd.DataFrame):
        require_columns(promotions, "promotions", ["promotion_id", "discount_rate", "contact_cost"])
        promotions = {str(r.promotion_id): {"discount_rate": _number_or_zero(r.discount_rate),
                                            "contact_cost": _number_or_zero(r.contact_cost)}
                      for r in promotions.itertuples(index=False)}
    if "k_fractions" in kwargs and kwargs["k_fractions"] is not None:
        kwargs["k_fractions"] = tuple(float(k) for k in kwargs["k_fractions"])
    result = fit_score_uplift(training, scoring, srm=srm, promotions=promotions, **kwargs)
    return result.to_arrow() if as_arrow else result.to_long()
