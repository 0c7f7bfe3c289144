"""Customer lifetime value: the BG/NBD purchase model and the Gamma-Gamma spend model.

Models
------
* **BG/NBD** (Fader, Hardie & Lee 2005, "Counting your customers the easy way: an alternative to
  the Pareto/NBD model", *Marketing Science* 24(2)). While alive, a customer makes repeat purchases
  as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``; after every purchase they drop out
  with probability ``p ~ Beta(a, b)``. :func:`fit_bgnbd` estimates ``r, alpha, a, b`` by maximum
  likelihood.
* **Gamma-Gamma** (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves for customer base
  analysis", *Journal of Marketing Research* 42(4); Fader & Hardie's note "The Gamma-Gamma model of
  monetary value", 2013). Each transaction value is ``Gamma(p, nu)`` with ``nu ~ Gamma(q, v)`` across
  customers, so a customer's mean spend is shrunk towards the population mean. The model assumes spend
  is independent of purchase frequency; check that (e.g. the correlation of ``frequency`` and
  ``monetary_value`` among repeat buyers) before trusting CLV.

Inputs and units
----------------
The per-customer summary follows the BTYD convention used by the warehouse (all times in **days**
there, but any unit works as long as it is used consistently, including for ``t`` and ``period``):

* ``frequency``: number of *repeat* purchase occasions = distinct purchase days minus one (an integer
  >= 0). A customer seen once has ``frequency == 0``.
* ``recency``: time between the first and the last purchase occasion (0 when ``frequency == 0``).
  This is **not** the marketing "RFM recency" (time since the last purchase); passing that by mistake
  is caught because it is non-zero for one-time buyers.
* ``T``: time between the first purchase occasion and the end of the observation window (snapshot),
  ``0 <= recency <= T``.
* ``monetary_value``: mean spend per *repeat* purchase occasion (the first purchase is excluded), 0 when
  ``frequency == 0``.

Estimation
----------
Plain maximum likelihood by default: on any summary the estimates equal ``lifetimes``' unpenalised
``BetaGeoFitter`` / ``GammaGammaFitter`` (tests/python/test_clv_table.py). ``penalizer > 0`` is opt-in and
unit-free: times are rescaled so that the longest ``T`` is 1 (as ``lifetimes`` does) and amounts to mean 1
before the L2 penalty applies. :func:`lifetime_value_table` is the warehouse's step: revenue and margin
CLV, bootstrap intervals, and a named status instead of a crash or a silent default on degenerate data.

Every function validates its inputs (equal lengths, no NaN / inf, integer non-negative ``frequency``,
``0 <= recency <= T``, ``recency == 0`` for one-time buyers, non-negative ``monetary_value``) and raises
``ValueError`` naming the argument and the first bad position. Scalars are accepted and treated as one
customer; results are always NumPy arrays.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import digamma, expit, gammaln, hyp2f1
from threadpoolctl import threadpool_limits

from retail_lift.validation import as_1d_float, check_in_range, check_positive_int, check_same_length

__all__ = [
    "fit_bgnbd",
    "fit_gamma_gamma",
    "expected_purchases",
    "probability_alive",
    "expected_average_spend",
    "customer_lifetime_value",
    "score_customers",
    "lifetime_value_table",
    "fit_lifetime_value",
    "score_lifetime_value",
]

_BGNBD_KEYS = ("r", "alpha", "a", "b")
_GG_KEYS = ("p", "q", "v")
# Log-parameter box used by the optimiser: parameters in [exp(-20), exp(20)] ~ [2e-9, 5e8].
_LOG_BOUND = 20.0
# A log-parameter (on rescaled data) beyond this is taken as divergence, i.e. no maximum inside the space.
_DIVERGED = 13.0


# --------------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------------

def _column(x, name: str) -> np.ndarray:
    """A 1-D float array (a scalar becomes one customer); non-numeric input gets a named error."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    return as_1d_float(np.atleast_1d(arr), name)


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _check_frequency(x: np.ndarray) -> np.ndarray:
    check_in_range(x, "frequency", 0.0, np.inf)
    not_int = x != np.floor(x)
    if not_int.any():
        i = _first_bad(not_int)
        raise ValueError(
            f"frequency must contain whole numbers (repeat purchase occasions); {int(not_int.sum())} "
            f"value(s) do not, first at position {i}: {float(x[i])!r}"
        )
    return x


def _check_rfm(frequency, recency, T, monetary_value=None):
    """Validate a customer summary; return float arrays (``monetary_value`` only if given)."""
    x = _column(frequency, "frequency")
    tx = _column(recency, "recency")
    age = _column(T, "T")
    arrays = {"frequency": x, "recency": tx, "T": age}
    m = None
    if monetary_value is not None:
        m = _column(monetary_value, "monetary_value")
        arrays["monetary_value"] = m
    n = check_same_length(**arrays)
    if n == 0:
        raise ValueError("frequency, recency and T must contain at least one customer")

    _check_frequency(x)
    check_in_range(tx, "recency", 0.0, np.inf)
    check_in_range(age, "T", 0.0, np.inf)
    late = tx > age
    if late.any():
        i = _first_bad(late)
        raise ValueError(
            f"recency must not exceed T; {int(late.sum())} value(s) do, first at position {i}: "
            f"recency={float(tx[i])!r}, T={float(age[i])!r}"
        )
    one_timer = (x == 0) & (tx != 0)
    if one_timer.any():
        i = _first_bad(one_timer)
        raise ValueError(
            "recency must be 0 where frequency is 0 (recency is the time from the first to the last "
            "purchase, not the time since the last purchase); "
            f"{int(one_timer.sum())} value(s) are not, first at position {i}: recency={float(tx[i])!r}"
        )
    if m is not None:
        check_in_range(m, "monetary_value", 0.0, np.inf)
    return x, tx, age, m


def _check_params(params, keys: tuple[str, ...], name: str) -> tuple[float, ...]:
    if not isinstance(params, Mapping):
        raise ValueError(f"{name} must be a mapping with keys {', '.join(keys)}, got {type(params).__name__}")
    missing = [k for k in keys if k not in params]
    if missing:
        raise ValueError(f"{name} is missing key(s) {', '.join(missing)}")
    values = []
    for k in keys:
        try:
            val = float(params[k])
        except (TypeError, ValueError):
            raise ValueError(f"{name}[{k!r}] must be a number, got {params[k]!r}") from None
        if not np.isfinite(val) or val <= 0:
            raise ValueError(f"{name}[{k!r}] must be a positive finite number, got {params[k]!r}")
        values.append(val)
    return tuple(values)


