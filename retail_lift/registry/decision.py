"""When a build trains: :func:`training_decision`, the one rule, and the feature-spec comparison it uses.

A build **trains** (and registers a new champion) when, in this order:

1. ``retrain`` is set (``dbt build --vars '{retrain: true}'``, ``retail-lift train``);
2. no model is registered (no champion);
3. the champion's model file is missing or corrupted;
4. the champion's feature spec (column names and kinds, in order) differs from the current features;
5. the champion is older than ``max_model_age_days``;
6. feature drift crosses the threshold: a feature's PSI between the champion's training rows and the rows
   scored now is above ``psi_threshold`` (0.2) while it was not above it when the champion was trained
   (the PSI recorded then, training rows against that build's score rows). A feature that already drifted at
   training time does not retrain every build: it is in the champion's run and drift table already.

Otherwise it **scores** with the champion. 3 and 4 with ``on_mismatch='fail'`` stop the build instead, with a
message naming the model and the columns that differ: a model is never used on shifted columns.

Default ``max_model_age_days`` = 30 (:data:`DEFAULT_MAX_MODEL_AGE_DAYS`): the classifiers' labels are 30-day
windows (``label_window_days``), so after 30 days of new data every label of the training snapshot the
champion was refitted on has been replaced by a fully observed newer one; retraining sooner only refits on
partly the same labels, later leaves a month of outcomes unused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from retail_lift.registry.store import ModelVersion

__all__ = ["DEFAULT_MAX_MODEL_AGE_DAYS", "DRIFT_PSI_THRESHOLD", "ModelMismatchError", "TrainingDecision",
           "feature_spec_of", "spec_differences", "training_decision"]

DEFAULT_MAX_MODEL_AGE_DAYS = 30
#: the population stability index above which a feature has drifted (retail_lift.predict.drift.PSI_WARNING)
DRIFT_PSI_THRESHOLD = 0.2
_ON_MISMATCH = ("retrain", "fail")


class ModelMismatchError(RuntimeError):
    """The champion cannot score these features (spec mismatch, missing or corrupted file) and the setting
    says stop rather than retrain."""


@dataclass(frozen=True)
class TrainingDecision:
    """``action``: ``'train'`` or ``'score'``; ``reason``: why, in words (written to the run table)."""

    action: str
    reason: str

    @property
    def trains(self) -> bool:
        return self.action == "train"


_INFERRED = {"boolean": "boolean", "integer": "numeric", "floating": "numeric", "mixed-integer-float": "numeric",
             "decimal": "numeric", "date": "datetime", "datetime": "datetime", "datetime64": "datetime"}


def _kind(column: pd.Series) -> str:
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_object_dtype(dtype):  # booleans or dates with NULLs: the kind of the values
        return _INFERRED.get(pd.api.types.infer_dtype(column, skipna=True), "categorical")
    return "categorical"


def feature_spec_of(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> list[dict]:
    """The feature spec of ``frame``: ``[{"column", "kind", "dtype"}]`` for ``columns`` (default all), in order.

    ``kind`` (numeric / boolean / datetime / categorical) is what must match: an integer column read as float
    because a snapshot has NULLs is the same feature; ``dtype`` is recorded for the model card."""
    cols = list(frame.columns) if columns is None else list(columns)
    return [{"column": str(c), "kind": _kind(frame[c]), "dtype": str(frame[c].dtype)} for c in cols]


def spec_differences(expected: Sequence[Mapping], actual: Sequence[Mapping]) -> list[str]:
    """The differences between two feature specs, one line per column (empty when they match)."""
    exp = [(d["column"], d["kind"]) for d in expected]
    act = [(d["column"], d["kind"]) for d in actual]
    if exp == act:
        return []
    e, a = dict(exp), dict(act)
    out = [f"{c}: missing (trained as {k})" for c, k in exp if c not in a]
    out += [f"{c}: new column ({k})" for c, k in act if c not in e]
    out += [f"{c}: trained as {e[c]}, now {a[c]}" for c, _ in exp if c in a and e[c] != a[c]]
    if not out:  # same columns and kinds, another order
        out = [f"column order changed: trained {[c for c, _ in exp]}, now {[c for c, _ in act]}"]
    return out


def training_decision(name: str, *, champion: ModelVersion | None, retrain: bool = False,  # noqa: PLR0913 - one keyword per trigger
                      model_error: str | None = None, spec_diff: Sequence[str] = (),
                      max_model_age_days: float = DEFAULT_MAX_MODEL_AGE_DAYS, now: datetime | None = None,
                      drift: Mapping[str, float] | None = None, drift_at_training: Mapping[str, float] | None = None,
                      psi_threshold: float = DRIFT_PSI_THRESHOLD, on_mismatch: str = "retrain") -> TrainingDecision:
    """Train or score, and why (module docstring). ``model_error``: why the champion's model file could not be
    loaded (None: it loaded); ``spec_diff``: :func:`spec_differences` of the champion's spec and the current
    one; ``drift``: PSI per feature of the champion's training rows against the rows scored now;
    ``drift_at_training``: the PSI per feature recorded when the champion was trained. Raises
    :class:`ModelMismatchError` for a spec mismatch or a bad model file with ``on_mismatch='fail'``."""
    if on_mismatch not in _ON_MISMATCH:
        raise ValueError(f"{name}: on_mismatch must be one of {list(_ON_MISMATCH)}, got {on_mismatch!r}")
    if isinstance(max_model_age_days, bool) or not isinstance(max_model_age_days, int | float) \
            or max_model_age_days <= 0:
        raise ValueError(f"{name}: max_model_age_days must be a number > 0, got {max_model_age_days!r}")
    if retrain:
        return TrainingDecision("train", "retrain requested (var retrain: true)")
    if champion is None:
        return TrainingDecision("train", "no registered champion")
    where = f"{name} champion version {champion.version}"
    if model_error is not None:
        if on_mismatch == "fail":
            raise ModelMismatchError(f"{where} cannot be used: {model_error} (registry_on_mismatch: fail)")
        return TrainingDecision("train", f"{where} model file unusable: {model_error}")
    if spec_diff:
        what = "; ".join(spec_diff)
        if on_mismatch == "fail":
            raise ModelMismatchError(f"{where} was trained on other features than the current ones: {what} "
                                     f"(registry_on_mismatch: fail; retrain with --vars '{{retrain: true}}')")
        return TrainingDecision("train", f"feature spec changed since version {champion.version}: {what}")
    age = champion.age_days(now if now is not None else pd.Timestamp.now("UTC"))
    if age > max_model_age_days:
        return TrainingDecision("train", f"version {champion.version} is {age:.1f} days old "
                                         f"(max_model_age_days {max_model_age_days:g})")
    before = dict(drift_at_training or {})
    crossed = sorted((f for f, psi in (drift or {}).items()
                      if psi == psi and psi > psi_threshold and not before.get(f, 0.0) > psi_threshold),
                     key=lambda f: (-drift[f], f))
    if crossed:
        shown = ", ".join(f"{f} {drift[f]:.3f}" for f in crossed[:5]) + (" ..." if len(crossed) > 5 else "")
        return TrainingDecision("train", f"feature drift since version {champion.version}: PSI above "
                                         f"{psi_threshold:g} for {shown}")
    return TrainingDecision("score", f"scored with champion version {champion.version} "
                                     f"(trained {champion.trained_at:%Y-%m-%d %H:%M:%S} UTC)")
