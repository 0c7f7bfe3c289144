r"""Sequential testing that stays valid under continuous monitoring: the normal-mixture mSPRT.

Choice of method
----------------
We implement the **mixture sequential probability ratio test (mSPRT)** of Johari, Pekelis & Walsh
(2017) / Johari, Koomen, Pekelis & Walsh (2022) with a normal mixing distribution
:math:`\theta \sim N(\theta_0, \tau^2)` over the treatment effect, applied to the difference of two
means (or two proportions) through its normal approximation. It gives

* an **always-valid p-value** :math:`p_n = \min(1, \min_{k \le n} 1/\Lambda_k)` with
  :math:`P_{H_0}(\exists n: p_n \le \alpha) \le \alpha`, so an experiment may be looked at after
  every day (or every user) and stopped as soon as :math:`p_n < \alpha`;
* a **confidence sequence** (the set of :math:`\theta_0` not rejected, intersected over looks)
  that covers the true effect *simultaneously at every look* with probability ``>= 1 - alpha``.

Why this one: it is the method behind Optimizely's Stats Engine, it has closed forms for both the
p-value and the confidence sequence (so it vectorises over thousands of simulated experiments), and
it needs only the same sufficient statistics as the fixed-horizon tests.

The mixing scale :math:`\tau` only affects power, never validity. Set it to the size of effect you
care about – the absolute MDE is a good default (``tau = baseline * relative_mde`` for conversion).
Too small a :math:`\tau` makes the test slow to detect large effects, too large a :math:`\tau`
makes it slow to detect small ones.

Looks and shapes
----------------
All inputs are *cumulative* statistics. Scalars mean one look; arrays have looks along the **last
axis** (e.g. shape ``(n_experiments, n_looks)``). The running minimum of the p-value and the running
intersection of the confidence sequence are taken along that axis, so the values at the last look
summarise the whole monitoring history.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._common import (
    Result,
    as_float_array,
    broadcast,
    centred_sum_of_squares,
    check_alpha,
    check_counts,
    check_nonnegative,
    check_not_greater,
    check_positive_scalar,
    shape_out,
)

__all__ = ["MsprtResult", "msprt_from_estimates", "msprt_means_test", "msprt_test", "sequential_test"]


@dataclasses.dataclass(frozen=True)
class MsprtResult(Result):
    """Result of the mSPRT; array fields have looks along the last axis.

    ``p_value`` is the always-valid p-value (running minimum over looks) and
    ``abs_ci_low``/``abs_ci_high`` the confidence sequence (running intersection over looks).
    ``rejected`` is ``p_value < alpha`` at the latest look (i.e. at *any* look so far) and
    ``first_rejection_look`` the 0-based index of the first look with ``p_value < alpha`` (-1 if none).
    """

    n_a: float
    n_b: float
    mean_a: float
    mean_b: float
    abs_effect: float
    variance: float
    log_lr: float
    p_value: float
    abs_ci_low: float
    abs_ci_high: float
    rejected: bool
    first_rejection_look: int
    tau: float
    theta0: float
    alpha: float
    metric: str


def _log_mixture_lr(est, var, tau2, theta0):
    r"""Log of :math:`\Lambda = \sqrt{V/(V+\tau^2)}\exp\{\tau^2(\hat\theta-\theta_0)^2 / (2V(V+\tau^2))\}`.

    Looks with ``V == 0`` (no information yet) get :math:`\log\Lambda = 0`.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        llr = (0.5 * np.log(var / (var + tau2))
               + tau2 * (est - theta0) ** 2 / (2.0 * var * (var + tau2)))
    return np.where(var > 0, llr, 0.0)


