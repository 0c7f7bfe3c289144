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

Every function validates its inputs (equal lengths, no NaN / inf, integer non-negative ``frequency``,
``0 <= recency <= T``, ``recency == 0`` for one-time buyers, non-negative ``monetary_value``) and raises
``ValueError`` naming the argument and the first bad position. Scalars are accepted and treated as one
customer; results are always NumPy arrays.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import digamma, expit, gammaln, hyp2f1

from retail_lift.validation import as_1d_float, check_in_range, check_positive_int, check_same_length

__all__ = [
    "fit_bgnbd",
    "fit_gamma_gamma",
    "expected_purchases",
    "probability_alive",
    "expected_average_spend",
    "customer_lifetime_value",
    "score_customers",
]

_BGNBD_KEYS = ("r", "alpha", "a", "b")
_GG_KEYS = ("p", "q", "v")
# Log-parameter box used by the optimiser: parameters in [exp(-20), exp(20)] ~ [2e-9, 5e8].
_LOG_BOUND = 20.0


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

def _bgnbd_loglik(params, x, tx, T, grad: bool = False):
    """Per-customer BG/NBD log-likelihood (FHL 2005, eq. 6 in the form of their section 7).

    ``LL = A1 + A2 + log(exp(A3) + [x > 0] exp(A4))``, the last term by log-sum-exp. With ``grad`` also
    return the per-customer derivatives with respect to ``(r, alpha, a, b)`` (shape ``(n, 4)``).
    """
    r, alpha, a, b = params
    rx = r + x
    bx1 = b + np.maximum(x, 1.0) - 1.0          # b + x - 1, only used where x > 0
    rep = x > 0
    a1 = gammaln(rx) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -rx * np.log(alpha + T)
    a4 = np.log(a) - np.log(bx1) - rx * np.log(alpha + tx)
    tail = np.where(rep, np.logaddexp(a3, a4), a3)
    ll = a1 + a2 + tail
    if not grad:
        return ll
    w4 = np.where(rep, np.exp(a4 - tail), 0.0)   # share of the "dropped out at t_x" branch
    w3 = 1.0 - w4
    g = np.empty((len(x), 4))
    g[:, 0] = digamma(rx) - digamma(r) + np.log(alpha) - w3 * np.log(alpha + T) - w4 * np.log(alpha + tx)
    g[:, 1] = r / alpha - w3 * rx / (alpha + T) - w4 * rx / (alpha + tx)
    g[:, 2] = digamma(a + b) - digamma(a + b + x) + w4 / a
    g[:, 3] = digamma(a + b) + digamma(b + x) - digamma(b) - digamma(a + b + x) - w4 / bx1
    return ll, g


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


def _maximise(loglik, data, weights, penalizer, x0, names):
    """L-BFGS-B with analytic gradients in log-parameter space; Nelder-Mead polish if that stalls."""
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(x0)
    args = (loglik, data, weights, penalizer)
    res = minimize(_neg_mean_loglik, x0, args=args, jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9})
    if not res.success:
        res2 = minimize(lambda th: _neg_mean_loglik(th, *args)[0], res.x, method="Nelder-Mead",
                        options={"maxiter": 20000, "xatol": 1e-10, "fatol": 1e-14})
        if res2.fun <= res.fun:
            res = res2
    edge = np.abs(res.x) >= _LOG_BOUND - 1e-6
    converged = bool(res.success) and not edge.any()
    if not converged:
        if edge.any():
            k = int(np.flatnonzero(edge)[0])
            why = (f"parameter {names[k]!r} ran to the edge of the search range ({np.exp(res.x[k]):.3g}); "
                   "the data may not identify the model")
        else:
            why = f"optimiser stopped: {res.message}"
        warnings.warn(f"maximum likelihood did not converge ({why}). A penalizer > 0 helps when "
                      "parameters diverge to large values; check the input summary otherwise.",
                      RuntimeWarning, stacklevel=3)
    return np.exp(res.x), converged


