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


#: an unset var written as a string ("{{ var('x', none) }}" with the var passed as "None" or "")
_UNSET_STRINGS = ("", "none", "None", "null")


def number(model: str, name: str, value, *, integer: bool = False, low: float | None = None,
           high: float | None = None, low_open: bool = False, high_open: bool = False,
           optional: bool = False, rendered: bool = False):
    """``value`` of setting ``name`` as a float (or an int with ``integer``) within the bounds, else an error
    naming ``model`` and ``name``.

    A bool is never a number; an integer setting takes an int or a float without fraction (``5.0``).
    ``optional``: ``None`` stays ``None``. ``rendered``: the value comes from a yml config of the form
    ``"{{ var('x', ...) }}"``, which arrives as a string when the var is passed as one (``--vars``): numbers
    are parsed and, if ``optional``, an unset var's string (``""``, ``"None"``, ``"none"``, ``"null"``) is
    ``None``.
    """
    kind = "an integer" if integer else "a number"
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if low_open else '>='} {low}")
    if high is not None:
        bounds.append(f"{'<' if high_open else '<='} {high}")
    wanted = f"{kind}{' ' + ' and '.join(bounds) if bounds else ''}{' or None' if optional else ''}"
    raw = value
    if rendered and isinstance(value, str):
        if optional and value.strip() in _UNSET_STRINGS:
            return None
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"{model}: {name} must be {wanted}, got {raw!r}") from None
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{model}: {name} must be {wanted}, got {raw!r}")
    if integer:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{model}: {name} must be {wanted}, got {raw!r}")
        value = int(value)
    else:
        value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high or value != value:  # NaN is in no range
        raise ValueError(f"{model}: {name} must be {wanted}, got {raw!r}")
    return value


def choice(model: str, name: str, value, options) -> str:
    """``value`` of setting ``name`` if it is one of ``options``, else an error naming them."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{model}: {name} must be one of {list(options)}, got {value!r}")
    return value


def set_fields(config, **values) -> None:
    """Assign converted values to the fields of a frozen dataclass (in its ``__post_init__``)."""
    for name, value in values.items():
        object.__setattr__(config, name, value)


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