def _check_time(t, name: str, n: int) -> np.ndarray:
    """A non-negative horizon: a scalar, or one value per customer."""
    try:
        arr = np.asarray(t, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric, got {t!r}") from None
    if arr.ndim == 0:
        if not np.isfinite(arr) or arr < 0:
            raise ValueError(f"{name} must be a non-negative finite number, got {t!r}")
        return np.full(n, float(arr))
    arr = as_1d_float(arr, name)
    if len(arr) != n:
        raise ValueError(f"{name} must be a scalar or have one value per customer ({n}), got {len(arr)}")
    return check_in_range(arr, name, 0.0, np.inf)


def _check_nonneg_scalar(value, name: str, positive: bool = False) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        val = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(val) or val < 0 or (positive and val == 0):
        kind = "positive" if positive else "non-negative"
        raise ValueError(f"{name} must be a {kind} finite number, got {value!r}")
    return val


def _compress(*columns: np.ndarray):
    """Collapse identical customer rows; return unique columns and their counts (likelihood weights)."""
    stacked = np.column_stack(columns)
    uniq, counts = np.unique(stacked, axis=0, return_counts=True)
    return [uniq[:, j] for j in range(uniq.shape[1])], counts.astype(float)


# --------------------------------------------------------------------------------------------------
# BG/NBD
# --------------------------------------------------------------------------------------------------

def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of a column and each row's index into them."""
    uniq, index = np.unique(values, return_inverse=True)
    return uniq, index.ravel()


class _BgnbdRows:
    """BG/NBD rows prepared for many likelihood evaluations (one optimisation).

    Every term that depends on a row only through its ``x`` (``gammaln``, ``digamma``, ``log(b + x - 1)``), its
    ``t_x`` or its ``T`` (``log(alpha + .)``) is computed once per distinct value and gathered: a summary has a few
    dozen distinct frequencies and at most a few hundred distinct days however many rows it has. Each row's
    value is the same expression on the same numbers as the row-by-row form, so the result is the same to the
    last bit, only cheaper.
    """

    def __init__(self, x, tx, T):
        self.n = len(x)
        self.ux, self.ix = _distinct(x)
        self.utx, self.itx = _distinct(tx)
        self.uT, self.iT = _distinct(T)
        self.rep = (x > 0)
        self.urep = self.ux > 0
        self.umax1 = np.maximum(self.ux, 1.0)

    def loglik(self, params, grad: bool = False):
        """:func:`_bgnbd_loglik` of the rows."""
        r, alpha, a, b = params
        ux, ix = self.ux, self.ix
        urx = r + ux
        ubx1 = b + self.umax1 - 1.0          # b + x - 1, only used where x > 0
        ua12 = ((gammaln(urx) - gammaln(r) + r * np.log(alpha))
                + (gammaln(a + b) + gammaln(b + ux) - gammaln(b) - gammaln(a + b + ux)))
        log_alpha_t = np.log(alpha + self.uT)[self.iT]
        log_alpha_tx = np.log(alpha + self.utx)[self.itx]
        rx = urx[ix]
        a3 = -rx * log_alpha_t
        a4 = (np.log(a) - np.log(ubx1))[ix] - rx * log_alpha_tx
        rep = self.rep
        tail = np.where(rep, np.logaddexp(a3, a4), a3)
        ll = ua12[ix] + tail
        if not grad:
            return ll
        w4 = np.where(rep, np.exp(a4 - tail), 0.0)   # share of the "dropped out at t_x" branch
        w3 = 1.0 - w4
        dg_abx = digamma(a + b + ux)
        g = np.empty((self.n, 4))
        g[:, 0] = (digamma(urx) - digamma(r) + np.log(alpha))[ix] - w3 * log_alpha_t - w4 * log_alpha_tx
        g[:, 1] = r / alpha - w3 * rx / (alpha + self.uT)[self.iT] - w4 * rx / (alpha + self.utx)[self.itx]
        g[:, 2] = (digamma(a + b) - dg_abx)[ix] + w4 / a
        g[:, 3] = (digamma(a + b) + digamma(b + ux) - digamma(b) - dg_abx)[ix] - w4 / ubx1[ix]
        return ll, g


def _bgnbd_loglik(params, x, tx, T, grad: bool = False):
    """Per-customer BG/NBD log-likelihood (FHL 2005, eq. 6 in the form of their section 7).

    ``LL = A1 + A2 + log(exp(A3) + [x > 0] exp(A4))``, the last term by log-sum-exp. With ``grad`` also
    return the per-customer derivatives with respect to ``(r, alpha, a, b)`` (shape ``(n, 4)``).
    """
    return _BgnbdRows(x, tx, T).loglik(params, grad)


def _neg_mean_loglik(theta, loglik, data, weights, penalizer):
    """Objective in log-parameter space: weighted mean negative log-likelihood + L2 penalty on params."""
    params = np.exp(theta)
    ll, g = loglik(params, *data, grad=True)
    wsum = weights.sum()
    value = -(weights @ ll) / wsum + penalizer * np.sum(params**2)
    gradient = -(weights @ g) / wsum * params + 2.0 * penalizer * params**2
    if not np.isfinite(value):
        return np.inf, np.zeros_like(theta)
    return value, gradient


def _neg_mean_loglik_value(theta, loglik, data, weights, penalizer) -> float:
    """The value of :func:`_neg_mean_loglik` alone (no gradient: what Nelder-Mead asks for), the same number."""
    params = np.exp(theta)
    value = -(weights @ loglik(params, *data)) / weights.sum() + penalizer * np.sum(params**2)
    return value if np.isfinite(value) else np.inf


#: the row preparations of the model likelihoods (see :class:`_BgnbdRows`)
_PREPARED_ROWS = {}

#: Nelder-Mead's iteration cap when L-BFGS-B stalls (a fit, and a bootstrap refit whose unconverged point still
#: counts: the no-dropout boundary)
_NELDER_MEAD_MAXITER = 20_000
#: the cap of a bootstrap refit whose unconverged point is dropped whatever it is. Of the 72 polishes that
#: converged in 8 bootstraps of 100 (tiny worlds of 4 seeds, CDNOW, the default world), one took 751 iterations
#: (and ended outside the box, dropped), the others at most 253; those that did not converge by 2,000 had not by
#: 20,000 either, and cost 97 % of the tiny world's CLV fit (bench/results/clv_fit_speed.md)
_BOOTSTRAP_NELDER_MEAD_MAXITER = 2_000


def _maximise(loglik, data, weights, penalizer, x0, names, warn: bool = True,
              nelder_mead_maxiter: int = _NELDER_MEAD_MAXITER):
    """L-BFGS-B with analytic gradients in log-parameter space; Nelder-Mead polish if that stalls (at most
    ``nelder_mead_maxiter`` iterations; one that stops there has not converged)."""
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(x0)
    prepare = _PREPARED_ROWS.get(loglik)
    if prepare is not None:       # the same likelihood, its per-value terms computed once per distinct value
        rows = prepare(*data)
        args = (lambda params, grad=False: rows.loglik(params, grad), (), weights, penalizer)
    else:
        args = (loglik, data, weights, penalizer)
    res = minimize(_neg_mean_loglik, x0, args=args, jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9})
    if not res.success:
        res2 = minimize(_neg_mean_loglik_value, res.x, args=args, method="Nelder-Mead",
                        options={"maxiter": nelder_mead_maxiter, "xatol": 1e-10, "fatol": 1e-14})
        # Nelder-Mead knows no bounds: keep its answer inside the same box
        res2.x = np.clip(res2.x, -_LOG_BOUND, _LOG_BOUND)
        res2.fun = _neg_mean_loglik_value(res2.x, *args)
        if res2.fun <= res.fun:
            res = res2
    # On rescaled data (longest T = 1, mean amount = 1) identified parameters are far inside exp(+-13)
    # (2e-6 .. 4e5); beyond that the likelihood is still climbing towards a boundary: not identified.
    edge = np.abs(res.x) >= _DIVERGED
    converged = bool(res.success) and not edge.any()
    if not converged and warn:
        if edge.any():
            k = int(np.flatnonzero(edge)[0])
            why = (f"parameter {names[k]!r} diverged ({np.exp(res.x[k]):.3g} on rescaled data); "
                   "the data may not identify the model")
        else:
            why = f"optimiser stopped: {res.message}"
        warnings.warn(f"maximum likelihood did not converge ({why}). A penalizer > 0 helps when "
                      "parameters diverge to large values; check the input summary otherwise.",
                      RuntimeWarning, stacklevel=3)
    return np.exp(res.x), converged


def _time_scale(age: np.ndarray) -> float:
    """The factor that maps the longest observation window to 1 time unit (as ``lifetimes`` does)."""
    longest = float(np.max(age))
    if longest <= 0:
        raise ValueError("T: cannot fit BG/NBD, every customer's first purchase is at the end of the window "
                         "(all T are 0), so no time was observed")
    return 1.0 / longest


def _fit_bgnbd_rows(x, tx, age, weights, penalizer, x0=None, warn=True, nelder_mead_maxiter=_NELDER_MEAD_MAXITER):
    """BG/NBD maximum likelihood on (already validated, possibly collapsed) rows with weights.

    Times are rescaled so that the longest ``T`` is 1 before optimising and ``alpha`` is scaled back
    after, so the penalty ``penalizer * (r² + (scale·alpha)² + a² + b²)`` does not depend on the time unit
    (days, weeks, ...). Without a penalty the rescaling changes nothing but the conditioning. Returns
    ``(params tuple, unpenalised log-likelihood on the original times, converged, theta)``.
    """
    scale = _time_scale(age)
    data = (x, tx * scale, age * scale)
    if x0 is None:
        # Start at r = a = b = 1 and alpha on the scale of the observation window.
        x0 = np.array([0.0, np.log(max(float(weights @ data[2] / weights.sum()), 1e-3)), 0.0, 0.0])
    (r, alpha_scaled, a, b), converged = _maximise(_bgnbd_loglik, data, weights, penalizer, x0, _BGNBD_KEYS,
                                                   warn=warn, nelder_mead_maxiter=nelder_mead_maxiter)
    params = (float(r), float(alpha_scaled / scale), float(a), float(b))
    ll = float(weights @ _bgnbd_loglik(params, x, tx, age))
    return params, ll, converged, np.log([r, alpha_scaled, a, b])


