r"""Delta-method ratio metrics and CUPED for every metric type, from the uniform sufficient statistics.

The warehouse gives, per experiment × variant × metric (and per daily look), sums over the arm's
users of the numerator ``y``, the denominator ``d`` (1 for a proportion or a mean), the pre-period
covariate ``x`` and its denominator ``e`` (1 for non-ratio metrics): ``users, sum_y, sumsq_y, sum_d,
sumsq_d, sum_yd, sum_x, sumsq_x, sum_xy, sum_e, sumsq_e, sum_xe, sum_ye, sum_de, sum_dx``.
Everything here is vectorised (scalars or one element per look).

Ratio metric (Deng, Knoblich & Lu 2018, "Applying the delta method in metric analytics")
    :math:`\hat R = \sum y / \sum d` over the arm's users. With per-user sample (co)variances
    :math:`s^2_y, s^2_d, s_{yd}` and :math:`\mu_d = \sum d / n`, the linearised metric
    :math:`\ell_i = (y_i - \hat R d_i)/\mu_d` has :math:`\operatorname{Var}(\hat R) \approx s^2_\ell / n`,
    :math:`s^2_\ell = (s^2_y - 2\hat R s_{yd} + \hat R^2 s^2_d)/\mu_d^2`. For ``d = 1`` this is exactly
    the per-user mean and its variance, so one formula serves means, proportions and ratios.

CUPED (Deng, Xu, Kohavi & Walker 2013; for ratios on the linearised metric, as in their §3.3 and
"CUPED for ratio metrics")
    The covariate is linearised the same way (:math:`\ell^x_i = (x_i - \hat R_x e_i)/\mu_e`,
    :math:`\hat R_x = \sum x / \sum e`), :math:`\theta` is the within-arm regression slope of
    :math:`\ell` on :math:`\ell^x` pooled over the two arms, the adjusted estimate per arm is
    :math:`\hat R - \theta(\hat R_x - \bar R_x)` (:math:`\bar R_x` the pooled covariate ratio; it
    cancels in the difference), with per-user variance
    :math:`s^2_\ell - 2\theta s_{\ell\ell^x} + \theta^2 s^2_{\ell^x}`. ``variance_reduction`` =
    1 − Var(adjusted difference) / Var(unadjusted difference) (≈ ρ², the squared within-arm
    correlation of the linearised metric and covariate). The estimation error of θ is ignored, as in
    Deng et al. (2013).
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["ArmMoments", "CupedDelta", "arm_moments", "cuped_delta", "moments_from_row"]

#: the numerator/denominator sums (besides users, sum_y, sumsq_y) of interface B
DENOMINATOR_SUMS = ("sum_d", "sumsq_d", "sum_yd")
#: the covariate sums
COVARIATE_SUMS = ("sum_x", "sumsq_x", "sum_xy")
#: the covariate-denominator sums (ratio metrics)
COVARIATE_DENOMINATOR_SUMS = ("sum_e", "sumsq_e", "sum_xe", "sum_ye", "sum_de", "sum_dx")
ALL_SUMS = ("users", "sum_y", "sumsq_y", *DENOMINATOR_SUMS, *COVARIATE_SUMS, *COVARIATE_DENOMINATOR_SUMS)


@dataclasses.dataclass(frozen=True)
class ArmMoments:
    """Per arm: users, the metric estimate (mean or ratio of sums) and the per-user variance of its
    linearisation; with a covariate also its estimate, variance and covariance with the metric
    (``None`` without a usable covariate)."""

    n: np.ndarray
    est: np.ndarray
    var: np.ndarray
    x_sum: np.ndarray | None = None
    e_sum: np.ndarray | None = None
    x_est: np.ndarray | None = None
    var_x: np.ndarray | None = None
    cov_xy: np.ndarray | None = None

    @property
    def has_covariate(self) -> bool:
        return self.var_x is not None


def _a(v):
    return None if v is None else np.asarray(v, dtype=float)


def _nan(v) -> bool:
    return v is None or bool(np.all(np.isnan(np.asarray(v, dtype=float))))


def arm_moments(users, sum_y, sumsq_y, sum_d=None, sumsq_d=None, sum_yd=None, sum_x=None, sumsq_x=None,  # noqa: PLR0913 - the sufficient statistics of a ratio metric, one argument each
                sum_xy=None, sum_e=None, sumsq_e=None, sum_xe=None, sum_ye=None, sum_de=None, sum_dx=None, *,
                ratio: bool = False) -> ArmMoments:
    """Linearised moments of one arm (see the module docstring). ``ratio=False`` ignores the
    denominator sums (d = e = 1); ``ratio=True`` needs ``sum_d, sumsq_d, sum_yd`` (and, for the
    covariate, the ``e`` sums). Covariate sums that are ``None`` or all NaN give no covariate.
    Entries with fewer than 2 users (or a zero denominator sum) come out NaN."""
    n = _a(users)
    sy, qy = _a(sum_y), _a(sumsq_y)
    if ratio and any(_nan(v) for v in (sum_d, sumsq_d, sum_yd)):
        raise ValueError("a ratio metric needs sum_d, sumsq_d and sum_yd")
    with np.errstate(divide="ignore", invalid="ignore"):
        nn = np.where(n >= 2, n, np.nan)
        n1 = nn - 1.0

        def cov(sab, sa, sb):
            return (sab - sa * sb / nn) / n1

        if ratio:
            sd, qd, syd = _a(sum_d), _a(sumsq_d), _a(sum_yd)
            sd = np.where(sd > 0, sd, np.nan)
            mu_d = sd / nn
            r = sy / sd
            var = (cov(qy, sy, sy) - 2 * r * cov(syd, sy, sd) + r * r * cov(qd, sd, sd)) / (mu_d * mu_d)
        else:
            sd, r, mu_d = nn, sy / nn, 1.0
            var = cov(qy, sy, sy)
        var = np.maximum(var, 0.0)
        if any(_nan(v) for v in (sum_x, sumsq_x, sum_xy)) or (
                ratio and any(_nan(v) for v in (sum_e, sumsq_e, sum_xe, sum_ye, sum_de, sum_dx))):
            return ArmMoments(n, r, var)
        sx, qx, sxy = _a(sum_x), _a(sumsq_x), _a(sum_xy)
        if ratio:
            se, qe, sxe, sye, sde, sdx = (_a(v) for v in (sum_e, sumsq_e, sum_xe, sum_ye, sum_de, sum_dx))
            se = np.where(se > 0, se, np.nan)
            mu_e = se / nn
            rx = sx / se
            var_x = (cov(qx, sx, sx) - 2 * rx * cov(sxe, sx, se) + rx * rx * cov(qe, se, se)) / (mu_e * mu_e)
            cxy = (cov(sxy, sx, sy) - rx * cov(sye, sy, se) - r * cov(sdx, sd, sx)
                   + r * rx * cov(sde, sd, se)) / (mu_d * mu_e)
        else:
            se, rx = nn, sx / nn
            var_x = cov(qx, sx, sx)
            cxy = cov(sxy, sx, sy)
        return ArmMoments(n, r, var, sx, se, rx, np.maximum(var_x, 0.0), cxy)


def moments_from_row(row, *, ratio: bool = False) -> ArmMoments:
    """:func:`arm_moments` from a mapping / pandas row / namedtuple with the interface-B column names
    (missing columns = not given)."""
    get = row.get if hasattr(row, "get") else (lambda k, default=None: getattr(row, k, default))
    return arm_moments(*(get(k, None) for k in ALL_SUMS), ratio=ratio)


@dataclasses.dataclass(frozen=True)
class CupedDelta:
    """CUPED on the linearised metric: θ, adjusted estimates and per-user variances, variance reduction."""

    theta: np.ndarray
    adj_c: np.ndarray
    adj_t: np.ndarray
    adj_var_c: np.ndarray
    adj_var_t: np.ndarray
    variance_reduction: np.ndarray
    usable: np.ndarray  # False where the covariate has no within-arm variance (θ = 0: no adjustment)


def cuped_delta(c: ArmMoments, t: ArmMoments) -> CupedDelta | None:
    """CUPED comparison of two arms' linearised moments (control ``c``, treatment ``t``); ``None``
    when either arm has no covariate. Where the pooled covariate variance is zero θ = 0 (no adjustment,
    variance reduction 0)."""
    if not (c.has_covariate and t.has_covariate):
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        wc, wt = c.n - 1.0, t.n - 1.0
        sxx = wc * c.var_x + wt * t.var_x
        usable = np.isfinite(sxx) & (sxx > 1e-300)
        theta = np.where(usable, (wc * c.cov_xy + wt * t.cov_xy) / np.where(usable, sxx, 1.0), 0.0)
        x_bar = (c.x_sum + t.x_sum) / (c.e_sum + t.e_sum)
        adj_c = c.est - theta * np.where(usable, c.x_est - x_bar, 0.0)
        adj_t = t.est - theta * np.where(usable, t.x_est - x_bar, 0.0)
        avc = np.maximum(c.var - 2 * theta * np.where(usable, c.cov_xy, 0.0)
                         + theta**2 * np.where(usable, c.var_x, 0.0), 0.0)
        avt = np.maximum(t.var - 2 * theta * np.where(usable, t.cov_xy, 0.0)
                         + theta**2 * np.where(usable, t.var_x, 0.0), 0.0)
        raw = c.var / c.n + t.var / t.n
        vr = np.where(raw > 0, 1.0 - (avc / c.n + avt / t.n) / raw, 0.0)
    return CupedDelta(theta, adj_c, adj_t, avc, avt, vr, usable)