def fit_bgnbd(frequency, recency, T, penalizer: float = 0.0) -> dict:
    """Fit the BG/NBD model by maximum likelihood.

    Parameters
    ----------
    frequency, recency, T : array-like
        Per-customer summary (see the module docstring for definitions and units).
    penalizer : float, default 0
        L2 penalty: the optimiser minimises ``-mean log-likelihood + penalizer * (r² + α² + a² + b²)``
        (the same convention as the ``lifetimes`` package). Use a small value (e.g. 0.001) when the
        unpenalised fit does not converge, e.g. on small or degenerate data.

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
    log-parameters (so all four stay positive) with analytic gradients; identical customer rows are
    collapsed into weights first, which makes fits on millions of customers cheap.
    """
    x, tx, age, _ = _check_rfm(frequency, recency, T)
    penalizer = _check_nonneg_scalar(penalizer, "penalizer")
    if not (x > 0).any():
        raise ValueError("frequency: cannot fit BG/NBD, no customer has a repeat purchase (all are 0)")
    data, weights = _compress(x, tx, age)
    # Start at r = a = b = 1 and alpha on the scale of the observation window.
    x0 = np.array([0.0, np.log(max(float(np.mean(age)), 1e-3)), 0.0, 0.0])
    (r, alpha, a, b), converged = _maximise(_bgnbd_loglik, data, weights, penalizer, x0, _BGNBD_KEYS)
    ll = float(weights @ _bgnbd_loglik((r, alpha, a, b), *data))
    return {"r": float(r), "alpha": float(alpha), "a": float(a), "b": float(b),
            "log_likelihood": ll, "n": int(len(x)), "converged": converged, "penalizer": penalizer}


def _palive(r, alpha, a, b, x, tx, T) -> np.ndarray:
    """P(alive | x, t_x, T) = 1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)), in log space."""
    log_odds_dead = (np.log(a) - np.log(b + np.maximum(x, 1.0) - 1.0)
                     + (r + x) * (np.log(alpha + T) - np.log(alpha + tx)))
    return np.where(x > 0, expit(-log_odds_dead), 1.0)


def _expected_purchases(r, alpha, a, b, t, x, tx, T) -> np.ndarray:
    """FHL (2005) eq. 10, with the Gauss hypergeometric term Euler-transformed for stability.

    E[Y(t) | x, t_x, T] = (a+b+x-1)/(a-1) * [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)]
                          * P(alive),                                   z = t / (α+T+t).
    Euler's identity 2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z) turns the bracketed product into
    (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), whose first two arguments no longer grow with x, so it
    neither overflows for heavy buyers nor loses precision; the bracket is then ``-expm1(log(...))``.
    ``a = 1`` is a removable singularity (0/0); within 1e-6 of it the value is the mean of the values at
    a = 1 ± 1e-5 (the function is smooth in a, so the error is O(1e-10) relative).
    """
    if abs(a - 1.0) < 1e-6:
        out = 0.5 * (_expected_purchases_core(r, alpha, 1.0 - 1e-5, b, t, x, tx, T)
                     + _expected_purchases_core(r, alpha, 1.0 + 1e-5, b, t, x, tx, T))
    else:
        out = _expected_purchases_core(r, alpha, a, b, t, x, tx, T)
    out = np.where(t == 0, 0.0, out)
    if not np.all(np.isfinite(out)):
        i = _first_bad(~np.isfinite(out))
        raise FloatingPointError(
            f"expected purchases could not be evaluated at position {i} "
            f"(params r={r}, alpha={alpha}, a={a}, b={b})"
        )
    return out


def _expected_purchases_core(r, alpha, a, b, t, x, tx, T) -> np.ndarray:
    log1mz = np.log(alpha + T) - np.log(alpha + T + t)
    z = -np.expm1(log1mz)
    hyp = hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z)
    with np.errstate(divide="ignore", invalid="ignore"):
        bracket = np.where(hyp > 0, -np.expm1((a - 1.0) * log1mz + np.log(np.where(hyp > 0, hyp, 1.0))),
                           1.0 - np.exp((a - 1.0) * log1mz) * hyp)
    return (a + b + x - 1.0) / (a - 1.0) * bracket * _palive(r, alpha, a, b, x, tx, T)


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

def _gg_loglik(params, x, m, grad: bool = False):
    """Log-density of the mean spend ``m`` over ``x`` transactions under Gamma-Gamma (FHL 2005b, eq. 3).

    f(m | p, q, v, x) = Γ(px+q) / (Γ(px) Γ(q)) · v^q m^(px-1) x^(px) / (v + x m)^(px+q)
    """
    p, q, v = params
    px = p * x
    log_xm_v = np.log(x * m + v)
    ll = (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v)
          + (px - 1.0) * np.log(m) + px * np.log(x) - (px + q) * log_xm_v)
    if not grad:
        return ll
    psi = digamma(px + q)
    g = np.empty((len(x), 3))
    g[:, 0] = x * (psi - digamma(px) + np.log(m) + np.log(x) - log_xm_v)
    g[:, 1] = psi - digamma(q) + np.log(v) - log_xm_v
    g[:, 2] = q / v - (px + q) / (x * m + v)
    return ll, g


