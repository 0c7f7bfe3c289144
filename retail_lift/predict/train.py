"""Train, compare and score: one call from a feature mart to scores, metrics and importances.

:func:`train_compare_score` is what a dbt Python model calls.

**Out of time** (the warehouse's scheme, ``validation='out_of_time'``, chosen automatically when the frame
has ``oot_*`` rows): the frame holds labelled snapshots ``oot_train`` (cutoff c − 90 days),
``oot_validation`` (c − 60), ``oot_test`` (c − 30) and ``train`` (c), and the unlabelled ``score``
snapshot. Every model in ``models`` is fitted (feature spec, calibration folds) on ``oot_train``; on
``oot_validation``, which no model or calibrator has seen, each model's F1-optimal threshold is tuned and
the model with the best ``select_by`` is chosen; every model is measured on ``oot_test`` at its validation
threshold (metrics split ``'test'``; also ``'validation'`` and in-sample ``'train'``), and nothing is
chosen there. The chosen model is refitted on ``train`` (the latest labelled snapshot), keeps its
validation threshold, and scores ``score``. :attr:`TrainResult.splits` records every snapshot used, and
:attr:`TrainResult.feature_drift` the PSI of every feature between ``train`` and ``score``. A labelled
snapshot with a single class raises :class:`NoPositiveLabelsError`.

**Random customer holdout** (``validation='random_customer_holdout'``, the scheme of a frame with only a
``'train'`` and a ``'score'`` snapshot): it

1. keeps the ``'train'`` rows whose label is not missing (e.g. ``returned`` is only defined for
   first-time buyers) and checks the label is 0/1 with both classes present;
2. splits them into a training part and a **holdout** of ``holdout`` (default 30 %) of the
   *customers* (``group_col``, default the first id column): all rows of a customer fall on the same
   side, and the split is stratified on whether the customer has any positive row;
3. for every model in ``models``: learns the feature spec on the training part
   (:func:`~retail_lift.predict.features.infer_feature_spec`, with the leakage guard), fits the
   classifier (:func:`~retail_lift.predict.classifiers.make_classifier`, calibrated with ``cv``
   stratified, customer-disjoint folds) and takes its out-of-fold probabilities; the **F1-optimal
   threshold** is chosen on those (:func:`~retail_lift.predict.metrics.best_f1_threshold`), never
   on the holdout; then it measures every metric of
   :func:`~retail_lift.predict.metrics.classification_metrics` on the holdout (``split='holdout'``)
   and in-sample on the training part (``split='train'``, to see over-fitting), including f1 /
   accuracy / precision / recall at that threshold;
4. chooses the model with the best holdout ``select_by`` metric: ``'log_loss'`` (default: a proper
   scoring rule, so it rewards both ranking and calibration, which matters when the probabilities are
   used as such, e.g. in expected-value targeting) or ``'roc_auc'`` (ranking only). Ties go to the
   earlier model in ``models``;
5. refits the chosen model on **all** labelled train rows (spec, calibration, OOF threshold again)
   and scores the ``'score'`` rows.

Every probability is clipped to ``[clip, 1 - clip]`` (default 0.001): isotonic calibration can
otherwise return exactly 0 or 1 (see :mod:`~retail_lift.predict.classifiers`).

Imbalance: with ``balance='auto'`` a label whose minority class is below ``rare_threshold`` (default
20 %) of the training rows gets balanced class weights (see
:mod:`~retail_lift.predict.classifiers`); calibration then brings the probabilities back to the
observed rates, and the F1 threshold turns them into a decision.

Usage for the warehouse's labels (``features`` = ``fct_customer_features`` unless noted)::

    train_compare_score(features, "purchased_next_30d")                 # purchase propensity
    train_compare_score(first_time_buyers, "returned")                  # see below
    fb = derive_label(features, "acquisition_channel", "facebook", name="is_facebook")
    train_compare_score(fb, "is_facebook", exclude=("acquisition_channel",))
    train_compare_score(category_features, "purchased_category_next_30d",   # fct_customer_category_features
                        id_cols=("customer_id", "category_id"), id_features=("category_id",))

``returned`` is defined only for first-time buyers: 'train' rows where it is NULL are skipped
automatically, but the 'score' rows have no label to tell them apart, so pass the frame already
restricted to the population to score (first-time buyers at the score cutoff).

Besides the name-based leakage guard of the feature module, any encoded feature that equals the label
(or its complement) on every labelled row raises ``ValueError``: that is what forgetting to exclude
the column a derived label comes from looks like.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, train_test_split

from retail_lift.predict.classifiers import (
    DEFAULT_CLIP,
    MODEL_KINDS,
    feature_importance,
    fit_with_oof,
    make_classifier,
    native_encoding,
    predict_probability,
)
from retail_lift.predict.drift import feature_drift
from retail_lift.predict.features import (
    DEFAULT_ID_COLS,
    LABEL_COLUMNS,
    FeatureSpec,
    as_frame,
    infer_feature_spec,
)
from retail_lift.predict.metrics import best_f1_threshold, classification_metrics
from retail_lift.validation import check_binary, check_positive_int

__all__ = ["TrainResult", "train_compare_score", "customer_holdout_split", "cv_splits", "NoPositiveLabelsError",
           "OUT_OF_TIME_ROLES"]

#: Snapshot roles of the out-of-time comparison -> the split name they get in the metrics.
#: ``oot_train`` has its feature cutoff at c - 90 days (labels in [c - 90, c - 60)), ``oot_validation`` at
#: c - 60 and ``oot_test`` at c - 30, where c is the cutoff of the ``'train'`` snapshot (the latest
#: labelled one, on which the chosen model is refitted for scoring).
OUT_OF_TIME_ROLES: dict[str, str] = {"oot_train": "train", "oot_validation": "validation", "oot_test": "test"}


class NoPositiveLabelsError(ValueError):
    """A labelled snapshot has no positive (or no negative) label: no model can be trained or judged on it."""

    def __init__(self, snapshot: str, rows: int, positives: int):
        self.snapshot, self.rows, self.positives = snapshot, rows, positives
        what = "no positive labels" if positives == 0 else "no negative labels"
        super().__init__(f"snapshot {snapshot!r} has {what} ({rows} labelled rows, {positives} positive)")

_SELECT_BY = {"log_loss": "min", "roc_auc": "max"}


@dataclass
class TrainResult:
    """What :func:`train_compare_score` returns.

    Attributes:
        scores: one row per ``'score'`` row: the ``id_cols``, ``probability`` (chosen model, refitted
            on all train rows) and ``model``.
        metrics: long table, one row per ``model`` x ``metric`` x ``split`` (out of time:
            ``'train'``, ``'validation'``, ``'test'``; random holdout: ``'holdout'``, ``'train'``) with
            ``value``. Metrics are those of
            :func:`~retail_lift.predict.metrics.classification_metrics` plus ``threshold`` and the
            metrics at it.
        chosen_model: the model kind chosen on the validation snapshot (or the random holdout).
        feature_importance: the final model's normalised importances: ``model``, ``feature``
            (encoded column), ``source_column``, ``importance``, ``rank`` (1 = most important).
        threshold: the final model's F1-optimal threshold (out of time: tuned on the validation snapshot;
            random holdout: on its out-of-fold probabilities).
        holdout_predictions: the test-snapshot rows (random holdout: the holdout rows): ``id_cols``, the
            label (column ``label``) and
            ``probability_<model>`` for every model.
        feature_columns: the final model's encoded feature columns.
        feature_spec: the final model's :class:`~retail_lift.predict.features.FeatureSpec`.
        model: the final fitted estimator.
        label: the label column.
        timings: seconds per step (``fit_<model>``, ``final_fit``, ``total``).
        validation: ``'out_of_time'`` (models fitted on ``oot_train``, chosen and thresholded on
            ``oot_validation``, reported on ``oot_test``) or ``'random_customer_holdout'`` (no
            out-of-time snapshots in the frame: a random customer split of the ``'train'`` snapshot).
        splits: one row per snapshot used: ``split`` (``train`` / ``validation`` / ``test`` /
            ``refit`` / ``score``, or ``train`` / ``holdout`` / ``refit`` / ``score``), ``snapshot_role``,
            ``feature_date`` (when the frame has it), ``rows`` and ``positives``.
        feature_drift: per source feature of the final model: ``feature``, ``kind``, ``psi`` between
            the refit snapshot and the score snapshot, ``is_drift_warning`` (``psi > 0.2``).
    """

    scores: pd.DataFrame
    metrics: pd.DataFrame
    chosen_model: str
    feature_importance: pd.DataFrame
    threshold: float
    holdout_predictions: pd.DataFrame
    feature_columns: list[str]
    feature_spec: FeatureSpec
    model: object
    label: str
    timings: dict[str, float] = field(default_factory=dict)
    validation: str = "random_customer_holdout"
    splits: pd.DataFrame = field(default_factory=pd.DataFrame)
    feature_drift: pd.DataFrame = field(default_factory=pd.DataFrame)

    def metric(self, model: str, metric: str, split: str | None = None) -> float:
        """One value of :attr:`metrics` (default split: ``'test'`` out of time, else ``'holdout'``)."""
        if split is None:
            split = "test" if self.validation == "out_of_time" else "holdout"
        m = self.metrics
        row = m[(m["model"] == model) & (m["metric"] == metric) & (m["split"] == split)]
        if row.empty:
            raise KeyError(f"no metric {metric!r} for model {model!r} on split {split!r}")
        return float(row["value"].iloc[0])


# ----------------------------------------------------------------------------------------------
# splits
# ----------------------------------------------------------------------------------------------


def customer_holdout_split(y, groups, *, holdout: float = 0.3,
                           random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Row positions ``(train, holdout)`` with disjoint groups, stratified on "group has a positive".

    ``holdout`` is the share of *groups* (customers) held out.
    """
    y = check_binary(y, "y")
    holdout = float(holdout)
    if not 0.0 < holdout < 1.0:
        raise ValueError(f"holdout must lie in (0, 1), got {holdout}")
    codes, uniques = pd.factorize(pd.Series(np.asarray(groups, dtype=object)), use_na_sentinel=False)
    if codes.size != y.size:
        raise ValueError(f"groups has {codes.size} values but y has {y.size}")
    has_pos = np.bincount(codes, weights=y, minlength=len(uniques)) > 0
    n_pos, n_neg = int(has_pos.sum()), int((~has_pos).sum())
    if min(n_pos, n_neg) < 2:
        raise ValueError(f"need at least 2 customers with and 2 without a positive label to stratify, "
                         f"got {n_pos} and {n_neg}")
    g_train, g_hold = train_test_split(np.arange(len(uniques)), test_size=holdout, stratify=has_pos,
                                       random_state=random_state)
    in_hold = np.zeros(len(uniques), dtype=bool)
    in_hold[g_hold] = True
    rows_hold = in_hold[codes]
    return np.flatnonzero(~rows_hold), np.flatnonzero(rows_hold)


