"""Population stability index (PSI) of the features between two snapshots.

``PSI = sum_b (a_b - e_b) * ln(a_b / e_b)`` over bins ``b``, where ``e_b`` is the share of the
*expected* (training) rows in bin ``b`` and ``a_b`` the share of the *actual* (scoring) rows. Bins:

- numeric: the deciles of the training values (distinct edges only, so a column with few values has
  fewer bins; open-ended first and last bins), plus one bin for missing values;
- boolean / categorical: one bin per level seen in either snapshot, plus one for missing values.

An empty bin gets the share ``eps`` (default 1e-4) on both sides' denominators of the log, so a level
that appears only in one snapshot gives a large but finite PSI. Usual reading: below 0.1 stable,
0.1-0.2 a moderate shift, above 0.2 (:data:`PSI_WARNING`) a shift worth a look before trusting the scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["PSI_WARNING", "population_stability_index", "feature_drift"]

PSI_WARNING = 0.2


def _shares(codes: np.ndarray, n_bins: int) -> np.ndarray:
    counts = np.bincount(codes, minlength=n_bins).astype(float)
    return counts / counts.sum() if counts.sum() > 0 else counts


def _psi(e: np.ndarray, a: np.ndarray, eps: float) -> float:
    e, a = np.maximum(e, eps), np.maximum(a, eps)
    return float(np.sum((a - e) * np.log(a / e)))


def population_stability_index(expected, actual, *, kind: str = "numeric", n_bins: int = 10,
                               eps: float = 1e-4) -> float:
    """PSI of ``actual`` against ``expected`` (see the module docstring); ``NaN`` when either is empty."""
    if kind not in ("numeric", "categorical"):
        raise ValueError(f"kind must be 'numeric' or 'categorical', got {kind!r}")
    e = pd.Series(expected).reset_index(drop=True)
    a = pd.Series(actual).reset_index(drop=True)
    if e.empty or a.empty:
        return float("nan")
    if kind == "numeric":
        ev = pd.to_numeric(e, errors="raise").to_numpy(dtype=float, na_value=np.nan)
        av = pd.to_numeric(a, errors="raise").to_numpy(dtype=float, na_value=np.nan)
        finite = ev[~np.isnan(ev)]
        edges = np.unique(np.quantile(finite, np.linspace(0, 1, n_bins + 1)[1:-1])) if finite.size else np.array([])
        nb = edges.size + 2  # value bins + missing

        def codes(v):
            c = np.searchsorted(edges, v, side="right")
            return np.where(np.isnan(v), edges.size + 1, c)

        return _psi(_shares(codes(ev), nb), _shares(codes(av), nb), eps)
    el = e.astype(object).where(e.notna(), "__missing__").map(str)
    al = a.astype(object).where(a.notna(), "__missing__").map(str)
    levels = sorted(set(el) | set(al))
    index = {lv: i for i, lv in enumerate(levels)}
    return _psi(_shares(el.map(index).to_numpy(dtype=int), len(levels)),
                _shares(al.map(index).to_numpy(dtype=int), len(levels)), eps)


def feature_drift(spec, expected: pd.DataFrame, actual: pd.DataFrame, *, warning: float = PSI_WARNING,
                  n_bins: int = 10) -> pd.DataFrame:
    """PSI per source feature of ``spec`` (a :class:`~retail_lift.predict.features.FeatureSpec`).

    Returns ``feature``, ``kind`` (numeric / boolean / categorical), ``psi``, ``is_drift_warning``
    (``psi > warning``), sorted by ``psi`` descending then name.
    """
    rows = []
    for kinds, cols in (("numeric", spec.numeric), ("boolean", spec.boolean), ("categorical", tuple(spec.categorical))):
        for c in cols:
            psi = population_stability_index(expected[c], actual[c],
                                             kind="numeric" if kinds == "numeric" else "categorical", n_bins=n_bins)
            rows.append({"feature": c, "kind": kinds, "psi": psi, "is_drift_warning": bool(psi > warning)})
    out = pd.DataFrame(rows, columns=["feature", "kind", "psi", "is_drift_warning"])
    return out.sort_values(["psi", "feature"], ascending=[False, True], na_position="last").reset_index(drop=True)
