"""Single in-process decisions: one context in, one arm with its propensity out.

Numpy only (no pandas) on the hot path. The arm is sampled from exactly the probabilities that
are returned, so ``propensity`` is what the decision ledger should record for off-policy evaluation.
"""

from __future__ import annotations

import numpy as np

from .base import BasePolicy


def score_decision(policy: BasePolicy, context, rng=None) -> dict:
    """Choose an arm for one customer.

    Parameters
    ----------
    policy : a fitted (or cold-start) policy.
    context : 1-D feature vector for contextual policies; a segment id for
        :class:`~retail_lift.bandit.SegmentBernoulliTS`; ignored (may be ``None``) by context-free
        policies.
    rng : ``None`` (the policy's own stream), an int seed or a ``numpy.random.Generator``.

    Returns
    -------
    dict with ``arm`` (int index), ``arm_name`` (str), ``propensity`` (float, the probability the
    arm was drawn with) and ``probabilities`` (list of ``n_arms`` floats, equal to
    ``policy.action_probabilities`` for this context).
    """
    if context is None:
        x = None
    else:
        x = np.asarray(context, dtype=float)
        if x.ndim <= 1:
            x = x.reshape(1, -1)
        elif x.shape[0] != 1:
            raise ValueError(f"score_decision takes one context, got shape {x.shape}")
    probs = policy.action_probabilities(x)[0]
    gen = policy._resolve_rng(rng)
    cdf = np.cumsum(probs)
    # first arm whose cdf exceeds u: never an arm of probability 0 (see base.sample_from_probabilities)
    arm = min(int(np.searchsorted(cdf, gen.random() * cdf[-1], side="right")), len(probs) - 1)
    names = policy.arm_names
    return {
        "arm": arm,
        "arm_name": names[arm] if names is not None else f"arm_{arm}",
        "propensity": float(probs[arm]),
        "probabilities": probs.tolist(),
    }
