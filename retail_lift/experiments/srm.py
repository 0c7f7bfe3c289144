r"""Sample-ratio mismatch (SRM) check: chi-square goodness of fit of the assignment counts."""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import stats

from ._common import Result, as_float_array, check_alpha, check_counts, shape_out

__all__ = ["SrmResult", "srm_test"]


@dataclasses.dataclass(frozen=True)
class SrmResult(Result):
    """Result of :func:`srm_test` (arrays when several experiments are checked at once)."""

    observed: list
    expected: list
    chi2: float
    df: int
    p_value: float
    is_srm: bool
    threshold: float


def srm_test(observed_counts, expected_ratios=None, threshold: float = 0.001) -> SrmResult:
    r"""Chi-square goodness-of-fit test of the users per variant against the designed split.

    Parameters
    ----------
    observed_counts : array_like of int
        Users assigned to each variant, shape ``(k,)`` for one experiment or ``(m, k)`` for ``m``
        experiments (one row each). ``k >= 2``.
    expected_ratios : array_like of float, optional
        Designed allocation, shape ``(k,)``, any positive scale (``(50, 50)`` and ``(0.5, 0.5)`` are the
        same). Default: equal split.
    threshold : float, default 0.001
        SRM is flagged when ``p_value < threshold``. The low default is deliberate: the check runs on
        every experiment, assignment counts are huge, and a flag invalidates the experiment.

    Returns
    -------
    SrmResult
        ``chi2``, ``df = k - 1``, ``p_value`` and ``is_srm``, plus the observed and expected counts.

    Notes
    -----
    With :math:`N = \sum_j O_j` and :math:`E_j = N r_j / \sum_i r_i`,

    .. math::

        \chi^2 = \sum_{j=1}^{k} \frac{(O_j - E_j)^2}{E_j}, \qquad p = 1 - F_{\chi^2_{k-1}}(\chi^2).

    For two variants this equals the square of the one-sample proportion z statistic.

    References
    ----------
    Fabijan, A., Gupchup, J., Gupta, S., Omhover, J., Qin, W., Vermeer, L. & Dmitriev, P. (2019).
    Diagnosing sample ratio mismatch in online controlled experiments. *KDD '19*, 2156–2164.
    Kohavi, R., Tang, D. & Xu, Y. (2020). *Trustworthy Online Controlled Experiments*, ch. 21.
    """
    threshold = check_alpha(threshold, "threshold")
    obs = check_counts(observed_counts, "observed_counts")
    if obs.ndim not in (1, 2):
        raise ValueError(f"observed_counts must have shape (k,) or (m, k), got shape {obs.shape}")
    k = obs.shape[-1]
    if k < 2:
        raise ValueError(f"observed_counts needs at least 2 variants, got {k}")
    if expected_ratios is None:
        ratios = np.full(k, 1.0 / k)
    else:
        ratios = as_float_array(expected_ratios, "expected_ratios")
        if ratios.ndim != 1 or ratios.shape[0] != k:
            raise ValueError(f"expected_ratios must have shape ({k},) to match observed_counts, "
                             f"got shape {ratios.shape}")
        if np.any(ratios <= 0):
            i = int(np.flatnonzero(ratios <= 0)[0])
            raise ValueError(f"expected_ratios must be positive; position {i} is {ratios[i]!r}")
        ratios = ratios / ratios.sum()
    total = obs.sum(axis=-1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError("observed_counts must contain at least one user per experiment (row)")
    expected = total * ratios
    chi2 = ((obs - expected) ** 2 / expected).sum(axis=-1)
    df = k - 1
    p = stats.chi2.sf(chi2, df)
    scalar = obs.ndim == 1
    return SrmResult(
        observed=obs.astype(int).tolist() if scalar else obs.astype(int),
        expected=expected.tolist() if scalar else expected,
        chi2=shape_out(chi2, scalar), df=df, p_value=shape_out(p, scalar),
        is_srm=shape_out(p < threshold, scalar), threshold=threshold,
    )
