"""The uplift run's registered champion: train once, score every build (:func:`uplift_run`).

One registered model (``ml_uplift_run``, the dbt model that trains) holds, in each version, the fitted scoring
learners of **every experiment** (:class:`~retail_lift.uplift.pipeline.UpliftModel`: one learner per modelled
arm of each experiment, the owner of each arm, the feature levels, the control rates and values per
experiment) in one pickle. One version for the whole run, not one registered model per experiment: the run's
tables are computed together (an arm is scored by the experiment with the most treated exposures of it, the
ROI reads every experiment's value per conversion), so one version number says which learners made every row,
and a champion is replaced whole, never half.

:meth:`UpliftRegistry.register` records a training: the parameters (``fit_score_uplift``'s settings), the
metrics (``<experiment>.<arm>.<metric>`` of the selected learners: ``qini_auc``, ``uplift_auc``,
``uplift_at_<k>``, the placebo's...), the feature spec of the scoring table (column, kind, dtype, in order), the
training-data fingerprint (the exposures with an outcome, as they were fitted on), the experiments and their
variants, the experiments dropped for a sample-ratio mismatch, the PSI of every feature between the training
exposures and the customers scored then, the code version (by the registry) and the model-card inputs.
Artifacts: the ``metrics`` and ``holdout_predictions`` tables of the training (the Qini and the out-of-fold
predictions are the training's: a score-only build republishes them as they were) and a seeded sample of at
most :data:`REFERENCE_ROWS` training exposures' features (the drift reference).

:meth:`UpliftRegistry.decide` asks :func:`~retail_lift.registry.training_decision` (retrain var, no champion,
model file, feature spec, age, drift: the classifiers' rule) and then, on top, retrains when the experiments
changed since the champion was trained (an experiment or a variant added or removed, an experiment dropped
for a sample-ratio mismatch or no longer) or a setting that changes the learners or the training tables
(:data:`TRAINING_SETTINGS`) differs from the champion's; the reason says which. Settings that only change
the scoring tables (``margin_rate``, ``uplift_threshold``, the promotions, the threads) are applied when
scoring.

Reasons: :func:`load_uplift_champion` loads the registered champion and :func:`uplift_contributions` gives the
per-customer feature contributions to a promotion's predicted uplift by the learner that scores it (the
algorithms are in :mod:`retail_lift.campaign.reasons`), without changing any score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retail_lift.campaign.reasons import Attribution, group_columns, learner_contributions, top_reasons
from retail_lift.predict.drift import population_stability_index
from retail_lift.registry import (
    CHAMPION,
    ModelFileError,
    ModelRegistry,
    ModelVersion,
    RegistrySettings,
    TrainingDecision,
    feature_spec_of,
    frame_fingerprint,
    spec_differences,
    training_decision,
)
from retail_lift.uplift.features import (
    CATEGORICAL_FEATURES,
    FEATURES,
    _feature_matrix,
    _feature_names,
    input_frame,
    require_columns,
)
from retail_lift.uplift.pipeline import (
    _TRAINING_COLUMNS,
    UpliftModel,
    UpliftResult,
    _known_variants,
    fit_score_uplift,
    score_uplift,
    srm_experiments,
)

__all__ = ["REFERENCE_ROWS", "SCORING_SETTINGS", "TRAINING_SETTINGS", "UpliftChampion", "UpliftContributions",
           "UpliftRegistry", "UpliftRun", "load_uplift_champion", "uplift_contributions", "uplift_run"]

#: at most this many training exposures are kept as the drift reference (a seeded sample above it)
REFERENCE_ROWS = 500_000
#: the settings of :func:`~retail_lift.uplift.pipeline.fit_score_uplift` that change the learners or the
#: training tables (metrics, out-of-fold predictions): a champion trained with other values is retrained
TRAINING_SETTINGS = ("learner", "base_learner", "n_folds", "inner_folds", "holdout", "random_state", "k_fractions",
                     "n_placebo", "min_group_size", "min_treated_conversions", "srm_threshold", "refit",
                     "n_bootstrap", "extra_features", "selection_max_rows", "placebo_max_rows")
#: the settings :func:`~retail_lift.uplift.pipeline.score_uplift` applies when scoring with a champion
SCORING_SETTINGS = ("margin_rate", "uplift_threshold", "control_probability_threshold", "k_fractions", "n_threads",
                    "score_block_rows")
#: what a run without a registry says (``registry=None``)
NO_STORE = "no model store: trained in this build"


@dataclass
class UpliftChampion:
    """What a score-only build needs of the champion: its version, the fitted learners and the artifacts."""

    version: ModelVersion
    model: UpliftModel
    metrics: pd.DataFrame
    holdout_predictions: pd.DataFrame
    reference: pd.DataFrame


@dataclass(frozen=True)
class UpliftRun:
    """The five tables of a build and where they come from: ``action`` (``train`` / ``score``), ``reason``,
    the registered ``version`` and its ``trained_at`` (None without a registry)."""

    result: UpliftResult
    action: str
    reason: str
    version: int | None = None
    trained_at: pd.Timestamp | None = None


def _plain(value):
    """A JSON-able setting (tuples as lists, NaN as None)."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _psi(reference: pd.DataFrame, scoring: pd.DataFrame, spec: Sequence[Mapping]) -> dict[str, float]:
    """PSI per feature of ``spec`` (numeric features by deciles, the others by level) of ``scoring`` against
    ``reference`` (:func:`~retail_lift.predict.drift.population_stability_index`)."""
    out = {}
    for d in spec:
        col = d["column"]
        if col in reference.columns and col in scoring.columns:
            kind = "numeric" if d["kind"] == "numeric" else "categorical"
            out[col] = population_stability_index(reference[col], scoring[col], kind=kind)
    return out


