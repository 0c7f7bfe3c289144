"""Train, compare and score: one call from a feature mart to scores, metrics and importances.

:func:`train_compare_score` is what a dbt Python model calls. Given a frame with a ``'train'`` and
a ``'score'`` snapshot (column ``snapshot_role``) it:

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
from retail_lift.predict.features import (
    DEFAULT_ID_COLS,
    LABEL_COLUMNS,
    FeatureSpec,
    as_frame,
    infer_feature_spec,
)
from retail_lift.predict.metrics import best_f1_threshold, classification_metrics
from retail_lift.validation import check_binary, check_positive_int

__all__ = ["TrainResult", "train_compare_score", "customer_holdout_split", "cv_splits"]

_SELECT_BY = {"log_loss": "min", "roc_auc": "max"}


@dataclass
class TrainResult:
    """What :func:`train_compare_score` returns.

    Attributes:
        scores: one row per ``'score'`` row: the ``id_cols``, ``probability`` (chosen model, refitted
            on all train rows) and ``model``.
        metrics: long table, one row per ``model`` x ``metric`` x ``split`` (``'holdout'``,
            ``'train'``) with ``value``. Metrics are those of
            :func:`~retail_lift.predict.metrics.classification_metrics` plus ``threshold`` and the
            metrics at it.
        chosen_model: the model kind chosen on the holdout.
        feature_importance: the final model's normalised importances: ``model``, ``feature``
            (encoded column), ``source_column``, ``importance``, ``rank`` (1 = most important).
        threshold: the final model's F1-optimal threshold (on its out-of-fold probabilities).
        holdout_predictions: the holdout rows: ``id_cols``, the label (column ``label``) and
            ``probability_<model>`` for every model.
        feature_columns: the final model's encoded feature columns.
        feature_spec: the final model's :class:`~retail_lift.predict.features.FeatureSpec`.
        model: the final fitted estimator.
        label: the label column.
        timings: seconds per step (``fit_<model>``, ``final_fit``, ``total``).
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

    def metric(self, model: str, metric: str, split: str = "holdout") -> float:
        """One value of :attr:`metrics`."""
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


def _fit_one(kind: str, frame: pd.DataFrame, y: np.ndarray, groups, *, spec_kwargs: dict, label: str,
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


def train_compare_score(features, label: str, *, models: Sequence[str] = MODEL_KINDS,
                        id_cols: Sequence[str] = ("customer_id",), group_col: str | None = None,
                        id_features: Sequence[str] = (), exclude: Sequence[str] = (),
                        label_cols: Sequence[str] = LABEL_COLUMNS, role_col: str = "snapshot_role",
                        holdout: float = 0.3, random_state: int = 0, k: int | Iterable[int] = (100, 1000),
                        calibrate: str | None = "isotonic", cv: int = 3, select_by: str = "log_loss",
                        balance: bool | str = "auto", rare_threshold: float = 0.2,
                        model_params: Mapping[str, Mapping] | None = None, n_jobs: int = 2,
                        max_categories: int = 50, clip: float = DEFAULT_CLIP) -> TrainResult:
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
    bad_roles = sorted(set(roles.dropna().astype(str)) - {"train", "score"})
    if bad_roles:
        raise ValueError(f"{role_col} must be 'train' or 'score', found {bad_roles}")
    train = frame[(roles == "train") & frame[label].notna()]
    # the score rows are encoded and scored in blocks, never copied whole
    score_rows = np.flatnonzero((roles == "score").to_numpy(dtype=bool, na_value=False))
    if train.empty:
        raise ValueError(f"no '{role_col} = train' rows with a non-missing {label!r}")
    y_all = check_binary(train[label].astype(float), label)
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

    sel = metrics[(metrics["metric"] == select_by) & (metrics["split"] == "holdout")].set_index("model")["value"]
    sel = sel.reindex(list(models))
    if sel.isna().all():
        chosen = models[0]
    else:
        chosen = str(sel.idxmin() if _SELECT_BY[select_by] == "min" else sel.idxmax())

    # ---- final model on all labelled train rows -------------------------------------------------
    t0 = time.perf_counter()
    spec, model, threshold = _fit_one(chosen, train, y_all, groups_all,
                                      params=model_params.get(chosen), **fit_kwargs)
    timings["final_fit"] = time.perf_counter() - t0
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
    timings["total"] = time.perf_counter() - t_start
    return TrainResult(
        scores=scores, metrics=metrics, chosen_model=chosen, feature_importance=importance,
        threshold=threshold, holdout_predictions=holdout_pred, feature_columns=names, feature_spec=spec,
        model=model, label=label, timings=timings,
    )
