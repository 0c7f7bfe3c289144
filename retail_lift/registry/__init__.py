"""A model registry over plain files: train once, score every build.

A *registered model* (one per dbt model that trains, e.g. ``ml_purchase_propensity_fit``) has numbered
*versions*; each version is a folder with the pickled model, its record (``version.json``: parameters,
metrics, feature spec, training-data fingerprint, code version, model-card inputs, lineage) and named
Parquet artifacts. *Aliases* (``champion``, ``challenger``) point at versions; builds score with the
champion. :func:`training_decision` is the one rule that says whether a build trains or scores, and why.

The package knows nothing of dbt, of the warehouse or of the model families: the table layer
(:mod:`retail_lift.tables`) opens a store next to the DuckDB file and hands it to the table functions.

Why files and not MLflow (measured on this project's pins, see docs/operations.md "Model registry"):
``mlflow-skinny==3.18.0`` resolves, but its file store is in maintenance mode and refuses to start unless
``MLFLOW_ALLOW_FILE_STORE=true``; its SQLite registry needs SQLAlchemy and Alembic, which skinny does not
install, and took 10.95 s to create the database; ``import mlflow`` alone took 2.37 s. The concepts are kept:
versions, champion / challenger aliases, metrics, parameters, lineage.
"""

from retail_lift.registry.decision import (
    DEFAULT_MAX_MODEL_AGE_DAYS,
    DRIFT_PSI_THRESHOLD,
    ModelMismatchError,
    TrainingDecision,
    feature_spec_of,
    spec_differences,
    training_decision,
)
from retail_lift.registry.store import (
    ALIASES,
    CHALLENGER,
    CHAMPION,
    ModelFileError,
    ModelRegistry,
    ModelVersion,
    code_version,
    frame_fingerprint,
)

__all__ = [
    "ALIASES",
    "CHALLENGER",
    "CHAMPION",
    "DEFAULT_MAX_MODEL_AGE_DAYS",
    "DRIFT_PSI_THRESHOLD",
    "ModelFileError",
    "ModelMismatchError",
    "ModelRegistry",
    "ModelVersion",
    "TrainingDecision",
    "code_version",
    "feature_spec_of",
    "frame_fingerprint",
    "spec_differences",
    "training_decision",
]
