r"""Bayesian Beta–Binomial comparison of two conversion rates.

The probability that B beats A and both expected losses are computed *exactly* (closed form), so they
carry no Monte Carlo noise; only the credible intervals of the lift use posterior draws (seeded).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import integrate, special, stats

from ._common import Result, check_alpha, check_counts, check_positive_scalar

__all__ = ["BayesianResult", "bayesian_proportion_test", "prob_beta_greater"]

#: Above this many terms the exact sum is replaced by adaptive quadrature.
_MAX_SUM_TERMS = 2_000_000


@dataclasses.dataclass(frozen=True)
class BayesianResult(Result):
    """Result of :func:`bayesian_proportion_test`."""

    x_a: int
    n_a: int
    x_b: int
    n_b: int
    prior: tuple[float, float]
    alpha_a: float
    beta_a: float
    alpha_b: float
    beta_b: float
    mean_a: float
    mean_b: float
    prob_b_beats_a: float
    expected_loss_a: float
    expected_loss_b: float
    abs_lift_mean: float
    abs_lift_ci_low: float
    abs_lift_ci_high: float
    rel_lift_median: float
    rel_lift_ci_low: float
    rel_lift_ci_high: float
    ci: float
    n_samples: int
    seed: int | None


def _is_whole(v: float) -> bool:
    return float(v).is_integer()


def _prob_greater_sum(a1: float, b1: float, a2: float, b2: float) -> float:
    """Evan Miller's finite sum; requires integer ``a2``. Terms are positive, summed in log space."""
    i = np.arange(int(a2), dtype=float)
    log_terms = (special.betaln(a1 + i, b1 + b2) - np.log(b2 + i)
                 - special.betaln(1.0 + i, b2) - special.betaln(a1, b1))
    return float(np.exp(special.logsumexp(log_terms)))


def _prob_greater_quad(a1: float, b1: float, a2: float, b2: float) -> float:
    r""":math:`\int_0^1 f_1(p)\,\{1 - F_2(p)\}\,dp` by adaptive quadrature over the bulk of ``X1``."""
    d1, d2 = stats.beta(a1, b1), stats.beta(a2, b2)
    lo, hi = float(d1.ppf(1e-15)), float(d1.isf(1e-15))
    pts = sorted({min(max(m, lo), hi) for m in (d1.mean(), d2.mean(), float(d2.median()))})
    val, _ = integrate.quad(lambda p: d1.pdf(p) * d2.sf(p), lo, hi, points=pts,
                            epsabs=1e-14, epsrel=1e-11, limit=500)
    return float(min(max(val, 0.0), 1.0))


def prob_beta_greater(a1: float, b1: float, a2: float, b2: float, method: str = "auto") -> float:
    r"""Exact :math:`P(X_2 > X_1)` for independent :math:`X_1 \sim \mathrm{Beta}(a_1, b_1)`,
    :math:`X_2 \sim \mathrm{Beta}(a_2, b_2)`.

    Parameters
    ----------
    a1, b1, a2, b2 : float
        Positive Beta parameters.
    method : {"auto", "sum", "quad"}
        ``"sum"`` uses the closed form below (needs a whole-number ``a2``, or ``a1`` via the
        complement); ``"quad"`` integrates numerically; ``"auto"`` picks the sum when possible.

    Notes
    -----
    For whole-number :math:`a_2` (Miller, 2015):

    .. math::

        P(X_2 > X_1) = \sum_{i=0}^{a_2 - 1}
        \frac{B(a_1 + i,\; b_1 + b_2)}{(b_2 + i)\, B(1 + i,\; b_2)\, B(a_1, b_1)},

    which follows from the finite-sum form of the regularised incomplete Beta function with an
    integer first parameter. The terms are positive and are summed in log space (``betaln`` and
    ``logsumexp``), so the result is accurate to round-off even for millions of conversions.
    Otherwise :math:`\int_0^1 f_{X_1}(p)\,P(X_2 > p)\,dp` is integrated with ``scipy.integrate.quad``.

    References
    ----------
    Miller, E. (2015). Formulas for Bayesian A/B testing.
    https://www.evanmiller.org/bayesian-ab-testing.html
    """
    a1, b1, a2, b2 = (check_positive_scalar(v, n)
                      for v, n in ((a1, "a1"), (b1, "b1"), (a2, "a2"), (b2, "b2")))
    if method not in ("auto", "sum", "quad"):
        raise ValueError(f"method must be 'auto', 'sum' or 'quad', got {method!r}")
    if method in ("auto", "sum"):
        if _is_whole(a2) and (a2 <= _MAX_SUM_TERMS or method == "sum"):
            return _prob_greater_sum(a1, b1, a2, b2)
        if _is_whole(a1) and (a1 <= _MAX_SUM_TERMS or method == "sum"):
            return 1.0 - _prob_greater_sum(a2, b2, a1, b1)
        if method == "sum":
            raise ValueError("method='sum' needs a whole-number a1 or a2")
    return _prob_greater_quad(a1, b1, a2, b2)


