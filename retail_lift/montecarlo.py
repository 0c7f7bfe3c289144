"""Small Monte Carlo helpers shared by the simulation harnesses.

Used by the experiment engine's trust harness (:mod:`retail_lift.experiments.harness`) and the
off-policy gate's trust harness (:mod:`retail_lift.bandit.gate_harness`): a simulated rate, its
Monte Carlo standard error, the binomial band a calibrated rate should land in, an exact
(Clopper-Pearson) interval, a rate check against a target, the mean of per-simulation values with
its standard error and a bound check "met within k Monte Carlo standard errors", and the report
writers (JSON, Markdown table cells, a dbt docs block).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
from scipy import stats

__all__ = [
    "BAND_LEVEL",
    "EXPECTATIONS",
    "BOUND_KINDS",
    "binomial_band",
    "bound_check",
    "clopper_pearson",
    "fmt",
    "with_checks",
    "mc_standard_error",
    "mean_and_se",
    "rate_check",
    "write_docs_block",
    "write_json",
]

#: level of the binomial band around a target rate: a calibrated rate falls outside it ~0.1 % of the time
BAND_LEVEL = 0.999

EXPECTATIONS = ("in band", "at most", "at least", "above")

BOUND_KINDS = ("at most", "at least", "about")


def _check_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n (simulations) must be a positive integer, got {n!r}")
    return int(n)


def _check_rate(rate, name: str = "rate") -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating, np.integer)) \
            or not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {rate!r}")
    return float(rate)


def binomial_band(rate: float, n: int, level: float = BAND_LEVEL) -> tuple[float, float]:
    """Central ``level`` interval of ``Binomial(n, rate) / n`` (where a calibrated rate should land)."""
    rate, n = _check_rate(rate), _check_n(n)
    tail = (1.0 - level) / 2.0
    return float(stats.binom.ppf(tail, n, rate) / n), float(stats.binom.isf(tail, n, rate) / n)


def mc_standard_error(rate: float, n: int) -> float:
    """Monte Carlo standard error ``sqrt(p (1 - p) / n)`` of a rate measured on ``n`` simulations."""
    rate, n = _check_rate(rate), _check_n(n)
    return math.sqrt(rate * (1.0 - rate) / n)


def clopper_pearson(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact two-sided ``level`` interval of a binomial proportion (``successes`` out of ``n``).

    Its upper end at ``level = 0.90`` is the one-sided 95 % upper bound.
    """
    n = _check_n(n)
    k = int(successes)
    if not 0 <= k <= n:
        raise ValueError(f"successes must lie in [0, n], got {successes!r} of {n}")
    tail = (1.0 - level) / 2.0
    lo = 0.0 if k == 0 else float(stats.beta.ppf(tail, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.isf(tail, k + 1, n - k))
    return lo, hi


def rate_check(target: float, measured: float, n: int, expect: str = "in band") -> dict:
    """A measured rate, its target, the binomial 99.9 % band around the target and whether the
    expectation holds.

    ``expect`` is ``"in band"`` (calibrated), ``"at most"`` (conservative is fine: ``<= hi``),
    ``"at least"`` (``>= lo``) or ``"above"`` (must exceed the band: ``> hi``).
    """
    if expect not in EXPECTATIONS:
        raise ValueError(f"expect must be one of {EXPECTATIONS}, got {expect!r}")
    lo, hi = binomial_band(target, n)
    ok = {"in band": lo <= measured <= hi, "at most": measured <= hi, "at least": measured >= lo,
          "above": measured > hi}[expect]
    return {"measured": float(measured), "target": float(target), "band_99_9": [lo, hi],
            "expectation": expect, "ok": bool(ok)}


def mean_and_se(values) -> tuple[float, float]:
    """Mean of per-simulation values (0/1 outcomes or per-simulation shares) and its Monte Carlo
    standard error ``sd / sqrt(n)`` (``sqrt(p (1 - p) / n)`` for 0/1 outcomes). Values that are not
    independent within a simulation (e.g. the variants of one experiment) should be averaged per
    simulation first, so the error accounts for their correlation."""
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise ValueError(f"values must be a non-empty array of finite numbers, got {v.size} value(s)")
    return float(v.mean()), float(v.std(ddof=0) / math.sqrt(v.size))


def bound_check(measured: float, se: float, bound: float, kind: str, n: int, k: float = 3.0) -> dict:
    """Is ``measured`` (with Monte Carlo standard error ``se``, from ``n`` simulations) within ``k``
    standard errors of meeting ``bound``?

    ``kind``: ``"at most"`` (``measured - k se' <= bound``), ``"at least"`` (``measured + k se' >=
    bound``) or ``"about"`` (``|measured - bound| <= k se'``). ``se'`` is the larger of ``se`` and the
    binomial error at the bound, ``sqrt(bound (1 - bound) / n)``, so a rate measured at exactly 0 or 1
    is judged by the error it would have at the bound.
    """
    if kind not in BOUND_KINDS:
        raise ValueError(f"kind must be one of {BOUND_KINDS}, got {kind!r}")
    n, bound = _check_n(n), _check_rate(bound, "bound")
    if not (isinstance(se, (int, float, np.floating, np.integer)) and float(se) >= 0):
        raise ValueError(f"se must be a non-negative number, got {se!r}")
    s = max(float(se), mc_standard_error(bound, n))
    m = float(measured)
    ok = {"at most": m - k * s <= bound, "at least": m + k * s >= bound, "about": abs(m - bound) <= k * s}[kind]
    return {"measured": m, "mc_se": float(se), "bound": bound, "kind": kind, "k_se": float(k),
            "se_used": s, "ok": bool(ok)}


def with_checks(report: dict, checks: dict, started: float) -> dict:
    """``report`` followed by the boolean ``checks``, ``all_checks_passed`` and ``runtime_seconds``
    (since ``started``, a :func:`time.perf_counter` reading): the common tail of a harness report."""
    checks = {str(k): bool(v) for k, v in checks.items()}
    return {**report, "checks": checks, "all_checks_passed": all(checks.values()),
            "runtime_seconds": time.perf_counter() - started}


def fmt(v) -> str:
    """A report cell: ``yes`` / ``no`` for booleans, four decimals for floats."""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        return "nan" if math.isnan(v) else f"{v:.4f}"
    return str(v)


def write_json(results: dict, path) -> Path:
    """Write ``results`` as indented JSON (parent folders created); returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(results, indent=2, sort_keys=False, default=float) + "\n")
    return p


def write_docs_block(markdown: str, name: str, path) -> Path:
    """Write ``markdown`` wrapped as the dbt docs block ``name`` (``{% docs name %}`` ... ``{% enddocs %}``)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a docs block name must be an identifier, got {name!r}")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("{% docs " + name + " %}\n" + markdown + "\n{% enddocs %}\n")
    return p