def fit_gamma_gamma(frequency, monetary_value, penalizer: float = 0.0) -> dict:
    """Fit the Gamma-Gamma spend model by maximum likelihood.

    **Only customers with ``frequency > 0`` are used**: ``monetary_value`` is the mean over repeat
    purchases, so one-time buyers carry no spend information (their 0 is a placeholder). Every
    repeat buyer must have ``monetary_value > 0`` (the model is for positive amounts).

    Returns a dict with ``p``, ``q``, ``v``, ``log_likelihood`` (unpenalised, over the customers used),
    ``n`` (number of repeat buyers used), ``converged`` and ``penalizer`` (same L2 convention as
    :func:`fit_bgnbd`). The population mean spend per transaction is ``p * v / (q - 1)`` (finite when
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
    x0 = np.array([0.0, 0.0, np.log(max(float(np.mean(m[rep])), 1e-6))])
    (p, q, v), converged = _maximise(_gg_loglik, data, weights, penalizer, x0, _GG_KEYS)
    ll = float(weights @ _gg_loglik((p, q, v), *data))
    return {"p": float(p), "q": float(q), "v": float(v), "log_likelihood": ll, "n": int(rep.sum()),
            "converged": converged, "penalizer": penalizer}


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
    for i in range(1, horizon + 1):
        cumulative = _expected_purchases(r, alpha, a, b, np.full(len(x), i * period), x, tx, age)
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
LTV_COLUMNS = ["customer_id", "frequency", "recency", "T", "monetary_value", "expected_purchases_365d",
               "probability_alive", "expected_avg_spend", "clv_12m"]


def lifetime_value_table(df: pd.DataFrame, *, discount_rate: float = 0.01, penalizer: float = 0.001
                         ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The warehouse's CLV scoring step: fixed column names, graceful with thin data.

    ``df`` holds the LTV-input mart (``customer_id, frequency, recency, T, monetary_value`` in days).
    Returns ``(scores, params)``: one row per customer with the columns of :data:`LTV_COLUMNS`
    (``expected_purchases_365d`` = expected repeat purchases in the next 365 days; ``clv_12m`` =
    discounted expected revenue over the next 12 months of 30 days, at ``discount_rate`` per month),
    and one row per model x parameter with its fitted value.

    With no customers the tables are empty. With no repeat buyers, or without spend (e.g. orders
    derived from events without prices), the spend model cannot be fitted and the spend-based
    columns are NULL; the purchase model is still fitted when it can be.
    """
    scores = pd.DataFrame({c: pd.Series(dtype="float64") for c in LTV_COLUMNS}).astype({"customer_id": "string"})
    params_rows: list[dict] = []
    if len(df) == 0:
        return scores, pd.DataFrame(params_rows, columns=["model", "parameter", "value"])
    df = df.reset_index(drop=True)
    x = df["frequency"].to_numpy(dtype=float)
    tx = df["recency"].to_numpy(dtype=float)
    age = df["T"].to_numpy(dtype=float)
    m = df["monetary_value"].to_numpy(dtype=float, na_value=np.nan)
    out = pd.DataFrame({"customer_id": df["customer_id"].astype("string"), "frequency": x, "recency": tx,
                        "T": age, "monetary_value": m})
    bg = None
    if (x > 0).sum() >= 2 and len(df) >= 10:
        bg = fit_bgnbd(x, tx, age, penalizer=penalizer)
        out["expected_purchases_365d"] = expected_purchases(bg, 365.0, x, tx, age)
        out["probability_alive"] = probability_alive(bg, x, tx, age)
        params_rows += [{"model": "bg_nbd", "parameter": k, "value": float(bg[k])} for k in ("r", "alpha", "a", "b")]
    else:
        out["expected_purchases_365d"] = np.nan
        out["probability_alive"] = np.nan
    repeat = (x > 0) & np.isfinite(m) & (m > 0)
    if bg is not None and repeat.sum() >= 10 and np.isfinite(m).all():
        gg = fit_gamma_gamma(x[repeat], m[repeat], penalizer=penalizer)
        out["expected_avg_spend"] = expected_average_spend(gg, x, np.where(x > 0, m, 0.0))
        out["clv_12m"] = customer_lifetime_value(bg, gg, x, tx, age, np.where(x > 0, m, 0.0), horizon=12,
                                                 discount_rate=discount_rate, period=30.0)
        params_rows += [{"model": "gamma_gamma", "parameter": k, "value": float(gg[k])} for k in ("p", "q", "v")]
    else:
        out["expected_avg_spend"] = np.nan
        out["clv_12m"] = np.nan
    return out[LTV_COLUMNS], pd.DataFrame(params_rows, columns=["model", "parameter", "value"])
