"""How much of the oracle Qini an uplift model could reach on a simulated world: the two limits.

``evaluation.ml_eval_uplift_vs_truth`` compares the model's out-of-fold Qini with the oracle's, which
ranks every exposure by its *true* uplift. Falling short of the oracle has three possible causes, and
these functions separate them (simulated worlds only: both read the truth):

* **The features** (:func:`feature_ceiling`). The true uplift itself (noise free, which no real model
  has) is regressed on the uplift pipeline's features (:func:`retail_lift.uplift.features.build_features`),
  out of fold, and the exposures are ranked by that regression. No model on these features can rank
  better than E[true uplift | features], whatever the amount of data; this estimates it. Two
  regressions: gradient boosting (``HistGradientBoostingRegressor``, 100 rounds of depth-3 trees,
  interactions of the features) and ridge (``RidgeCV`` on standardised features, the best linear
  ranking).
* **The data** (:func:`type_revealed`). The pipeline's own learner
  (:func:`retail_lift.uplift.pipeline.fit_score_uplift`, the same settings as ``ml_uplift_run``) is
  refitted on the same exposures with the customer's hidden uplift type (``truth_customers.uplift_type``,
  one-hot) appended as ``extra_features``: what this many noisy 0/1 outcomes allow once a feature says
  who is persuadable. Below the target, more features alone cannot meet it: the experiment is too
  small for its effects.
* **The model**: what remains between the model's ratio and the two limits.

Each ranking is scored like the model in :func:`retail_lift.evaluation.uplift.evaluate_uplift_against_truth`:
``*_qini_ratio`` is its Qini on the realised outcomes over the oracle Qini (what the 0.7 target is
stated in; noisy on a few thousand exposures), ``*_gain_ratio`` the same comparison on the cumulative
true uplift (free of outcome noise; 1 = ranks like the truth, 0 = random).

:func:`uplift_limits` runs both and returns one row per arm (:data:`LIMIT_COLUMNS`), the columns that
``ml_eval_uplift_vs_truth`` carries next to the model's ratio; ``bench/uplift_ceiling.py`` writes the
same measurement, with both regressions, to a file.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from retail_lift.evaluation.uplift import EvalUpliftVsTruthConfig, evaluate_uplift_against_truth, gain_ratio
from retail_lift.model_gate import heavy
from retail_lift.uplift.features import FEATURES, build_features, input_frame, require_columns
from retail_lift.uplift.metrics import qini_auc_from_true_uplift, qini_auc_score
from retail_lift.uplift.pipeline import fit_score_uplift

__all__ = ["CEILING_KINDS", "LIMIT_COLUMNS", "ceiling_uplift", "feature_ceiling", "type_revealed", "uplift_limits"]

#: The regressions of the true uplift that :func:`feature_ceiling` fits.
CEILING_KINDS = ("boosting", "linear")

#: Columns of :func:`uplift_limits` (one row per experiment x arm).
LIMIT_COLUMNS = [
    "experiment_id", "promotion_id", "feature_ceiling_kind", "feature_ceiling_qini_ratio",
    "feature_ceiling_gain_ratio", "feature_ceiling_r2", "type_revealed_qini_ratio", "type_revealed_gain_ratio",
]

_TRAINING_KEYS = ["exposure_id", "experiment_id", "customer_id", "variant", "is_control", "is_converted"]


def _regressor(kind: str, random_state: int):
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "boosting":
        # shallow trees: on the default world they explain more of the true uplift out of fold than the
        # 300 rounds of 31-leaf trees measured first (R² 0.49 against 0.46 on email_10pct), in a third of the time
        return HistGradientBoostingRegressor(max_iter=100, max_depth=3, min_samples_leaf=50, learning_rate=0.1,
                                             random_state=random_state)
    if kind == "linear":
        return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    raise ValueError(f"kind must be one of {list(CEILING_KINDS)}, got {kind!r}")


def _arms(training: pd.DataFrame) -> list[tuple[str, str]]:
    """(experiment, arm) pairs of ``training``: every non-control variant of each experiment."""
    treated = training.loc[~training["is_control"].astype(bool), ["experiment_id", "variant"]].astype(str)
    return sorted(set(map(tuple, treated.drop_duplicates().to_numpy())))


def feature_ceiling(training: pd.DataFrame, true_effects: pd.DataFrame, *, kinds: Sequence[str] = CEILING_KINDS,
                    arms: Sequence[tuple[str, str]] | None = None, n_folds: int = 5, random_state: int = 0,
                    max_rows: int | None = 40_000) -> pd.DataFrame:
    """Per arm: rankings learned, out of fold, from the **true** uplift on the pipeline's features.

    Args:
        training: ``fct_uplift_training_exposures`` rows (``exposure_id``, ``experiment_id``, ``variant``,
            ``is_control``, ``is_converted`` and the feature columns); rows with a NULL outcome are dropped.
        true_effects: ``exposure_id``, ``promotion_id``, ``true_uplift`` (``truth_exposures``); every
            evaluated exposure needs the true effect of its arm (an error names the arm otherwise).
        kinds: regressions to fit (:data:`CEILING_KINDS`).
        arms: ``(experiment_id, promotion_id)`` pairs to measure; default every non-control variant of
            every experiment in ``training``.
        n_folds: folds of the out-of-fold regression.
        random_state: seed of the folds, the boosting and the subsample.
        max_rows: at most this many exposures per arm (treated and control, a seeded random subsample)
            are used: the ceiling is a property of the features, and at a million customers the full
            regression would take minutes. ``None`` uses all.

    Returns:
        One row per experiment x arm: ``n_exposures``, ``n_treated`` (of the rows used), ``oracle_qini``,
        ``true_uplift_sd`` and per kind ``ceiling_<kind>_qini_ratio``, ``ceiling_<kind>_gain_ratio`` and
        ``ceiling_<kind>_r2`` (share of the true uplift's variance the features explain, out of fold).
    """
    from sklearn.model_selection import KFold, cross_val_predict

    require_columns(training, "training", [k for k in _TRAINING_KEYS if k != "customer_id"])
    require_columns(true_effects, "true_effects", ["exposure_id", "promotion_id", "true_uplift"])
    for kind in kinds:
        _regressor(kind, 0)  # an unknown kind fails before any fit
    training = training[training["is_converted"].notna()].sort_values("exposure_id", kind="mergesort")
    training = training.reset_index(drop=True)
    X = build_features(training, training.head(1))[0].to_numpy()
    effects = (true_effects.drop_duplicates(["exposure_id", "promotion_id"])
               .set_index(["exposure_id", "promotion_id"])["true_uplift"])
    experiment = training["experiment_id"].astype(str).to_numpy()
    variant = training["variant"].astype(str).to_numpy()
    control = training["is_control"].astype(bool).to_numpy()
    rng = np.random.default_rng(random_state)
    rows = []
    for exp_id, arm in (_arms(training) if arms is None else [(str(e), str(a)) for e, a in arms]):
        r = np.flatnonzero((experiment == exp_id) & (control | (variant == arm)))
        if max_rows is not None and r.size > max_rows:
            r = np.sort(rng.choice(r, max_rows, replace=False))
        if r.size < 2 * n_folds:
            continue
        y = training["is_converted"].to_numpy()[r].astype(float)
        t = (~control[r]).astype(int)
        key = pd.MultiIndex.from_arrays([training["exposure_id"].to_numpy()[r], np.full(r.size, arm)])
        tau = effects.reindex(key).to_numpy(float)
        if np.isnan(tau).any():
            raise ValueError(f"true_effects has no true_uplift for {int(np.isnan(tau).sum())} exposures of "
                             f"{exp_id} / {arm}")
        oracle = float(qini_auc_from_true_uplift(y, tau, t))
        row = {"experiment_id": exp_id, "promotion_id": arm, "n_exposures": int(r.size), "n_treated": int(t.sum()),
               "oracle_qini": oracle, "true_uplift_sd": float(tau.std())}
        folds = KFold(n_folds, shuffle=True, random_state=random_state)
        for kind in kinds:
            pred = cross_val_predict(_regressor(kind, random_state), X[r], tau, cv=folds)
            row[f"ceiling_{kind}_qini_ratio"] = float(qini_auc_score(y, pred, t) / oracle) if oracle > 0 else np.nan
            row[f"ceiling_{kind}_gain_ratio"] = gain_ratio(pred, tau)
            row[f"ceiling_{kind}_r2"] = float(1 - np.mean((tau - pred) ** 2) / tau.var()) if tau.var() > 0 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def type_revealed(training: pd.DataFrame, truth_customers: pd.DataFrame, true_effects: pd.DataFrame, *,
                  srm: pd.DataFrame | None = None, promotions=None, learner: str = "auto",
                  base_learner: str = "logistic", n_folds: int | None = 5, random_state: int = 0,
                  n_threads: int = 2) -> pd.DataFrame:
    """Per arm: the pipeline's learner refitted with the hidden uplift type appended as features.

    Args:
        training: ``fct_uplift_training_exposures`` rows.
        truth_customers: ``customer_id``, ``uplift_type`` (``truth_customers``); every customer of
            ``training`` needs one (an error names the first missing).
        true_effects: ``exposure_id``, ``promotion_id``, ``true_uplift``.
        srm, promotions, learner, base_learner, n_folds, random_state, n_threads: as
            :func:`retail_lift.uplift.pipeline.fit_score_uplift` (pass what ``ml_uplift_run`` uses).

    Returns:
        ``experiment_id``, ``promotion_id``, ``learner`` (the one kept), ``type_revealed_qini_ratio`` and
        ``type_revealed_gain_ratio`` (``qini_oracle_ratio`` / ``true_gain_ratio`` of
        :func:`retail_lift.evaluation.uplift.evaluate_uplift_against_truth` on its out-of-fold predictions).
    """
    require_columns(training, "training", _TRAINING_KEYS)
    require_columns(truth_customers, "truth_customers", ["customer_id", "uplift_type"])
    unique = truth_customers.drop_duplicates("customer_id")
    types = pd.Series(unique["uplift_type"].astype(str).to_numpy(), index=unique["customer_id"].astype(str))
    customer = training["customer_id"].astype(str)
    missing = customer[~customer.isin(types.index)]
    if len(missing):
        raise ValueError(f"truth_customers has no uplift_type for {missing.nunique()} customers of the training "
                         f"exposures (first: {missing.iloc[0]})")
    columns = {f"true_type_{t}": t for t in sorted(types.unique())}
    known = types.reindex(customer).to_numpy()
    revealed = training.assign(**{c: (known == t).astype(float) for c, t in columns.items()})
    scoring = revealed.drop_duplicates("customer_id").head(64)  # the scores are not used: a few rows suffice
    fitted = fit_score_uplift(revealed, scoring, extra_features=list(columns), learner=learner,
                              base_learner=base_learner, n_folds=n_folds, random_state=random_state, srm=srm,
                              promotions=promotions, n_placebo=0, n_threads=n_threads)
    ev = evaluate_uplift_against_truth(fitted.holdout_predictions, true_effects, n_bootstrap=0)
    return ev[["experiment_id", "promotion_id", "learner", "qini_oracle_ratio", "true_gain_ratio"]].rename(
        columns={"qini_oracle_ratio": "type_revealed_qini_ratio", "true_gain_ratio": "type_revealed_gain_ratio"})


# the settings' defaults are those of ml_eval_uplift_vs_truth (EvalUpliftVsTruthConfig.limits_kwargs)
_DEFAULTS = EvalUpliftVsTruthConfig()


@heavy
def uplift_limits(training: pd.DataFrame, truth_customers: pd.DataFrame, true_effects: pd.DataFrame, *,
                  srm: pd.DataFrame | None = None, promotions=None, learner: str = _DEFAULTS.learner,
                  base_learner: str = _DEFAULTS.base_learner, n_folds: int | None = 5,
                  random_state: int = _DEFAULTS.random_state, max_rows: int | None = _DEFAULTS.limits_max_rows,
                  n_threads: int = 2) -> pd.DataFrame:
    """Both limits per arm, in :data:`LIMIT_COLUMNS`.

    The feature ceiling is the better of the two regressions of :func:`feature_ceiling` by gain ratio
    (``feature_ceiling_kind`` says which); ``feature_ceiling_r2`` is that regression's out-of-fold R².
    Only the arms the pipeline models (those of :func:`type_revealed`) are measured. Arguments as
    :func:`feature_ceiling` and :func:`type_revealed`; ``n_folds=None`` refits the learner on the single
    holdout split (as ``ml_uplift_run`` with ``n_folds`` unset) and the ceiling uses 5 folds.
    ``training`` may also be an Arrow table or a DuckDB relation: then only the keys and the features
    are read, the categorical features as codes (as ``ml_uplift_run`` reads it).
    """
    training = input_frame(training, "training", _TRAINING_KEYS, FEATURES)
    revealed = type_revealed(training, truth_customers, true_effects, srm=srm, promotions=promotions,
                             learner=learner, base_learner=base_learner, n_folds=n_folds,
                             random_state=random_state, n_threads=n_threads)
    # the arms the pipeline models (an experiment with a sample-ratio mismatch is not)
    modelled = list(zip(revealed["experiment_id"], revealed["promotion_id"], strict=True))
    ceiling = feature_ceiling(training, true_effects, arms=modelled, n_folds=n_folds or 5,
                              random_state=random_state, max_rows=max_rows)
    rows = []
    for c in ceiling.to_dict(orient="records"):
        gains = {k: c[f"ceiling_{k}_gain_ratio"] for k in CEILING_KINDS}
        best = max(CEILING_KINDS, key=lambda k: -np.inf if not np.isfinite(gains[k]) else gains[k])
        rows.append({"experiment_id": c["experiment_id"], "promotion_id": c["promotion_id"],
                     "feature_ceiling_kind": best,
                     "feature_ceiling_qini_ratio": c[f"ceiling_{best}_qini_ratio"],
                     "feature_ceiling_gain_ratio": c[f"ceiling_{best}_gain_ratio"],
                     "feature_ceiling_r2": c[f"ceiling_{best}_r2"]})
    out = pd.DataFrame(rows, columns=LIMIT_COLUMNS[:6])
    keys = ["experiment_id", "promotion_id"]
    out = out.merge(revealed.drop(columns=["learner"]).astype({k: str for k in keys}), on=keys, how="outer")
    return out[LIMIT_COLUMNS].sort_values(keys, kind="mergesort").reset_index(drop=True)


def ceiling_uplift(scoring: pd.DataFrame, arm_effects: pd.DataFrame, promotion_ids: Sequence[str], *,
                   kinds: Sequence[str] = CEILING_KINDS, n_folds: int = 5, random_state: int = 0,
                   max_rows: int | None = 40_000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The feature ceiling of each scored customer's uplift: the **true** uplift of each promotion
    regressed on the features the uplift model scores with, predicted out of fold for every customer.

    Where :func:`feature_ceiling` ranks the experiment's exposures, this predicts, for the customers a plan
    is made for (``fct_uplift_scoring_customers``), E[true uplift | features]: the uplift estimate no model on
    these features can improve on, whatever the amount of data (the promotion plan's ceiling,
    :mod:`retail_lift.evaluation.plan`).

    Args:
        scoring: one row per customer, ``customer_id`` and the feature columns (:data:`FEATURES`).
        arm_effects: ``customer_id``, ``promotion_id``, ``true_uplift`` (``truth_customer_arms``).
        promotion_ids: the promotions to predict (each needs the true uplift of every scoring customer).
        kinds: the regressions fitted (:data:`CEILING_KINDS`); per promotion the one whose out-of-fold
            prediction scores the higher :func:`gain_ratio` is kept.
        n_folds: every customer is predicted by the regressions fitted on the other folds.
        random_state: seed of the folds, the boosting and the subsample.
        max_rows: each fold's regression is fitted on at most this many customers of the other folds (a
            seeded sample). ``None`` uses all.

    Returns:
        ``(predictions, summary)``: ``customer_id``, ``promotion_id``, ``ceiling_uplift``, one row per
        customer x promotion; and per promotion ``promotion_id``, ``feature_ceiling_kind``,
        ``feature_ceiling_r2`` (out of fold) and ``feature_ceiling_gain_ratio``.
    """
    require_columns(scoring, "scoring", ["customer_id", *FEATURES])
    require_columns(arm_effects, "arm_effects", ["customer_id", "promotion_id", "true_uplift"])
    for kind in kinds:
        _regressor(kind, 0)  # an unknown kind fails before any fit
    scoring = scoring.drop_duplicates("customer_id").assign(customer_id=lambda f: f["customer_id"].astype(str))
    scoring = scoring.sort_values("customer_id", kind="mergesort").reset_index(drop=True)
    X = build_features(scoring, scoring.head(1))[0].to_numpy()
    ids = scoring["customer_id"].to_numpy()
    effects = arm_effects.assign(customer_id=arm_effects["customer_id"].astype(str),
                                 promotion_id=arm_effects["promotion_id"].astype(str))
    effects = effects.drop_duplicates(["customer_id", "promotion_id"]).set_index(["customer_id", "promotion_id"])
    rng = np.random.default_rng(random_state)
    fold = rng.permutation(np.arange(len(ids)) % max(n_folds, 2))
    predictions, summary = [], []
    for pid in sorted(str(p) for p in promotion_ids):
        tau = effects["true_uplift"].reindex(pd.MultiIndex.from_arrays([ids, np.full(len(ids), pid)])).to_numpy(float)
        if np.isnan(tau).any():
            raise ValueError(f"arm_effects has no true_uplift of promotion {pid!r} for {int(np.isnan(tau).sum())} "
                             f"scoring customers")
        best = None
        for kind in kinds:
            pred = np.zeros(len(ids))
            for k in range(max(n_folds, 2)):
                train = np.flatnonzero(fold != k)
                if max_rows is not None and train.size > max_rows:
                    train = np.sort(rng.choice(train, max_rows, replace=False))
                test = fold == k
                if train.size < 2 or not test.any():
                    continue
                pred[test] = _regressor(kind, random_state).fit(X[train], tau[train]).predict(X[test])
            gain = gain_ratio(pred, tau)
            if best is None or (np.isfinite(gain) and not gain <= best[1]):
                best = (kind, gain, pred)
        kind, gain, pred = best
        r2 = float(1 - np.mean((tau - pred) ** 2) / tau.var()) if tau.var() > 0 else np.nan
        predictions.append(pd.DataFrame({"customer_id": ids, "promotion_id": pid, "ceiling_uplift": pred}))
        summary.append({"promotion_id": pid, "feature_ceiling_kind": kind, "feature_ceiling_r2": r2,
                        "feature_ceiling_gain_ratio": gain})
    columns = ["customer_id", "promotion_id", "ceiling_uplift"]
    out = pd.concat(predictions, ignore_index=True) if predictions else pd.DataFrame(columns=columns)
    return out, pd.DataFrame(summary, columns=["promotion_id", "feature_ceiling_kind", "feature_ceiling_r2",
                                               "feature_ceiling_gain_ratio"])
