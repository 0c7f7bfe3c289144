"""Typed model configs from dbt settings: the helpers the table layer and the evaluation layer share.

A dbt Python model reads each setting with a literal ``dbt.config.get("key")`` and builds its frozen dataclass
config with :func:`from_settings`; the dataclass holds the model's defaults and checks its values in
``__post_init__`` with :func:`number`, :func:`choice` and :func:`set_fields` (an error names the model and the
key). :func:`plain_defaults` gives the defaults as the yml ``config:`` block states them. Used by
:mod:`retail_lift.tables` and :mod:`retail_lift.evaluation`; imports nothing of the project.
"""

from __future__ import annotations

import dataclasses

__all__ = ["choice", "flag", "from_settings", "number", "plain_defaults", "set_fields"]


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


def plain_defaults(config_class) -> dict:
    """The defaults of ``config_class`` as plain values (tuples as lists): what the model's yml ``config:``
    block states."""
    config = config_class()
    return {f.name: _plain(getattr(config, f.name)) for f in dataclasses.fields(config_class)}


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


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


def flag(model: str, name: str, value) -> bool:
    """``value`` of setting ``name`` if it is a bool (a yml ``true`` / ``false``), else an error naming ``model``
    and ``name``."""
    if not isinstance(value, bool):
        raise ValueError(f"{model}: {name} must be true or false, got {value!r}")
    return value