def cv_splits(y, groups, n_splits: int, random_state: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified, shuffled, seeded folds; group-disjoint (``StratifiedGroupKFold``) when a group repeats."""
    n_splits = check_positive_int(n_splits, "cv")
    if n_splits < 2:
        raise ValueError(f"cv must be at least 2, got {n_splits}")
    y = check_binary(y, "y")
    g = np.asarray(groups, dtype=object)
    x_dummy = np.zeros((y.size, 1))
    if pd.Series(g).duplicated().any():
        splitter = StratifiedGroupKFold(n_splits, shuffle=True, random_state=random_state)
        return [(tr, te) for tr, te in splitter.split(x_dummy, y, groups=g)]
    splitter = StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
    return [(tr, te) for tr, te in splitter.split(x_dummy, y)]


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


def _names(value, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    out = tuple(value)
    if not all(isinstance(v, str) for v in out):
        raise ValueError(f"{name} must hold column names (strings), got {out!r}")
    return out


def _check_label_not_a_feature(X: pd.DataFrame, y: np.ndarray, spec: FeatureSpec, label: str) -> None:
    """Raise if an encoded feature equals the label (or 1 - label) on every row."""
    source = spec.source_of("onehot")
    # column by column: no second copy of the training matrix (and no rows x features comparison arrays)
    same = np.array([np.all(v == y) or np.all(v == 1.0 - y)
                     for v in (X[c].to_numpy(dtype=float) for c in X.columns)], dtype=bool)
    if same.any():
        cols = [X.columns[i] for i in np.flatnonzero(same)]
        srcs = sorted({source[c] for c in cols})
        raise ValueError(
            f"label leakage: feature(s) {cols} equal the label {label!r} on every training row; "
            f"the label is derived from {srcs}: pass exclude={tuple(srcs)!r}"
        )


def _encode(spec: FeatureSpec, frame: pd.DataFrame, kind: str):
    if native_encoding(kind):
        return spec.encode(frame, "native")
    return spec.encode(frame, "onehot").to_numpy(dtype=float)


def _fit_one(kind: str, frame: pd.DataFrame, y: np.ndarray, groups, *, spec_kwargs: dict, label: str,  # noqa: PLR0913 - the fit of one candidate with its split settings
             calibrate, cv: int, balance: bool, random_state: int, n_jobs: int, params: Mapping | None,
             clip: float):
    spec = infer_feature_spec(frame, label=label, **spec_kwargs)
    if not spec.source_columns:
        raise ValueError("no feature columns left after removing ids, labels and exclude")
    onehot = spec.encode(frame, "onehot")
    _check_label_not_a_feature(onehot, y, spec, label)
    X = _encode(spec, frame, kind) if native_encoding(kind) else onehot.to_numpy(dtype=float)  # = _encode's
    del onehot
    splits = cv_splits(y, groups, cv, random_state)
    model = make_classifier(kind, random_state, calibrate=calibrate, cv=splits, balance=balance,
                            n_jobs=n_jobs, params=params)
    model, oof = fit_with_oof(model, X, y, splits, clip=clip)
    threshold, _ = best_f1_threshold(y, oof)
    return spec, model, threshold


#: Score rows encoded and predicted at a time (predictions are row by row: the blocks change nothing but memory).
SCORE_BLOCK_ROWS = 250_000


def _predict_in_blocks(model, spec: FeatureSpec, frame: pd.DataFrame, rows: np.ndarray, kind: str, *,
                       clip: float, block_rows: int | None = None) -> np.ndarray:
    """Probabilities of ``frame``'s rows at positions ``rows``, encoded and predicted ``block_rows`` at a time."""
    block_rows = SCORE_BLOCK_ROWS if block_rows is None else check_positive_int(block_rows, "block_rows")
    out = np.empty(len(rows), dtype=float)
    for lo in range(0, len(rows), block_rows):
        part = frame.iloc[rows[lo:lo + block_rows]]
        out[lo:lo + block_rows] = predict_probability(model, _encode(spec, part, kind), clip=clip)
    return out


def _metric_rows(model: str, split: str, values: Mapping[str, float]) -> list[dict]:
    return [{"model": model, "metric": k, "split": split, "value": float(v)} for k, v in values.items()]


# ----------------------------------------------------------------------------------------------
# the entry point
# ----------------------------------------------------------------------------------------------


def train_compare_score(features, label: str, *, models: Sequence[str] = MODEL_KINDS,  # noqa: C901, PLR0912, PLR0913 - one keyword per yml config key of the classifiers (typed config: issue 22 item 1)
                        id_cols: Sequence[str] = ("customer_id",), group_col: str | None = None,
                        id_features: Sequence[str] = (), exclude: Sequence[str] = (),
                        label_cols: Sequence[str] = LABEL_COLUMNS, role_col: str = "snapshot_role",
                        holdout: float = 0.3, random_state: int = 0, k: int | Iterable[int] = (100, 1000),
                        calibrate: str | None = "isotonic", cv: int = 3, select_by: str = "log_loss",
                        balance: bool | str = "auto", rare_threshold: float = 0.2,
                        model_params: Mapping[str, Mapping] | None = None, n_jobs: int = 2,
                        max_categories: int = 50, clip: float = DEFAULT_CLIP,
                        validation: str = "auto") -> TrainResult:
    """Compare classifiers on a customer holdout, refit the best on all train rows, score the rest.

    Args:
        features: the feature mart (pandas DataFrame or pyarrow Table) with ``role_col``.
        label: the 0/1 label column (missing on unlabelled rows, which are skipped for training).
        models: model kinds to compare, from ``("logistic", "xgboost", "catboost")``.
        id_cols: columns copied to ``scores`` / ``holdout_predictions``; never features unless listed
            in ``id_features``.
        group_col: the customer column that keeps holdout and CV folds disjoint (default
            ``id_cols[0]``).
        id_features: id columns that are also categorical features (``category_id`` in the customer x
            category model: the category's base rate matters).
        exclude: further columns that must not be features (e.g. the source of a derived label).
        label_cols: all outcome columns of the mart (dropped; see the feature module).
        role_col: the snapshot-role column (``'train'`` / ``'score'``).
        holdout: share of train customers held out for the comparison.
        random_state: seeds the split, the folds and the models.
        k: the top-k cut-offs of the metrics.
        calibrate: ``'isotonic'``, ``'sigmoid'`` or ``None``.
        cv: folds for calibration and the out-of-fold threshold.
        select_by: ``'log_loss'`` (lowest wins) or ``'roc_auc'`` (highest wins), on the holdout.
        balance: ``True`` / ``False``, or ``'auto'``: balance classes when the minority share of the
            labelled train rows is below ``rare_threshold``.
        model_params: per-kind hyper-parameter overrides, e.g. ``{"xgboost": {"n_estimators": 100}}``.
        n_jobs: threads per model fit.
        max_categories: one-hot levels kept per categorical column.
        clip: every probability (out-of-fold, holdout, train, scores) is clipped to
            ``[clip, 1 - clip]`` (see :func:`~retail_lift.predict.classifiers.predict_probability`).
        validation: ``'out_of_time'``: every model is fitted (spec, calibration folds) on the
            ``oot_train`` snapshot, its F1 threshold is tuned and the model chosen on ``oot_validation``
            (whose rows no calibrator saw), and it is reported on ``oot_test``, on which nothing is
            chosen; the chosen model is refitted on the ``'train'`` snapshot and keeps its validation
            threshold. ``'random_customer_holdout'``: the older scheme (a random ``holdout`` share of the
            ``'train'`` customers; threshold on out-of-fold probabilities). ``'auto'`` (default):
            out of time when the frame has ``oot_*`` rows, else the random holdout.
            A labelled snapshot without positive (or negative) labels raises
            :class:`NoPositiveLabelsError`.

    Returns:
        :class:`TrainResult`.
    """
    t_start = time.perf_counter()
    frame = as_frame(features, "features")
    models = _names(models, "models")
    if not models:
        raise ValueError("models must name at least one model kind")
    for kind in models:
        native_encoding(kind)  # validates the kind
    if len(set(models)) != len(models):
        raise ValueError(f"models must not repeat a kind, got {models}")
    if select_by not in _SELECT_BY:
        raise ValueError(f"select_by must be one of {list(_SELECT_BY)}, got {select_by!r}")
    if balance not in (True, False, "auto"):
        raise ValueError(f"balance must be True, False or 'auto', got {balance!r}")
    id_cols = _names(id_cols, "id_cols")
    if not id_cols:
        raise ValueError("id_cols must name at least one column")
    id_features = _names(id_features, "id_features")
    group_col = group_col or id_cols[0]
    for name, cols in (("label", (label,)), ("role_col", (role_col,)), ("id_cols", id_cols),
                       ("group_col", (group_col,))):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"{name}: column(s) {missing} not in features")
    stray = [c for c in id_features if c not in id_cols]
    if stray:
        raise ValueError(f"id_features must be a subset of id_cols; {stray} are not")
    model_params = dict(model_params or {})
    unknown = [m for m in model_params if m not in models]
    if unknown:
        raise ValueError(f"model_params has key(s) {unknown} that are not in models {models}")

    roles = frame[role_col]
    present = set(roles.dropna().astype(str))
    bad_roles = sorted(present - {"train", "score", *OUT_OF_TIME_ROLES})
    if bad_roles:
        raise ValueError(f"{role_col} must be 'train', 'score' or one of {list(OUT_OF_TIME_ROLES)}, "
                         f"found {bad_roles}")
    if validation not in ("auto", "out_of_time", "random_customer_holdout"):
        raise ValueError(f"validation must be 'auto', 'out_of_time' or 'random_customer_holdout', got {validation!r}")
    if validation == "auto":
        validation = "out_of_time" if present & set(OUT_OF_TIME_ROLES) else "random_customer_holdout"
    train = _select_rows(frame, (roles == "train") & frame[label].notna())
    # the score rows are encoded and scored in blocks, never copied whole
    score_rows = np.flatnonzero((roles == "score").to_numpy(dtype=bool, na_value=False))
    if train.empty:
        raise ValueError(f"no '{role_col} = train' rows with a non-missing {label!r}")
    y_all = check_binary(train[label].astype(float), label)
    _check_both_classes(y_all, "train")
    groups_all = train[group_col].to_numpy(dtype=object)

    minority = min(y_all.mean(), 1 - y_all.mean())
    do_balance = bool(minority < float(rare_threshold)) if balance == "auto" else bool(balance)
    spec_kwargs = dict(
        id_cols=tuple(dict.fromkeys((*DEFAULT_ID_COLS, *[c for c in id_cols if c not in id_features],
                                     role_col, group_col))),
        exclude=tuple(exclude), label_cols=_names(label_cols, "label_cols"), max_categories=max_categories,
    )
    if group_col in id_features:
        raise ValueError(f"group_col {group_col!r} cannot be a feature")
    fit_kwargs = dict(spec_kwargs=spec_kwargs, label=label, calibrate=calibrate, cv=cv, balance=do_balance,
                      random_state=random_state, n_jobs=n_jobs, clip=clip)

    if validation == "out_of_time":
        return _out_of_time(frame, train, y_all, groups_all, score_rows, label=label, models=models,
                            id_cols=id_cols, group_col=group_col, role_col=role_col, k=k, select_by=select_by,
                            model_params=model_params, fit_kwargs=fit_kwargs, clip=clip, t_start=t_start)

    # ---- comparison on a customer holdout ------------------------------------------------------
    tr_idx, ho_idx = customer_holdout_split(y_all, groups_all, holdout=holdout, random_state=random_state)
    part_tr, part_ho = train.iloc[tr_idx], train.iloc[ho_idx]
    y_tr, y_ho = y_all[tr_idx], y_all[ho_idx]
    rows: list[dict] = []
    timings: dict[str, float] = {}
    holdout_pred = part_ho[list(id_cols)].reset_index(drop=True)
    holdout_pred[label] = y_ho
    for kind in models:
        t0 = time.perf_counter()
        spec, model, threshold = _fit_one(kind, part_tr, y_tr, groups_all[tr_idx],
                                          params=model_params.get(kind), **fit_kwargs)
        p_ho = predict_probability(model, _encode(spec, part_ho, kind), clip=clip)
        p_tr = predict_probability(model, _encode(spec, part_tr, kind), clip=clip)
        timings[f"fit_{kind}"] = time.perf_counter() - t0
        holdout_pred[f"probability_{kind}"] = p_ho
        rows += _metric_rows(kind, "holdout", classification_metrics(y_ho, p_ho, k=k, threshold=threshold))
        rows += _metric_rows(kind, "train", classification_metrics(y_tr, p_tr, k=k, threshold=threshold))
    metrics = pd.DataFrame(rows, columns=["model", "metric", "split", "value"])

    chosen = _choose(metrics, "holdout", select_by, models)

    # ---- final model on all labelled train rows -------------------------------------------------
    t0 = time.perf_counter()
    spec, model, threshold = _fit_one(chosen, train, y_all, groups_all,
                                      params=model_params.get(chosen), **fit_kwargs)
    timings["final_fit"] = time.perf_counter() - t0
    splits = pd.DataFrame([
        _split_row("train", "train", part_tr, y_tr), _split_row("holdout", "train", part_ho, y_ho),
        _split_row("refit", "train", train, y_all), _split_row("score", "score", _select_rows(frame, score_rows), None),
    ])
    return _finish(frame, train, score_rows, spec, model, chosen, threshold, metrics, holdout_pred, splits,
                   id_cols=id_cols, label=label, clip=clip, timings=timings, t_start=t_start,
                   validation="random_customer_holdout")


