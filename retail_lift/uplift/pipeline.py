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
    (1 / 0; above ``placebo_max_rows`` rows also ``placebo_sample_rows`` and ``placebo_sample_qini``, the
    Qini the sample's shuffles are compared with), ``selection_agreement`` (share of the outer folds whose
    own selection chose the same learner and family as the scoring learner, which is the folds' majority
    choice), ``n_treated`` / ``n_control``; every candidate's ``inner_qini`` (its inner cross-validated
    Qini in the folds' training parts, averaged over the folds). ``status`` rows (``learner`` NULL)
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
  chosen using the other folds' exposures of that arm and the control only**
  (:func:`~retail_lift.uplift.selection.select_uplift_learner`;
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
  (:func:`~retail_lift.uplift.base.logistic_outcome_learner`: L2-penalised ``LogisticRegression(C=0.1)`` on standardised
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
* **Features.** :mod:`retail_lift.uplift.features` (:func:`~retail_lift.uplift.features.build_features`).
* **Placebo.** Per arm, the labels of the arm's and the control's modelled exposures are permuted
  ``n_placebo`` times (default 100; in ``placebo_jobs`` processes, the same result); each time the arm's
  selected learner, with its kind and family fixed (no inner selection
  per shuffle, which would multiply the cost by the candidates x inner folds), is refitted in the same
  cross-fitting folds and its pooled out-of-fold Qini measured against the permuted labels, exactly
  as the real ``qini_auc``. The placebo treatment has no effect on anyone, so these Qinis are the
  distribution of what the procedure finds in noise. **Pass rule: the real out-of-fold Qini is above
  the 95th percentile of the placebo Qinis** (``placebo_pass``; a one-sided permutation test at 5 %
  for the fixed learner). The real Qini also went through the selection, the placebo's did not, so the
  test is slightly lenient towards the model. **The shuffles stop once the verdict is settled**: when
  :func:`placebo_fail_count` of them (6 of 100) reach the real Qini, it cannot be above the 95th
  percentile of all ``n_placebo``, so the arm fails whatever the rest would give; the verdict is the
  full run's, and ``n_placebo`` and the ``placebo_qini_*`` metrics are those of the shuffles made (the
  status note says it stopped). An arm that passes always gets all ``n_placebo`` shuffles (a sequential
  Monte Carlo test in the manner of Besag and Clifford, 1991, stopping on failure only). **At scale the
  test runs on a sample**: an arm with more than ``placebo_max_rows`` (default 50,000) exposures in its
  folds (its own and the control's) is tested on a stratified seeded sample of that many
  (:func:`placebo_test_rows`): the kept learner is refitted in the sample's folds on the real labels
  (``placebo_sample_qini``, the Qini the shuffles are compared with; ``placebo_sample_rows``), and the
  shuffles permute the sample's labels. The same permutation test of the same learner on fewer rows: less
  power, the same 5 % under the null. Below the cap (the default and tiny worlds) nothing changes.
* **Threads.** Scoring runs under ``threadpoolctl.threadpool_limits(n_threads)`` (default 2), and so do the
  fits of an experiment with at least :data:`THREADED_FIT_MIN_ROWS` (100,000) exposures; smaller experiments
  and the placebo runs fit single-threaded. On the tiny world two threads made ``ml_uplift_run`` 10x slower
  (222 s against 20 s of CPU, on a machine with other jobs): on a few thousand rows the second OpenMP thread
  mostly waits, spinning. ``placebo_jobs`` (default 1) runs the placebo shuffles in that many processes.

Segments and economics
----------------------
:mod:`retail_lift.uplift.economics` (the segment rule and the per-customer arithmetic of targeting).

Modules
-------
Features: :mod:`retail_lift.uplift.features`; learner selection: :mod:`retail_lift.uplift.selection`;
segments and economics: :mod:`retail_lift.uplift.economics`; this module: the cross-fitting, the placebo
and the scoring. ``ml_uplift_run``'s table (the five tables stacked, typed for the warehouse) and its
config are :mod:`retail_lift.tables.uplift`'s.

Train once, score every build
-----------------------------
``fit_score_uplift(...).model`` (:class:`UpliftModel`) holds the fitted scoring learners of every experiment;
:func:`score_uplift` scores customers with it without fitting (the same ``scores``, ``segments`` and
``incremental_roi`` as the training's on the same rows; ``metrics`` and ``holdout_predictions`` are passed in
as the training recorded them). :mod:`retail_lift.uplift.champion` registers it in a model registry and
decides when a build trains.

Evaluation on simulated data
----------------------------
:func:`retail_lift.evaluation.uplift.evaluate_uplift_against_truth` and
:func:`~retail_lift.evaluation.uplift.evaluate_targeting_against_truth` compare the outputs with the
simulated world's known effects; they live in the evaluation layer, and nothing in the family can see
the truth (``make lint``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from retail_lift.experiments.srm import srm_test
from retail_lift.uplift.economics import (
    ROI_COLUMNS,
    SEGMENT_COLUMNS,
    _roi_table,
    _segment_table,
    assign_segments,
)
from retail_lift.uplift.features import (
    FEATURES,
    _check_extra_features,
    _feature_levels,
    _feature_matrix,
    input_frame,
    require_columns,
)
from retail_lift.uplift.metrics import qini_auc_score, safe_score, uplift_at_k, uplift_auc_score
from retail_lift.uplift.selection import (
    BASE_LEARNERS,
    LEARNERS,
    _control_probability,
    _fit_learner,
    _majority_choice,
    _make_learner,
    _mean_inner_scores,
    select_uplift_learner,
)

__all__ = [
    "HOLDOUT_COLUMNS",
    "METRIC_COLUMNS",
    "SCORE_COLUMNS",
    "THREADED_FIT_MIN_ROWS",
    "UpliftModel",
    "UpliftResult",
    "fit_score_uplift",
    "score_uplift",
    "srm_experiments",
]

_TRAINING_COLUMNS = ("exposure_id", "experiment_id", "customer_id", "variant", "is_control", "is_converted")

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


@dataclass(frozen=True)
class UpliftResult:
    """The five output tables of :func:`fit_score_uplift` (columns: the ``*_COLUMNS`` lists); stacked into
    ``ml_uplift_run``'s one table by :func:`retail_lift.tables.uplift.long_table` /
    :func:`~retail_lift.tables.uplift.arrow_table`."""

    scores: pd.DataFrame
    holdout_predictions: pd.DataFrame
    metrics: pd.DataFrame
    segments: pd.DataFrame
    incremental_roi: pd.DataFrame
    #: the fitted learners that scored (:class:`UpliftModel`: what :func:`score_uplift` scores with)
    model: UpliftModel | None = field(default=None, compare=False, repr=False)

    TABLES = ("scores", "holdout_predictions", "metrics", "segments", "incremental_roi")


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


#: the placebo test's pass rule: the real out-of-fold Qini above this quantile of the placebo Qinis
PLACEBO_QUANTILE = 0.95


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


def placebo_fail_count(n_placebo: int, q: float = PLACEBO_QUANTILE) -> int:
    """How many placebo Qinis at or above the real one settle a failed placebo test whatever the other shuffles
    give: with N finite placebo Qinis sorted ascending, the ``q`` quantile (linear interpolation, numpy's
    default) is at least the value at index ``floor(q (N - 1))``, so once ``N - floor(q (N - 1))`` of them
    reach the real Qini it is not above the quantile. The largest such count over every N up to
    ``n_placebo`` (shuffles that cannot be fitted lower N), so the verdict holds for any final N: 6 for 100."""
    # (a hair below the product: a float rounding can only make the count larger, i.e. stop later)
    return max((m - int(np.floor(q * (m - 1) - 1e-9)) for m in range(1, int(n_placebo) + 1)), default=1)


def _placebo_cross_fit(kind: str, family: str, control: str, arms: list, X: np.ndarray, labels: np.ndarray,
                       y: np.ndarray, plan: list, random_state, n_placebo: int, n_jobs: int = 1,
                       stop_above: Mapping[str, float] | None = None) -> dict:
    """Out-of-fold Qini per arm of ``n_placebo`` placebo runs: ``{arm: array of Qinis}``.

    Each run permutes the arm labels among the rows of ``plan`` (so the placebo treatment has no effect
    on anyone), then refits the learner ``kind`` with the ``family`` fixed in every fold of ``plan`` (the
    same cross-fitting folds as the real fit) and scores the pooled out-of-fold predictions against the
    permuted labels, exactly as the real out-of-fold Qini. Runs whose fit fails (a training part left
    without an outcome of an arm) are skipped. The permutations are drawn up front from ``random_state``,
    so the result does not depend on ``n_jobs`` (runs in parallel processes when > 1, in batches of
    ``n_jobs``).

    ``stop_above``: ``{arm: real out-of-fold Qini}``. The runs stop, in permutation order, at the first run
    after which every arm has :func:`placebo_fail_count` placebo Qinis at or above its real one (its test
    has failed, whatever the remaining runs give); the later runs are not made and not returned. A real Qini
    that is not finite never stops the runs.
    """
    seed = 0 if random_state is None else int(random_state)
    rng = np.random.default_rng([seed, 1000])
    rows = np.unique(np.concatenate([np.concatenate([tr, te]) for tr, te, _ in plan]))
    perms = [rng.permutation(labels[rows]) for _ in range(n_placebo)]
    args = (kind, family, control, arms, X, labels, y, plan, random_state, rows)
    real = {arm: float((stop_above or {}).get(arm, np.nan)) for arm in arms}
    settle = placebo_fail_count(n_placebo)
    reached = dict.fromkeys(arms, 0)
    out: dict = {arm: [] for arm in arms}
    batch = n_jobs if n_jobs > 1 and n_placebo > 1 else 1
    stopped = stop_above is None or not all(np.isfinite(v) for v in real.values())
    for start in range(0, n_placebo, batch):
        chunk = perms[start:start + batch]
        if batch > 1:
            from joblib import Parallel, delayed

            runs = Parallel(n_jobs=n_jobs)(delayed(_placebo_run)(*args, p) for p in chunk)
        else:
            runs = [_placebo_run(*args, p) for p in chunk]
        for run in runs:
            if run is None:
                continue
            for arm in arms:
                out[arm].append(run[arm])
                reached[arm] += int(np.isfinite(run[arm]) and run[arm] >= real[arm])
            if not stopped and all(reached[arm] >= settle for arm in arms):
                return {arm: np.asarray([q for q in v if np.isfinite(q)]) for arm, v in out.items()}
    return {arm: np.asarray([q for q in v if np.isfinite(q)]) for arm, v in out.items()}


def placebo_test_rows(learner: tuple[str, str], control: str, arm: str, X: np.ndarray, labels: np.ndarray,
                      y: np.ndarray, plan: list, random_state, n_placebo: int, real_qini: float, *,
                      max_rows: int | None = None, n_jobs: int = 1) -> tuple[np.ndarray, float, int | None]:
    """The placebo test of one arm: ``(placebo Qinis, the Qini they are compared with, rows sampled)``.

    ``learner``: the arm's kept ``(kind, family)``; ``plan``: its cross-fitting folds (the arm's and the
    control's rows of each). With at most ``max_rows`` rows in the folds (or ``max_rows`` None) the shuffles
    run on all of them and are compared with ``real_qini`` (the arm's out-of-fold Qini); rows sampled is
    None. With more, a seeded sample of ``max_rows`` of the rows stratified by arm and outcome
    (:func:`retail_lift.uplift.selection.selection_rows`) keeps its folds, the learner is refitted in them
    on the real labels for the Qini to compare with, and the shuffles permute the labels of the sample
    only: the same permutation test of the same learner on fewer rows (less power, the same null). The
    shuffles stop as in :func:`_placebo_cross_fit`."""
    from retail_lift.uplift.selection import selection_rows

    kind, family = learner
    rows = np.unique(np.concatenate([np.concatenate([tr, te]) for tr, te, _ in plan]))
    sampled = None
    if max_rows is not None and rows.size > int(max_rows):
        keep = selection_rows(labels, y, rows, int(max_rows), random_state)
        plan = [(tr[np.isin(tr, keep)], te[np.isin(te, keep)], f) for tr, te, f in plan]
        sampled = int(keep.size)
        real = _placebo_run(kind, family, control, [arm], X, labels, y, plan, random_state, keep, labels[keep])
        real_qini = np.nan if real is None else float(real[arm])
    runs = _placebo_cross_fit(kind, family, control, [arm], X, labels, y, plan, random_state, n_placebo,
                              n_jobs=n_jobs, stop_above={arm: real_qini})
    return runs[arm], float(real_qini), sampled


def _placebo_metrics(qini: float, runs, n_placebo: int) -> dict:
    """``placebo_qini_mean`` / ``_sd`` / ``_p95``, ``n_placebo`` (runs done) and ``placebo_pass`` (1 when the
    real out-of-fold Qini is above the 95th percentile of the placebo Qinis, else 0; NaN without runs)."""
    runs = np.asarray([] if runs is None else runs, dtype=float)
    if n_placebo <= 0 or runs.size == 0:
        return {"placebo_qini_mean": np.nan, "placebo_qini_sd": np.nan, "placebo_qini_p95": np.nan,
                "n_placebo": float(runs.size), "placebo_pass": np.nan}
    p95 = float(np.quantile(runs, PLACEBO_QUANTILE))
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


def fit_score_uplift(  # noqa: PLR0913 - one keyword per yml config key of ml_uplift_run
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
    selection_max_rows: int | None = 50_000,
    placebo_max_rows: int | None = 50_000,
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
            candidates of the nested selection), ``"logistic"`` (:func:`~.base.logistic_outcome_learner`) or
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
        selection_max_rows: the nested selection of each fold and arm is made on at most this many of its
            training rows (a seeded sample stratified by arm and outcome,
            :func:`retail_lift.uplift.selection.selection_rows`); the chosen learner is fitted on all of them.
            None: on all of them. Default 50,000: above the default world's folds (about 6,500 rows), so
            only large data are sampled; at the large preset it halves the selection's CPU with the same
            learners chosen and out-of-fold Qinis within 0.0015, and on Starbucks (100,947 rows a fold) it
            gives the same choices and Qini (``bench/results/uplift_selection_cap.md``).
        placebo_max_rows: an arm's placebo test is made on at most this many of its folds' rows (the module
            docstring, Placebo; :func:`placebo_test_rows`). None: on all of them. Default 50,000: the placebo
            was 80-90 % of the training at the large preset (``bench/results/uplift_training_profile_large.md``);
            the verdicts with and without the cap are in ``bench/results/uplift_placebo_cap.md``.

    ``training`` and ``scoring`` may also be Arrow tables or DuckDB relations: then only the columns used
    are read (the categorical features as codes), which is what ``ml_uplift_run`` passes at a million
    customers.

    Returns:
        :class:`UpliftResult`; its ``model`` (:class:`UpliftModel`) holds the fitted scoring learners, with
        which :func:`score_uplift` scores customers again without fitting.
    """
    from threadpoolctl import threadpool_limits

    o = _Options(learner=learner, base_learner=base_learner, n_folds=n_folds, inner_folds=inner_folds,
                 holdout=holdout, random_state=random_state, k_fractions=k_fractions, srm_threshold=srm_threshold,
                 promotions=promotions, margin_rate=margin_rate, uplift_threshold=uplift_threshold,
                 control_probability_threshold=control_probability_threshold, n_placebo=n_placebo, refit=refit,
                 min_group_size=min_group_size, min_treated_conversions=min_treated_conversions,
                 n_threads=n_threads, placebo_jobs=placebo_jobs, n_bootstrap=n_bootstrap,
                 score_block_rows=score_block_rows, selection_max_rows=selection_max_rows,
                 placebo_max_rows=placebo_max_rows)
    extra = _check_extra_features(extra_features)
    training = input_frame(training, "training", _TRAINING_COLUMNS, [*FEATURES, *extra, "revenue"])
    scoring = input_frame(scoring, "scoring", ["customer_id"], [*FEATURES, *extra])
    require_columns(training, "training", _TRAINING_COLUMNS)
    require_columns(scoring, "scoring", ["customer_id"])
    _check_options(o)
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
    flagged = srm_experiments(srm, srm_threshold)

    out = _Outputs()
    with threadpool_limits(limits=n_threads):
        exp_of_row = training["experiment_id"].astype(str).to_numpy()
        for exp_id in sorted(variants):
            _fit_experiment(o, exp_id, np.flatnonzero(exp_of_row == exp_id), training, X_all, variants[exp_id],
                            flagged, out)
    del X_all
    model = UpliftModel(levels=levels, extra_features=extra, learners=out.learners,
                        owners={arm: owner for arm, (owner, _) in out.arm_owner.items()},
                        control_rates=out.control_rates, values=out.values, variants=variants, flagged=flagged)
    holdout_predictions = (pd.concat(out.holdout_parts, ignore_index=True)[HOLDOUT_COLUMNS] if out.holdout_parts
                           else pd.DataFrame(columns=HOLDOUT_COLUMNS))
    metrics = pd.DataFrame(out.metric_rows, columns=METRIC_COLUMNS)
    return _scored_result(o, model, scoring, metrics, holdout_predictions)


@dataclass(frozen=True)
class UpliftModel:
    """What scores customers without training (:func:`score_uplift`): the fitted scoring learner of every
    modelled arm of every experiment and what the scoring tables need of the training.

    ``levels``: the categorical features' levels of the model matrix (a level seen later is all zeros, as a
    NULL); ``extra_features``; ``learners``: ``{experiment_id: {arm: (kind, family, fitted learner)}}``;
    ``owners``: ``{arm: experiment_id}``, the experiment whose learner scores the arm (most treated exposures);
    ``control_rates`` / ``values``: per experiment the control conversion rate (the default segment threshold)
    and the mean revenue of a control conversion (the ROI's value per conversion); ``variants``: the
    experiments and their variants (``{experiment_id: {variant: is_control}}``) and ``flagged``: the
    experiments dropped for a sample-ratio mismatch (``{experiment_id: p_value}``) at training."""

    levels: Mapping[str, list[str]]
    extra_features: tuple[str, ...]
    learners: Mapping[str, Mapping[str, tuple]]
    owners: Mapping[str, str]
    control_rates: Mapping[str, float]
    values: Mapping[str, float]
    variants: Mapping[str, Mapping[str, bool]]
    flagged: Mapping[str, float]


def _scored_result(o: _Options, model: UpliftModel, scoring: pd.DataFrame, metrics: pd.DataFrame,
                   holdout_predictions: pd.DataFrame) -> UpliftResult:
    """The five tables: ``scoring`` (sorted by ``customer_id``) scored by the owner of every arm, its segments
    and economics, and the training's ``metrics`` and ``holdout_predictions``."""
    from threadpoolctl import threadpool_limits

    X_score = _feature_matrix(scoring, model.levels, model.extra_features, "scoring")
    score_ids = scoring["customer_id"].astype(str).to_numpy(dtype=object)
    parts, thresholds = {}, {}
    with threadpool_limits(limits=o.n_threads):
        for arm in sorted(model.owners):
            exp_id = model.owners[arm]
            kind, family, learner = model.learners[exp_id][arm]
            u, p0 = _score_blocks(learner, X_score, arm, o.score_block_rows)
            t_p = model.control_rates[exp_id] if o.control_probability_threshold is None \
                else float(o.control_probability_threshold)
            thresholds[arm] = (float(o.uplift_threshold), t_p)
            parts[arm] = (exp_id, kind, family, u, p0)
    del X_score
    scores = _scores_table(score_ids, parts, thresholds) if parts else pd.DataFrame(columns=SCORE_COLUMNS)
    segments = _segment_table(scores, thresholds) if len(scores) else pd.DataFrame(columns=SEGMENT_COLUMNS)
    roi = _roi_table(scores, model.values, o.promotions, o.margin_rate, o.k_fractions) if len(scores) \
        else pd.DataFrame(columns=ROI_COLUMNS)
    return UpliftResult(scores=scores, holdout_predictions=holdout_predictions, metrics=metrics,
                        segments=segments, incremental_roi=roi, model=model)


def score_uplift(model: UpliftModel, scoring, *, metrics: pd.DataFrame, holdout_predictions: pd.DataFrame,
                 promotions: Mapping | pd.DataFrame | None = None, margin_rate: float = 0.35,
                 uplift_threshold: float = 0.01, control_probability_threshold: float | None = None,
                 k_fractions: Sequence[float] = (0.1, 0.2, 0.3), n_threads: int = 2,
                 score_block_rows: int | None = 200_000) -> UpliftResult:
    """Score every customer of ``scoring`` with a trained :class:`UpliftModel` (``fit_score_uplift(...).model``),
    without fitting anything: the ``scores``, ``segments`` and ``incremental_roi`` tables are computed as
    :func:`fit_score_uplift` computes them (the same learners on the same rows give the same numbers);
    ``metrics`` and ``holdout_predictions`` are the training's tables, returned as they are. The keywords are
    :func:`fit_score_uplift`'s of the same name (the settings that do not change the learners)."""
    # the scoring settings; the training ones are placeholders that pass _check_options and are never read
    o = _Options(learner="auto", base_learner="auto", n_folds=None, inner_folds=2, holdout=0.5, random_state=0,
                 k_fractions=k_fractions, srm_threshold=0.001, promotions=promotions, margin_rate=margin_rate,
                 uplift_threshold=uplift_threshold, control_probability_threshold=control_probability_threshold,
                 n_placebo=0, refit=True, min_group_size=2, min_treated_conversions=1, n_threads=n_threads,
                 placebo_jobs=1, n_bootstrap=2, score_block_rows=score_block_rows)
    _check_options(o)
    scoring = input_frame(scoring, "scoring", ["customer_id"], [*FEATURES, *model.extra_features])
    require_columns(scoring, "scoring", ["customer_id", *FEATURES, *model.extra_features])
    if scoring["customer_id"].duplicated().any():
        raise ValueError("scoring must have one row per customer_id")
    scoring = scoring.sort_values("customer_id", kind="mergesort").reset_index(drop=True)
    return _scored_result(o, model, scoring, metrics, holdout_predictions)


@dataclass
class _Options:
    """The options of :func:`fit_score_uplift` (its keywords), checked by :func:`_check_options`."""

    learner: str
    base_learner: str
    n_folds: int | None
    inner_folds: int
    holdout: float
    random_state: int | None
    k_fractions: Sequence[float]
    srm_threshold: float
    promotions: Mapping | pd.DataFrame | None
    margin_rate: float
    uplift_threshold: float
    control_probability_threshold: float | None
    n_placebo: int
    refit: bool
    min_group_size: int
    min_treated_conversions: int
    n_threads: int
    placebo_jobs: int
    n_bootstrap: int
    score_block_rows: int | None
    selection_max_rows: int | None = None
    placebo_max_rows: int | None = None


def _check_options(o: _Options) -> None:
    """A ValueError naming the first bad option; ``k_fractions`` becomes a tuple of floats."""
    if o.score_block_rows is not None and (isinstance(o.score_block_rows, bool) or int(o.score_block_rows) < 1):
        raise ValueError(f"score_block_rows must be None or a positive int, got {o.score_block_rows!r}")
    for name, m in (("selection_max_rows", o.selection_max_rows), ("placebo_max_rows", o.placebo_max_rows)):
        if m is not None and (isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 100):
            raise ValueError(f"{name} must be None or an int >= 100, got {m!r}")
    if o.learner != "auto" and o.learner not in LEARNERS:
        raise ValueError(f"learner must be 'auto' or one of {list(LEARNERS)}, got {o.learner!r}")
    if o.base_learner != "auto" and o.base_learner not in BASE_LEARNERS:
        raise ValueError(f"base_learner must be 'auto' or one of {list(BASE_LEARNERS)}, got {o.base_learner!r}")
    for name, value, low in (("inner_folds", o.inner_folds, 2), ("n_placebo", o.n_placebo, 0),
                             ("placebo_jobs", o.placebo_jobs, 1), ("n_bootstrap", o.n_bootstrap, 2),
                             ("min_group_size", o.min_group_size, 2),
                             ("min_treated_conversions", o.min_treated_conversions, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    n_folds = o.n_folds
    if n_folds is not None and (isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer))
                                or n_folds < 2):
        raise ValueError(f"n_folds must be None or an int >= 2, got {n_folds!r}")
    if not (isinstance(o.holdout, float) and 0 < o.holdout < 1):
        raise ValueError(f"holdout must be a float in (0, 1), got {o.holdout!r}")
    o.k_fractions = tuple(float(k) for k in o.k_fractions)
    if not o.k_fractions or any(not 0 < k < 1 for k in o.k_fractions):
        raise ValueError(f"k_fractions must be fractions in (0, 1), got {o.k_fractions!r}")
    if not 0 <= o.margin_rate <= 1:
        raise ValueError(f"margin_rate must be in [0, 1], got {o.margin_rate!r}")
    if o.uplift_threshold < 0:
        raise ValueError(f"uplift_threshold must be >= 0, got {o.uplift_threshold!r}")


@dataclass
class _Outputs:
    """What the experiments add up to: metric rows, out-of-sample prediction parts, the scoring learners
    ``{experiment_id: {arm: (kind, family, model)}}``, the owner of each arm (the experiment with the most
    treated exposures, and their number), and per experiment the control conversion rate and the mean revenue
    of a control conversion."""

    metric_rows: list = field(default_factory=list)
    holdout_parts: list = field(default_factory=list)
    learners: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    control_rates: dict = field(default_factory=dict)
    arm_owner: dict = field(default_factory=dict)


@dataclass
class _Experiment:
    """One experiment's exposures (stable order), their model matrix, arm labels and outcomes; the arms
    kept, the evaluation plan (training rows, evaluated rows, fold label per fit) and the evaluated rows."""

    exp_id: str
    exp: pd.DataFrame
    X: np.ndarray
    labels: np.ndarray
    y: np.ndarray
    control: str
    ok_arms: list
    plan: list
    keep: np.ndarray
    eval_idx: np.ndarray
    eval_fold: np.ndarray
    fit_threads: int

    def arm_rows(self, idx: np.ndarray, arm) -> np.ndarray:
        """The rows of ``idx`` in ``arm`` or the control."""
        return idx[(self.labels[idx] == self.control) | (self.labels[idx] == arm)]


def _dropped_experiment(exp_id: str, controls: list, arms: list, flagged: dict, srm_threshold: float,
                        out: _Outputs) -> bool:
    """A sample-ratio mismatch or not exactly one control drops the experiment (a status row per arm)."""
    if exp_id in flagged:
        for arm in arms:
            out.metric_rows.append(_note_row(exp_id, arm, f"experiment dropped: sample-ratio mismatch "
                                                          f"(p = {flagged[exp_id]:.2g} < {srm_threshold})"))
        return True
    if len(controls) != 1:
        for arm in arms:
            out.metric_rows.append(_note_row(exp_id, arm, "experiment dropped: no single control variant"))
        return True
    return False


def _evaluation_plan(o: _Options, exp_id: str, n: int, labels: np.ndarray, y: np.ndarray, control: str,
                     arms: list, out: _Outputs) -> tuple[list, list]:
    """The estimable arms (a status row for every other one) and the evaluation plan: cross-fitting folds,
    or the single split with ``holdout``. No arm: ``([], [])``."""
    # arms that cannot be estimated (empty, one outcome value, too few treated conversions or rows)
    ok_arms, skipped = _estimable_arms(labels, y, control, arms, o.min_group_size, o.min_treated_conversions)
    if not ok_arms:
        for arm in arms:
            out.metric_rows.append(_note_row(exp_id, arm, f"not estimable: {skipped[arm]}"))
        return [], []
    # evaluation plan: (training rows, evaluated rows, fold label) per fit
    if o.n_folds:
        fold_of = _cross_fit_folds(n, labels, y, o.n_folds, o.random_state)
        plan = [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f), f) for f in range(o.n_folds)]
    else:
        idx_train, idx_test = _split(n, labels, y, o.holdout, o.random_state)
        plan = [(idx_train, idx_test, None)]
    # ... and those whose cross-fitting training parts cannot be fitted
    for train_idx, _, _ in plan:
        part_ok, part_skipped = _fittable_arms(labels[train_idx], y[train_idx], control, ok_arms, 2)
        ok_arms = [a for a in ok_arms if a in part_ok]
        for arm, why in part_skipped.items():
            skipped.setdefault(arm, f"a cross-fitting training part has {why}")
    for arm in arms:
        if arm in skipped:
            out.metric_rows.append(_note_row(exp_id, arm, f"not estimable: {skipped[arm]}"))
    return ok_arms, plan


def _out_of_fold(o: _Options, e: _Experiment):
    """Nested, per arm: in every fold the (kind, family) of each arm is chosen by an inner cross-validation of
    the fold's training rows of that arm and the control only, fitted on them and predicts the fold's exposures;
    the out-of-fold Qini of these predictions is reported, so it is not the score that made any choice.

    Returns the predicted uplift, control probability, kind and family of every evaluated row × kept arm,
    and each fold's ``{arm: ((kind, family), inner scores, model)}``."""
    shape = (e.eval_idx.size, len(e.ok_arms))
    pred, p0 = np.full(shape, np.nan), np.full(shape, np.nan)
    row_kind, row_family = np.empty(shape, dtype=object), np.empty(shape, dtype=object)
    fold_choices, pos = [], 0
    for train_idx, test_idx, _ in e.plan:
        choice = {}
        for j, arm in enumerate(e.ok_arms):
            sel = _with_threads(e.fit_threads, select_uplift_learner, e.X, e.labels, e.y, e.control,
                                learner=o.learner, base_learner=o.base_learner, inner_folds=o.inner_folds,
                                random_state=o.random_state, rows=e.arm_rows(train_idx, arm),
                                n_bootstrap=o.n_bootstrap, max_rows=o.selection_max_rows)
            choice[arm] = ((sel.kind, sel.base_learner), sel.inner_scores, sel.model)
            pred[pos:pos + test_idx.size, j] = sel.model.predict_uplift(e.X[test_idx], arm=arm)
            p0[pos:pos + test_idx.size, j] = _control_probability(sel.model, e.X[test_idx], arm)
            row_kind[pos:pos + test_idx.size, j] = sel.kind
            row_family[pos:pos + test_idx.size, j] = sel.base_learner
        fold_choices.append(choice)
        pos += test_idx.size
    return pred, p0, row_kind, row_family, fold_choices


def _final_learners(o: _Options, e: _Experiment, fold_choices: list) -> dict:
    """The learner that scores each arm: the (kind, family) most of the folds chose (ties: the simpler, as the
    selection rule), refitted on all of the experiment's exposures of the arm and the control (in the
    single-split mode without refit: the training part's fit). No new selection on all rows: the scoring model
    is the one whose out-of-fold Qini is reported, not a choice that no fold made."""
    final = {}
    for arm in e.ok_arms:
        best = _majority_choice([c[arm][0] for c in fold_choices])
        inner = _mean_inner_scores([c[arm][1] for c in fold_choices])
        if o.n_folds or o.refit:
            model = _with_threads(e.fit_threads, _fit_learner, best, e.X, e.labels, e.y, e.control,
                                  e.arm_rows(np.flatnonzero(e.keep), arm), o.random_state)
        else:
            model = fold_choices[0][arm][2]
        final[arm] = (best, inner, model)
    return final


def _real_qini(o: _Options, e: _Experiment, pred: np.ndarray, j: int, arm: str) -> float:
    """The arm's real out-of-fold Qini (as :func:`_arm_metric_rows` reports it)."""
    e_lab, e_y = e.labels[e.eval_idx], e.y[e.eval_idx]
    cmp = (e_lab == e.control) | (e_lab == arm)
    return _holdout_metrics(e_y[cmp].astype(float), pred[cmp, j], (e_lab[cmp] == arm).astype(int),
                            o.k_fractions)["qini_auc"]


def _placebo(o: _Options, e: _Experiment, final: dict, pred: np.ndarray) -> dict:
    """Placebo, per arm: the labels of the arm's and the control's exposures shuffled ``n_placebo`` times, the
    arm's kept (kind, family) refitted in the same cross-fitting folds (no inner selection per shuffle); run in
    ``placebo_jobs`` processes (the permutations are drawn up front: same result). The shuffles stop once the
    arm's test has failed whatever the rest give (:func:`placebo_fail_count` of them reach the real Qini)."""
    placebo = {}
    if o.n_placebo > 0:
        for j, arm in enumerate(e.ok_arms):
            a_plan = [(e.arm_rows(tr, arm), e.arm_rows(te, arm), f) for tr, te, f in e.plan]
            placebo[arm] = placebo_test_rows(final[arm][0], e.control, arm, e.X, e.labels, e.y, a_plan,
                                             o.random_state, o.n_placebo, _real_qini(o, e, pred, j, arm),
                                             max_rows=o.placebo_max_rows, n_jobs=o.placebo_jobs)
    return placebo


def _arm_metric_rows(o: _Options, e: _Experiment, pred: np.ndarray, fold_choices: list, final: dict,
                     placebo: dict, out: _Outputs) -> None:
    """Per kept arm: the out-of-sample metrics of the kept learner, the inner scores of every candidate and a
    placebo status row when the placebo test did not pass or could not run."""
    exp_id, control = e.exp_id, e.control
    e_lab, e_y = e.labels[e.eval_idx], e.y[e.eval_idx]
    for j, arm in enumerate(e.ok_arms):
        best, inner_scores, _ = final[arm]
        kind, family = best
        agreement = float(np.mean([c[arm][0] == best for c in fold_choices]))
        cmp = (e_lab == control) | (e_lab == arm)
        t = (e_lab[cmp] == arm).astype(int)
        m = _holdout_metrics(e_y[cmp].astype(float), pred[cmp, j], t, o.k_fractions)
        runs, reference, sampled = placebo.get(arm, (None, m["qini_auc"], None))
        m.update(_placebo_metrics(reference, runs, o.n_placebo))
        if sampled is not None:     # the test ran on a sample (placebo_max_rows): what it compared
            m["placebo_sample_rows"], m["placebo_sample_qini"] = float(sampled), reference
        m["selection_agreement"] = agreement
        m["n_treated"], m["n_control"] = float(t.sum()), float((1 - t).sum())
        for name, value in m.items():
            out.metric_rows.append({
                "experiment_id": exp_id, "promotion_id": arm, "learner": kind, "base_learner": family,
                "metric_name": name, "metric_value": value, "is_selected_learner": True, "note": None,
            })
        for (c_kind, c_family), score in inner_scores.items():
            out.metric_rows.append({
                "experiment_id": exp_id, "promotion_id": arm, "learner": c_kind, "base_learner": c_family,
                "metric_name": "inner_qini", "metric_value": score,
                "is_selected_learner": (c_kind, c_family) == best, "note": None,
            })
        if o.n_placebo > 0 and m["placebo_pass"] == 0.0:
            out.metric_rows.append(_note_row(
                exp_id, arm, f"placebo not passed: out-of-fold Qini {reference:.4f} is not above the "
                             f"95th percentile {m['placebo_qini_p95']:.4f} of {int(m['n_placebo'])} shuffles"
                             + (f" (on a stratified sample of {sampled} rows, placebo_max_rows)"
                                if sampled is not None else "")
                             + (f" (stopped early: {placebo_fail_count(o.n_placebo)} placebo Qinis reached the "
                                f"real one, so {o.n_placebo} could not pass either)"
                                if m["n_placebo"] < o.n_placebo else ""),
                metric_name="placebo_status"))
        elif o.n_placebo > 0 and not np.isfinite(m["placebo_pass"]):
            out.metric_rows.append(_note_row(exp_id, arm, "placebo not run: no shuffle could be fitted",
                                             metric_name="placebo_status"))


def _holdout_parts(o: _Options, e: _Experiment, pred, p0, row_kind, row_family, out: _Outputs) -> None:
    """Out-of-sample predictions (out-of-fold, or on the holdout), each from its fold's chosen learner."""
    e_lab, e_y = e.labels[e.eval_idx], e.y[e.eval_idx]
    for j, arm in enumerate(e.ok_arms):
        cmp = (e_lab == e.control) | (e_lab == arm)
        sub = e.exp.iloc[e.eval_idx[cmp]]
        out.holdout_parts.append(pd.DataFrame({
            "exposure_id": sub["exposure_id"].astype(str).to_numpy(),
            "promotion_id": arm,
            "customer_id": sub["customer_id"].astype(str).to_numpy(),
            "experiment_id": e.exp_id,
            "variant": e_lab[cmp],
            "is_treated": e_lab[cmp] == arm,
            "is_converted": e_y[cmp].astype(bool),
            "revenue": pd.to_numeric(sub["revenue"], errors="coerce").to_numpy(float)
            if "revenue" in sub else np.nan,
            "learner": row_kind[cmp, j],
            "base_learner": row_family[cmp, j],
            "fold": pd.array(np.where(e.eval_fold[cmp] >= 0, e.eval_fold[cmp], 0), dtype="Int64")
            if o.n_folds else pd.array([None] * int(cmp.sum()), dtype="Int64"),
            "predicted_uplift": pred[cmp, j],
            "predicted_control_probability": p0[cmp, j],
        }))


def _own_arms(o: _Options, e: _Experiment, final: dict, out: _Outputs) -> None:
    """The experiment's fitted scoring learners, its control conversion rate and mean control-conversion revenue,
    and the arms it owns (most treated exposures so far: it replaces any earlier experiment as the arm's owner).
    The customers are scored after the last experiment, by the owners' learners (:func:`_score_tables`)."""
    labels, y = e.labels, e.y
    out.control_rates[e.exp_id] = float(y[labels == e.control].mean())
    conv = (labels == e.control) & (y == 1)
    rev = pd.to_numeric(e.exp["revenue"], errors="coerce").to_numpy(float) if "revenue" in e.exp else None
    conv_revenue = rev[conv] if rev is not None else np.array([])
    conv_revenue = conv_revenue[np.isfinite(conv_revenue)]
    out.values[e.exp_id] = float(conv_revenue.mean()) if conv_revenue.size else 0.0
    out.learners[e.exp_id] = {arm: (*final[arm][0], final[arm][2]) for arm in e.ok_arms}
    for arm in e.ok_arms:
        n_treated = int((labels == arm).sum())
        if arm in out.arm_owner and out.arm_owner[arm][1] >= n_treated:
            continue
        out.arm_owner[arm] = (e.exp_id, n_treated)


def _fit_experiment(o: _Options, exp_id: str, rows: np.ndarray, training: pd.DataFrame, X_all: np.ndarray,
                    variants: dict[str, bool], flagged: dict, out: _Outputs) -> None:
    """One experiment (``rows`` of ``training`` and ``X_all``): its status rows, out-of-sample metrics and
    predictions, its scoring learners and the arms it owns."""
    exp = training.iloc[rows].reset_index(drop=True)
    controls = sorted(v for v, is_control in variants.items() if is_control)
    arms = sorted(v for v, is_control in variants.items() if not is_control)
    if _dropped_experiment(exp_id, controls, arms, flagged, o.srm_threshold, out):
        return
    control = controls[0]
    labels = exp["variant"].astype(str).to_numpy()
    y = exp["is_converted"].astype(float).to_numpy().astype(int)
    X = X_all[rows]
    ok_arms, plan = _evaluation_plan(o, exp_id, len(exp), labels, y, control, arms, out)
    if not ok_arms:
        return
    keep = np.isin(labels, [control, *ok_arms])
    plan = [(tr[keep[tr]], te[keep[te]], f) for tr, te, f in plan]
    # OpenMP / BLAS threads only pay on large fits: on a few thousand rows a second thread mostly
    # waits (and spins on a busy machine: 10x slower measured on the tiny world), so smaller
    # experiments fit single-threaded; scoring every customer uses n_threads
    e = _Experiment(exp_id=exp_id, exp=exp, X=X, labels=labels, y=y, control=control, ok_arms=ok_arms, plan=plan,
                    keep=keep, eval_idx=np.concatenate([te for _, te, _ in plan]),
                    eval_fold=np.concatenate([np.full(te.size, -1 if f is None else f) for _, te, f in plan]),
                    fit_threads=o.n_threads if len(exp) >= THREADED_FIT_MIN_ROWS else 1)
    pred, p0, row_kind, row_family, fold_choices = _out_of_fold(o, e)
    final = _final_learners(o, e, fold_choices)
    placebo = _placebo(o, e, final, pred)
    _arm_metric_rows(o, e, pred, fold_choices, final, placebo, out)
    _holdout_parts(o, e, pred, p0, row_kind, row_family, out)
    _own_arms(o, e, final, out)


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
