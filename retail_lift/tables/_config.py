"""Shared helpers of the table layer: relations into pandas, the model-store check, and the typed-config helpers
of :mod:`retail_lift.settings`."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

# the generic config helpers live in retail_lift.settings (shared with retail_lift.evaluation); the table
# modules import them from here
from retail_lift.settings import choice, from_settings, number, set_fields

__all__ = ["check_store", "choice", "from_settings", "model_store", "number", "read_columnar", "read_relation",
           "set_fields"]


def read_relation(relation, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """pandas from a DuckDB relation (only ``columns`` are read), an Arrow table or a pandas frame."""
    if isinstance(relation, pd.DataFrame):
        return relation if columns is None else relation[list(columns)]
    if hasattr(relation, "project"):  # a DuckDB relation: read only the columns used
        if columns is not None:
            relation = relation.project(", ".join(columns))
        return relation.to_arrow_table().to_pandas()
    if hasattr(relation, "to_pandas"):  # an Arrow table
        table = relation if columns is None else relation.select(list(columns))
        return table.to_pandas()
    raise TypeError(f"a relation must be a DuckDB relation, an Arrow table or a pandas DataFrame, "
                    f"got {type(relation).__name__}")


def model_store(session):
    """The model registry of the warehouse a dbt Python model runs in, from the ``session`` dbt hands it.

    DuckDB (dbt-duckdb's connection): ``models/`` beside the DuckDB file (None for an in-memory database:
    every build trains). Spark (the session of ``retail-lift score --target spark``): ``models/`` beside the
    Spark warehouse folder (``$RETAIL_LIFT_SPARK_DIR/models``). The variable ``RETAIL_LIFT_MODEL_REGISTRY``,
    when set, names the registry folder instead (e.g. one registry for both engines)."""
    import os
    from pathlib import Path

    from retail_lift.registry import ModelRegistry

    override = os.environ.get("RETAIL_LIFT_MODEL_REGISTRY")
    if override:
        return ModelRegistry(override)
    if hasattr(session, "execute"):  # DuckDB
        # fetchall: the connection is dbt's, and a result left unfinished would block the model's next query
        rows = session.execute(
            "select path from duckdb_databases() where database_name = current_database()").fetchall()
        if not rows or not rows[0][0] or rows[0][0] == ":memory:":
            return None
        return ModelRegistry.beside(rows[0][0])
    conf = getattr(session, "conf", None)  # a Spark session
    folder = conf.get("spark.sql.warehouse.dir", None) if conf is not None else None
    if not folder:
        return None
    folder = folder.removeprefix("file:")
    return ModelRegistry(Path(folder).resolve().parent / "models")


def check_store(store, model: str) -> None:
    """The model families not on the registry yet (all but the classifiers): ``store`` must be ``None``."""
    if store is not None:
        raise NotImplementedError(f"{model}: a model store is not supported yet (store must be None)")


def read_columnar(relation, columns: Sequence[str]):
    """An Arrow table of ``columns`` from a DuckDB relation (no pandas, no Python string per row), or an
    Arrow table or a pandas frame as given (the callers read both and only the columns they need)."""
    if isinstance(relation, pd.DataFrame):
        return relation
    if hasattr(relation, "project"):
        return relation.project(", ".join(columns)).to_arrow_table()
    if hasattr(relation, "to_pandas") and hasattr(relation, "schema"):
        return relation
    raise TypeError(f"a relation must be a DuckDB relation, an Arrow table or a pandas DataFrame, "
                    f"got {type(relation).__name__}")