def _select_rows(frame: pd.DataFrame, mask) -> pd.DataFrame:
    """``frame[mask]`` (``mask`` boolean, a missing value false, or row positions), as a slice when the rows are one
    ascending run.

    The feature marts come sorted by snapshot role first, so a role's rows are contiguous: a slice shares the
    frame's memory (pandas copies on write) where a boolean selection copies them; same rows, order, index and
    values either way."""
    mask = mask.to_numpy(dtype=bool, na_value=False) if isinstance(mask, pd.Series) else np.asarray(mask)
    pos = np.flatnonzero(mask) if mask.dtype == bool else mask
    if pos.size and (pos.size == 1 or bool(np.all(np.diff(pos) == 1))):
        return frame.iloc[int(pos[0]):int(pos[-1]) + 1]
    return frame.iloc[pos]


def _check_both_classes(y: np.ndarray, snapshot: str) -> None:
    n_pos = int(np.sum(y))
    if n_pos == 0 or n_pos == y.size:
        raise NoPositiveLabelsError(snapshot, int(y.size), n_pos)


def _split_row(split: str, role: str, rows: pd.DataFrame, y) -> dict:
    dates = rows["feature_date"].dropna() if "feature_date" in rows.columns else pd.Series(dtype=object)
    return {"split": split, "snapshot_role": role,
            "feature_date": pd.Timestamp(dates.iloc[0]) if len(dates) else pd.NaT,
            "rows": int(len(rows)), "positives": None if y is None else int(np.sum(y))}


