"""The classifier fit table: train, compare and score once, stacked into one table of fixed schema.

:func:`classifier_fit_table` is what every classifier of the warehouse runs (the table layer,
:mod:`retail_lift.tables.predict`, chooses the mart, the rows, the label and the settings of each use
case); :func:`fairness_table` reads the ``holdout`` rows of a fit table. Both take pandas or Arrow (and
:func:`classifier_fit_table` a DuckDB relation) and know nothing of dbt.

One training, one table
-----------------------
dbt materialises one table per Python model, and every classifier is trained **once**: the training's
tables are stacked into one *fit table* with a ``record_type`` column, and thin SQL models select each
record type into its own table: ``run`` (one row: status, sizes, chosen model, validation scheme, the
cutoff of every split), ``score`` (one row per scored row, chosen model refitted on the train snapshot),
``holdout`` (one row per row of the out-of-time test snapshot x compared model, with the label),
``metric`` (one row per model x metric x split: train / validation / test), ``importance`` (one row per
feature of the final model) and ``drift`` (one row per source feature: PSI between the train and score
snapshots). The columns are fixed (:data:`CLASSIFIER_FIT_COLUMNS`), also when the table is empty, so the
SQL models and tests downstream never see a missing column.

Degrading on small data
-----------------------
A classifier is trained only when its labelled train rows hold at least ``min_class_rows`` positives
**and** negatives; otherwise the fit table holds just the ``run`` row with ``status =
'no_positive_labels'`` / ``'no_negative_labels'`` (a single class) or ``'skipped'`` (too few of one) and
the reason, and :func:`~retail_lift.frames.log_line` writes the reason to the dbt log. When an
out-of-time snapshot (``oot_*``) fails the same rule, the classifier is compared on a random customer
holdout of the train snapshot instead, and the run row says so (``validation``, ``message``). Any other
error propagates: a bug must fail the build, not skip a model.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from retail_lift.frames import ORDER_KEYS, as_01, as_frame, log_line, typed_frame
from retail_lift.predict.champion import Champion, ClassifierRegistry
from retail_lift.predict.classifiers import DEFAULT_CLIP
from retail_lift.predict.drift import feature_drift
from retail_lift.predict.fairness import fairness_report
from retail_lift.predict.train import (
    OUT_OF_TIME_ROLES,
    NoPositiveLabelsError,
    TrainResult,
    _predict_in_blocks,
    train_compare_score,
)
from retail_lift.registry import feature_spec_of

__all__ = ["CLASSIFIER_FIT_COLUMNS", "FAIRNESS_COLUMNS", "LABELLED_ROLES", "classifier_fit_table", "fairness_table"]


_CLASSIFIER_BASE = {
    "classifier": "str",
    "record_type": "str",
    "model": "str",
    "is_chosen_model": "bool",
}
_CLASSIFIER_REST = {
    "split": "str",
    "metric": "str",
    "value": "float",
    "probability": "float",
    "label": "int",
    "threshold": "float",
    "is_above_threshold": "bool",
    "feature": "str",
    "source_column": "str",
    "importance": "float",
    "importance_rank": "int",
    "status": "str",
    "message": "str",
    "train_rows": "int",
    "train_positives": "int",
    "score_rows": "int",
    "validation": "str",
    "split_feature_date": "ts",
    "is_drift_warning": "bool",
    "train_feature_date": "ts",
    "validation_feature_date": "ts",
    "test_feature_date": "ts",
    "refit_feature_date": "ts",
    "score_feature_date": "ts",
    "model_version": "int",
    "trained_at": "ts",
    "registry_action": "str",
    "registry_reason": "str",
}
#: Columns of a classifier fit table (``id_cols`` go after ``is_chosen_model``).
CLASSIFIER_FIT_COLUMNS = [*_CLASSIFIER_BASE, "<id_cols>", *_CLASSIFIER_REST]


def _classifier_schema(id_cols: Sequence[str]) -> dict[str, str]:
    return {**_CLASSIFIER_BASE, **{c: "str" for c in id_cols}, **_CLASSIFIER_REST}


#: the registry reason of a fit table computed without a model store (``registry=None``)
NO_STORE = "no model store: trained in this build"


def _run_row(classifier: str, *, status: str, message: str, train_rows: int, train_positives: int,
             score_rows: int, seconds: float, model: str | None = None, splits: pd.DataFrame | None = None,
             validation: str | None = None, reason: str = NO_STORE) -> dict:
    row = {"classifier": classifier, "record_type": "run", "model": model, "is_chosen_model": model is not None,
           "status": status, "message": message, "train_rows": train_rows, "train_positives": train_positives,
           "score_rows": score_rows, "validation": validation,  # no timing: rebuilds must give identical tables
           "registry_action": "train", "registry_reason": reason}
    if splits is not None and len(splits):
        for split, date in splits.set_index("split")["feature_date"].items():
            row[f"{split}_feature_date"] = date
    return row


def _stack(result: TrainResult, classifier: str, id_cols: Sequence[str], run: dict) -> pd.DataFrame:
    chosen = result.chosen_model
    parts = [pd.DataFrame([run])]

    scores = result.scores.copy()
    scores["record_type"] = "score"
    scores["threshold"] = result.threshold
    scores["is_above_threshold"] = scores["probability"] >= result.threshold
    scores["is_chosen_model"] = True
    parts.append(scores)

    m = result.metrics
    oot = result.validation == "out_of_time"
    dates = result.splits.set_index("split")["feature_date"] if len(result.splits) else pd.Series(dtype=object)
    thresholds = m[(m["metric"] == "threshold") & (m["split"] == ("validation" if oot else "holdout"))
                   ].set_index("model")["value"]
    hold = result.holdout_predictions
    for kind in thresholds.index:
        h = hold[list(id_cols)].copy()
        h["record_type"] = "holdout"
        h["model"] = kind
        h["is_chosen_model"] = kind == chosen
        h["probability"] = hold[f"probability_{kind}"].to_numpy()
        h["label"] = hold[result.label].astype(float).round().astype("Int64").to_numpy()
        h["threshold"] = float(thresholds[kind])
        h["is_above_threshold"] = h["probability"] >= h["threshold"]
        h["split"] = "test" if oot else "holdout"
        h["split_feature_date"] = dates.get("test" if oot else "holdout", pd.NaT)
        parts.append(h)

    metrics = m.copy()
    metrics["record_type"] = "metric"
    metrics["is_chosen_model"] = metrics["model"] == chosen
    metrics["split_feature_date"] = metrics["split"].map(lambda sp: dates.get(sp, pd.NaT))
    parts.append(metrics)

    drift = result.feature_drift.rename(columns={"psi": "value"}).drop(columns=["kind"])
    drift["record_type"] = "drift"
    drift["model"] = chosen
    drift["is_chosen_model"] = True
    drift["metric"] = "psi"
    drift["split"] = "refit_vs_score"
    parts.append(drift)

    imp = result.feature_importance.rename(columns={"rank": "importance_rank"}).copy()
    imp["record_type"] = "importance"
    imp["is_chosen_model"] = True
    parts.append(imp)

    # each part typed on its own, then stacked: no intermediate table of object columns on millions of score rows
    schema = _classifier_schema(id_cols)
    typed = [typed_frame(p.assign(classifier=classifier), schema) for p in parts if len(p)]
    return typed[0] if len(typed) == 1 else pd.concat(typed, ignore_index=True)


def classifier_fit_table(features, label: str, *, classifier: str, models: Sequence[str], min_class_rows: int,
                         max_train_rows: int | None, id_cols: Sequence[str] = ("customer_id",),
                         role_col: str = "snapshot_role", float_rounds: int = 1,
                         registry: ClassifierRegistry | None = None, **train_kwargs) -> pd.DataFrame:
    """Train, compare and score once with :func:`~retail_lift.predict.train_compare_score`; stack the result.

    Rows of ``features`` with ``role_col = 'train'`` and a non-missing ``label`` train, ``'score'`` rows
    are scored. Skips (with a ``run`` row and a log line) when either class has fewer than
    ``min_class_rows`` labelled train rows. When there are more than ``max_train_rows`` labelled train
    rows (``None`` for no cap), a seeded random sample of that many trains
    (each class sampled in proportion, so the base rate is kept); every score row is still scored. The
    cap bounds memory and time on large shops (a million customer x category rows) where more rows no
    longer change the model. ``float_rounds`` (Arrow input only): how many times the float columns are
    rounded to 9 decimals, as often as a pandas path through :func:`~retail_lift.frames.as_frame` would have
    (2 for a table that the caller filtered or extended first). Returns the fit table (module docstring),
    columns :data:`CLASSIFIER_FIT_COLUMNS` with ``id_cols`` in place.

    ``registry`` (:class:`~retail_lift.predict.champion.ClassifierRegistry`, None: train in every call): the
    score rows and the feature spec are handed to :meth:`~ClassifierRegistry.decide` first; when it says
    score, the champion scores the score rows and the training rows it recorded are repeated (no fit); when it
    says train, the training is registered as a new version. Every row carries ``model_version`` and
    ``trained_at`` of the version it comes from, the run row ``registry_action`` and ``registry_reason``.
    """
    t0 = time.perf_counter()
    id_cols = tuple(id_cols)
    schema = _classifier_schema(id_cols)
    if not isinstance(features, pd.DataFrame) and hasattr(features, "to_arrow_table") or _is_arrow(features):
        # Arrow (or a DuckDB relation): sorted, capped and converted to pandas column by column, so that only
        # the rows that train or are scored ever become pandas (the same rows, in the same order, as below)
        return _classifier_fit_arrow(features, label, classifier=classifier, id_cols=id_cols, models=models,
                                     min_class_rows=min_class_rows, role_col=role_col,
                                     max_train_rows=max_train_rows, t0=t0, float_rounds=float_rounds,
                                     registry=registry, **train_kwargs)
    frame = as_frame(features)
    for c in (label, role_col, *id_cols):
        if c not in frame.columns:
            raise ValueError(f"features has no column {c!r}; columns are {list(frame.columns)}")
    roles = frame[role_col].astype(object)
    spec_now = None
    if registry is not None:
        spec_now = feature_spec_of(frame)
        score_frame = frame[(roles == "score").to_numpy()].reset_index(drop=True)
        if not registry.decide(score_frame, spec_now).trains:
            return _score_with_champion(score_frame, registry, classifier=classifier, id_cols=id_cols,
                                        clip=train_kwargs.get("clip", DEFAULT_CLIP))
        del score_frame
    y = as_01(frame[label])
    n_score = int((roles == "score").sum())
    skipped, fallback = _skip_row(classifier, roles.to_numpy(), y.to_numpy(), n_score, min_class_rows, t0,
                                  reason=_reason(registry))
    if skipped is not None:
        return typed_frame(pd.DataFrame([skipped]), schema)
    if fallback is not None:  # the out-of-time snapshots cannot judge a model: train and score rows only
        in_time = (~roles.isin(list(OUT_OF_TIME_ROLES))).to_numpy()
        frame, y, roles = (frame[in_time].reset_index(drop=True), y[in_time].reset_index(drop=True),
                           roles[in_time].reset_index(drop=True))
    keep, sampled_from = _cap_by_role(roles.to_numpy(), y.to_numpy(), max_train_rows)
    if keep is not None:
        frame, y = frame[keep].reset_index(drop=True), y[keep].reset_index(drop=True)
    box = [frame]  # handed over, so that the frame is freed before the fit table is stacked
    del frame
    return _train_and_stack(box, y, label, classifier=classifier, id_cols=id_cols, models=models,
                            role_col=role_col, sampled_from=sampled_from, n_score=n_score, t0=t0, fallback=fallback,
                            registry=registry, spec_now=spec_now, **train_kwargs)


#: The labelled snapshot roles, in time order (see :data:`retail_lift.predict.OUT_OF_TIME_ROLES`).
LABELLED_ROLES = (*OUT_OF_TIME_ROLES, "train")


def _snapshot_problem(role: str, n: int, pos: int, min_class_rows: int) -> tuple[str, str] | None:
    """``(status, reason)`` when a labelled snapshot cannot train or judge a model, else None."""
    where = "train rows" if role == "train" else f"rows in snapshot {role!r}"
    if n > 0 and pos == 0:
        return "no_positive_labels", f"no positive labels in snapshot {role!r} ({n} labelled rows)"
    if n > 0 and pos == n:
        return "no_negative_labels", f"no negative labels in snapshot {role!r} ({n} labelled rows)"
    if min(pos, n - pos) < min_class_rows:
        return "skipped", (f"{n} labelled {where} with {pos} positive and {n - pos} negative; "
                           f"each class needs at least {min_class_rows}")
    return None


def _reason(registry: ClassifierRegistry | None) -> str:
    if registry is None or registry.decision is None:
        return NO_STORE
    return registry.decision.reason


def _skip_row(classifier: str, roles, y, n_score: int, min_class_rows: int, t0: float, reason: str = NO_STORE):
    """``(run row, None)`` of a classifier that cannot be trained (and its log line), or ``(None, fallback)``.

    The ``train`` snapshot (the one the chosen model is refitted on) decides whether there is a model: without
    positive labels the status is ``no_positive_labels`` (without negatives ``no_negative_labels``), with fewer
    than ``min_class_rows`` of a class ``skipped``. The out-of-time snapshots (``oot_*``, when present) are
    checked the same way; when one of them fails, the comparison cannot be out of time and ``fallback`` is the
    reason (the caller then compares on a random customer holdout of the ``train`` snapshot and records it in
    the run row's ``validation`` and ``message``). The run row's sizes are those of the ``train`` snapshot."""
    roles = np.asarray(roles, dtype=object)
    yv = np.asarray(y, dtype=float)
    counts = {}
    for role in LABELLED_ROLES:
        mask = (roles == role) & ~np.isnan(yv)
        counts[role] = (int(mask.sum()), int(np.nansum(yv[mask])))
    n_train, n_pos = counts["train"]
    problem = _snapshot_problem("train", n_train, n_pos, min_class_rows)
    if problem is not None:
        status, reason = problem
        message = (f"{classifier} skipped: {reason}" if status == "skipped"
                   else f"{classifier} not trained: {reason}")
        log_line(message)
        return _run_row(classifier, status=status, message=message, train_rows=n_train, train_positives=n_pos,
                        score_rows=n_score, seconds=time.perf_counter() - t0, reason=reason), None
    if any((roles == r).any() for r in OUT_OF_TIME_ROLES):
        for role in OUT_OF_TIME_ROLES:
            problem = _snapshot_problem(role, *counts[role], min_class_rows)
            if problem is not None:
                return None, problem[1]
    return None, None


def _train_and_stack(box: list, y: pd.Series, label: str, *, classifier: str, id_cols: tuple,  # noqa: PLR0913 - the fit table's keywords
                     models: Sequence[str], role_col: str, sampled_from: int | None, n_score: int, t0: float,
                     fallback: str | None = None, registry: ClassifierRegistry | None = None,
                     spec_now: list | None = None, **train_kwargs) -> pd.DataFrame:
    """Train on the frame in ``box`` (taken out of it: the only reference, freed once trained) and stack;
    with a ``registry``, register the training as a new version."""
    frame = box.pop()
    labelled = (frame[role_col].astype(object) == "train").to_numpy() & y.notna().to_numpy()
    n_train, n_pos = int(labelled.sum()), int(y[labelled].sum())
    frame = frame.assign(**{label: y})
    try:
        result = train_compare_score(frame, label, models=tuple(models), id_cols=id_cols, role_col=role_col,
                                     **train_kwargs)
    except NoPositiveLabelsError as exc:  # e.g. a snapshot left without a class by the cap
        status = "no_positive_labels" if exc.positives == 0 else "no_negative_labels"
        message = f"{classifier} not trained: {exc}"
        log_line(message)
        run = _run_row(classifier, status=status, message=message, train_rows=n_train, train_positives=n_pos,
                       score_rows=n_score, seconds=time.perf_counter() - t0, reason=_reason(registry))
        return typed_frame(pd.DataFrame([run]), _classifier_schema(id_cols))
    refit_rows = None
    if registry is not None:  # the refit rows' model features and label: the drift reference and fingerprint
        refit_rows = frame.loc[labelled, [*result.feature_spec.source_columns, label]].reset_index(drop=True)
    del frame
    seconds = time.perf_counter() - t0
    how = ("chosen on the out-of-time validation snapshot" if result.validation == "out_of_time"
           else "chosen on a random 30 % customer holdout of the train snapshot")
    if fallback is not None:
        how += f"; out-of-time validation not possible: {fallback}"
    message = (f"{classifier}: {n_train} train rows ({n_pos} positive)"
               + (f", a seeded sample of {sampled_from} (max_train_rows)" if sampled_from else "")
               + f", {n_score} scored; chose {result.chosen_model} of {', '.join(models)} ({how})")
    log_line(f"{message} in {seconds:.1f} s")
    run = _run_row(classifier, status="trained", message=message, train_rows=n_train, train_positives=n_pos,
                   score_rows=n_score, seconds=seconds, model=result.chosen_model, splits=result.splits,
                   validation=result.validation, reason=_reason(registry))
    table = _stack(result, classifier, id_cols, run)
    if registry is None:
        return table
    version = registry.register(result, refit_rows=refit_rows, spec_now=spec_now, classifier=classifier,
                                training_rows=table[table["record_type"] != "score"].reset_index(drop=True))
    table["model_version"] = pd.array([version.version] * len(table), dtype="Int64")
    table["trained_at"] = version.trained_at
    return table


def _score_with_champion(score_frame: pd.DataFrame, registry: ClassifierRegistry, *, classifier: str,
                         id_cols: tuple, clip: float) -> pd.DataFrame:
    """The fit table of a score-only call: the champion's recorded training rows (``run``, ``holdout``,
    ``metric``, ``importance``), the ``score`` rows of ``score_frame`` scored by the champion and the
    ``drift`` rows of ``score_frame`` against the champion's training rows. No fit."""
    champ: Champion = registry.champion
    decision = registry.decision
    stored = champ.training_rows
    run = stored[stored["record_type"] == "run"].copy()
    run["score_rows"] = len(score_frame)
    run["registry_action"] = "score"
    run["registry_reason"] = decision.reason
    if "feature_date" in score_frame.columns:
        dates = score_frame["feature_date"].dropna()
        run["score_feature_date"] = pd.Timestamp(dates.iloc[0]) if len(dates) else pd.NaT
    parts = [run]
    scores = score_frame[list(id_cols)].copy()
    scores["probability"] = _predict_in_blocks(champ.model, champ.spec, score_frame, np.arange(len(score_frame)),
                                               champ.kind, clip=clip) if len(score_frame) else np.array([])
    scores["model"] = champ.kind
    scores["record_type"] = "score"
    scores["threshold"] = champ.threshold
    scores["is_above_threshold"] = scores["probability"] >= champ.threshold
    scores["is_chosen_model"] = True
    parts.append(scores)
    parts.append(stored[stored["record_type"].isin(["holdout", "metric"])])
    if len(score_frame) and len(champ.reference):
        drift = registry.drift_table if registry.drift_table is not None else \
            feature_drift(champ.spec, champ.reference, score_frame)
        drift = drift.rename(columns={"psi": "value"})
        drift = drift.drop(columns=["kind"])
        drift["record_type"] = "drift"
        drift["model"] = champ.kind
        drift["is_chosen_model"] = True
        drift["metric"] = "psi"
        drift["split"] = "refit_vs_score"
        parts.append(drift)
    parts.append(stored[stored["record_type"] == "importance"])
    schema = _classifier_schema(id_cols)
    typed = [typed_frame(p.assign(classifier=classifier), schema) for p in parts if len(p)]
    table = pd.concat(typed, ignore_index=True)
    table["model_version"] = pd.array([champ.version.version] * len(table), dtype="Int64")
    table["trained_at"] = champ.version.trained_at
    log_line(f"{classifier}: {decision.reason}; {len(score_frame)} scored")
    return table