def _experiment_changes(record: Mapping, variants: Mapping, flagged: Mapping) -> list[str]:
    """What changed in the experiments since the version of ``record`` was trained (empty: nothing)."""
    before = {e: dict(v) for e, v in record.get("experiments", {}).items()}
    now = {e: dict(v) for e, v in variants.items()}
    out = [f"experiment {e} added" for e in sorted(set(now) - set(before))]
    out += [f"experiment {e} removed" for e in sorted(set(before) - set(now))]
    for e in sorted(set(before) & set(now)):
        if before[e] != now[e]:
            added = sorted(set(now[e]) - set(before[e]))
            removed = sorted(set(before[e]) - set(now[e]))
            what = [f"variant {v} added" for v in added] + [f"variant {v} removed" for v in removed]
            out.append(f"experiment {e}: {', '.join(what) or 'control variant changed'}")
    was, is_ = set(record.get("srm_dropped", {})), set(flagged)
    out += [f"experiment {e} now dropped for a sample-ratio mismatch" for e in sorted(is_ - was)]
    out += [f"experiment {e} no longer dropped for a sample-ratio mismatch" for e in sorted(was - is_)]
    return out


def _setting_changes(record: Mapping, params: Mapping) -> list[str]:
    before = record.get("params", {})
    return [f"{k} {before.get(k)!r} -> {_plain(params[k])!r}" for k in TRAINING_SETTINGS
            if k in params and _plain(params[k]) != before.get(k)]


