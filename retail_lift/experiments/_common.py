"""Shared plumbing for the experiment statistics: result base class, input checks, output shaping.

Every public test function in :mod:`retail_lift.experiments` accepts either scalars (one
experiment) or NumPy-broadcastable arrays (many experiments at once, as the trust harness needs).
Scalar inputs give plain ``float`` / ``bool`` attributes; array inputs give arrays.

Input checks reuse :mod:`retail_lift.validation` so that every message names the offending argument.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from retail_lift.validation import as_1d_float, check_in_range


@dataclasses.dataclass(frozen=True)
class Result:
    """Base class of every result object: a frozen dataclass with :meth:`to_dict`."""

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a plain, JSON-serialisable ``dict``.

        NumPy arrays become (nested) lists, NumPy scalars become Python scalars and nested
        results become nested dicts.
        """
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _plain(value: Any) -> Any:
    if isinstance(value, Result):
        return value.to_dict()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------------------- checks
def as_float_array(x, name: str) -> np.ndarray:
    """``x`` as a float array of any shape (0-d allowed) with no NaN / inf; message names ``name``."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric, got {x!r}") from exc
    as_1d_float(arr.ravel(), name)  # NaN / inf check with a position in the message
    return arr


def check_nonnegative(x, name: str) -> np.ndarray:
    arr = as_float_array(x, name)
    check_in_range(arr.ravel(), name, 0.0, np.inf)
    return arr


def check_counts(x, name: str, minimum: int = 0) -> np.ndarray:
    """Whole-number counts ``>= minimum`` (returned as float so that arithmetic never overflows)."""
    arr = as_float_array(x, name)
    flat = arr.ravel()
    check_in_range(flat, name, float(minimum), np.inf)
    frac = flat != np.floor(flat)
    if frac.any():
        i = int(np.flatnonzero(frac)[0])
        raise ValueError(f"{name} must contain whole numbers (counts); first other value at position {i}: "
                         f"{flat[i]!r}")
    return arr


def check_alpha(alpha, name: str = "alpha") -> float:
    """A significance level or probability strictly inside (0, 1)."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number in (0, 1), got {alpha!r}")
    a = float(alpha)
    if not (0.0 < a < 1.0) or math.isnan(a):
        raise ValueError(f"{name} must lie in (0, 1), got {alpha!r}")
    return a


def check_positive_scalar(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    v = float(value)
    if not (v > 0.0) or not math.isfinite(v):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def broadcast(**arrays: np.ndarray) -> list[np.ndarray]:
    """Broadcast the named arrays together; a shape mismatch is reported with every argument's shape."""
    try:
        return list(np.broadcast_arrays(*arrays.values()))
    except ValueError:
        detail = ", ".join(f"{k} shape {np.shape(v)}" for k, v in arrays.items())
        raise ValueError(f"arguments cannot be broadcast together: {detail}") from None


def check_not_greater(small: np.ndarray, big: np.ndarray, small_name: str, big_name: str) -> None:
    bad = small > big
    if np.any(bad):
        i = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(f"{small_name} must not exceed {big_name}; first violation at position {i}: "
                         f"{small_name}={small.ravel()[i]!r} > {big_name}={big.ravel()[i]!r}")


def centred_sum_of_squares(n: np.ndarray, s: np.ndarray, ss: np.ndarray, sumsq_name: str,
                           sum_name: str, n_name: str) -> np.ndarray:
    """``ss - s**2 / n`` from sufficient statistics, with a consistency check.

    A value below zero beyond floating-point round-off means the statistics cannot come from real
    data (Cauchy–Schwarz: ``sum(y**2) >= sum(y)**2 / n``); tiny negative round-off is clipped to 0.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        c = ss - s * s / n
    tol = 1e-9 * np.maximum(np.abs(ss), 1.0)
    bad = c < -tol
    if np.any(bad):
        i = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(
            f"{sumsq_name} is smaller than {sum_name}**2 / {n_name} (first at position {i}); the sufficient "
            "statistics are inconsistent (sum of squares must be at least sum**2 / n)"
        )
    return np.maximum(c, 0.0)


def shape_out(value, scalar: bool):
    """Return ``value`` as a Python scalar when the inputs were scalars, else as an array."""
    if not scalar:
        return np.asarray(value)
    arr = np.asarray(value)
    if arr.dtype == bool:
        return bool(arr)
    if np.issubdtype(arr.dtype, np.integer):
        return int(arr)
    return float(arr)


def shape_count(value, scalar: bool):
    """Whole-number counts as ``int`` (scalar) or an integer array."""
    arr = np.asarray(value)
    return int(arr) if scalar else arr.astype(np.int64)