def _cap_mask(y: np.ndarray, labelled: np.ndarray, max_rows: int, seed: int = 0) -> np.ndarray:
    """Rows kept by the cap: every row that is not a labelled train row, and a seeded sample of ``max_rows``
    labelled train rows with each class in proportion (row order is deterministic, see :func:`as_frame`)."""
    rng = np.random.default_rng(seed)
    idx = np.flatnonzero(labelled)
    yl = np.asarray(y)[idx].astype(float)
    keep_parts = []
    for cls in (0.0, 1.0):
        members = idx[yl == cls]
        k = int(round(max_rows * len(members) / len(idx)))
        keep_parts.append(rng.choice(members, size=min(k, len(members)), replace=False))
    keep = np.zeros(len(labelled), dtype=bool)
    keep[~labelled] = True
    keep[np.concatenate(keep_parts)] = True
    return keep


def _cap_train_rows(frame: pd.DataFrame, y: pd.Series, labelled: np.ndarray, max_rows: int,
                    seed: int = 0) -> tuple[pd.DataFrame, pd.Series, int]:
    """``frame`` and ``y`` restricted to the rows of :func:`_cap_mask`, and the number of labelled train rows."""
    keep = _cap_mask(y.to_numpy(), labelled, max_rows, seed)
    return frame[keep].reset_index(drop=True), y[keep].reset_index(drop=True), int(labelled.sum())