class UpliftRegistry:
    """The registry of the uplift run (module docstring). ``name``: the registered model's name (the dbt
    model's, ``ml_uplift_run``); ``params``: ``fit_score_uplift``'s settings of the build (recorded with a
    training, compared by :data:`TRAINING_SETTINGS`)."""

    def __init__(self, store: ModelRegistry, name: str, settings: RegistrySettings | None = None,
                 params: Mapping | None = None):
        if not isinstance(store, ModelRegistry):
            raise TypeError(f"{name}: store must be a retail_lift.registry.ModelRegistry or None, "
                            f"got {type(store).__name__}")
        self.store = store
        self.name = name
        self.settings = settings if settings is not None else RegistrySettings()
        self.params = {k: _plain(v) for k, v in (params or {}).items()}
        self.champion: UpliftChampion | None = None
        self.decision: TrainingDecision | None = None

    def _load(self, version: ModelVersion) -> UpliftChampion:
        model = self.store.load_model(version)
        if not isinstance(model, UpliftModel):
            raise ModelFileError(f"{self.name} version {version.version}: {version.model_file} does not hold an "
                                 f"uplift model")
        return UpliftChampion(version=version, model=model, metrics=self.store.load_artifact(version, "metrics"),
                              holdout_predictions=self.store.load_artifact(version, "holdout_predictions"),
                              reference=self.store.load_artifact(version, "drift_reference"))

    def decide(self, scoring: pd.DataFrame, spec_now: Sequence[Mapping], variants: Mapping,
               flagged: Mapping) -> TrainingDecision:
        """Train or score, given the customers to score now, their feature spec, and the experiments
        (``{experiment_id: {variant: is_control}}``) and sample-ratio mismatches of the training table now.
        When it scores, :attr:`champion` holds the loaded champion."""
        s = self.settings
        version = None if s.retrain else self.store.get_alias(self.name, CHAMPION)
        champion, error, diff, drift, before = None, None, (), None, None
        if version is not None:
            diff = spec_differences(version.feature_spec, spec_now)
            try:
                champion = self._load(version)
            except ModelFileError as exc:
                error = str(exc)
            if champion is not None and not diff and len(scoring) and len(champion.reference):
                drift = _psi(champion.reference, scoring, spec_now)
                before = {k: (np.nan if v is None else v) for k, v in version.record.get("drift_at_training",
                                                                                       {}).items()}
        decision = training_decision(
            self.name, champion=version, retrain=s.retrain, model_error=error, spec_diff=diff,
            max_model_age_days=s.max_model_age_days, now=s.now, drift=drift, drift_at_training=before,
            psi_threshold=s.psi_threshold, on_mismatch=s.on_mismatch)
        if version is not None and not s.retrain:
            changes = []
            experiments = _experiment_changes(version.record, variants, flagged)
            if experiments:
                changes.append(f"experiments changed since version {version.version}: {'; '.join(experiments)}")
            settings = _setting_changes(version.record, self.params)
            if settings:
                changes.append(f"settings changed since version {version.version}: {'; '.join(settings)}")
            if changes and decision.trains:
                decision = TrainingDecision("train", "; ".join([decision.reason, *changes]))
            elif changes:
                decision = TrainingDecision("train", "; ".join(changes))
        self.decision = decision
        self.champion = champion if not decision.trains else None
        return decision

    def register(self, result: UpliftResult, *, training: pd.DataFrame, scoring: pd.DataFrame,
                 spec_now: Sequence[Mapping]) -> ModelVersion:
        """Register the training ``result`` (``result.model``: the fitted learners); ``training``: the exposures
        with an outcome it was fitted on (the fingerprint, the drift reference); ``scoring``: the customers it
        scored (the PSI at training)."""
        model = result.model
        features = [d["column"] for d in spec_now if d["column"] in training.columns]
        reference = training[features]
        if len(reference) > REFERENCE_ROWS:
            keep = np.sort(np.random.default_rng(0).choice(len(reference), REFERENCE_ROWS, replace=False))
            reference = reference.iloc[keep]
        reference = reference.reset_index(drop=True)
        drift = _psi(reference, scoring, spec_now) if len(scoring) and len(reference) else {}
        m = result.metrics
        chosen = m[m["is_selected_learner"].fillna(False).astype(bool) & (m["metric_name"] != "inner_qini")]
        metrics = {f"{r.experiment_id}.{r.promotion_id}.{r.metric_name}": _plain(float(r.metric_value))
                   for r in chosen.itertuples(index=False)}
        arms = {arm: {"experiment_id": exp, "learner": model.learners[exp][arm][0],
                      "base_learner": model.learners[exp][arm][1],
                      "qini_auc": metrics.get(f"{exp}.{arm}.qini_auc"),
                      "placebo_pass": metrics.get(f"{exp}.{arm}.placebo_pass"),
                      "selection_agreement": metrics.get(f"{exp}.{arm}.selection_agreement")}
                for arm, exp in sorted(model.owners.items())}
        record = {
            "params": self.params,
            "metrics": metrics,
            "feature_spec": list(spec_now),
            "model_features": [*FEATURES, *model.extra_features],
            "feature_levels": {k: list(v) for k, v in model.levels.items()},
            "training_data": frame_fingerprint(training),
            "experiments": {e: dict(v) for e, v in model.variants.items()},
            "srm_dropped": {e: float(p) for e, p in model.flagged.items()},
            "drift_at_training": {k: _plain(v) for k, v in drift.items()},
            "model_card": {
                "intended_use": "uplift: predicted incremental conversion probability of every customer for each "
                                "promotion arm, and the segments and economics of targeting",
                "experiments_modelled": sorted(model.learners),
                "learners": {f"{e}.{a}": [k, f] for e, arms_ in sorted(model.learners.items())
                             for a, (k, f, _) in sorted(arms_.items())},
                "scoring_arms": arms,
                "training_exposures": int(len(training)),
                "scored_customers": int(len(scoring)),
            },
            "training_reason": self.decision.reason if self.decision is not None else "trained without a decision",
        }
        return self.store.register(self.name, model, record=record, alias=self.settings.alias,
                                   artifacts={"metrics": result.metrics,
                                              "holdout_predictions": result.holdout_predictions,
                                              "drift_reference": reference})


