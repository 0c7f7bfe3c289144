"""Single in-process decisions: one context in, one arm with its propensity out.

Numpy only (no pandas) on the hot path. The arm is sampled from exactly the probabilities that
are returned, so ``propensity`` is what the decision ledger should record for off-policy evaluation.

The exploration floor (:func:`apply_floor`) is applied to the policy's probabilities *before* the
draw: with ``floor = f`` and ``k`` arms, every arm gets at least ``f`` and the returned (and logged)
probabilities and propensity are the floored ones, the ones the arm was actually drawn with.
"""

from __future__ import annotations

import numpy as np

from .base import BasePolicy

__all__ = ["DEFAULT_FLOOR", "apply_floor", "check_floor", "draw_arm", "score_decision"]

#: the decision API's default exploration floor: every arm of the served version gets at least 1 %
DEFAULT_FLOOR = 0.01


def check_floor(floor, n_arms: int) -> float:
    """``floor`` as a float in ``[0, 1 / n_arms]`` (``floor * n_arms <= 1``), else ``ValueError``
    naming ``floor``."""
    if isinstance(floor, bool) or not isinstance(floor, (int, float, np.integer, np.floating)) \
            or not np.isfinite(floor) or floor < 0:
        raise ValueError(f"floor must be a number >= 0, got {floor!r}")
    if float(floor) * int(n_arms) > 1.0 + 1e-12:
        raise ValueError(f"floor must be at most 1 / number of arms = 1/{n_arms} = {1.0 / n_arms:.6g} "
                         f"(floor x arms <= 1), got {floor!r}")
    return float(floor)


def apply_floor(probs, floor: float) -> np.ndarray:
    """``(1 - k * floor) * p + floor`` per row of ``k`` arms: every arm gets at least ``floor``, rows
    still sum to one, and the policy's ranking is kept (``floor = 0`` returns ``probs`` unchanged).
    ``floor * k`` must not exceed 1 (:func:`check_floor`)."""
    p = np.asarray(probs, dtype=float)
    if floor <= 0.0:
        return p
    k = p.shape[-1]
    return (1.0 - k * floor) * p + floor


def draw_arm(probs: np.ndarray, gen: np.random.Generator) -> int:
    """One arm index drawn from the 1-D ``probs`` (inverse CDF, one uniform draw): an arm of
    probability 0 is never drawn (see ``base.sample_from_probabilities``)."""
    cdf = np.cumsum(probs)
    return min(int(np.searchsorted(cdf, gen.random() * cdf[-1], side="right")), len(probs) - 1)


def score_decision(policy: BasePolicy, context, rng=None, floor: float = 0.0) -> dict:
    """Choose an arm for one customer.

    Parameters
    ----------
    policy : a fitted (or cold-start) policy.
    context : 1-D feature vector for contextual policies; a segment id for
        :class:`~retail_lift.bandit.SegmentBernoulliTS`; ignored (may be ``None``) by context-free
        policies.
    rng : ``None`` (the policy's own stream), an int seed or a ``numpy.random.Generator``.
    floor : exploration floor per arm (:func:`apply_floor`; ``floor * n_arms <= 1``), default 0.

    Returns
    -------
    dict with ``arm`` (int index), ``arm_name`` (str), ``propensity`` (float, the probability the
    arm was drawn with) and ``probabilities`` (list of ``n_arms`` floats, equal to
    ``policy.action_probabilities`` for this context, floored).
    """
    if context is None:
        x = None
    else:
        x = np.asarray(context, dtype=float)
        if x.ndim <= 1:
            x = x.reshape(1, -1)
        elif x.shape[0] != 1:
            raise ValueError(f"score_decision takes one context, got shape {x.shape}")
    probs = apply_floor(policy.action_probabilities(x)[0], floor)
    arm = draw_arm(probs, policy._resolve_rng(rng))
    names = policy.arm_names
    return {
        "arm": arm,
        "arm_name": names[arm] if names is not None else f"arm_{arm}",
        "propensity": float(probs[arm]),
        "probabilities": probs.tolist(),
    }
