r"""The documented decision rule: turn a test result into a verdict.

Verdicts
--------
``"ship"``          roll the treatment out.
``"do not ship"``   stop the experiment and keep control.
``"keep running"``  no decision yet; collect more data.
``"invalid: SRM"``  the assignment counts do not match the design (sample-ratio mismatch). The
                    experiment gets **no** ship / no-ship verdict at all: the randomisation or logging
                    is broken, every metric is suspect, and more data will not fix it. Find the cause,
                    fix it and restart the experiment.

Rule (applied in this order)
----------------------------
1. **SRM**: if the SRM check flags (``p < srm_threshold``, default 0.001) → ``"invalid: SRM"``.
   Unless an SRM result is passed, the check is run here on the result's ``n_a, n_b`` against
   ``expected_split``, so it can never be skipped by accident.
2. The p-value used is ``p_value`` if given (pass the Holm / Benjamini–Hochberg *adjusted* p-value
   when several metrics or variants are tested), else the result's own. ``significant`` means
   ``p < alpha``; its direction is the sign of the effect (``higher_is_better=False`` flips it, for
   metrics like unsubscribe rate).
3. **Fixed-horizon results** (:func:`two_proportion_test`, :func:`welch_test`, :func:`cuped`) are
   only valid at the planned sample size:

   * before the planned users per arm are reached: significant *harmful* → ``"do not ship"`` (stopping
     early for harm can only cause a missed neutral change, never a bad launch); otherwise
     ``"keep running"`` – an interim "significant win" is not trusted because peeking inflates
     false positives;
   * at or after the planned size: significant beneficial → ``"ship"``; anything else (significant
     harm, or no detectable effect) → ``"do not ship"``.
4. **Sequential results** (:func:`msprt_test`, :func:`msprt_means_test`) are valid at every look:
   significant beneficial → ``"ship"``; significant harmful → ``"do not ship"``; not significant
   at or after the planned (maximum) size → ``"do not ship"``; else ``"keep running"``.

The "users per arm" of a result is ``min(n_a, n_b)``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._common import Result, check_alpha
from .cuped import CupedResult
from .frequentist import TwoProportionResult, WelchResult
from .sequential import MsprtResult
from .srm import SrmResult, srm_test

__all__ = ["DO_NOT_SHIP", "Decision", "INVALID_SRM", "KEEP_RUNNING", "SHIP", "decide"]

SHIP = "ship"
DO_NOT_SHIP = "do not ship"
KEEP_RUNNING = "keep running"
INVALID_SRM = "invalid: SRM"


@dataclasses.dataclass(frozen=True)
class Decision(Result):
    """Verdict of :func:`decide` with the evidence that produced it."""

    verdict: str
    reason: str
    p_value: float
    abs_effect: float
    significant: bool
    direction: str
    srm_flagged: bool
    srm_p_value: float
    users_per_arm: int
    planned_users_per_arm: int
    sample_size_reached: bool
    sequential: bool
    alpha: float


def _last(v, name: str, series_ok: bool) -> float:
    """The scalar value of a result field (the latest look for a sequential series)."""
    arr = np.asarray(v, dtype=float)
    if arr.ndim == 0:
        return float(arr)
    if series_ok and arr.ndim == 1 and arr.size > 0:
        return float(arr[-1])
    raise ValueError(f"result.{name} must be a scalar (or, for sequential results, one series of looks); "
                     f"got shape {arr.shape} – call decide() once per experiment")


def decide(result, *, planned_users_per_arm: int, alpha: float = 0.05, p_value: float | None = None,  # noqa: C901, PLR0912 - one rule per verdict, in the documented order
           srm=None, expected_split=(0.5, 0.5), srm_threshold: float = 0.001,
           higher_is_better: bool = True) -> Decision:
    r"""Apply the documented decision rule (see the module docstring) to one experiment.

    Parameters
    ----------
    result : TwoProportionResult, WelchResult, CupedResult or MsprtResult
        The primary-metric test of one experiment (an mSPRT result may hold a series of looks;
        the latest look is used).
    planned_users_per_arm : int
        Planned sample size per arm from the power analysis (for sequential tests, the maximum).
    alpha : float, default 0.05
        Significance level.
    p_value : float, optional
        Multiplicity-adjusted p-value to use instead of ``result.p_value``.
    srm : SrmResult or bool, optional
        A precomputed SRM check (or a boolean flag). Default: run :func:`srm_test` on
        ``[n_a, n_b]`` with ``expected_split`` and ``srm_threshold``.
    expected_split : (float, float), default (0.5, 0.5)
        Designed allocation of control and treatment, for the default SRM check.
    srm_threshold : float, default 0.001
        SRM p-value threshold for the default SRM check.
    higher_is_better : bool, default True
        Direction of improvement of the metric.

    Returns
    -------
    Decision
        ``verdict`` (one of ``"ship"``, ``"do not ship"``, ``"keep running"``, ``"invalid: SRM"``),
        a human-readable ``reason`` and the evidence used.
    """
    if not isinstance(result, (TwoProportionResult, WelchResult, CupedResult, MsprtResult)):
        raise ValueError("result must be a TwoProportionResult, WelchResult, CupedResult or MsprtResult, "
                         f"got {type(result).__name__}")
    if (isinstance(planned_users_per_arm, bool)
            or not isinstance(planned_users_per_arm, (int, np.integer)) or planned_users_per_arm <= 0):
        raise ValueError(f"planned_users_per_arm must be a positive integer, got {planned_users_per_arm!r}")
    alpha = check_alpha(alpha)
    sequential = isinstance(result, MsprtResult)

    n_a, n_b = _last(result.n_a, "n_a", sequential), _last(result.n_b, "n_b", sequential)
    effect = _last(result.abs_effect, "abs_effect", sequential)
    if p_value is None:
        p = _last(result.p_value, "p_value", sequential)
    else:
        if isinstance(p_value, bool) or not isinstance(p_value, (int, float, np.integer, np.floating)) \
                or not 0.0 <= float(p_value) <= 1.0:
            raise ValueError(f"p_value must be a number in [0, 1], got {p_value!r}")
        p = float(p_value)

    # 1. SRM
    if srm is None:
        srm_res = srm_test([n_a, n_b], expected_split, threshold=srm_threshold)
        srm_flag, srm_p = bool(srm_res.is_srm), float(srm_res.p_value)
    elif isinstance(srm, SrmResult):
        if np.ndim(srm.is_srm) != 0:
            raise ValueError("srm must describe one experiment (scalar is_srm)")
        srm_flag, srm_p = bool(srm.is_srm), float(srm.p_value)
    elif isinstance(srm, (bool, np.bool_)):
        srm_flag, srm_p = bool(srm), float("nan")
    else:
        raise ValueError(f"srm must be None, an SrmResult or a bool, got {type(srm).__name__}")

    # 2. significance and direction
    significant = p < alpha
    sign = float(np.sign(effect))
    if sequential:  # the confidence sequence gives a coherent direction once 0 is excluded
        lo = _last(result.abs_ci_low, "abs_ci_low", True)
        hi = _last(result.abs_ci_high, "abs_ci_high", True)
        if lo > 0:
            sign = 1.0
        elif hi < 0:
            sign = -1.0
    good = sign > 0 if higher_is_better else sign < 0
    bad = sign < 0 if higher_is_better else sign > 0
    direction = "none" if not significant else ("beneficial" if good else ("harmful" if bad else "none"))

    users = int(min(n_a, n_b))
    reached = users >= planned_users_per_arm
    size_txt = f"{users:,} of {planned_users_per_arm:,} planned users per arm"

    # 3./4. verdict
    if srm_flag:
        verdict = INVALID_SRM
        reason = (f"sample-ratio mismatch (SRM p = {srm_p:.2g}): assignment is broken, results are not "
                  "trustworthy; fix the cause and restart – no ship decision is made")
    elif significant and direction == "harmful":
        verdict = DO_NOT_SHIP
        reason = f"significant harmful effect (p = {p:.3g}) at {size_txt}"
    elif sequential:
        if significant and direction == "beneficial":
            verdict = SHIP
            reason = f"always-valid p = {p:.3g} < {alpha} with a beneficial effect at {size_txt}"
        elif reached:
            verdict, reason = DO_NOT_SHIP, f"no significant effect (p = {p:.3g}) at the maximum sample size"
        else:
            verdict, reason = KEEP_RUNNING, f"not yet significant (always-valid p = {p:.3g}); {size_txt}"
    elif not reached:
        verdict = KEEP_RUNNING
        reason = (f"fixed-horizon test before the planned sample size ({size_txt}); interim p-values are "
                  "not valid for shipping – wait, or use msprt_test for continuous monitoring")
    elif significant and direction == "beneficial":
        verdict, reason = SHIP, f"significant beneficial effect (p = {p:.3g} < {alpha}) at {size_txt}"
    else:
        verdict, reason = DO_NOT_SHIP, f"no significant effect (p = {p:.3g}) at the planned sample size"

    return Decision(
        verdict=verdict, reason=reason, p_value=p, abs_effect=effect, significant=bool(significant),
        direction=direction, srm_flagged=srm_flag, srm_p_value=srm_p, users_per_arm=users,
        planned_users_per_arm=int(planned_users_per_arm), sample_size_reached=bool(reached),
        sequential=sequential, alpha=alpha,
    )
