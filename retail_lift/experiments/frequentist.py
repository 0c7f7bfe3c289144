r"""Fixed-horizon frequentist tests from sufficient statistics.

* :func:`two_proportion_test` – conversion-type metrics (``x`` successes out of ``n`` users).
* :func:`welch_test` – revenue-type metrics from ``n``, ``sum y`` and ``sum y**2`` per variant.

Both are *fixed-horizon* tests: their p-values and intervals are valid when the sample size is fixed
in advance and the data are analysed once. Looking repeatedly and stopping at the first significant
result inflates the false-positive rate (see :mod:`retail_lift.experiments.harness`); use
:func:`retail_lift.experiments.msprt_test` for continuous monitoring.

All functions broadcast over NumPy arrays (one element per experiment) and return Python scalars when
every input is a scalar.

Conventions: variant ``a`` is control, ``b`` is treatment; ``abs_effect = b - a`` and
``rel_effect = b / a - 1``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import stats

from ._common import (
    Result,
    as_float_array,
    broadcast,
    centred_sum_of_squares,
    check_alpha,
    check_counts,
    check_nonnegative,
    check_not_greater,
    shape_count,
    shape_out,
)

__all__ = ["TwoProportionResult", "WelchResult", "two_proportion_test", "welch_test"]


@dataclasses.dataclass(frozen=True)
class TwoProportionResult(Result):
    """Result of :func:`two_proportion_test` (scalars for one experiment, arrays for many)."""

    x_a: int
    n_a: int
    x_b: int
    n_b: int
    rate_a: float
    rate_b: float
    pooled_rate: float
    abs_effect: float
    abs_se: float
    abs_ci_low: float
    abs_ci_high: float
    rel_effect: float
    rel_se: float
    rel_ci_low: float
    rel_ci_high: float
    z: float
    p_value: float
    significant: bool
    alpha: float


@dataclasses.dataclass(frozen=True)
class WelchResult(Result):
    """Result of :func:`welch_test` (also used for the CUPED-adjusted test)."""

    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    var_a: float
    var_b: float
    abs_effect: float
    abs_se: float
    abs_ci_low: float
    abs_ci_high: float
    rel_effect: float
    rel_se: float
    rel_ci_low: float
    rel_ci_high: float
    t: float
    df: float
    p_value: float
    significant: bool
    alpha: float


def _ratio_delta(mean_a, var_mean_a, mean_b, var_mean_b):
    """Relative effect ``mean_b / mean_a - 1`` and its delta-method standard error.

    For independent means with sampling variances ``V_a`` and ``V_b``,
    ``Var(m_b / m_a) ~= V_b / m_a**2 + m_b**2 V_a / m_a**4``. Undefined (NaN) when ``m_a == 0``.
    """
    # as arrays: a Python float mean of 0 would raise ZeroDivisionError instead of giving NaN
    mean_a, mean_b = np.asarray(mean_a, dtype=float), np.asarray(mean_b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(mean_a != 0, mean_b / mean_a - 1.0, np.nan)
        var = var_mean_b / mean_a**2 + mean_b**2 * var_mean_a / mean_a**4
        se = np.where(mean_a != 0, np.sqrt(var), np.nan)
    return rel, se


def two_proportion_test(x_a, n_a, x_b, n_b, alpha: float = 0.05) -> TwoProportionResult:
    r"""Two-sided pooled two-proportion z test with Wald and delta-method intervals.

    Parameters
    ----------
    x_a, n_a : int or array_like
        Conversions and users of the control variant ``a`` (``0 <= x_a <= n_a``, ``n_a >= 1``).
    x_b, n_b : int or array_like
        Conversions and users of the treatment variant ``b``.
    alpha : float, default 0.05
        Significance level; intervals have confidence ``1 - alpha``.

    Returns
    -------
    TwoProportionResult
        ``rate_a``, ``rate_b``, ``abs_effect`` (``rate_b - rate_a``) with its unpooled Wald interval
        ``abs_ci_low``/``abs_ci_high``, ``rel_effect`` (``rate_b / rate_a - 1``) with its delta-method
        interval ``rel_ci_low``/``rel_ci_high``, the statistic ``z``, the two-sided ``p_value`` and
        ``significant = p_value < alpha``. Use ``.to_dict()`` for a plain dict.

    Notes
    -----
    With :math:`\hat p_k = x_k / n_k` and the pooled rate :math:`\bar p = (x_a + x_b)/(n_a + n_b)`,

    .. math::

        z = \frac{\hat p_b - \hat p_a}{\sqrt{\bar p (1-\bar p)(1/n_a + 1/n_b)}}, \qquad
        p = 2\,\{1 - \Phi(|z|)\}.

    The pooled variance is the variance under :math:`H_0: p_a = p_b`, which gives the test its
    nominal size. The interval for the difference uses the unpooled (Wald) standard error
    :math:`\sqrt{\hat p_a(1-\hat p_a)/n_a + \hat p_b(1-\hat p_b)/n_b}`, and the relative effect
    :math:`R - 1 = \hat p_b/\hat p_a - 1` uses the delta method

    .. math::

        \operatorname{Var}(\hat p_b/\hat p_a) \approx
        \frac{\operatorname{Var}\hat p_b}{\hat p_a^2}
        + \frac{\hat p_b^2 \operatorname{Var}\hat p_a}{\hat p_a^4}.

    Both intervals are :math:`\text{estimate} \pm z_{1-\alpha/2}\,\text{SE}`. When both rates are 0
    (or both 1) there is no variance: ``z = 0`` and ``p_value = 1``. The relative effect is NaN when
    ``rate_a == 0``.

    References
    ----------
    Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., §3.1 (Wiley).
    Kohavi, R., Tang, D. & Xu, Y. (2020). *Trustworthy Online Controlled Experiments*, ch. 17–18
    (Cambridge University Press) – delta method for relative effects.

    Examples
    --------
    >>> r = two_proportion_test(100, 1000, 125, 1000)
    >>> round(r.p_value, 4)
    0.0769
    """
    alpha = check_alpha(alpha)
    xa = check_counts(x_a, "x_a")
    na = check_counts(n_a, "n_a", minimum=1)
    xb = check_counts(x_b, "x_b")
    nb = check_counts(n_b, "n_b", minimum=1)
    xa, na, xb, nb = broadcast(x_a=xa, n_a=na, x_b=xb, n_b=nb)
    check_not_greater(xa, na, "x_a", "n_a")
    check_not_greater(xb, nb, "x_b", "n_b")
    scalar = xa.ndim == 0

    pa, pb = xa / na, xb / nb
    pooled = (xa + xb) / (na + nb)
    diff = pb - pa
    se0 = np.sqrt(pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se0 > 0, diff / se0, 0.0)
    p = 2.0 * stats.norm.sf(np.abs(z))

    q = stats.norm.ppf(1.0 - alpha / 2.0)
    var_a, var_b = pa * (1.0 - pa) / na, pb * (1.0 - pb) / nb
    se = np.sqrt(var_a + var_b)
    rel, rel_se = _ratio_delta(pa, var_a, pb, var_b)

    o = lambda v: shape_out(v, scalar)  # noqa: E731
    return TwoProportionResult(
        x_a=shape_count(xa, scalar), n_a=shape_count(na, scalar),
        x_b=shape_count(xb, scalar), n_b=shape_count(nb, scalar),
        rate_a=o(pa), rate_b=o(pb), pooled_rate=o(pooled),
        abs_effect=o(diff), abs_se=o(se), abs_ci_low=o(diff - q * se), abs_ci_high=o(diff + q * se),
        rel_effect=o(rel), rel_se=o(rel_se), rel_ci_low=o(rel - q * rel_se), rel_ci_high=o(rel + q * rel_se),
        z=o(z), p_value=o(p), significant=o(p < alpha), alpha=alpha,
    )


def welch_from_moments(n_a, mean_a, var_a, n_b, mean_b, var_b, alpha: float, scalar: bool) -> WelchResult:
    r"""Welch test from per-variant sizes, means and (unbiased) variances; no input checks.

    Shared by :func:`welch_test` and :func:`retail_lift.experiments.cuped`.
    """
    # as arrays: Python floats with no variance (se == 0) would raise ZeroDivisionError instead of the rule below
    n_a, mean_a, var_a, n_b, mean_b, var_b = (np.asarray(v, dtype=float) for v in (n_a, mean_a, var_a, n_b, mean_b,
                                                                                    var_b))
    diff = mean_b - mean_a
    va, vb = var_a / n_a, var_b / n_b
    se = np.sqrt(va + vb)
    # No within-variant variance at all (se == 0): the difference is known exactly, so t = 0 / p = 1
    # for equal means and t = +-inf / p = 0 otherwise.
    zero = se == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        df = (va + vb) ** 2 / (va**2 / (n_a - 1.0) + vb**2 / (n_b - 1.0))
        t = np.where(zero, np.where(diff == 0, 0.0, np.copysign(np.inf, diff)), diff / se)
        df = np.where(zero, n_a + n_b - 2.0, df)
        p = np.where(zero, np.where(diff == 0, 1.0, 0.0), 2.0 * stats.t.sf(np.abs(t), df))
        q_t = stats.t.ppf(1.0 - alpha / 2.0, df)
    q_z = stats.norm.ppf(1.0 - alpha / 2.0)
    rel, rel_se = _ratio_delta(mean_a, va, mean_b, vb)

    o = lambda v: shape_out(v, scalar)  # noqa: E731
    return WelchResult(
        n_a=shape_count(n_a, scalar), n_b=shape_count(n_b, scalar),
        mean_a=o(mean_a), mean_b=o(mean_b), var_a=o(var_a), var_b=o(var_b),
        abs_effect=o(diff), abs_se=o(se), abs_ci_low=o(diff - q_t * se), abs_ci_high=o(diff + q_t * se),
        rel_effect=o(rel), rel_se=o(rel_se),
        rel_ci_low=o(rel - q_z * rel_se), rel_ci_high=o(rel + q_z * rel_se),
        t=o(t), df=o(df), p_value=o(p), significant=o(p < alpha), alpha=alpha,
    )


def welch_test(n_a, sum_a, sumsq_a, n_b, sum_b, sumsq_b, alpha: float = 0.05) -> WelchResult:
    r"""Welch two-sample t test for a mean (e.g. revenue per user) from sums and sums of squares.

    Parameters
    ----------
    n_a, sum_a, sumsq_a : float or array_like
        Users, :math:`\sum y` and :math:`\sum y^2` of the control variant ``a`` (``n_a >= 2``).
        Users without revenue must be counted with ``y = 0``.
    n_b, sum_b, sumsq_b : float or array_like
        The same for the treatment variant ``b``.
    alpha : float, default 0.05
        Significance level; intervals have confidence ``1 - alpha``.

    Returns
    -------
    WelchResult
        ``mean_a``, ``mean_b``, unbiased variances ``var_a``, ``var_b``, ``abs_effect``
        (``mean_b - mean_a``) with a Welch-t interval, ``rel_effect`` (``mean_b / mean_a - 1``) with a
        delta-method (normal) interval, ``t``, ``df`` (Welch–Satterthwaite), two-sided ``p_value``
        and ``significant``.

    Notes
    -----
    From the sufficient statistics, :math:`\bar y_k = S_k / n_k` and
    :math:`s_k^2 = (Q_k - S_k^2/n_k)/(n_k - 1)` with :math:`S = \sum y`, :math:`Q = \sum y^2`.
    With :math:`v_k = s_k^2/n_k`,

    .. math::

        t = \frac{\bar y_b - \bar y_a}{\sqrt{v_a + v_b}}, \qquad
        \nu = \frac{(v_a + v_b)^2}{v_a^2/(n_a-1) + v_b^2/(n_b-1)},

    ``p = 2 (1 - F_t(|t|; nu))`` and the interval is :math:`\bar y_b - \bar y_a \pm t_{1-\alpha/2,\nu}
    \sqrt{v_a+v_b}`. The relative effect uses the delta method (see
    :func:`two_proportion_test`) with the normal quantile :math:`z_{1-\alpha/2}`.

    Sums of squares are subject to cancellation when the mean is huge relative to the standard
    deviation; tiny negative centred sums are clipped to 0, clearly inconsistent ones raise.

    References
    ----------
    Welch, B. L. (1947). The generalization of "Student's" problem when several different population
    variances are involved. *Biometrika* 34(1/2), 28–35.
    Satterthwaite, F. E. (1946). An approximate distribution of estimates of variance components.
    *Biometrics Bulletin* 2(6), 110–114.
    """
    alpha = check_alpha(alpha)
    na = check_counts(n_a, "n_a", minimum=2)
    nb = check_counts(n_b, "n_b", minimum=2)
    sa = as_float_array(sum_a, "sum_a")
    sb = as_float_array(sum_b, "sum_b")
    qa = check_nonnegative(sumsq_a, "sumsq_a")
    qb = check_nonnegative(sumsq_b, "sumsq_b")
    na, sa, qa, nb, sb, qb = broadcast(n_a=na, sum_a=sa, sumsq_a=qa, n_b=nb, sum_b=sb, sumsq_b=qb)
    ca = centred_sum_of_squares(na, sa, qa, "sumsq_a", "sum_a", "n_a")
    cb = centred_sum_of_squares(nb, sb, qb, "sumsq_b", "sum_b", "n_b")
    return welch_from_moments(na, sa / na, ca / (na - 1.0), nb, sb / nb, cb / (nb - 1.0),
                              alpha, scalar=na.ndim == 0)
