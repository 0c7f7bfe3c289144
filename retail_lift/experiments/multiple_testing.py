r"""Multiple-comparison adjustments of p-values (several metrics or variants in one experiment).

Both functions return *adjusted* p-values in the input order: reject hypothesis ``i`` at level
``alpha`` when ``adjusted[i] < alpha`` (statsmodels rejects at ``<=``; the two agree except at ties
with alpha). The definitions match ``statsmodels.stats.multitest.multipletests`` with
``method="holm"`` and ``method="fdr_bh"``.
"""

from __future__ import annotations

import numpy as np

from retail_lift.validation import check_probabilities

__all__ = ["benjamini_hochberg", "holm"]


def _check(p_values) -> np.ndarray:
    p = check_probabilities(p_values, "p_values")
    if p.size == 0:
        raise ValueError("p_values must contain at least one p-value")
    return p


def holm(p_values) -> np.ndarray:
    r"""Holm (1979) step-down adjusted p-values; controls the family-wise error rate.

    Parameters
    ----------
    p_values : array_like
        Unadjusted p-values in [0, 1], one-dimensional.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, in the input order.

    Notes
    -----
    With the sorted p-values :math:`p_{(1)} \le \dots \le p_{(m)}`,

    .. math::

        \tilde p_{(i)} = \min\Bigl\{1,\ \max_{j \le i} (m - j + 1)\, p_{(j)}\Bigr\}.

    Valid under any dependence between the tests.

    References
    ----------
    Holm, S. (1979). A simple sequentially rejective multiple test procedure. *Scandinavian Journal of
    Statistics* 6(2), 65–70.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03, 0.005]).round(3).tolist()
    [0.03, 0.06, 0.06, 0.02]
    """
    p = _check(p_values)
    m = p.size
    order = np.argsort(p, kind="mergesort")
    adj_sorted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj_sorted
    return out


def benjamini_hochberg(p_values) -> np.ndarray:
    r"""Benjamini–Hochberg (1995) step-up adjusted p-values ("q-values"); controls the FDR.

    Parameters
    ----------
    p_values : array_like
        Unadjusted p-values in [0, 1], one-dimensional.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, in the input order.

    Notes
    -----
    With the sorted p-values :math:`p_{(1)} \le \dots \le p_{(m)}`,

    .. math::

        \tilde p_{(i)} = \min\Bigl\{1,\ \min_{j \ge i} \frac{m}{j}\, p_{(j)}\Bigr\}.

    Controls the false discovery rate at level alpha for independent or positively dependent
    (PRDS) tests.

    References
    ----------
    Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate: a practical and
    powerful approach to multiple testing. *JRSS B* 57(1), 289–300.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.005]).round(3).tolist()
    [0.02, 0.04, 0.04, 0.02]
    """
    p = _check(p_values)
    m = p.size
    order = np.argsort(p, kind="mergesort")
    scaled = p[order] * (m / np.arange(1, m + 1))
    adj_sorted = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    out = np.empty(m)
    out[order] = adj_sorted
    return out