def _training_rows(training: pd.DataFrame) -> pd.DataFrame:
    """The exposures with an outcome in the order the learners are fitted on (as ``fit_score_uplift``)."""
    return (training[training["is_converted"].notna()]
            .sort_values(["experiment_id", "exposure_id"], kind="mergesort").reset_index(drop=True))


def uplift_run(training, scoring, *, srm: pd.DataFrame | None = None, promotions=None,
               registry: UpliftRegistry | None = None, **kwargs) -> UpliftRun:
    """:func:`~retail_lift.uplift.pipeline.fit_score_uplift` with a registry: score with the champion, or train
    (and register the new version) when :meth:`UpliftRegistry.decide` says so. ``registry=None`` trains.

    ``training`` / ``scoring``: as ``fit_score_uplift`` takes them (pandas, Arrow or DuckDB relations);
    ``kwargs``: ``fit_score_uplift``'s keywords."""
    if registry is None:
        return UpliftRun(fit_score_uplift(training, scoring, srm=srm, promotions=promotions, **kwargs),
                         action="train", reason=NO_STORE)
    extra = tuple(kwargs.get("extra_features", ()))
    scoring = input_frame(scoring, "scoring", ["customer_id"], [*FEATURES, *extra])
    spec_now = feature_spec_of(scoring, [c for c in [*FEATURES, *extra] if c in scoring.columns])
    keys = input_frame(training, "training", ["experiment_id", "variant", "is_control"])
    decision = registry.decide(scoring, spec_now, _known_variants(keys, srm),
                               srm_experiments(srm, kwargs.get("srm_threshold", 0.001)))
    if not decision.trains:
        champ = registry.champion
        scoring_kwargs = {k: v for k, v in kwargs.items() if k in SCORING_SETTINGS}
        result = score_uplift(champ.model, scoring, metrics=champ.metrics,
                              holdout_predictions=champ.holdout_predictions, promotions=promotions,
                              **scoring_kwargs)
        return UpliftRun(result, action="score", reason=decision.reason, version=champ.version.version,
                         trained_at=champ.version.trained_at)
    training = input_frame(training, "training", _TRAINING_COLUMNS, [*FEATURES, *extra, "revenue"])
    result = fit_score_uplift(training, scoring, srm=srm, promotions=promotions, **kwargs)
    version = registry.register(result, training=_training_rows(training), scoring=scoring, spec_now=spec_now)
    return UpliftRun(result, action="train", reason=decision.reason, version=version.version,
                     trained_at=version.trained_at)


def load_uplift_champion(store: ModelRegistry, name: str = "ml_uplift_run", alias: str = CHAMPION,
                         version: int | None = None) -> UpliftChampion | None:
    """The registered version of ``name`` under ``alias`` (the champion that scores the builds), or the given
    ``version`` (the ``model_version`` of the scores to explain), loaded; None when nothing is registered under
    the alias. Raises ``KeyError`` for a version that is not registered and
    :class:`~retail_lift.registry.ModelFileError` when the file does not hold an uplift model."""
    found = store.get(name, int(version)) if version is not None else store.get_alias(name, alias)
    return None if found is None else UpliftRegistry(store, name)._load(found)


