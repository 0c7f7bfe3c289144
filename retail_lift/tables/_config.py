"""Shared helpers of the table layer: typed configs from dbt settings, relations into pandas."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pandas as pd


def from_settings(config_class, model: str, **settings):
    """``config_class`` from the values a dbt model read with ``dbt.config.get("key")``.

    A value of ``None`` (the key is not set) takes the dataclass default; a key the config does not have
    is an error naming the model and the key (a typo in a yml would otherwise be ignored silently). The
    dataclass's own ``__post_init__`` checks and converts the types.
    """
    names = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(settings) - names)
    if unknown:
        raise ValueError(f"{model}: unknown config key(s) {unknown}; known: {sorted(names)}")
    return config_class(**{k: v for k, v in settings.items() if v is not None})


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


def check_store(store, model: str) -> None:
    """The model store of the next issue is not there yet: ``store`` must be ``None``."""
    if store is not None:
        raise NotImplementedError(f"{model}: a model store is not supported yet (store must be None)")