def _expected_loss(a_keep: float, b_keep: float, a_other: float, b_other: float, method: str) -> float:
    r""":math:`E[\max(X_o - X_k, 0)]` for :math:`X_k \sim \mathrm{Beta}(a_k, b_k)`, :math:`X_o \sim
    \mathrm{Beta}(a_o, b_o)`, via :math:`p\,f(p; a, b) = \tfrac{a}{a+b} f(p; a+1, b)`."""
    m_o = a_other / (a_other + b_other)
    m_k = a_keep / (a_keep + b_keep)
    val = (m_o * prob_beta_greater(a_keep, b_keep, a_other + 1.0, b_other, method)
           - m_k * prob_beta_greater(a_keep + 1.0, b_keep, a_other, b_other, method))
    return max(val, 0.0)


def bayesian_proportion_test(x_a, n_a, x_b, n_b, prior=(1, 1), ci: float = 0.95,
                             n_samples: int = 200_000, seed: int | None = 0,
                             method: str = "auto") -> BayesianResult:
    r"""Beta–Binomial A/B comparison: P(B beats A), expected losses, credible intervals of the lift.

    Parameters
    ----------
    x_a, n_a, x_b, n_b : int
        Conversions and users per variant (``a`` control, ``b`` treatment); one experiment.
    prior : (float, float), default (1, 1)
        Beta prior ``(alpha0, beta0)`` shared by both rates; ``(1, 1)`` is uniform.
    ci : float, default 0.95
        Mass of the equal-tailed credible intervals.
    n_samples : int, default 200_000
        Posterior draws used *only* for the lift credible intervals.
    seed : int or None, default 0
        Seed of the NumPy generator for those draws (``None`` = fresh entropy).
    method : {"auto", "sum", "quad"}
        How :func:`prob_beta_greater` is evaluated (see there); the default is exact.

    Returns
    -------
    BayesianResult
        Posterior parameters and means, ``prob_b_beats_a`` (exact), ``expected_loss_a`` (the
        expected conversion-rate loss of *keeping A*, :math:`E[\max(p_B - p_A, 0)]`, exact),
        ``expected_loss_b`` (of *shipping B*, :math:`E[\max(p_A - p_B, 0)]`, exact), and Monte Carlo
        credible intervals ``abs_lift_ci_low/high`` for :math:`p_B - p_A` and ``rel_lift_ci_low/high``
        for :math:`p_B/p_A - 1`.

    Notes
    -----
    Posteriors: :math:`p_k \mid x_k \sim \mathrm{Beta}(\alpha_0 + x_k,\ \beta_0 + n_k - x_k)`.
    :math:`P(p_B > p_A)` is Miller's closed-form sum (:func:`prob_beta_greater`). Because
    :math:`p\,\mathrm{Beta}(p; a, b) = \frac{a}{a+b}\mathrm{Beta}(p; a+1, b)`,

    .. math::

        E[\max(p_B - p_A, 0)] = \frac{\alpha_B}{\alpha_B+\beta_B}\, P(p_B^{+} > p_A)
                               - \frac{\alpha_A}{\alpha_A+\beta_A}\, P(p_B > p_A^{+}),

    with :math:`p_k^{+} \sim \mathrm{Beta}(\alpha_k + 1, \beta_k)` (Stucchio, 2015); the loss of
    shipping B swaps the roles. The two losses satisfy
    ``expected_loss_a - expected_loss_b = mean_b - mean_a`` exactly.

    References
    ----------
    Miller, E. (2015). Formulas for Bayesian A/B testing. https://www.evanmiller.org/bayesian-ab-testing.html
    Stucchio, C. (2015). Bayesian A/B Testing at VWO. VWO technical whitepaper.

    Examples
    --------
    >>> r = bayesian_proportion_test(100, 1000, 125, 1000)
    >>> round(r.prob_b_beats_a, 4), round(r.expected_loss_b, 5), round(r.expected_loss_a, 5)
    (0.9614, 0.00022, 0.02517)
    """
    for v, name in ((x_a, "x_a"), (n_a, "n_a"), (x_b, "x_b"), (n_b, "n_b")):
        if np.ndim(v) != 0:
            raise ValueError(f"{name} must be a scalar count (one experiment), got shape {np.shape(v)}")
    xa, xb = float(check_counts(x_a, "x_a")), float(check_counts(x_b, "x_b"))
    na, nb = float(check_counts(n_a, "n_a", 1)), float(check_counts(n_b, "n_b", 1))
    if xa > na:
        raise ValueError(f"x_a must not exceed n_a, got x_a={x_a!r} > n_a={n_a!r}")
    if xb > nb:
        raise ValueError(f"x_b must not exceed n_b, got x_b={x_b!r} > n_b={n_b!r}")
    try:
        a0, b0 = prior
    except (TypeError, ValueError):
        raise ValueError(f"prior must be a pair (alpha0, beta0), got {prior!r}") from None
    a0 = check_positive_scalar(a0, "prior[0]")
    b0 = check_positive_scalar(b0, "prior[1]")
    ci = check_alpha(ci, "ci")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 100:
        raise ValueError(f"n_samples must be an integer >= 100, got {n_samples!r}")

    aa, ba = a0 + xa, b0 + na - xa
    ab, bb = a0 + xb, b0 + nb - xb
    p_b_beats_a = prob_beta_greater(aa, ba, ab, bb, method)
    loss_keep_a = _expected_loss(aa, ba, ab, bb, method)
    loss_ship_b = _expected_loss(ab, bb, aa, ba, method)

    rng = np.random.default_rng(seed)
    pa = rng.beta(aa, ba, size=int(n_samples))
    pb = rng.beta(ab, bb, size=int(n_samples))
    tail = (1.0 - ci) / 2.0
    abs_lift = pb - pa
    with np.errstate(divide="ignore"):
        rel_lift = pb / pa - 1.0
    abs_lo, abs_hi = np.quantile(abs_lift, [tail, 1.0 - tail])
    rel_lo, rel_med, rel_hi = np.quantile(rel_lift, [tail, 0.5, 1.0 - tail])

    return BayesianResult(
        x_a=int(xa), n_a=int(na), x_b=int(xb), n_b=int(nb), prior=(a0, b0),
        alpha_a=aa, beta_a=ba, alpha_b=ab, beta_b=bb,
        mean_a=aa / (aa + ba), mean_b=ab / (ab + bb),
        prob_b_beats_a=min(max(p_b_beats_a, 0.0), 1.0), expected_loss_a=loss_keep_a, expected_loss_b=loss_ship_b,
        abs_lift_mean=ab / (ab + bb) - aa / (aa + ba),
        abs_lift_ci_low=float(abs_lo), abs_lift_ci_high=float(abs_hi),
        rel_lift_median=float(rel_med), rel_lift_ci_low=float(rel_lo), rel_lift_ci_high=float(rel_hi),
        ci=ci, n_samples=int(n_samples), seed=seed if seed is None else int(seed),
    )

