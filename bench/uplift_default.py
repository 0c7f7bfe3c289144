"""The project's default uplift model, refitted for a bench: the settings of ``ml_uplift_run``, out of fold.

``bench/uplift_ceiling.py`` and ``bench/uplift_peers.py`` compare "the project's default" with the feature
ceiling and with causalml's learners. The default is what the warehouse's ``ml_uplift_run`` runs: the keyword
arguments of :func:`retail_lift.uplift.pipeline.fit_score_uplift` that its yml config sets
(``python_models/ml/uplift/_uplift__models.yml``), every other argument at the function's own default. Both
are read when the bench runs, so after a change of the default (in the function or in the config) the same
command measures the new one without a warehouse rebuild.

Two settings are overridden because they do not change the out-of-fold predictions the benches compare:
``n_placebo=0`` (the placebo shuffles only add metrics) and ``n_threads=1`` (the machine is shared).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import yaml

PROJECT = Path(__file__).resolve().parents[1]
RUN_CONFIG = PROJECT / "python_models" / "ml" / "uplift" / "_uplift__models.yml"
#: settings of the bench run that differ from the warehouse's (they do not change the predictions)
OVERRIDES = {"n_placebo": 0, "n_threads": 1}


def default_settings(config_path: Path = RUN_CONFIG, overrides: Mapping | None = None) -> dict:
    """The keyword arguments of ``fit_score_uplift`` that ``ml_uplift_run``'s config sets, plus :data:`OVERRIDES`.

    Config keys that are not parameters of ``fit_score_uplift`` (``tags``, ...) are left out; ``n_folds``
    0 or null means the single holdout split (``None``), as in ``ml_uplift_run``.
    """
    from retail_lift.uplift.pipeline import fit_score_uplift

    models = yaml.safe_load(Path(config_path).read_text())["models"]
    matches = [m for m in models if m.get("name") == "ml_uplift_run"]
    if not matches:
        raise ValueError(f"{config_path}: no model named ml_uplift_run")
    config = dict(matches[0].get("config") or {})
    params = inspect.signature(fit_score_uplift).parameters
    settings = {k: v for k, v in config.items() if k in params and params[k].kind is inspect.Parameter.KEYWORD_ONLY}
    if "n_folds" in settings:
        settings["n_folds"] = int(settings["n_folds"]) if settings["n_folds"] else None
    if "k_fractions" in settings and settings["k_fractions"] is not None:
        settings["k_fractions"] = tuple(float(k) for k in settings["k_fractions"])
    for key, value in {**OVERRIDES, **(overrides or {})}.items():
        if key in params:
            settings[key] = value
    return settings


def run_default(training: pd.DataFrame, *, srm: pd.DataFrame | None = None, promotions=None,
                settings: Mapping | None = None) -> pd.DataFrame:
    """Out-of-fold predictions of the project's default learner: ``fit_score_uplift(...).holdout_predictions``.

    ``settings`` defaults to :func:`default_settings`. Only a few customers are scored (the benches compare
    the out-of-fold predictions of the experiment's exposures, not the scores).
    """
    from retail_lift.uplift.pipeline import fit_score_uplift

    settings = default_settings() if settings is None else dict(settings)
    scoring = training.drop_duplicates("customer_id").head(64)
    result = fit_score_uplift(training, scoring, srm=srm, promotions=promotions, **settings)
    return result.holdout_predictions
