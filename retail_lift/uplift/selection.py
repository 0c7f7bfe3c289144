"""Learner selection of the uplift pipeline: the candidate meta-learners (kind x outcome-model family), the
nested choice by inner cross-validated Qini and the fit of the chosen one.

:func:`select_uplift_learner` is what :func:`~retail_lift.uplift.pipeline.fit_score_uplift` runs in every
cross-fitting training part (see *Cross-fitting and nested learner selection* and *Base learners* in
:mod:`retail_lift.uplift.pipeline`): the candidates are the X- and the T-learner (``learner="auto"``) with
L2-logistic and gradient-boosted outcome models (``base_learner="auto"``), chosen by
:func:`retail_lift.uplift.base.inner_cv_select` with the simplest-first order of :func:`_complexity`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from retail_lift.uplift.base import BASE_FAMILIES, inner_cv_select, linear_regressor
from retail_lift.uplift.slearner import SLearner
from retail_lift.uplift.tlearner import TLearner
from retail_lift.uplift.xlearner import XLearner

__all__ = ["BASE_LEARNERS", "LEARNERS", "SelectedLearner", "default_effect_learner", "select_uplift_learner",
           "selection_rows"]

LEARNERS = ("t", "x", "s")

#: Outcome-model families of :func:`fit_score_uplift` (``base_learner``; ``"auto"`` chooses among them).
BASE_LEARNERS = BASE_FAMILIES


def default_effect_learner():
    """The X-learner's stage-2 effect model of the logistic family: standardised ridge, penalty by cross-validation."""
    return linear_regressor()


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


def selection_rows(labels, y, rows, max_rows: int | None, random_state: int | None = 0) -> np.ndarray:
    """``rows`` when there are at most ``max_rows`` of them (or ``max_rows`` is None), else a seeded sample of
    ``max_rows`` of them stratified by arm label and outcome (each arm keeps its share and its conversion
    rate), in row order: the rows the inner cross-validation chooses the learner on."""
    rows = np.asarray(rows)
    if max_rows is None or rows.size <= int(max_rows):
        return rows
    from sklearn.model_selection import train_test_split

    strata = np.char.add(np.asarray(labels)[rows].astype(str), np.asarray(y)[rows].astype(str))
    kept, _ = train_test_split(rows, train_size=int(max_rows), stratify=strata,
                               random_state=0 if random_state is None else int(random_state))
    return np.sort(kept)


def select_uplift_learner(X, labels, y, control, *, learner: str = "auto", base_learner: str = "auto",
                          inner_folds: int = 3, random_state: int | None = 0, rows=None,
                          n_bootstrap: int = 100, max_rows: int | None = None) -> SelectedLearner:
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
        max_rows: the choice is made on at most this many of ``rows`` (:func:`selection_rows`: a seeded
            sample stratified by arm and outcome); the chosen learner is then fitted on all of ``rows``.
            None: on all of them.
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
    chosen_on = selection_rows(labels, y, rows, max_rows, random_state)
    (kind, family), scores = _select(_candidates(learner, base_learner), X, labels, y, chosen_on, control, arms,
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
