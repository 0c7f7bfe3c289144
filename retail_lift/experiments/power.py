r"""Sample size and power for two-arm experiments with equal allocation (two-sided tests).

The formulas are the normal-approximation ones that match the tests of this package:
:func:`sample_size_proportions` / :func:`power_proportions` for the pooled two-proportion z test
(:func:`retail_lift.experiments.two_proportion_test`), :func:`sample_size_means` /
:func:`power_means` for a difference in means (Welch / z test).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from ._common import check_alpha, check_positive_scalar

__all__ = ["power_means", "power_proportions", "sample_size_means", "sample_size_proportions"]


def _check_mde(mde) -> float:
    if (isinstance(mde, bool) or not isinstance(mde, (int, float, np.integer, np.floating))
            or not math.isfinite(mde) or mde == 0):
        raise ValueError(f"mde must be a non-zero finite number, got {mde!r}")
    return float(mde)


def _rates(baseline, mde, relative: bool) -> tuple[float, float]:
    p1 = check_alpha(baseline, "baseline")
    mde = _check_mde(mde)
    p2 = p1 * (1.0 + mde) if relative else p1 + mde
    if not 0.0 < p2 < 1.0:
        kind = "baseline * (1 + mde)" if relative else "baseline + mde"
        raise ValueError(f"mde moves the rate outside (0, 1): {kind} = {p2!r}")
    return p1, p2


def sample_size_proportions(baseline: float, mde: float, alpha: float = 0.05, power: float = 0.8,
                            relative: bool = True) -> int:
    r"""Users per arm for the two-sided pooled two-proportion z test.

    Parameters
    ----------
    baseline : float
        Control conversion rate :math:`p_1` in (0, 1).
    mde : float
        Minimum detectable effect: relative (``p2 = baseline * (1 + mde)``, default) or absolute
        (``p2 = baseline + mde`` with ``relative=False``). May be negative.
    alpha : float, default 0.05
        Two-sided significance level.
    power : float, default 0.8
        Desired power :math:`1 - \beta`.
    relative : bool, default True
        Whether ``mde`` is relative to the baseline.

    Returns
    -------
    int
        Users per arm, rounded up.

    Notes
    -----
    With :math:`\bar p = (p_1 + p_2)/2` (variance under :math:`H_0`, as in the pooled test),

    .. math::

        n = \frac{\left[z_{1-\alpha/2}\sqrt{2\bar p(1-\bar p)}
              + z_{1-\beta}\sqrt{p_1(1-p_1) + p_2(1-p_2)}\right]^2}{(p_2 - p_1)^2}.

    Example: baseline 10 %, absolute MDE 2 points, alpha 0.05, power 0.8 gives 3,841 per arm.

    References
    ----------
    Fleiss, J. L., Levin, B. & Paik, M. C. (2003). *Statistical Methods for Rates and Proportions*,
    3rd ed., §4.2 (without continuity correction). Wiley.
    """
    p1, p2 = _rates(baseline, mde, relative)
    alpha = check_alpha(alpha)
    power = check_alpha(power, "power")
    za, zb = stats.norm.ppf(1.0 - alpha / 2.0), stats.norm.ppf(power)
    pbar = (p1 + p2) / 2.0
    num = za * math.sqrt(2.0 * pbar * (1.0 - pbar)) + zb * math.sqrt(p1 * (1.0 - p1) + p2 * (1.0 - p2))
    return int(math.ceil(num**2 / (p2 - p1) ** 2 - 1e-9))


def power_proportions(baseline: float, mde: float, n_per_arm: float, alpha: float = 0.05,
                      relative: bool = True) -> float:
    r"""Power of the two-sided pooled two-proportion z test with ``n_per_arm`` users per arm.

    Notes
    -----
    With :math:`\Delta = p_2 - p_1`, :math:`\sigma_0 = \sqrt{2\bar p(1-\bar p)/n}` (null) and
    :math:`\sigma_1 = \sqrt{(p_1(1-p_1) + p_2(1-p_2))/n}` (alternative),

    .. math::

        \text{power} = \Phi\!\left(\frac{|\Delta| - z_{1-\alpha/2}\sigma_0}{\sigma_1}\right)
                     + \Phi\!\left(\frac{-|\Delta| - z_{1-\alpha/2}\sigma_0}{\sigma_1}\right),

    the inverse of :func:`sample_size_proportions` (which drops the negligible second term).
    Parameters are as in :func:`sample_size_proportions`.
    """
    p1, p2 = _rates(baseline, mde, relative)
    alpha = check_alpha(alpha)
    n = check_positive_scalar(n_per_arm, "n_per_arm")
    za = stats.norm.ppf(1.0 - alpha / 2.0)
    pbar = (p1 + p2) / 2.0
    s0 = math.sqrt(2.0 * pbar * (1.0 - pbar) / n)
    s1 = math.sqrt((p1 * (1.0 - p1) + p2 * (1.0 - p2)) / n)
    d = abs(p2 - p1)
    return float(stats.norm.cdf((d - za * s0) / s1) + stats.norm.cdf((-d - za * s0) / s1))


def sample_size_means(sd: float, mde: float, alpha: float = 0.05, power: float = 0.8) -> int:
    r"""Users per arm to detect an absolute difference ``mde`` in means with common s.d. ``sd``.

    Parameters
    ----------
    sd : float
        Standard deviation of the metric per user (e.g. revenue per user, zeros included). With
        CUPED, use :math:`\sigma\sqrt{1-\rho^2}`.
    mde : float
        Absolute minimum detectable difference, in metric units.
    alpha, power : float
        Two-sided level and desired power.

    Notes
    -----
    .. math::

        n = \frac{2\,(z_{1-\alpha/2} + z_{1-\beta})^2\,\sigma^2}{\Delta^2}

    (normal approximation; at these sample sizes the t correction is below one user in a thousand).
    Example: ``sd = 1``, ``mde = 0.2`` gives ``ceil(392.4) = 393``.

    References
    ----------
    Chow, S.-C., Shao, J. & Wang, H. (2008). *Sample Size Calculations in Clinical Research*, 2nd ed.,
    §3.2. Chapman & Hall/CRC.
    """
    sd = check_positive_scalar(sd, "sd")
    mde = _check_mde(mde)
    alpha = check_alpha(alpha)
    power = check_alpha(power, "power")
    z = stats.norm.ppf(1.0 - alpha / 2.0) + stats.norm.ppf(power)
    return int(math.ceil(2.0 * z**2 * sd**2 / mde**2 - 1e-9))


def power_means(sd: float, mde: float, n_per_arm: float, alpha: float = 0.05) -> float:
    r"""Power of the two-sided test of a difference in means (normal approximation).

    .. math::

        \text{power} = \Phi\!\left(\frac{|\Delta|}{\sigma\sqrt{2/n}} - z_{1-\alpha/2}\right)
                     + \Phi\!\left(-\frac{|\Delta|}{\sigma\sqrt{2/n}} - z_{1-\alpha/2}\right).
    """
    sd = check_positive_scalar(sd, "sd")
    mde = _check_mde(mde)
    n = check_positive_scalar(n_per_arm, "n_per_arm")
    alpha = check_alpha(alpha)
    za = stats.norm.ppf(1.0 - alpha / 2.0)
    ncp = abs(mde) / (sd * math.sqrt(2.0 / n))
    return float(stats.norm.cdf(ncp - za) + stats.norm.cdf(-ncp - za))