def fit_bgnbd(frequency, recency, T, penalizer: float = 0.0) -> dict:
    """Fit the BG/NBD model by maximum likelihood.

    Parameters
    ----------
    frequency, recency, T : array-like
        Per-customer summary (see the module docstring for definitions and units).
    penalizer : float, default 0
        Optional L2 penalty, off by default (plain maximum likelihood). The optimiser minimises
        ``-mean log-likelihood + penalizer * (r² + α'² + a² + b²)`` where ``α'`` is ``alpha`` on times
        rescaled so that the longest ``T`` is 1: exactly the convention of ``lifetimes``'
        ``BetaGeoFitter(penalizer_coef=...)``, and invariant to the time unit (a fit in weeks equals
        the fit in days with ``alpha`` divided by 7, penalised or not). A penalty pulls the estimate
        away from maximum likelihood and biases CLV; use it only when the unpenalised fit does not
        converge (e.g. on tiny data).

    Returns
    -------
    dict
        ``r``, ``alpha`` (Gamma heterogeneity of the purchase rate; ``alpha`` is in the time unit of the
        inputs), ``a``, ``b`` (Beta heterogeneity of the dropout probability), ``log_likelihood`` (the
        unpenalised total log-likelihood at the estimate), ``n`` (customers), ``converged`` (bool) and
        ``penalizer``.

    Notes
    -----
    The likelihood is the closed form of FHL (2005), evaluated with ``gammaln`` and log-sum-exp so
    that customers with many purchases or long histories do not overflow. Optimisation is over the
    log-parameters (so all four stay positive) with analytic gradients (L-BFGS-B; a Nelder-Mead polish of at
    most 20,000 iterations from where it stopped when it reports no convergence); identical customer rows are
    collapsed into weights first, and the terms that depend on a row only through its frequency (or only through
    one of its days) are computed once per distinct value, which makes fits on millions of customers cheap.
    """
    x, tx, age, _ = _check_rfm(frequency, recency, T)
    penalizer = _check_nonneg_scalar(penalizer, "penalizer")
    if not (x > 0).any():
        raise ValueError("frequency: cannot fit BG/NBD, no customer has a repeat purchase (all are 0)")
    data, weights = _compress(x, tx, age)
    (r, alpha, a, b), ll, converged, _ = _fit_bgnbd_rows(*data, weights, penalizer)
    return {"r": r, "alpha": alpha, "a": a, "b": b,
            "log_likelihood": ll, "n": int(len(x)), "converged": converged, "penalizer": penalizer}


def _palive(r, alpha, a, b, x, tx, T) -> np.ndarray:
    """P(alive | x, t_x, T) = 1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)), in log space."""
    log_odds_dead = (np.log(a) - np.log(b + np.maximum(x, 1.0) - 1.0)
                     + (r + x) * (np.log(alpha + T) - np.log(alpha + tx)))
    return np.where(x > 0, expit(-log_odds_dead), 1.0)


def _distinct_rows(*columns: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """The distinct rows of some columns (as columns) and each row's index into them."""
    uniq, index = np.unique(np.column_stack(columns), axis=0, return_inverse=True)
    return tuple(uniq[:, j] for j in range(len(columns))), index.ravel()


class _Scoring:
    """Customers scored with a BG/NBD estimate at one or more horizons (:meth:`expected_purchases`).

    The hypergeometric factor of FHL eq. 10 depends on a customer only through ``(x, T)`` and the horizon, so it is
    computed once per distinct pair (``pairs``: those pairs and each customer's index, from :func:`_distinct_rows`)
    and gathered, and P(alive) once per estimate: every customer's value is the same expression on the same
    numbers as customer by customer, to the last bit, only cheaper (a summary has a few thousand distinct
    ``(x, T)`` for tens of thousands of distinct ``(x, t_x, T)``).
    """

    def __init__(self, x, tx, T, pairs=None):
        self.x, self.tx, self.T = x, tx, T
        (self.px, self.pT), self.index = _distinct_rows(x, T) if pairs is None else pairs
        self._alive: dict[tuple, np.ndarray] = {}

    def palive(self, r, alpha, a, b) -> np.ndarray:
        """:func:`_palive` of the customers (kept for the other horizons of the same estimate)."""
        key = (r, alpha, a, b)
        if key not in self._alive:
            self._alive[key] = _palive(r, alpha, a, b, self.x, self.tx, self.T)
        return self._alive[key]

    def expected_purchases(self, r, alpha, a, b, t) -> np.ndarray:
        """FHL (2005) eq. 10, with the Gauss hypergeometric term Euler-transformed for stability.

        E[Y(t) | x, t_x, T] = (a+b+x-1)/(a-1) * [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)]
                              * P(alive),                                   z = t / (α+T+t).
        Euler's identity 2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z) turns the bracketed product into
        (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), whose first two arguments no longer grow with x, so it
        neither overflows for heavy buyers nor loses precision; the bracket is then ``-expm1(log(...))``.
        ``a = 1`` is a removable singularity (0/0); within 1e-6 of it the value is the mean of the values at
        a = 1 ± 1e-5 (the function is smooth in a, so the error is O(1e-10) relative). ``t`` is one horizon, or
        one per pair of ``self.px, self.pT``.
        """
        if abs(a - 1.0) < 1e-6:
            out = 0.5 * (self._core(r, alpha, 1.0 - 1e-5, b, t) + self._core(r, alpha, 1.0 + 1e-5, b, t))
        else:
            out = self._core(r, alpha, a, b, t)
        out = np.where(t == 0, 0.0, out)
        if not np.all(np.isfinite(out)):
            i = _first_bad(~np.isfinite(out))
            raise FloatingPointError(
                f"expected purchases could not be evaluated at position {i} "
                f"(params r={r}, alpha={alpha}, a={a}, b={b})"
            )
        return out

    def _core(self, r, alpha, a, b, t) -> np.ndarray:
        x, T = self.px, self.pT
        log1mz = np.log(alpha + T) - np.log(alpha + T + t)
        z = -np.expm1(log1mz)
        hyp = hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z)
        with np.errstate(divide="ignore", invalid="ignore"):
            bracket = np.where(hyp > 0, -np.expm1((a - 1.0) * log1mz + np.log(np.where(hyp > 0, hyp, 1.0))),
                               1.0 - np.exp((a - 1.0) * log1mz) * hyp)
        return ((a + b + x - 1.0) / (a - 1.0) * bracket)[self.index] * self.palive(r, alpha, a, b)


def _expected_purchases(r, alpha, a, b, t, x, tx, T) -> np.ndarray:
    """Expected repeat purchases in the next ``t`` (one value per customer), :meth:`_Scoring.expected_purchases`."""
    t = np.asarray(t, dtype=float)
    if t.size and np.all(t == t[0]):
        return _Scoring(x, tx, T).expected_purchases(r, alpha, a, b, float(t[0]))
    return _Scoring(x, tx, T, pairs=((x, T), np.arange(len(x)))).expected_purchases(r, alpha, a, b, t)


def expected_purchases(params, t, frequency, recency, T) -> np.ndarray:
    """Conditional expected number of repeat purchases in the next ``t`` time units (FHL 2005, eq. 10).

    ``params`` is the dict returned by :func:`fit_bgnbd`; ``t`` is a scalar or one value per customer,
    in the same unit as ``recency`` and ``T`` (days for the warehouse). Returns an array, one value per
    customer.

    Note that for a fixed ``recency < T`` the expectation is *not* monotone in ``frequency``: a frequent
    buyer who has been silent for long is probably gone (the "frequency paradox" of BTYD models). It is
    increasing in ``frequency`` for customers who bought recently (``recency == T``).
    """
    r, alpha, a, b = _check_params(params, _BGNBD_KEYS, "params")
    x, tx, age, _ = _check_rfm(frequency, recency, T)
    tt = _check_time(t, "t", len(x))
    return _expected_purchases(r, alpha, a, b, tt, x, tx, age)


def probability_alive(params, frequency, recency, T) -> np.ndarray:
    """P(customer is still active at ``T`` | history), BG/NBD (Fader, Hardie & Lee 2008, note 021).

    Equal to 1 for customers with ``frequency == 0``: in BG/NBD a customer can only drop out right
    after a repeat purchase.
    """
    r, alpha, a, b = _check_params(params, _BGNBD_KEYS, "params")
    x, tx, age, _ = _check_rfm(frequency, recency, T)
    return _palive(r, alpha, a, b, x, tx, age)