def _finish(frame, train, score_rows, spec, model, chosen, threshold, metrics, holdout_pred, splits, *, id_cols,  # noqa: PLR0913 - the chosen model and its split, passed on as they are
            label, clip, timings, t_start, validation) -> TrainResult:
    scores = frame[list(id_cols)].iloc[score_rows].reset_index(drop=True)
    if len(score_rows):
        scores["probability"] = _predict_in_blocks(model, spec, frame, score_rows, chosen, clip=clip)
    else:
        scores["probability"] = pd.Series(dtype=float)
    scores["model"] = chosen

    encoding = "native" if native_encoding(chosen) else "onehot"
    names = spec.feature_names(encoding)
    imp = feature_importance(model, names)
    source = spec.source_of(encoding)
    importance = pd.DataFrame({
        "model": chosen,
        "feature": imp.index,
        "source_column": [source[c] for c in imp.index],
        "importance": imp.to_numpy(),
        "rank": np.arange(1, imp.size + 1),
    })
    drift = feature_drift(spec, train, _select_rows(frame, score_rows)) if len(score_rows) else \
        pd.DataFrame(columns=["feature", "kind", "psi", "is_drift_warning"])
    timings["total"] = time.perf_counter() - t_start
    return TrainResult(
        scores=scores, metrics=metrics, chosen_model=chosen, feature_importance=importance,
        threshold=threshold, holdout_predictions=holdout_pred, feature_columns=names, feature_spec=spec,
        model=model, label=label, timings=timings, validation=validation, splits=splits, feature_drift=drift,
    )


