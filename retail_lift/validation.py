"""Input checks shared by every estimator in the package.

Each check raises ``ValueError`` with a message that names the argument (and, where it helps,
the first offending position and value), so a user learns exactly what was wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def as_1d_float(x, name: str) -> np.ndarray:
    """Return ``x`` as a 1-D float array; reject other shapes and NaN / inf values."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} contains {int(bad.sum())} NaN or infinite value(s); first at position {i}")
    return arr


def as_2d_float(x, name: str) -> np.ndarray:
    """Return ``x`` as a 2-D float array (a 1-D input becomes one column); reject NaN / inf."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be two-dimensional, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        r, c = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(f"{name} contains {int(bad.sum())} NaN or infinite value(s); first at row {r}, column {c}")
    return arr


def check_same_length(**arrays: Sequence) -> int:
    """All arguments must have the same first dimension; return it."""
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{k}={n}" for k, n in lengths.items())
        raise ValueError(f"arguments must have equal lengths, got {detail}")
    return next(iter(lengths.values())) if lengths else 0


def check_in_range(arr: np.ndarray, name: str, low: float, high: float,
                   low_inclusive: bool = True, high_inclusive: bool = True) -> np.ndarray:
    """Every value of ``arr`` must lie in the interval; the message names the first value outside it."""
    lo_ok = arr >= low if low_inclusive else arr > low
    hi_ok = arr <= high if high_inclusive else arr < high
    bad = ~(lo_ok & hi_ok)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        lb = "[" if low_inclusive else "("
        hb = "]" if high_inclusive else ")"
        raise ValueError(
            f"{name} must lie in {lb}{low}, {high}{hb}; {int(bad.sum())} value(s) do not, "
            f"first at position {i}: {arr[i].item()!r}"
        )
    return arr


def check_probabilities(x, name: str, allow_zero: bool = True) -> np.ndarray:
    """Probabilities in [0, 1] (or (0, 1] with ``allow_zero=False``, as propensities must be)."""
    arr = as_1d_float(x, name)
    return check_in_range(arr, name, 0.0, 1.0, low_inclusive=allow_zero)


def check_binary(x, name: str) -> np.ndarray:
    """A 0/1 outcome or treatment indicator, returned as an int array."""
    arr = as_1d_float(x, name)
    bad = ~np.isin(arr, (0.0, 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must contain only 0 and 1; first other value at position {i}: {arr[i].item()!r}")
    return arr.astype(int)


def check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
