r"""CUPED: variance reduction with a pre-experiment covariate (Deng, Xu, Kohavi & Walker, 2013).

Works from raw per-user arrays or from the per-variant sufficient statistics the warehouse computes
in SQL (``users, sum_y, sumsq_y, sum_x, sumsq_x, sum_xy``), with identical results.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from retail_lift.validation import as_1d_float, check_same_length

from ._common import (
    Result,
    as_float_array,
    broadcast,
    centred_sum_of_squares,
    check_alpha,
    check_counts,
    check_nonnegative,
    shape_count,
    shape_out,
)
from .frequentist import WelchResult, welch_from_moments

__all__ = ["CupedResult", "CupedStats", "cuped"]

_STAT_KEYS = ("users", "sum_y", "sumsq_y", "sum_x", "sumsq_x", "sum_xy")


@dataclasses.dataclass(frozen=True)
class CupedStats(Result):
    """Per-variant sufficient statistics for CUPED (scalars, or arrays for many experiments).

    ``y`` is the in-experiment metric and ``x`` the pre-period covariate of the same user
    (0 for users with no pre-period activity; never drop them).
    """

    users: float
    sum_y: float
    sumsq_y: float
    sum_x: float
    sumsq_x: float
    sum_xy: float

    @classmethod
    def from_arrays(cls, y, x, name: str = "") -> CupedStats:
        """Sufficient statistics of per-user arrays ``y`` and ``x`` (equal length)."""
        sfx = f"_{name}" if name else ""
        y = as_1d_float(y, f"y{sfx}")
        x = as_1d_float(x, f"x{sfx}")
        check_same_length(**{f"y{sfx}": y, f"x{sfx}": x})
        return cls(float(len(y)), float(y.sum()), float(y @ y), float(x.sum()), float(x @ x), float(x @ y))

    @classmethod
    def from_mapping(cls, m, name: str = "stats") -> CupedStats:
        """From a dict / pandas Series / row with keys ``users`` (or ``n``), ``sum_y``, ``sumsq_y``,
        ``sum_x``, ``sumsq_x``, ``sum_xy``."""
        if isinstance(m, CupedStats):
            return m
        if not isinstance(m, Mapping) and not hasattr(m, "__getitem__"):
            raise ValueError(f"{name} must be a mapping with keys {', '.join(_STAT_KEYS)}, "
                             f"got {type(m).__name__}")
        vals = {}
        for key in _STAT_KEYS:
            alt = ("users", "n") if key == "users" else (key,)
            for k in alt:
                try:
                    vals[key] = m[k]
                    break
                except (KeyError, IndexError, TypeError):
                    continue
            else:
                raise ValueError(f"{name} is missing the key {key!r} (expected {', '.join(_STAT_KEYS)})")
        return cls(**vals)


@dataclasses.dataclass(frozen=True)
class CupedResult(Result):
    r"""Result of :func:`cuped`.

    The top-level ``abs_effect`` … ``significant`` fields are those of the CUPED-adjusted Welch test
    (also available as ``adjusted``); ``unadjusted`` is the plain Welch test on ``y``.
    """

    theta: float
    correlation: float
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    mean_x_a: float
    mean_x_b: float
    adj_mean_a: float
    adj_mean_b: float
    var_a: float
    var_b: float
    adj_var_a: float
    adj_var_b: float
    variance_reduction: float
    abs_effect: float
    abs_ci_low: float
    abs_ci_high: float
    rel_effect: float
    rel_ci_low: float
    rel_ci_high: float
    t: float
    df: float
    p_value: float
    significant: bool
    alpha: float
    adjusted: WelchResult
    unadjusted: WelchResult


def _centred_from_stats(s: CupedStats, name: str):
    n = check_counts(s.users, f"{name}['users']", minimum=2)
    sy = as_float_array(s.sum_y, f"{name}['sum_y']")
    qy = check_nonnegative(s.sumsq_y, f"{name}['sumsq_y']")
    sx = as_float_array(s.sum_x, f"{name}['sum_x']")
    qx = check_nonnegative(s.sumsq_x, f"{name}['sumsq_x']")
    sxy = as_float_array(s.sum_xy, f"{name}['sum_xy']")
    n, sy, qy, sx, qx, sxy = broadcast(users=n, sum_y=sy, sumsq_y=qy, sum_x=sx, sumsq_x=qx, sum_xy=sxy)
    cyy = centred_sum_of_squares(n, sy, qy, f"{name}['sumsq_y']", f"{name}['sum_y']", f"{name}['users']")
    cxx = centred_sum_of_squares(n, sx, qx, f"{name}['sumsq_x']", f"{name}['sum_x']", f"{name}['users']")
    cxy = sxy - sx * sy / n
    # Cauchy-Schwarz: cxy**2 <= cxx * cyy, up to a round-off tolerance on the raw sums.
    tol = 1e-8 * (qx * qy + sxy**2 + (sx * sy / n) ** 2)
    bad = cxy**2 - cxx * cyy > tol
    if np.any(bad):
        raise ValueError(f"{name}['sum_xy'] is inconsistent with the other statistics: the implied "
                         "correlation of y and x exceeds 1 in absolute value")
    return n, sy / n, sx / n, cyy, cxx, cxy


def _centred_from_arrays(y, x, name: str):
    y = as_1d_float(y, f"y_{name}")
    x = as_1d_float(x, f"x_{name}")
    check_same_length(**{f"y_{name}": y, f"x_{name}": x})
    if len(y) < 2:
        raise ValueError(f"y_{name} must contain at least 2 users, got {len(y)}")
    my, mx = y.mean(), x.mean()
    dy, dx = y - my, x - mx
    f = lambda v: np.asarray(float(v))  # noqa: E731
    return f(len(y)), f(my), f(mx), f(dy @ dy), f(dx @ dx), f(dx @ dy)


def cuped(y_a=None, x_a=None, y_b=None, x_b=None, *, stats_a=None, stats_b=None,
          alpha: float = 0.05) -> CupedResult:
    r"""CUPED-adjusted comparison of two means with a pre-period covariate.

    Give **either** the raw per-user arrays ``y_a, x_a, y_b, x_b`` **or** the sufficient statistics
    ``stats_a, stats_b`` (keyword-only).

    Parameters
    ----------
    y_a, x_a, y_b, x_b : array_like, optional
        In-experiment metric ``y`` and pre-period covariate ``x`` per user, for control ``a`` and
        treatment ``b``.
    stats_a, stats_b : mapping or CupedStats, optional
        Per-variant sufficient statistics with keys ``users`` (or ``n``), ``sum_y``, ``sumsq_y``,
        ``sum_x``, ``sumsq_x``, ``sum_xy`` – exactly what the SQL layer produces per variant (a dict,
        a pandas Series / DataFrame row, or :class:`CupedStats`). Values may be arrays (one element per
        experiment) to adjust many experiments at once.
    alpha : float, default 0.05
        Significance level of the adjusted Welch test.

    Returns
    -------
    CupedResult
        ``theta``, raw and adjusted means and variances, ``variance_reduction`` (share of the
        variance of the effect estimate removed), the adjusted Welch test (top-level fields and
        ``adjusted``) and the unadjusted one (``unadjusted``).

    Notes
    -----
    With within-variant centred sums :math:`C^{(k)}_{xy} = \sum (x-\bar x_k)(y - \bar y_k)` etc.,
    :math:`\theta` is pooled across variants,

    .. math::

        \hat\theta = \frac{C^{(a)}_{xy} + C^{(b)}_{xy}}{C^{(a)}_{xx} + C^{(b)}_{xx}},

    i.e. the within-variant regression slope of ``y`` on ``x`` (pooling *within* variants keeps a
    treatment effect on ``y`` out of the slope). With the grand covariate mean :math:`\bar x`,

    .. math::

        \bar y_k^{\mathrm{cv}} = \bar y_k - \hat\theta(\bar x_k - \bar x), \qquad
        s^2_{k,\mathrm{cv}} = \frac{C^{(k)}_{yy} - 2\hat\theta C^{(k)}_{xy}
                                 + \hat\theta^2 C^{(k)}_{xx}}{n_k - 1},

    and the Welch test of :func:`retail_lift.experiments.welch_test` is applied to these adjusted
    means and variances (the difference of adjusted means is unbiased because ``x`` is measured
    before assignment). The variance reduction is about :math:`\rho^2`, the squared within-variant
    correlation of ``y`` and ``x``. As in Deng et al. (2013), the estimation error of
    :math:`\hat\theta` is ignored (negligible at experiment sizes). If ``x`` is constant,
    :math:`\hat\theta = 0` and CUPED reduces to the plain Welch test.

    References
    ----------
    Deng, A., Xu, Y., Kohavi, R. & Walker, T. (2013). Improving the sensitivity of online controlled
    experiments by utilizing pre-experiment data. *WSDM '13*, 123–132.
    """
    alpha = check_alpha(alpha)
    raw = (y_a, x_a, y_b, x_b)
    have_raw = [v is not None for v in raw]
    have_stats = [stats_a is not None, stats_b is not None]
    if any(have_raw) and any(have_stats):
        raise ValueError("give either the arrays y_a, x_a, y_b, x_b or stats_a, stats_b, not both")
    if all(have_raw):
        na, mya, mxa, cyya, cxxa, cxya = _centred_from_arrays(y_a, x_a, "a")
        nb, myb, mxb, cyyb, cxxb, cxyb = _centred_from_arrays(y_b, x_b, "b")
    elif all(have_stats):
        na, mya, mxa, cyya, cxxa, cxya = _centred_from_stats(CupedStats.from_mapping(stats_a, "stats_a"),
                                                             "stats_a")
        nb, myb, mxb, cyyb, cxxb, cxyb = _centred_from_stats(CupedStats.from_mapping(stats_b, "stats_b"),
                                                             "stats_b")
    else:
        missing = [n for n, v in zip(("y_a", "x_a", "y_b", "x_b"), raw, strict=True) if v is None]
        if any(have_stats):
            missing = ["stats_a" if stats_a is None else "stats_b"]
        raise ValueError(f"missing argument(s): {', '.join(missing)} (give y_a, x_a, y_b, x_b or "
                         "stats_a, stats_b)")
    (na, mya, mxa, cyya, cxxa, cxya, nb, myb, mxb, cyyb, cxxb, cxyb) = broadcast(
        n_a=na, mean_y_a=mya, mean_x_a=mxa, cyy_a=cyya, cxx_a=cxxa, cxy_a=cxya,
        n_b=nb, mean_y_b=myb, mean_x_b=mxb, cyy_b=cyyb, cxx_b=cxxb, cxy_b=cxyb)
    scalar = na.ndim == 0

    cxx, cxy, cyy = cxxa + cxxb, cxya + cxyb, cyya + cyyb
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(cxx > 0, cxy / cxx, 0.0)
        corr = np.where((cxx > 0) & (cyy > 0), cxy / np.sqrt(cxx * cyy), 0.0)
    x_bar = (na * mxa + nb * mxb) / (na + nb)
    adj_a = mya - theta * (mxa - x_bar)
    adj_b = myb - theta * (mxb - x_bar)
    var_a, var_b = cyya / (na - 1.0), cyyb / (nb - 1.0)
    adj_var_a = np.maximum(cyya - 2.0 * theta * cxya + theta**2 * cxxa, 0.0) / (na - 1.0)
    adj_var_b = np.maximum(cyyb - 2.0 * theta * cxyb + theta**2 * cxxb, 0.0) / (nb - 1.0)

    adjusted = welch_from_moments(na, adj_a, adj_var_a, nb, adj_b, adj_var_b, alpha, scalar)
    unadjusted = welch_from_moments(na, mya, var_a, nb, myb, var_b, alpha, scalar)
    raw_v = var_a / na + var_b / nb
    with np.errstate(divide="ignore", invalid="ignore"):
        vr = np.where(raw_v > 0, 1.0 - (adj_var_a / na + adj_var_b / nb) / raw_v, 0.0)

    o = lambda v: shape_out(v, scalar)  # noqa: E731
    return CupedResult(
        theta=o(theta), correlation=o(corr), n_a=shape_count(na, scalar), n_b=shape_count(nb, scalar),
        mean_a=o(mya), mean_b=o(myb), mean_x_a=o(mxa), mean_x_b=o(mxb),
        adj_mean_a=o(adj_a), adj_mean_b=o(adj_b),
        var_a=o(var_a), var_b=o(var_b), adj_var_a=o(adj_var_a), adj_var_b=o(adj_var_b),
        variance_reduction=o(vr),
        abs_effect=adjusted.abs_effect, abs_ci_low=adjusted.abs_ci_low, abs_ci_high=adjusted.abs_ci_high,
        rel_effect=adjusted.rel_effect, rel_ci_low=adjusted.rel_ci_low, rel_ci_high=adjusted.rel_ci_high,
        t=adjusted.t, df=adjusted.df, p_value=adjusted.p_value, significant=adjusted.significant,
        alpha=alpha, adjusted=adjusted, unadjusted=unadjusted,
    )