def _choose(metrics: pd.DataFrame, split: str, select_by: str, models: Sequence[str]) -> str:
    sel = metrics[(metrics["metric"] == select_by) & (metrics["split"] == split)].set_index("model")["value"]
    sel = sel.reindex(list(models))
    if sel.isna().all():
        return models[0]
    return str(sel.idxmin() if _SELECT_BY[select_by] == "min" else sel.idxmax())


def _out_of_time(frame, train, y_all, groups_all, score_rows, *, label, models, id_cols, group_col, role_col, k,  # noqa: PLR0913 - the out-of-time split settings, one keyword each
                 select_by, model_params, fit_kwargs, clip, t_start) -> TrainResult:
    """The out-of-time comparison (see :func:`train_compare_score`, ``validation='out_of_time'``)."""
    roles = frame[role_col]
    parts, ys = {}, {}
    for role, split in OUT_OF_TIME_ROLES.items():
        part = _select_rows(frame, (roles == role) & frame[label].notna())
        if part.empty:
            raise ValueError(f"out-of-time validation needs labelled '{role_col} = {role}' rows; there are none")
        y = check_binary(part[label].astype(float), label)
        _check_both_classes(y, role)
        parts[split], ys[split] = part, y
    rows: list[dict] = []
    timings: dict[str, float] = {}
    test = parts["test"]
    holdout_pred = test[list(id_cols)].reset_index(drop=True)
    holdout_pred[label] = ys["test"]
    thresholds = {}
    for kind in models:
        t0 = time.perf_counter()
        spec, model, _ = _fit_one(kind, parts["train"], ys["train"], parts["train"][group_col].to_numpy(dtype=object),
                                  params=model_params.get(kind), **fit_kwargs)
        p = {s: predict_probability(model, _encode(spec, parts[s], kind), clip=clip) for s in parts}
        timings[f"fit_{kind}"] = time.perf_counter() - t0
        # the threshold is tuned on the validation snapshot, whose rows no calibrator was fitted on
        threshold, _ = best_f1_threshold(ys["validation"], p["validation"])
        thresholds[kind] = threshold
        holdout_pred[f"probability_{kind}"] = p["test"]
        for s in ("validation", "test", "train"):
            rows += _metric_rows(kind, s, classification_metrics(ys[s], p[s], k=k, threshold=threshold))
    metrics = pd.DataFrame(rows, columns=["model", "metric", "split", "value"])
    chosen = _choose(metrics, "validation", select_by, models)

    t0 = time.perf_counter()
    spec, model, _ = _fit_one(chosen, train, y_all, groups_all, params=model_params.get(chosen), **fit_kwargs)
    timings["final_fit"] = time.perf_counter() - t0
    splits = pd.DataFrame([
        *[_split_row(s, r, parts[s], ys[s]) for r, s in OUT_OF_TIME_ROLES.items()],
        _split_row("refit", "train", train, y_all), _split_row("score", "score", _select_rows(frame, score_rows), None),
    ])
    return _finish(frame, train, score_rows, spec, model, chosen, thresholds[chosen], metrics, holdout_pred, splits,
                   id_cols=id_cols, label=label, clip=clip, timings=timings, t_start=t_start,
                   validation="out_of_time")