@dataclass(frozen=True)
class UpliftContributions:
    """What :func:`uplift_contributions` returns: the customers (``customer_id``, in the order given), the
    promotion and the experiment whose learner scores it, the ``attribution``
    (:class:`~retail_lift.campaign.reasons.Attribution`, one column per feature of the scoring table:
    :data:`~retail_lift.uplift.features.FEATURES` then the extra features, a categorical's one-hot columns
    added into it) and the customers' feature ``values`` as the scoring table holds them (for the text)."""

    customer_id: np.ndarray
    promotion_id: str
    experiment_id: str
    attribution: Attribution
    values: pd.DataFrame

    def frame(self) -> pd.DataFrame:
        """The contributions, one row per customer (index ``customer_id``), one column per feature."""
        return self.attribution.frame(index=pd.Index(self.customer_id, name="customer_id"))

    def reasons(self, k: int = 3, **kwargs) -> pd.Series:
        """:func:`~retail_lift.campaign.reasons.top_reasons` of every customer (index ``customer_id``);
        ``kwargs`` are its keywords (``labels``, ``unit``, ``digits``...)."""
        return top_reasons(self.frame(), self.values, k=k, **kwargs)


def uplift_contributions(champion: UpliftChampion | UpliftModel, features, promotion_id: str, *,
                         block_rows: int = 100_000) -> UpliftContributions:
    """Per-customer feature contributions to the predicted uplift of ``promotion_id`` by the learner that
    scores it in ``champion`` (the registered :class:`UpliftChampion` or its :class:`UpliftModel`), without
    changing any score: the same model matrix and learner as
    :func:`~retail_lift.uplift.pipeline.score_uplift` (methods:
    :func:`~retail_lift.campaign.reasons.learner_contributions`).

    ``features``: the customers with ``customer_id`` and the model's feature columns (the scoring table
    ``fct_uplift_scoring_customers``; pandas, Arrow or a DuckDB relation). The contributions are in probability
    units and add up, per customer, to ``attribution.prediction - attribution.baseline``, where the prediction
    is the score's ``predicted_uplift`` before its clip to [-1, 1]. Computed ``block_rows`` customers at a
    time (the one-hot columns are added into their feature per block)."""
    model = champion.model if isinstance(champion, UpliftChampion) else champion
    if not isinstance(model, UpliftModel):
        raise TypeError(f"champion must be an UpliftChampion or an UpliftModel, got {type(champion).__name__}")
    if promotion_id not in model.owners:
        raise ValueError(f"promotion {promotion_id!r} is not scored by this uplift model; it scores "
                         f"{', '.join(sorted(model.owners)) or 'no promotion'}")
    frame = input_frame(features, "features", ["customer_id"], [*FEATURES, *model.extra_features])
    require_columns(frame, "features", ["customer_id", *FEATURES, *model.extra_features])
    exp_id = model.owners[promotion_id]
    _, _, learner = model.learners[exp_id][promotion_id]
    names = _feature_names(model.levels, model.extra_features)
    onehot = {f"{col}={lv}": col for col in CATEGORICAL_FEATURES for lv in model.levels[col]}
    order = [*FEATURES, *model.extra_features]
    parts = [Attribution(np.zeros((0, len(order))), np.zeros(0), np.zeros(0), tuple(order), "none: no customer")]
    step = max(1, int(block_rows))
    for a in range(0, len(frame), step):
        X = _feature_matrix(frame.iloc[a:a + step], model.levels, model.extra_features, "features")
        att = group_columns(learner_contributions(learner, X, arm=promotion_id, features=names), onehot)
        # a categorical without levels has no column: it contributes 0
        cols = [att.contributions[:, att.features.index(c)] if c in att.features else np.zeros(len(X))
                for c in order]
        parts.append(Attribution(np.column_stack(cols) if cols else np.zeros((len(X), 0)), att.baseline,
                                 att.prediction, tuple(order), att.method))
        del X, att
    att = Attribution(np.concatenate([p.contributions for p in parts]), np.concatenate([p.baseline for p in parts]),
                      np.concatenate([p.prediction for p in parts]), tuple(order), parts[-1].method)
    return UpliftContributions(frame["customer_id"].to_numpy(), promotion_id, exp_id, att,
                               frame[order].reset_index(drop=True))