# --------------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------------

class _GgRows:
    """Gamma-Gamma rows prepared for many likelihood evaluations (one optimisation): the terms that depend on a
    row only through its ``x`` once per distinct ``x``, ``log m`` and ``x m`` once (as :class:`_BgnbdRows`: the
    same numbers as the row-by-row form, to the last bit)."""

    def __init__(self, x, m):
        self.n = len(x)
        self.ux, self.ix = _distinct(x)
        self.x = x
        self.log_m = np.log(m)
        self.xm = x * m
        self.log_ux = np.log(self.ux)

    def loglik(self, params, grad: bool = False):
        """:func:`_gg_loglik` of the rows."""
        p, q, v = params
        ux, ix = self.ux, self.ix
        upx = p * ux
        upxq = upx + q
        gl_pxq, gl_px = gammaln(upxq), gammaln(upx)
        xm_v = self.xm + v
        log_xm_v = np.log(xm_v)
        ll = ((gl_pxq - gl_px - gammaln(q) + q * np.log(v))[ix] + (upx - 1.0)[ix] * self.log_m
              + (upx * self.log_ux)[ix] - upxq[ix] * log_xm_v)
        if not grad:
            return ll
        psi = digamma(upxq)
        g = np.empty((self.n, 3))
        g[:, 0] = self.x * ((psi - digamma(upx))[ix] + self.log_m + self.log_ux[ix] - log_xm_v)
        g[:, 1] = (psi - digamma(q) + np.log(v))[ix] - log_xm_v
        g[:, 2] = q / v - upxq[ix] / xm_v
        return ll, g


def _gg_loglik(params, x, m, grad: bool = False):
    """Log-density of the mean spend ``m`` over ``x`` transactions under Gamma-Gamma (FHL 2005b, eq. 3).

    f(m | p, q, v, x) = Γ(px+q) / (Γ(px) Γ(q)) · v^q m^(px-1) x^(px) / (v + x m)^(px+q)
    """
    return _GgRows(x, m).loglik(params, grad)


_PREPARED_ROWS.update({_bgnbd_loglik: _BgnbdRows, _gg_loglik: _GgRows})


def fit_gamma_gamma(frequency, monetary_value, penalizer: float = 0.0) -> dict:
    """Fit the Gamma-Gamma spend model by maximum likelihood.

    **Only customers with ``frequency > 0`` are used**: ``monetary_value`` is the mean over repeat
    purchases, so one-time buyers carry no spend information (their 0 is a placeholder). Every
    repeat buyer must have ``monetary_value > 0`` (the model is for positive amounts).

    Returns a dict with ``p``, ``q``, ``v``, ``log_likelihood`` (unpenalised, over the customers used),
    ``n`` (number of repeat buyers used), ``converged`` and ``penalizer`` (optional, off by default; an L2
    penalty on ``p``, ``q`` and ``v`` with amounts rescaled to mean 1, so it does not depend on the
    currency unit). The population mean spend per transaction is ``p * v / (q - 1)`` (finite when
    ``q > 1``).
    """
    x = _column(frequency, "frequency")
    m = _column(monetary_value, "monetary_value")
    if check_same_length(frequency=x, monetary_value=m) == 0:
        raise ValueError("frequency and monetary_value must contain at least one customer")
    _check_frequency(x)
    check_in_range(m, "monetary_value", 0.0, np.inf)
    penalizer = _check_nonneg_scalar(penalizer, "penalizer")
    rep = x > 0
    if not rep.any():
        raise ValueError("frequency: cannot fit Gamma-Gamma, no customer has frequency > 0")
    zero_spend = rep & (m <= 0)
    if zero_spend.any():
        i = _first_bad(zero_spend)
        raise ValueError(
            "monetary_value must be > 0 for customers with frequency > 0 (the Gamma-Gamma model is for "
            f"positive spend); {int(zero_spend.sum())} value(s) are not, first at position {i}: "
            f"{float(m[i])!r}"
        )
    data, weights = _compress(x[rep], m[rep])
    (p, q, v), ll, converged, _ = _fit_gg_rows(*data, weights, penalizer)
    return {"p": p, "q": q, "v": v, "log_likelihood": ll, "n": int(rep.sum()),
            "converged": converged, "penalizer": penalizer}


def _fit_gg_rows(x, m, weights, penalizer, x0=None, warn=True, nelder_mead_maxiter=_NELDER_MEAD_MAXITER):
    """Gamma-Gamma maximum likelihood on validated repeat-buyer rows (x > 0, m > 0) with weights.

    Amounts are divided by their weighted mean before optimising and ``v`` is scaled back after, so the
    penalty ``penalizer * (p² + q² + v'²)`` does not depend on the currency unit (``lifetimes``'
    ``GammaGammaFitter`` penalises ``v`` in the currency's own unit, so penalised fits differ from it;
    unpenalised fits are the same maximum). Returns ``(params, log-likelihood, converged, theta)``.
    """
    scale = float(weights.sum() / (weights @ m))
    if x0 is None:
        x0 = np.array([0.0, 0.0, 0.0])
    (p, q, v_scaled), converged = _maximise(_gg_loglik, (x, m * scale), weights, penalizer, x0, _GG_KEYS,
                                            warn=warn, nelder_mead_maxiter=nelder_mead_maxiter)
    params = (float(p), float(q), float(v_scaled / scale))
    ll = float(weights @ _gg_loglik(params, x, m))
    return params, ll, converged, np.log([p, q, v_scaled])


def expected_average_spend(gg_params, frequency, monetary_value) -> np.ndarray:
    """Conditional expected spend per transaction, E[Z | x, m̄] (Fader & Hardie, Gamma-Gamma note eq. 5).

    ``E = p (v + x m̄) / (p x + q - 1)``: a weighted average of the population mean ``p v / (q - 1)``
    and the customer's own mean ``m̄``, with weight ``p x / (p x + q - 1)`` on the latter. For
    ``frequency == 0`` it is the population mean (their ``monetary_value`` is ignored), which needs
    ``q > 1``.
    """
    p, q, v = _check_params(gg_params, _GG_KEYS, "gg_params")
    x = _column(frequency, "frequency")
    m = _column(monetary_value, "monetary_value")
    check_same_length(frequency=x, monetary_value=m)
    _check_frequency(x)
    check_in_range(m, "monetary_value", 0.0, np.inf)
    denom = p * x + q - 1.0
    if (denom <= 0).any():
        i = _first_bad(denom <= 0)
        raise ValueError(
            f"gg_params: expected spend is infinite when p*frequency + q <= 1 (q={q}, p={p}); "
            f"first at position {i} (frequency={float(x[i])!r})"
        )
    return p * (v + x * m) / denom


# --------------------------------------------------------------------------------------------------
# CLV
# --------------------------------------------------------------------------------------------------

def customer_lifetime_value(bgnbd_params, gg_params, frequency, recency, T, monetary_value,
                            horizon: int = 12, discount_rate: float = 0.01,
                            period: float = 30.0) -> np.ndarray:
    """Discounted expected revenue over the next ``horizon`` periods, per customer.

    ``CLV = sum_{i=1..horizon} E[spend] * (E[Y(i·period)] - E[Y((i-1)·period)]) / (1 + discount_rate)^i``

    where ``E[Y(t)]`` is :func:`expected_purchases` (BG/NBD) and ``E[spend]`` is
    :func:`expected_average_spend` (Gamma-Gamma), i.e. the expected purchases falling in each period are
    valued at the expected spend and discounted at the end of that period (the ``lifetimes`` approach).

    Units
    -----
    * ``period``: length of one discounting period **in the time unit of recency / T** (default 30, a
      month when the inputs are in days as in the warehouse; use e.g. 4.345 for months with weekly
      inputs, or 7 for weeks with daily inputs).
    * ``horizon``: number of such periods (a positive integer; default 12, a year of months).
    * ``discount_rate``: per-period rate (default 0.01 per month ≈ 12.7 % a year). 0 gives undiscounted
      expected revenue.
    * The result is in the currency of ``monetary_value`` and is **revenue**, not profit: multiply by a
      margin for profit-based CLV.
    """
    r, alpha, a, b = _check_params(bgnbd_params, _BGNBD_KEYS, "bgnbd_params")
    x, tx, age, m = _check_rfm(frequency, recency, T, monetary_value)
    horizon = check_positive_int(horizon, "horizon")
    discount_rate = _check_nonneg_scalar(discount_rate, "discount_rate")
    period = _check_nonneg_scalar(period, "period", positive=True)
    spend = expected_average_spend(gg_params, x, m)
    clv = np.zeros(len(x))
    previous = np.zeros(len(x))
    scoring = _Scoring(x, tx, age)
    for i in range(1, horizon + 1):
        cumulative = scoring.expected_purchases(r, alpha, a, b, i * period)
        clv += spend * (cumulative - previous) / (1.0 + discount_rate) ** i
        previous = cumulative
    return clv