def _half_width(var, tau2, alpha):
    r"""Half-width of :math:`\{\theta_0 : \Lambda(\theta_0) < 1/\alpha\}`:
    :math:`\sqrt{V(V+\tau^2)/\tau^2\,[\,2\log(1/\alpha) + \log((V+\tau^2)/V)\,]}` (inf when V = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        hw = np.sqrt(var * (var + tau2) / tau2 * (2.0 * np.log(1.0 / alpha) + np.log((var + tau2) / var)))
    return np.where(var > 0, hw, np.inf)


def msprt_from_estimates(estimate, variance, *, tau: float, alpha: float = 0.05, theta0: float = 0.0,
                         n_a=np.nan, n_b=np.nan, mean_a=np.nan, mean_b=np.nan,
                         metric: str = "generic") -> MsprtResult:
    r"""Normal-mixture mSPRT from per-look effect estimates and their sampling variances.

    Parameters
    ----------
    estimate : float or array_like
        Effect estimate :math:`\hat\theta_n` at each look (looks along the last axis).
    variance : float or array_like
        Its sampling variance :math:`V_n` (``>= 0``; 0 means "no information yet").
    tau : float
        Standard deviation of the normal mixing distribution (effect scale; see module docs).
    alpha : float, default 0.05
        Significance level of the always-valid test / miscoverage of the confidence sequence.
    theta0 : float, default 0
        Null value of the effect.
    n_a, n_b, mean_a, mean_b, metric
        Carried into the result for reporting only.

    Notes
    -----
    If :math:`\hat\theta_n \sim N(\theta, V_n)` behaves like a Gaussian process with independent
    increments in information time :math:`1/V_n` (true asymptotically for differences of means),
    the mixture likelihood ratio

    .. math::

        \Lambda_n(\theta_0) = \int \frac{\phi(\hat\theta_n; \theta, V_n)}{\phi(\hat\theta_n; \theta_0,
        V_n)}\, dN(\theta; \theta_0, \tau^2)
        = \sqrt{\frac{V_n}{V_n + \tau^2}}
          \exp\!\left\{\frac{\tau^2 (\hat\theta_n - \theta_0)^2}{2 V_n (V_n + \tau^2)}\right\}

    is a non-negative martingale with mean 1 under :math:`H_0`, so by Ville's inequality
    :math:`P_{H_0}(\sup_n \Lambda_n \ge 1/\alpha) \le \alpha`. Hence the always-valid p-value
    :math:`p_n = \min\{1, \min_{k\le n} \Lambda_k^{-1}\}` and the confidence sequence

    .. math::

        \hat\theta_n \pm \sqrt{\frac{V_n (V_n + \tau^2)}{\tau^2}
        \left[2\log\frac{1}{\alpha} + \log\frac{V_n + \tau^2}{V_n}\right]},

    intersected over looks.

    References
    ----------
    Johari, R., Koomen, P., Pekelis, L. & Walsh, D. (2017). Peeking at A/B tests: why it matters, and
    what to do about it. *KDD '17*, 1517–1525.
    Johari, R., Koomen, P., Pekelis, L. & Walsh, D. (2022). Always valid inference: continuous
    monitoring of A/B tests. *Operations Research* 70(3), 1806–1821.
    Robbins, H. (1970). Statistical methods related to the law of the iterated logarithm.
    *Annals of Mathematical Statistics* 41(5), 1397–1409.
    """
    alpha = check_alpha(alpha)
    tau = check_positive_scalar(tau, "tau")
    theta0 = float(as_float_array(theta0, "theta0"))
    est = as_float_array(estimate, "estimate")
    var = check_nonnegative(variance, "variance")
    est, var, n_a, n_b, mean_a, mean_b = broadcast(
        estimate=est, variance=var, n_a=np.asarray(n_a, float), n_b=np.asarray(n_b, float),
        mean_a=np.asarray(mean_a, float), mean_b=np.asarray(mean_b, float))
    scalar = est.ndim == 0
    tau2 = tau * tau

    llr = _log_mixture_lr(est, var, tau2, theta0)
    p_look = np.minimum(1.0, np.exp(-llr))
    hw = _half_width(var, tau2, alpha)
    lo, hi = est - hw, est + hw
    if scalar:
        p, cs_lo, cs_hi = p_look, lo, hi
        rejected = p < alpha
        first = np.where(rejected, 0, -1)
    else:
        p = np.minimum.accumulate(p_look, axis=-1)
        cs_lo = np.maximum.accumulate(lo, axis=-1)
        cs_hi = np.minimum.accumulate(hi, axis=-1)
        hit = p < alpha
        rejected = hit[..., -1]
        first = np.where(hit.any(axis=-1), hit.argmax(axis=-1), -1)

    o = lambda v: shape_out(v, scalar)  # noqa: E731
    return MsprtResult(
        n_a=o(n_a), n_b=o(n_b), mean_a=o(mean_a), mean_b=o(mean_b),
        abs_effect=o(est), variance=o(var), log_lr=o(llr), p_value=o(p),
        abs_ci_low=o(cs_lo), abs_ci_high=o(cs_hi),
        rejected=o(rejected), first_rejection_look=o(first),
        tau=tau, theta0=theta0, alpha=alpha, metric=metric,
    )


def msprt_test(x_a, n_a, x_b, n_b, *, tau: float, alpha: float = 0.05, theta0: float = 0.0) -> MsprtResult:
    r"""Always-valid mSPRT for the difference of two conversion rates :math:`p_b - p_a`.

    Parameters
    ----------
    x_a, n_a, x_b, n_b : int or array_like
        *Cumulative* conversions and users per variant at each look (looks along the last axis).
    tau : float
        Mixing standard deviation on the absolute-difference scale (e.g. the absolute MDE).
    alpha : float, default 0.05
        Level of the always-valid test and of the confidence sequence.
    theta0 : float, default 0
        Null difference.

    Returns
    -------
    MsprtResult
        ``abs_effect`` :math:`\hat p_b - \hat p_a`, its plug-in variance
        :math:`\hat p_a(1-\hat p_a)/n_a + \hat p_b(1-\hat p_b)/n_b`, always-valid ``p_value``,
        confidence sequence ``abs_ci_low``/``abs_ci_high``, ``rejected`` and ``first_rejection_look``.

    Notes
    -----
    See :func:`msprt_from_estimates` for the formulas and references. The plug-in (unpooled)
    variance makes the normal approximation slightly liberal when conversions are very few; start
    monitoring once each arm has some tens of conversions. :func:`sequential_test` is an alias.

    Examples
    --------
    Daily cumulative counts of one experiment (looks on the last axis):

    >>> r = msprt_test([50, 100, 150], [500, 1000, 1500], [70, 140, 210], [500, 1000, 1500], tau=0.02)
    >>> r.p_value.shape
    (3,)
    """
    xa = check_counts(x_a, "x_a")
    na = check_counts(n_a, "n_a", minimum=1)
    xb = check_counts(x_b, "x_b")
    nb = check_counts(n_b, "n_b", minimum=1)
    xa, na, xb, nb = broadcast(x_a=xa, n_a=na, x_b=xb, n_b=nb)
    check_not_greater(xa, na, "x_a", "n_a")
    check_not_greater(xb, nb, "x_b", "n_b")
    pa, pb = xa / na, xb / nb
    var = pa * (1.0 - pa) / na + pb * (1.0 - pb) / nb
    return msprt_from_estimates(pb - pa, var, tau=tau, alpha=alpha, theta0=theta0,
                                n_a=na, n_b=nb, mean_a=pa, mean_b=pb, metric="proportion")


def msprt_means_test(n_a, sum_a, sumsq_a, n_b, sum_b, sumsq_b, *, tau: float, alpha: float = 0.05,
                     theta0: float = 0.0) -> MsprtResult:
    r"""Always-valid mSPRT for the difference of two means from cumulative sums and sums of squares.

    Parameters
    ----------
    n_a, sum_a, sumsq_a, n_b, sum_b, sumsq_b : float or array_like
        *Cumulative* users, :math:`\sum y` and :math:`\sum y^2` per variant at each look (looks along
        the last axis; ``n >= 2``).
    tau : float
        Mixing standard deviation in metric units (e.g. the absolute MDE in currency).
    alpha, theta0
        As in :func:`msprt_test`.

    Notes
    -----
    :math:`\hat\theta = \bar y_b - \bar y_a`, :math:`V = s_a^2/n_a + s_b^2/n_b` with unbiased
    variances; see :func:`msprt_from_estimates`.
    """
    na = check_counts(n_a, "n_a", minimum=2)
    nb = check_counts(n_b, "n_b", minimum=2)
    sa = as_float_array(sum_a, "sum_a")
    sb = as_float_array(sum_b, "sum_b")
    qa = check_nonnegative(sumsq_a, "sumsq_a")
    qb = check_nonnegative(sumsq_b, "sumsq_b")
    na, sa, qa, nb, sb, qb = broadcast(n_a=na, sum_a=sa, sumsq_a=qa, n_b=nb, sum_b=sb, sumsq_b=qb)
    va = centred_sum_of_squares(na, sa, qa, "sumsq_a", "sum_a", "n_a") / (na - 1.0)
    vb = centred_sum_of_squares(nb, sb, qb, "sumsq_b", "sum_b", "n_b") / (nb - 1.0)
    ma, mb = sa / na, sb / nb
    return msprt_from_estimates(mb - ma, va / na + vb / nb, tau=tau, alpha=alpha, theta0=theta0,
                                n_a=na, n_b=nb, mean_a=ma, mean_b=mb, metric="mean")


#: Alias of :func:`msprt_test` (the sequential method of this package is the mSPRT).
sequential_test = msprt_test