def _cap_by_role(roles: np.ndarray, y: np.ndarray, max_rows: int | None) -> tuple[np.ndarray | None, int | None]:
    """:func:`_cap_mask` applied to each labelled snapshot on its own (``train`` and each ``oot_*``): the rows
    kept (None when nothing is capped) and the number of labelled ``train`` rows before the cap (None if uncapped)."""
    if max_rows is None:
        return None, None
    roles = np.asarray(roles, dtype=object)
    notna = ~np.isnan(np.asarray(y, dtype=float))
    keep, capped, sampled_from = None, False, None
    for role in LABELLED_ROLES:
        labelled = (roles == role) & notna
        if labelled.sum() > max_rows:
            mask = _cap_mask(y, labelled, max_rows)
            keep = mask if keep is None else keep & mask
            capped = True
            if role == "train":
                sampled_from = int(labelled.sum())
    return (keep if capped else None), sampled_from


def _is_arrow(data) -> bool:
    return not isinstance(data, pd.DataFrame) and hasattr(data, "schema") and hasattr(data, "column")


def _arrow_kind(pa_type) -> str:
    import pyarrow as pa

    if pa.types.is_boolean(pa_type):
        return "boolean"
    if pa.types.is_integer(pa_type) or pa.types.is_floating(pa_type) or pa.types.is_decimal(pa_type):
        return "numeric"
    if pa.types.is_timestamp(pa_type) or pa.types.is_date(pa_type):
        return "datetime"
    return "categorical"