def score_customers(df: pd.DataFrame, bgnbd_params=None, gg_params=None, *, horizon: int = 12,
                    discount_rate: float = 0.01, period: float = 30.0,
                    penalizer: float = 0.0) -> pd.DataFrame:
    """Score a customer summary table: expected purchases, P(alive), expected spend and CLV.

    ``df`` needs the columns ``customer_id, frequency, recency, T, monetary_value`` (one row per customer,
    units as in the module docstring). Parameters not supplied are fitted on ``df`` itself
    (:func:`fit_bgnbd` with ``penalizer``, :func:`fit_gamma_gamma` on the repeat buyers).

    Returns a DataFrame with the same index and the columns

    * ``customer_id``
    * ``expected_purchases_<horizon>``: expected repeat purchases over the CLV horizon, i.e. the next
      ``horizon * period`` time units (e.g. ``expected_purchases_12`` = next 12 × 30 days by default);
    * ``probability_alive``, ``expected_avg_spend``, ``clv`` (see :func:`customer_lifetime_value`).

    The parameters used are stored in ``result.attrs["bgnbd_params"]`` and ``result.attrs["gg_params"]``.
    Validation errors name the column and, where possible, the ``customer_id`` of the first bad row.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    required = ["customer_id", "frequency", "recency", "T", "monetary_value"]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"df is missing column(s) {', '.join(missing)}")
    if len(df) == 0:
        raise ValueError("df has no rows")
    ids = df["customer_id"]
    if ids.isna().any():
        i = _first_bad(ids.isna().to_numpy())
        raise ValueError(f"customer_id contains missing values; first at position {i}")
    dup = ids.duplicated().to_numpy()
    if dup.any():
        i = _first_bad(dup)
        raise ValueError(f"customer_id must be unique; first duplicate at position {i}: {ids.iloc[i]!r}")
    horizon = check_positive_int(horizon, "horizon")
    period = _check_nonneg_scalar(period, "period", positive=True)

    cols = {c: df[c].to_numpy(dtype=float, na_value=np.nan) if _is_numeric(df[c]) else df[c].to_numpy()
            for c in required[1:]}
    try:
        x, tx, age, m = _check_rfm(cols["frequency"], cols["recency"], cols["T"], cols["monetary_value"])
        if bgnbd_params is None:
            bgnbd_params = fit_bgnbd(x, tx, age, penalizer=penalizer)
        if gg_params is None:
            gg_params = fit_gamma_gamma(x, m, penalizer=penalizer)
        out = pd.DataFrame({
            "customer_id": ids.to_numpy(),
            f"expected_purchases_{horizon}": expected_purchases(bgnbd_params, horizon * period, x, tx, age),
            "probability_alive": probability_alive(bgnbd_params, x, tx, age),
            "expected_avg_spend": expected_average_spend(gg_params, x, m),
            "clv": customer_lifetime_value(bgnbd_params, gg_params, x, tx, age, m, horizon=horizon,
                                           discount_rate=discount_rate, period=period),
        }, index=df.index)
    except ValueError as exc:
        msg = str(exc)
        hit = re.search(r"position (\d+)", msg)
        if hit and int(hit.group(1)) < len(df):
            msg += f" (customer_id {ids.iloc[int(hit.group(1))]!r})"
        raise ValueError(msg) from None
    out.attrs["bgnbd_params"] = dict(bgnbd_params)
    out.attrs["gg_params"] = dict(gg_params)
    return out


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)


#: Columns of the warehouse's lifetime-value table (``ml_customer_lifetime_value``).
#: ``clv_12m`` is a deprecated alias of ``clv_revenue_12m`` (same values), kept for existing queries.
LTV_COLUMNS = ["customer_id", "frequency", "recency", "T", "monetary_value", "expected_purchases_365d",
               "probability_alive", "expected_avg_spend", "clv_revenue_12m", "clv_margin_12m", "clv_12m",
               "clv_status"]

#: Columns of the parameters table (``ml_customer_lifetime_value_params``): one row per model x parameter.
PARAM_COLUMNS = ["model", "parameter", "value", "ci_low", "ci_high", "bootstrap_samples", "status"]

#: The rows of the parameters table, in order.
PARAM_ROWS = [("bg_nbd", k) for k in ("r", "alpha", "a", "b", "log_likelihood", "customers", "penalizer")] + [
    ("gamma_gamma", k) for k in ("p", "q", "v", "mean_spend", "log_likelihood", "customers", "penalizer")] + [
    ("clv", k) for k in ("total_expected_purchases_365d", "total_clv_revenue_12m", "margin_rate",
                         "total_clv_margin_12m")]

#: Status of a model that was fitted and is used.
OK = "ok"


def _discounted_purchases(bg, scoring: _Scoring, discount_rate):
    """Expected purchases of the customers of ``scoring`` in each of the next 12 months of 30 days, discounted to
    today, summed."""
    total = np.zeros(len(scoring.x))
    previous = np.zeros(len(scoring.x))
    for i in range(1, 13):
        cumulative = scoring.expected_purchases(*bg, i * 30.0)
        total += (cumulative - previous) / (1.0 + discount_rate) ** i
        previous = cumulative
    return total


def _no_dropout_boundary(theta) -> bool:
    """The BG/NBD likelihood climbs towards a -> 0 (nobody ever drops out) and no other parameter diverged:
    the supremum is the NBD model without churn, whose predictions are the limit of BG/NBD's."""
    edge = np.abs(theta) >= _DIVERGED
    return bool(edge[2] and theta[2] < 0 and edge.sum() == 1)


def _purchase_status(x, age, n, min_customers, min_repeat_buyers) -> str | None:
    """Why the BG/NBD model cannot be fitted on this summary, or None when it can be tried."""
    if n == 0:
        return "no customers: purchase model not estimable"
    if np.all(age == 0):
        return ("every first purchase is on the snapshot day (all T = 0): no time observed, purchase model "
                "not estimable")
    repeaters = int((x > 0).sum())
    if repeaters == 0:
        if np.all(age == age[0]):
            return "a single purchase day: no repeat buyers, purchase model not estimable"
        return "no repeat buyers: purchase model not estimable"
    if repeaters < min_repeat_buyers or n < min_customers:
        return (f"too few customers ({repeaters} repeat buyers of {n} customers; needs at least "
                f"{min_repeat_buyers} repeat buyers and {min_customers} customers): purchase model not estimable")
    return None


