"""The registry settings and bookkeeping columns the table functions of the registered families share (CLV,
segments, cross-sell): the config keys ``retrain``, ``max_model_age_days``, ``registry_on_mismatch`` and
``registry_alias`` (the dbt vars of the same names), the store check and the ``model_version`` /
``trained_at`` (/ ``registry_action``, ``registry_reason``) columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from retail_lift.registry import ModelRegistry, ModelVersion
from retail_lift.tables._config import RegistryKeys, check_registry_settings

__all__ = ["NO_STORE", "RegisteredModelConfig", "check_registry_store", "stamp", "stamp_fit_table"]

#: the reason of a table computed without a model store
NO_STORE = "no model store: trained in this build"


@dataclass(frozen=True)
class RegisteredModelConfig(RegistryKeys):
    """The registry settings of a dbt model that trains (a base of its typed config; its ``__post_init__``
    calls :meth:`check_registry_settings`): the keys of :class:`~retail_lift.tables._config.RegistryKeys`,
    checked under the model's name ``_model``."""

    _model: ClassVar[str] = ""

    def check_registry_settings(self) -> None:
        check_registry_settings(self, self._model)


def check_registry_store(store, model: str) -> None:
    """``store`` must be a :class:`~retail_lift.registry.ModelRegistry` or None (no store: train in every call)."""
    if store is not None and not isinstance(store, ModelRegistry):
        raise TypeError(f"{model}: store must be a retail_lift.registry.ModelRegistry or None, "
                        f"got {type(store).__name__}")


def stamp(table: pd.DataFrame, version: ModelVersion | None, **extra: str) -> pd.DataFrame:
    """``table`` with ``model_version`` and ``trained_at`` of ``version`` (NULL without one) and the text
    columns ``extra`` (e.g. ``registry_action``, ``registry_reason``)."""
    table = table.copy()
    n = len(table)
    table["model_version"] = pd.array([None if version is None else version.version] * n, dtype="Int64")
    table["trained_at"] = pd.Series([pd.NaT if version is None else version.trained_at] * n,
                                    dtype="datetime64[us]", index=table.index)
    for key, value in extra.items():
        table[key] = pd.Series([value] * n, dtype="string", index=table.index)
    return table


def stamp_fit_table(table: pd.DataFrame, version: ModelVersion | None, action: str, reason: str) -> pd.DataFrame:
    """A fit table (``record_type`` rows) with ``model_version`` and ``trained_at`` on every row and
    ``registry_action`` and ``registry_reason`` on its ``run`` row (NULL on the others), as the classifiers'."""
    table = stamp(table, version, registry_action=action, registry_reason=reason)
    other = table["record_type"].astype(str) != "run"
    table.loc[other, ["registry_action", "registry_reason"]] = pd.NA
    return table