def _arrow_spec(schema) -> list[dict]:
    """:func:`~retail_lift.registry.feature_spec_of` of an Arrow schema (the same kinds)."""
    return [{"column": f.name, "kind": _arrow_kind(f.type), "dtype": str(f.type)} for f in schema]


def _arrow_rows_to_pandas(table, names, positions, float_rounds: int) -> pd.DataFrame:
    """The rows of ``table`` at ``positions`` as pandas, converted as :func:`_classifier_fit_arrow` does."""
    import pyarrow as pa

    idx = pa.array(positions)
    out = {}
    for name in names:
        s = pa.table({name: table.column(name).take(idx)}).to_pandas(date_as_object=False)[name]
        if pd.api.types.is_float_dtype(s):
            for _ in range(float_rounds):
                s = s.round(9)
        out[name] = s
    frame = pd.DataFrame(out, columns=names)
    del out
    _release_arrow_memory()
    return frame


def _release_arrow_memory() -> None:
    """Hand the memory Arrow's pool freed back to the system. The converted columns were Arrow's until the
    DataFrame copied them into its blocks; its allocator keeps what they freed (1.3 GiB of the whole feature
    mart at the large preset), which numpy, on the system allocator, cannot reuse for the fit."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _key_order(table) -> np.ndarray:
    """Row positions of an Arrow table in :func:`as_frame`'s order (the key columns ascending, missing last,
    stable)."""
    import pyarrow.compute as pc

    keys = [c for c in ORDER_KEYS if c in table.schema.names]
    if keys and table.num_rows > 1:
        return pc.sort_indices(table.select(keys), sort_keys=[(k, "ascending", "at_end") for k in keys]).to_numpy()
    return np.arange(table.num_rows)


def _check_no_score_rows(features, role_col: str, condition: str) -> None:
    """A relation's filter returned no score rows: count them on the role column alone (read in Arrow, not by
    the engine's SQL) and stop when there are some, so that a filter the engine reads differently never leaves
    a score-only build with nothing scored (Spark once read a quoted column name as a string and scored 0 rows)."""
    import pyarrow.compute as pc

    roles = features.select(role_col).to_arrow_table().column(0)
    n = int(pc.sum(pc.equal(roles, "score")).as_py() or 0)
    if n:
        raise RuntimeError(f"the filter {condition!r} read no rows from the feature relation, but {n} of its "
                           f"{len(roles)} rows have {role_col} = 'score': nothing would be scored; the engine "
                           "reads the condition differently (a quoted name?)")


def _decide_on_score_rows(features, registry: ClassifierRegistry, *, label: str, role_col: str, id_cols: tuple,
                          float_rounds: int) -> tuple[list[dict], pd.DataFrame | None]:
    """``(spec_now, score_frame)``: the registry's decision on the score rows of ``features`` (an Arrow table, or a
    DuckDB relation, whose score rows alone are read), the same rows in the same order and conversion as the
    whole table's score rows (a stable sort of the score rows keeps their order among all rows); none of them when
    the registry has no champion to compare them with or retrains anyway; ``score_frame`` is None when it trains."""
    import pyarrow.compute as pc

    names = list(features.schema.names) if _is_arrow(features) else list(features.columns)
    for c in (label, role_col, *id_cols):
        if c not in names:
            raise ValueError(f"features has no column {c!r}; columns are {names}")
    needed = registry.needs_score_rows()  # no champion (or retrain): the decision reads no rows
    if _is_arrow(features):
        score = features.filter(pc.equal(features.column(role_col), "score")) if needed else features.slice(0, 0)
    else:
        if not role_col.isidentifier():  # the condition is SQL that DuckDB and Spark share: a bare column name
            raise ValueError(f"role_col must be a plain column name to filter a relation on, got {role_col!r}")
        condition = f"{role_col} = 'score'"
        score = (features.filter(condition) if needed else features.limit(0)).to_arrow_table()
        if needed and score.num_rows == 0:
            _check_no_score_rows(features, role_col, condition)
    spec_now = _arrow_spec(score.schema)
    score_frame = _arrow_rows_to_pandas(score, names, _key_order(score), float_rounds)
    del score
    if registry.decide(score_frame, spec_now).trains:
        return spec_now, None
    return spec_now, score_frame


def _classifier_fit_arrow(features, label: str, *, classifier: str, id_cols: tuple, models, min_class_rows: int,  # noqa: PLR0912, PLR0913 - the fit table's keywords
                          role_col: str, max_train_rows: int | None, t0: float, float_rounds: int = 1,
                          registry: ClassifierRegistry | None = None, **train_kwargs) -> pd.DataFrame:
    """:func:`classifier_fit_table` on an Arrow table or a DuckDB relation (read here with ``to_arrow_table``).

    The same rows as the pandas path (:func:`as_frame`'s order: the key columns ascending, missing last, stable;
    then :func:`_cap_mask`), but the order, the label and the cap are computed on a few Arrow columns first
    and only the kept rows become pandas, one column at a time; dates stay datetime64 (they are not
    features either way). When the function reads a relation itself, each Arrow column is released as
    soon as it is converted."""
    import pyarrow as pa
    import pyarrow.compute as pc

    schema = _classifier_schema(id_cols)
    if isinstance(features, pa.RecordBatch):
        features = pa.Table.from_batches([features])
    spec_now = None
    if registry is not None:
        # the score rows alone first (of a relation: read alone), and the labelled snapshots only when the
        # registry says train: a score-only build never holds the whole feature mart in memory
        spec_now, decided = _decide_on_score_rows(features, registry, label=label, role_col=role_col,
                                                  id_cols=id_cols, float_rounds=float_rounds)
        if decided is not None:
            return _score_with_champion(decided, registry, classifier=classifier, id_cols=id_cols,
                                        clip=train_kwargs.get("clip", DEFAULT_CLIP))
    table = features if _is_arrow(features) else features.to_arrow_table()
    names = list(table.schema.names)
    for c in (label, role_col, *id_cols):
        if c not in names:
            raise ValueError(f"features has no column {c!r}; columns are {names}")
    order = _key_order(table)
    roles = pd.Series(table.column(role_col).take(order).to_numpy(zero_copy_only=False), dtype=object)
    lab = table.column(label).take(order)
    if pa.types.is_boolean(lab.type) or pa.types.is_integer(lab.type) or pa.types.is_floating(lab.type) \
            or pa.types.is_decimal(lab.type):  # as _as_01, without a Python object per row
        v = pc.cast(lab, pa.float64()).to_numpy(zero_copy_only=False)
        y = pd.Series(np.where(np.isnan(v), np.nan, (v != 0).astype(float)), name=label)
    else:
        y = as_01(pa.table({label: lab}).to_pandas()[label])
    del lab
    n_score = int((roles == "score").sum())
    skipped, fallback = _skip_row(classifier, roles.to_numpy(), y.to_numpy(), n_score, min_class_rows, t0,
                                  reason=_reason(registry))
    if skipped is not None:
        return typed_frame(pd.DataFrame([skipped]), schema)
    if fallback is not None:  # as the pandas path: train and score rows only
        in_time = (~roles.isin(list(OUT_OF_TIME_ROLES))).to_numpy()
        order, y, roles = order[in_time], y[in_time].reset_index(drop=True), roles[in_time].reset_index(drop=True)
    keep, sampled_from = _cap_by_role(roles.to_numpy(), y.to_numpy(), max_train_rows)
    del roles
    if keep is not None:
        order, y = order[keep], y[keep].reset_index(drop=True)
    owned = table is not features
    columns = table.columns
    del table
    out = {}
    positions = pa.array(order)
    for i, name in enumerate(names):
        col = columns[i]
        if owned:
            columns[i] = None
        s = pa.table({name: col.take(positions)}).to_pandas(date_as_object=False)[name]
        del col
        if pd.api.types.is_float_dtype(s):  # as as_frame (as often as the pandas path would have)
            for _ in range(float_rounds):
                s = s.round(9)
        out[name] = s
    del columns
    box = [pd.DataFrame(out, columns=names)]
    del out
    _release_arrow_memory()
    return _train_and_stack(box, y, label, classifier=classifier, id_cols=id_cols, models=models,
                            role_col=role_col, sampled_from=sampled_from, n_score=n_score, t0=t0, fallback=fallback,
                            registry=registry, spec_now=spec_now, **train_kwargs)



FAIRNESS_COLUMNS = {
    "attribute": "str", "group_value": "str", "model": "str", "n": "int", "positives": "int", "selected": "int",
    "true_positives": "int", "selection_rate": "float", "precision": "float", "tpr": "float",
    "is_compared": "bool", "is_tpr_compared": "bool",
    "demographic_parity_status": "str", "demographic_parity_difference": "float",
    "demographic_parity_ci_lower": "float", "demographic_parity_ci_upper": "float",
    "equal_opportunity_status": "str", "equal_opportunity_difference": "float",
    "equal_opportunity_ci_lower": "float", "equal_opportunity_ci_upper": "float",
    "fairness_threshold": "float", "is_parity_gap_flagged": "bool", "is_opportunity_gap_flagged": "bool",
    "min_group_size": "int", "bootstrap_resamples": "int", "ci_level": "float",
}

#: summary metric of :func:`~retail_lift.predict.fairness_report` -> column prefix in the fairness table
_FAIRNESS_GAPS = {"demographic_parity_difference": "demographic_parity",
                  "equal_opportunity_difference": "equal_opportunity"}


def fairness_table(fit, customers, *, attributes: Sequence[str], threshold: float, min_group_size: int,
                   n_resamples: int, ci_level: float, random_state: int) -> pd.DataFrame:
    """Targeting rate, precision and TPR by group on the chosen model's holdout customers, gaps with intervals.

    The targeting decision is the classifier's: ``probability >= its F1 threshold`` (``is_above_threshold``
    of the ``holdout`` rows); the outcome is the holdout label. Groups with fewer than ``min_group_size``
    customers are reported but not compared in the selection-rate gap (``is_compared = false``), groups with
    fewer than ``min_group_size`` positives not in the TPR gap (``is_tpr_compared = false``); with fewer than
    two compared groups a gap's status is ``"too few"`` and its value and interval are NULL. The intervals
    are percentile bootstrap intervals (``n_resamples`` resamples of customers within each group, seeded by
    ``random_state``) of :func:`~retail_lift.predict.fairness_report`. One row per attribute x group; the
    attribute's gaps are repeated on every row of it.
    """
    f = as_frame(fit)
    hold = f[(f["record_type"] == "holdout") & f["is_chosen_model"].fillna(False).astype(bool)]
    if hold.empty:
        return typed_frame(None, FAIRNESS_COLUMNS)
    cust = as_frame(customers)[["customer_id", *attributes]].drop_duplicates("customer_id")
    h = hold[["customer_id", "model", "label", "is_above_threshold"]].merge(cust, on="customer_id", how="left")
    by_group, summary = fairness_report(h["label"].astype(int).to_numpy(),
                                        h["is_above_threshold"].astype(bool).astype(int).to_numpy(),
                                        {a: h[a].to_numpy() for a in attributes}, threshold=threshold,
                                        min_group_size=min_group_size, n_resamples=n_resamples,
                                        ci_level=ci_level, random_state=random_state)
    out = by_group.rename(columns={"group": "group_value"})
    out["model"] = str(h["model"].iloc[0])
    out["is_compared"] = out["n"] >= min_group_size
    out["is_tpr_compared"] = out["positives"] >= min_group_size
    for metric, prefix in _FAIRNESS_GAPS.items():
        rows = summary[summary["metric"] == metric].set_index("attribute")
        out[f"{prefix}_status"] = out["attribute"].map(rows["status"])
        out[f"{prefix}_difference"] = out["attribute"].map(rows["value"])
        out[f"{prefix}_ci_lower"] = out["attribute"].map(rows["ci_lower"])
        out[f"{prefix}_ci_upper"] = out["attribute"].map(rows["ci_upper"])
    flags = summary.pivot(index="attribute", columns="metric", values="exceeds_threshold")
    out["fairness_threshold"] = threshold
    out["is_parity_gap_flagged"] = out["attribute"].map(flags["demographic_parity_difference"]).astype(bool)
    out["is_opportunity_gap_flagged"] = out["attribute"].map(flags["equal_opportunity_difference"]).astype(bool)
    out["min_group_size"] = min_group_size
    out["bootstrap_resamples"] = n_resamples
    out["ci_level"] = ci_level
    return typed_frame(out, FAIRNESS_COLUMNS)