def lifetime_value_table(df: pd.DataFrame, *, discount_rate: float = 0.01, penalizer: float = 0.0,
                         n_bootstrap: int = 0, ci_level: float = 0.95, random_state: int = 0,
                         min_customers: int = 10, min_repeat_buyers: int = 2, min_spend_buyers: int = 10
                         ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The warehouse's CLV step: maximum-likelihood BG/NBD and Gamma-Gamma, named statuses, no crash.

    ``df`` holds the LTV-input mart (``customer_id, frequency, recency, T, monetary_value`` in days;
    optional ``total_amount`` and ``cost_of_goods`` for the margin rate). Returns ``(scores, params)``:

    * ``scores``: one row per customer with the columns of :data:`LTV_COLUMNS`:
      ``expected_purchases_365d`` (expected repeat purchase days in the next 365 days),
      ``probability_alive``, ``expected_avg_spend`` (Gamma-Gamma), ``clv_revenue_12m`` (discounted
      expected **revenue** over the next 12 months of 30 days at ``discount_rate`` per month),
      ``clv_margin_12m`` (= ``clv_revenue_12m`` x the margin rate ``1 - sum(cost_of_goods) /
      sum(total_amount)`` over the customers whose every order line has a unit cost), ``clv_12m``
      (deprecated alias of ``clv_revenue_12m``) and ``clv_status`` (one value for the whole table:
      ``"purchase model: ...; spend model: ...; margin: ..."``, each part ``ok`` or the reason).
    * ``params``: the rows of :data:`PARAM_ROWS` with :data:`PARAM_COLUMNS`: fitted value, percentile
      bootstrap interval at ``ci_level`` (``n_bootstrap`` resamples of customers with replacement, each
      refitted from the estimate; for the totals, the observed customers scored with each resample's
      parameters, i.e. parameter uncertainty; a refit that does not converge is left out, and
      ``bootstrap_samples`` counts those kept: its Nelder-Mead polish, when L-BFGS-B stalls, stops at 2,000
      iterations, 20,000 at the no-dropout boundary) and the model's status.

    Maximum likelihood by default (``penalizer=0``); a penalty is opt-in and scale-invariant (see
    :func:`fit_bgnbd`). Degenerate data never crash and never fall back to a default: no customers, no
    repeat buyers, a single purchase day, every first purchase on the snapshot day, too few customers,
    no positive or missing amounts, a fit that does not converge, no unit costs: the affected columns
    are NULL and the status says why. Repeat buyers with a zero or missing mean spend are left out of
    the spend fit and get NULL spend and CLV (counted in the status); one-time buyers' amounts are not
    used (BTYD convention).
    """
    # 4-parameter fits on a few thousand collapsed rows: BLAS threads only add overhead (and oversubscribe
    # the machine when dbt runs models in parallel): 5x faster single-threaded on the default world
    with threadpool_limits(limits=1, user_api="blas"):
        scores, params, _state = _lifetime_value_table(
            df, discount_rate=discount_rate, penalizer=penalizer, n_bootstrap=n_bootstrap, ci_level=ci_level,
            random_state=random_state, min_customers=min_customers, min_repeat_buyers=min_repeat_buyers,
            min_spend_buyers=min_spend_buyers)
    return scores, params


def fit_lifetime_value(df: pd.DataFrame, *, discount_rate: float = 0.01, penalizer: float = 0.0,
                       n_bootstrap: int = 0, ci_level: float = 0.95, random_state: int = 0
                       ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """:func:`lifetime_value_table` and the fitted state it scored with: ``(scores, params, state)``.

    ``state`` (a plain dict, :data:`STATE_KEYS`: the BG/NBD and Gamma-Gamma parameters, None when not
    estimable, their statuses before the notes that depend on the customers scored, log-likelihoods,
    optimiser points and the penalizer) is what the model registry stores: :func:`score_lifetime_value`
    applies it to other customers without fitting."""
    with threadpool_limits(limits=1, user_api="blas"):
        return _lifetime_value_table(df, discount_rate=discount_rate, penalizer=penalizer,
                                     n_bootstrap=n_bootstrap, ci_level=ci_level, random_state=random_state)


#: the keys of a fitted CLV state (:func:`fit_lifetime_value`)
STATE_KEYS = ("bg", "gg", "boundary", "bg_status", "gg_status", "bg_log_likelihood", "gg_log_likelihood",
              "theta_bg", "theta_gg", "penalizer")


def score_lifetime_value(df: pd.DataFrame, state: Mapping, *, discount_rate: float = 0.01) -> pd.DataFrame:
    """The scores table of :func:`lifetime_value_table` (:data:`LTV_COLUMNS`) for the customers of ``df``
    with the parameters of a fitted ``state`` (:func:`fit_lifetime_value`): no fit, no bootstrap.

    The notes of ``clv_status`` that depend on the customers (first bought on the snapshot day, repeat buyers
    left out for a zero or missing spend, the margin rate) are those of ``df``; the parameters and the
    models' estimability are the state's. On the customers the state was fitted on, the scores equal
    :func:`lifetime_value_table`'s."""
    missing = [k for k in STATE_KEYS if k not in state]
    if missing:
        raise ValueError(f"the CLV state is missing {', '.join(missing)} (not a fit_lifetime_value state)")
    with threadpool_limits(limits=1, user_api="blas"):
        scores, _params, _state = _lifetime_value_table(df, discount_rate=discount_rate,
                                                        penalizer=state["penalizer"], fitted=state)
    return scores


def _ltv_inputs(df: pd.DataFrame, penalizer, discount_rate, n_bootstrap, ci_level):
    """The checked options and the inputs in customer order: ``(df, x, tx, age, m, penalizer, discount_rate,
    n_bootstrap)``; a bad option, a missing column, a bad customer_id or a bad RFM row is a ValueError."""
    penalizer = _check_nonneg_scalar(penalizer, "penalizer")
    discount_rate = _check_nonneg_scalar(discount_rate, "discount_rate")
    n_bootstrap = int(n_bootstrap)
    if n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be >= 0, got {n_bootstrap}")
    if not 0 < ci_level < 1:
        raise ValueError(f"ci_level must be in (0, 1), got {ci_level!r}")
    required = ["customer_id", "frequency", "recency", "T", "monetary_value"]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"the LTV inputs are missing column(s) {', '.join(missing)}")
    # one order for the same customers, whatever order the warehouse hands them in: the bootstrap draws
    # customers by position and floating-point totals depend on the order, and two builds must be equal
    df = df.sort_values("customer_id", kind="stable").reset_index(drop=True)
    n = len(df)
    x = df["frequency"].to_numpy(dtype=float, na_value=np.nan)
    tx = df["recency"].to_numpy(dtype=float, na_value=np.nan)
    age = df["T"].to_numpy(dtype=float, na_value=np.nan)
    # amounts to a millionth of the currency unit: the warehouse's parallel sums differ in the last bits from
    # build to build, and a fit (and more so a bootstrap) must not
    m = np.round(df["monetary_value"].to_numpy(dtype=float, na_value=np.nan), 6)
    if n:
        ids = df["customer_id"]
        if ids.isna().any() or ids.duplicated().any():
            bad = ids.isna() | ids.duplicated()
            i = _first_bad(bad.to_numpy())
            raise ValueError(f"customer_id must be unique and not null; first bad row at position {i}: "
                             f"{ids.iloc[i]!r}")
        try:
            _check_rfm(x, tx, age)
        except ValueError as exc:
            msg = str(exc)
            hit = re.search(r"position (\d+)", msg)
            if hit and int(hit.group(1)) < n:
                msg += f" (customer_id {ids.iloc[int(hit.group(1))]!r})"
            raise ValueError(f"LTV inputs: {msg}") from None
    return df, x, tx, age, m, penalizer, discount_rate, n_bootstrap


@dataclasses.dataclass
class _ModelFit:
    """One model of the CLV table: its parameters (None: not estimable), status, optimiser start for the
    bootstrap refits and (BG/NBD) whether the fit sits at the no-dropout boundary."""

    params: tuple | None
    status: str
    theta: np.ndarray | None = None
    boundary: bool = False
    log_likelihood: float | None = None


@dataclasses.dataclass(frozen=True)
class _Customers:
    """The CLV inputs per customer (customer order): frequency, recency, age T, mean spend; the repeat buyers
    with a positive spend (the spend fit's rows), the customers with a usable spend and the spend used."""

    x: np.ndarray
    tx: np.ndarray
    age: np.ndarray
    m: np.ndarray
    spend_ok: np.ndarray
    usable: np.ndarray
    m0: np.ndarray


def _fit_purchase(x, tx, age, n, penalizer, min_customers, min_repeat_buyers) -> _ModelFit:
    """The BG/NBD fit and its named status before the notes that depend on the customers scored."""
    bg_status = _purchase_status(x, age, n, min_customers, min_repeat_buyers)
    if bg_status is not None:
        return _ModelFit(None, bg_status)
    (ux, utx, uage), uw = _compress(x, tx, age)
    bg, ll, converged, theta_bg = _fit_bgnbd_rows(ux, utx, uage, uw, penalizer, warn=False)
    boundary = not converged and _no_dropout_boundary(theta_bg)
    if not (converged or boundary):
        return _ModelFit(None, "maximum likelihood did not converge (a parameter diverged or the optimiser "
                               "stopped): purchase model not estimable", theta_bg, boundary)
    status = OK
    if boundary:
        status += (" at the boundary a -> 0: no dropout in the data, BG/NBD reduces to NBD (no churn; "
                   "P(alive) = 1, b not identified, so its value is NULL)")
    return _ModelFit(tuple(float(v) for v in bg), status, theta_bg, boundary, float(ll))


def _purchase_model(fit: _ModelFit, age, n, penalizer, values: dict) -> _ModelFit:
    """The BG/NBD ``fit`` (fitted now or registered) with the notes of the customers scored; its parameters,
    log-likelihood, customers and penalizer in ``values``."""
    fit = dataclasses.replace(fit)
    if fit.params is not None:
        if (age == 0).any():
            fit.status += (f" ({int((age == 0).sum())} customers first bought on the snapshot day, T = 0: "
                           "scored from the population alone)")
        values.update({("bg_nbd", k): v for k, v in zip(_BGNBD_KEYS, fit.params, strict=True)})
        if fit.boundary:
            del values[("bg_nbd", "b")]
        values[("bg_nbd", "log_likelihood")] = fit.log_likelihood
    values[("bg_nbd", "customers")] = float(n)
    values[("bg_nbd", "penalizer")] = penalizer
    return fit


def _spend_rows(x, m) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The repeat buyers, those with a positive spend (the spend fit's rows) and the others left out, in words."""
    rep = x > 0
    spend_ok = rep & np.isfinite(m) & (m > 0)
    n_zero, n_missing = int((rep & (m <= 0)).sum()), int((rep & ~np.isfinite(m)).sum())
    excluded = []
    if n_zero:
        excluded.append(f"{n_zero} with zero mean spend")
    if n_missing:
        excluded.append(f"{n_missing} with missing spend")
    return rep, spend_ok, excluded


def _fit_spend(x, m, n, penalizer, min_spend_buyers) -> _ModelFit:
    """The Gamma-Gamma fit on the repeat buyers with a positive spend and its named status before the notes
    that depend on the customers scored."""
    rep, spend_ok, excluded = _spend_rows(x, m)
    if n == 0:
        return _ModelFit(None, "no customers: spend model not estimable")
    if not rep.any():
        return _ModelFit(None, "no repeat buyers: spend model not estimable")
    if not spend_ok.any():
        return _ModelFit(None, f"no positive amounts among the {int(rep.sum())} repeat buyers "
                               f"({', '.join(excluded)}): spend model not estimable")
    if spend_ok.sum() < min_spend_buyers:
        return _ModelFit(None, f"too few repeat buyers with a positive spend ({int(spend_ok.sum())}; needs at "
                               f"least {min_spend_buyers}): spend model not estimable")
    (gx, gm), gw = _compress(x[spend_ok], m[spend_ok])
    gg, ll, converged, theta = _fit_gg_rows(gx, gm, gw, penalizer, warn=False)
    if not converged:
        return _ModelFit(None, "maximum likelihood did not converge: spend model not estimable", theta)
    if gg[1] <= 1:
        return _ModelFit(None, f"q = {gg[1]:.3g} <= 1: the population mean spend is infinite, spend model not "
                               "usable", theta)
    return _ModelFit(tuple(float(v) for v in gg), OK, theta, log_likelihood=float(ll))


def _spend_model(fit: _ModelFit, x, m, penalizer, values: dict) -> tuple[_ModelFit, np.ndarray]:
    """The Gamma-Gamma ``fit`` (fitted now or registered) with the notes of the customers scored, and the
    repeat buyers with a positive spend (a mask); its parameters, mean spend, log-likelihood, customers and
    penalizer in ``values``."""
    fit = dataclasses.replace(fit)
    _rep, spend_ok, excluded = _spend_rows(x, m)
    if fit.params is not None:
        gg = fit.params
        if excluded:
            fit.status += (f" ({' and '.join(excluded)} of the repeat buyers: left out of the fit, their spend "
                           "and CLV are NULL)")
        values.update({("gamma_gamma", k): v for k, v in zip(_GG_KEYS, gg, strict=True)})
        values[("gamma_gamma", "mean_spend")] = gg[0] * gg[2] / (gg[1] - 1.0)
        values[("gamma_gamma", "log_likelihood")] = fit.log_likelihood
    values[("gamma_gamma", "customers")] = float(spend_ok.sum())
    values[("gamma_gamma", "penalizer")] = penalizer
    return fit, spend_ok


def _state_of(bg: _ModelFit, gg: _ModelFit, penalizer: float) -> dict:
    """The fitted state of :func:`fit_lifetime_value` (:data:`STATE_KEYS`): plain values, picklable."""
    return {"bg": bg.params, "gg": gg.params, "boundary": bool(bg.boundary), "bg_status": bg.status,
            "gg_status": gg.status, "bg_log_likelihood": bg.log_likelihood, "gg_log_likelihood": gg.log_likelihood,
            "theta_bg": bg.theta, "theta_gg": gg.theta, "penalizer": float(penalizer)}


def _fits_of(state: Mapping) -> tuple[_ModelFit, _ModelFit]:
    """The two fits of a registered state (:func:`_state_of`)."""
    bg = _ModelFit(None if state["bg"] is None else tuple(state["bg"]), str(state["bg_status"]),
                   state["theta_bg"], bool(state["boundary"]), state["bg_log_likelihood"])
    gg = _ModelFit(None if state["gg"] is None else tuple(state["gg"]), str(state["gg_status"]),
                   state["theta_gg"], False, state["gg_log_likelihood"])
    return bg, gg


def _margin_rate(df: pd.DataFrame, n: int, values: dict) -> tuple[float | None, str]:
    """The gross margin rate on amounts paid of the customers whose order lines all have a unit cost, and its
    status (None when there are no unit costs); the rate in ``values``."""
    if "cost_of_goods" not in df.columns or "total_amount" not in df.columns:
        return None, "no unit costs in the inputs (cost_of_goods): margin CLV not estimable"
    cogs = np.round(df["cost_of_goods"].to_numpy(dtype=float, na_value=np.nan), 6)
    total = np.round(df["total_amount"].to_numpy(dtype=float, na_value=np.nan), 6)
    costed = np.isfinite(cogs) & np.isfinite(total) & (total > 0)
    if not costed.any():
        return None, "no unit costs (no customer's order lines all have a unit cost): margin CLV not estimable"
    margin_rate = 1.0 - float(cogs[costed].sum() / total[costed].sum())
    values[("clv", "margin_rate")] = margin_rate
    return margin_rate, (f"{OK} (gross margin rate {margin_rate:.4f} on amounts paid, from the "
                         f"{int(costed.sum())} of {n} customers whose order lines all have a unit cost)")


def _customer_scores(df, c: _Customers, bg: _ModelFit, gg: _ModelFit, discount_rate, margin_rate,
                     margin_status: str, values: dict) -> tuple[pd.DataFrame, str]:
    """The per-customer table and the CLV status; the totals in ``values``. A purchase model whose estimate
    cannot be evaluated becomes not estimable here (``bg`` is updated, its parameters leave ``values``)."""
    x, tx, age, m, usable, m0 = c.x, c.tx, c.age, c.m, c.usable, c.m0
    n = len(df)
    ep = np.full(n, np.nan)
    pa = np.full(n, np.nan)
    spend = np.full(n, np.nan)
    clv_rev = np.full(n, np.nan)
    if bg.params is not None:
        try:
            scoring = _Scoring(x, tx, age)
            ep = scoring.expected_purchases(*bg.params, 365.0)
            discounted = _discounted_purchases(bg.params, scoring, discount_rate)
        except FloatingPointError as exc:
            bg.status = f"the estimate cannot be evaluated ({exc}): purchase model not estimable"
            bg.params = None
            ep = np.full(n, np.nan)
            for k in (*_BGNBD_KEYS, "log_likelihood"):
                values.pop(("bg_nbd", k), None)
    if bg.params is not None:
        pa = scoring.palive(*bg.params)
        values[("clv", "total_expected_purchases_365d")] = float(ep.sum())
    if gg.params is not None:
        p, q, v = gg.params
        spend = np.where(usable, p * (v + x * m0) / (p * x + q - 1.0), np.nan)
    if bg.params is not None and gg.params is not None:
        clv_rev = np.where(usable, spend * discounted, np.nan)
        values[("clv", "total_clv_revenue_12m")] = float(np.nansum(clv_rev))
        clv_status = OK
    else:
        clv_status = "not estimable (needs both models)"
    clv_margin = clv_rev * margin_rate if margin_rate is not None else np.full(n, np.nan)
    if margin_rate is not None and bg.params is not None and gg.params is not None:
        values[("clv", "total_clv_margin_12m")] = float(np.nansum(clv_margin))
    table_status = f"purchase model: {bg.status}; spend model: {gg.status}; margin: {margin_status}"
    scores = pd.DataFrame({
        "customer_id": df["customer_id"].astype("string") if n else pd.Series(dtype="string"),
        "frequency": x, "recency": tx, "T": age, "monetary_value": m,
        "expected_purchases_365d": ep, "probability_alive": pa, "expected_avg_spend": spend,
        "clv_revenue_12m": clv_rev, "clv_margin_12m": clv_margin, "clv_12m": clv_rev,
        "clv_status": pd.Series([table_status] * n, dtype="string"),
    })[LTV_COLUMNS]
    return scores, clv_status


def _bootstrap_draws(c: _Customers, bg: _ModelFit, gg: _ModelFit, penalizer, discount_rate, margin_rate,
                     n_bootstrap: int, random_state) -> dict[tuple[str, str], list[float]]:
    """``n_bootstrap`` resamples of customers with replacement, each refitted: the draws of every parameter and
    total (the observed customers scored with each resample's parameters)."""
    x, tx, age, m, spend_ok, usable, m0 = c.x, c.tx, c.age, c.m, c.spend_ok, c.usable, c.m0
    boot: dict[tuple[str, str], list[float]] = {}
    n = x.size
    rng = np.random.default_rng(random_state)
    keys = np.column_stack([x, tx, age, np.where(spend_ok, m, -1.0)])
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    rows = tuple(uniq[:, j] for j in range(4))
    # totals by (frequency, recency, T) group: CLV is linear in the mean spend, so per group only the
    # count of customers with a usable spend and the sum of their spends are needed
    g_keys, g_inv, g_counts = np.unique(np.column_stack([x, tx, age]), axis=0, return_inverse=True,
                                        return_counts=True)
    g_inv = g_inv.ravel()
    groups = (*(g_keys[:, j] for j in range(3)), g_counts,
              np.bincount(g_inv, weights=usable.astype(float), minlength=len(g_keys)),
              np.bincount(g_inv, weights=np.where(usable, m0, 0.0), minlength=len(g_keys)),
              _distinct_rows(g_keys[:, 0], g_keys[:, 2]))
    for _ in range(n_bootstrap):
        w = np.bincount(inverse[rng.integers(0, n, n)], minlength=len(uniq)).astype(float)
        _bootstrap_draw(w, rows, groups, bg, gg, penalizer, discount_rate, margin_rate, boot)
    return boot


def _bootstrap_draw(w, rows, groups, bg: _ModelFit, gg: _ModelFit, penalizer, discount_rate, margin_rate,
                    boot: dict) -> None:
    """One resample (``w``: weight of each distinct customer row): its refits' parameters and totals into ``boot``."""
    ux, utx, uage, um = rows
    gx, gtx, gage, g_counts, g_usable, g_spend, g_pairs = groups
    b_bg = b_gg = None
    if bg.params is not None:
        keep = w > 0
        if (ux[keep] > 0).any():
            # at the no-dropout boundary an unconverged refit at the boundary counts: its polish runs as the fit's
            cap = _NELDER_MEAD_MAXITER if bg.boundary else _BOOTSTRAP_NELDER_MEAD_MAXITER
            b_bg, _, conv, b_theta = _fit_bgnbd_rows(ux[keep], utx[keep], uage[keep], w[keep], penalizer,
                                                     x0=bg.theta, warn=False, nelder_mead_maxiter=cap)
            if conv or (bg.boundary and _no_dropout_boundary(b_theta)):
                for k, v in zip(_BGNBD_KEYS, b_bg, strict=True):
                    boot.setdefault(("bg_nbd", k), []).append(v)
            else:
                b_bg = None
    if gg.params is not None:
        keep = (w > 0) & (um > 0)
        if keep.any():
            b_gg, _, conv, _ = _fit_gg_rows(ux[keep], um[keep], w[keep], penalizer, x0=gg.theta, warn=False,
                                            nelder_mead_maxiter=_BOOTSTRAP_NELDER_MEAD_MAXITER)
            if conv and b_gg[1] > 1:
                for k, v in zip(_GG_KEYS, b_gg, strict=True):
                    boot.setdefault(("gamma_gamma", k), []).append(v)
                boot.setdefault(("gamma_gamma", "mean_spend"), []).append(b_gg[0] * b_gg[2] / (b_gg[1] - 1.0))
            else:
                b_gg = None
    if b_bg is None:
        return
    try:
        scoring = _Scoring(gx, gtx, gage, pairs=g_pairs)
        e = scoring.expected_purchases(*b_bg, 365.0)
        d = _discounted_purchases(b_bg, scoring, discount_rate)
    except FloatingPointError:
        return      # a resample whose estimate cannot be evaluated adds no total
    boot.setdefault(("clv", "total_expected_purchases_365d"), []).append(float(g_counts @ e))
    if b_gg is not None:
        bp, bq, bv = b_gg
        total = float(np.sum(d * bp / (bp * gx + bq - 1.0) * (bv * g_usable + gx * g_spend)))
        boot.setdefault(("clv", "total_clv_revenue_12m"), []).append(total)
        if margin_rate is not None:
            boot.setdefault(("clv", "total_clv_margin_12m"), []).append(total * margin_rate)


def _parameter_table(values: dict, boot: dict, statuses: dict, ci_level: float) -> pd.DataFrame:
    """One row per :data:`PARAM_ROWS` entry: value, bootstrap interval at ``ci_level`` and the model's status."""
    tail = (1.0 - ci_level) / 2.0
    rows = []
    for model, parameter in PARAM_ROWS:
        draws = boot.get((model, parameter), [])
        lo = hi = np.nan
        if draws and (model, parameter) in values:
            lo, hi = (float(q) for q in np.quantile(draws, [tail, 1.0 - tail]))
        rows.append({"model": model, "parameter": parameter, "value": values.get((model, parameter), np.nan),
                     "ci_low": lo, "ci_high": hi,
                     "bootstrap_samples": len(draws) if parameter not in ("customers", "penalizer",
                                                                          "margin_rate") else 0,
                     "status": statuses[model]})
    return pd.DataFrame(rows, columns=PARAM_COLUMNS).astype(
        {"model": "string", "parameter": "string", "bootstrap_samples": "int64", "status": "string"})


def _lifetime_value_table(df: pd.DataFrame, *, discount_rate: float = 0.01, penalizer: float = 0.0,
                         n_bootstrap: int = 0, ci_level: float = 0.95, random_state: int = 0,
                         min_customers: int = 10, min_repeat_buyers: int = 2, min_spend_buyers: int = 10,
                         fitted: Mapping | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """``(scores, params, state)``; with ``fitted`` (a registered state) nothing is fitted and its
    penalizer is the one reported."""
    df, x, tx, age, m, penalizer, discount_rate, n_bootstrap = _ltv_inputs(df, penalizer, discount_rate,
                                                                           n_bootstrap, ci_level)
    n = len(df)
    if fitted is None:
        bg_fit = _fit_purchase(x, tx, age, n, penalizer, min_customers, min_repeat_buyers)
        gg_fit = _fit_spend(x, m, n, penalizer, min_spend_buyers)
    else:
        bg_fit, gg_fit = _fits_of(fitted)
        penalizer = float(fitted["penalizer"])
    state = _state_of(bg_fit, gg_fit, penalizer)
    values: dict[tuple[str, str], float] = {}
    bg = _purchase_model(bg_fit, age, n, penalizer, values)
    gg, spend_ok = _spend_model(gg_fit, x, m, penalizer, values)
    margin_rate, margin_status = _margin_rate(df, n, values)
    rep = x > 0
    usable = ~rep | spend_ok      # one-time buyers get the population spend; repeat buyers need their own
    m0 = np.where(rep, np.where(np.isfinite(m), m, 0.0), 0.0)
    c = _Customers(x, tx, age, m, spend_ok, usable, m0)
    scores, clv_status = _customer_scores(df, c, bg, gg, discount_rate, margin_rate, margin_status, values)
    boot = {}
    if n_bootstrap and (bg.params is not None or gg.params is not None):
        boot = _bootstrap_draws(c, bg, gg, penalizer, discount_rate, margin_rate, n_bootstrap, random_state)
    statuses = {"bg_nbd": bg.status, "gamma_gamma": gg.status, "clv": f"{clv_status}; margin: {margin_status}"}
    return scores, _parameter_table(values, boot, statuses, ci_level), state
