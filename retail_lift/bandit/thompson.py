"""Beta-Bernoulli Thompson sampling: context-free and per customer segment.

Action probabilities are estimated by Monte Carlo: ``n_mc_draws`` joint draws from the arms'
Beta posteriors, and the probability of an arm is the share of draws in which it has the highest
sampled conversion rate. The draws use a seed fixed in the policy state (``mc_seed_``, derived from
``random_state``), so the same state always gives the same probabilities, and ``select`` samples
from exactly these probabilities (the logged propensity is the probability the arm was drawn
with). Resolution is ``1 / n_mc_draws``: an arm whose true probability of being best is below
that may get probability 0 and is then never drawn; set ``epsilon > 0`` to keep a floor.
"""

from __future__ import annotations

import numpy as np

from ..validation import as_1d_float, check_in_range, check_positive_int
from .base import BasePolicy, argmax_frequencies


def _beta_best_arm_probabilities(alpha: np.ndarray, beta: np.ndarray, n_draws: int,
                                 seed) -> np.ndarray:
    rng = np.random.default_rng(seed)
    draws = rng.beta(alpha, beta, size=(n_draws, alpha.shape[0]))
    return argmax_frequencies(draws.argmax(axis=1)[None, :], alpha.shape[0])[0]


def check_segment_ids(contexts, n_segments) -> np.ndarray:
    """Integer segment ids in ``[0, n_segments)`` (a scalar, a 1-D array or one column) as an
    ``(n, 1)`` int array: the contexts of the per-segment policies."""
    arr = np.asarray(contexts, dtype=float)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    elif arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    elif arr.ndim != 1:
        raise ValueError("contexts must be integer segment ids: a 1-D array or one column, "
                         f"got shape {arr.shape}")
    seg = as_1d_float(arr, "contexts")
    bad = seg != np.round(seg)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"contexts must be integer segment ids; first other value at position {i}: {seg[i]!r}")
    n_segments = check_positive_int(n_segments, "n_segments")
    check_in_range(seg, "contexts (segment ids)", 0, n_segments - 1)
    return seg.astype(np.int64).reshape(-1, 1)


class _BetaPriorMixin:
    """Shared prior handling: a prior is ``{"alpha": a, "beta": b}`` or ``(a, b)``, both > 0."""

    def _validate_beta_params(self) -> None:
        self._check_positive(self.alpha, "alpha")
        self._check_positive(self.beta, "beta")
        self.n_mc_draws = check_positive_int(self.n_mc_draws, "n_mc_draws")

    def _check_prior(self, prior):
        if prior is None:
            return None
        if isinstance(prior, dict):
            a, b = prior.get("alpha"), prior.get("beta")
        else:
            try:
                a, b = prior
            except (TypeError, ValueError):
                raise ValueError(f"prior must be {{'alpha': a, 'beta': b}} or (a, b), got {prior!r}") from None
        return {"alpha": self._check_positive(a, "prior alpha"), "beta": self._check_positive(b, "prior beta")}

    def _prior_ab(self, prior) -> tuple[float, float]:
        if prior is None:
            return float(self.alpha), float(self.beta)
        return prior["alpha"], prior["beta"]

    def _check_rewards(self, rewards):
        r = as_1d_float(rewards, "rewards")
        return check_in_range(r, "rewards", 0.0, 1.0)


class BernoulliTS(_BetaPriorMixin, BasePolicy):
    """Context-free Beta-Bernoulli Thompson sampling.

    Each arm's conversion rate has a ``Beta(alpha, beta)`` prior; a reward ``r`` in [0, 1] adds
    ``r`` to alpha and ``1 - r`` to beta (0/1 rewards are the usual Bernoulli update; fractional
    rewards count as fractional successes). Contexts are ignored (only their row count is used;
    ``None`` stands for one row).

    Cold start: ``add_arm(name, prior={"alpha": a, "beta": b})``; the default prior is the
    policy's ``Beta(alpha, beta)`` (uninformative ``Beta(1, 1)`` by default). Against arms whose
    rates are known to be low, a wide prior wins many draws, so the new arm gets traffic at once.
    An optimistic prior such as ``Beta(2, 1)`` gives it even more.

    Parameters
    ----------
    alpha, beta : float > 0
        Default prior of every arm.
    n_mc_draws : int
        Posterior draws of the Monte Carlo estimate of the action probabilities.
    """

    context_free = True
    randomized = True
    _state_attrs = ("alpha_", "beta_")

    def __init__(self, n_arms, arm_names=None, alpha=1.0, beta=1.0, n_mc_draws=1000, epsilon=0.0,
                 random_state=None):
        super().__init__(n_arms, arm_names=arm_names, epsilon=epsilon, random_state=random_state)
        self.alpha = alpha
        self.beta = beta
        self.n_mc_draws = n_mc_draws

    def _validate_extra_params(self):
        self._validate_beta_params()

    def _init_state(self, n_features):
        ab = np.array([self._prior_ab(p) for p in self.arm_priors_], dtype=float)
        self.alpha_ = ab[:, 0].copy()
        self.beta_ = ab[:, 1].copy()

    def _add_arm_state(self, prior):
        a, b = self._prior_ab(prior)
        self.alpha_ = np.append(self.alpha_, a)
        self.beta_ = np.append(self.beta_, b)

    def _update(self, X, actions, rewards, sample_weight=None):
        w = 1.0 if sample_weight is None else sample_weight
        self.alpha_ += np.bincount(actions, weights=w * rewards, minlength=self.n_arms)
        self.beta_ += np.bincount(actions, weights=w * (1.0 - rewards), minlength=self.n_arms)

    @property
    def posterior_mean_(self) -> np.ndarray:
        return self.alpha_ / (self.alpha_ + self.beta_)

    def _probabilities(self, X):
        p = self._cached("p", lambda: _beta_best_arm_probabilities(
            self.alpha_, self.beta_, self.n_mc_draws, self.mc_seed_))
        return np.broadcast_to(p, (X.shape[0], self.n_arms)).copy()


class SegmentBernoulliTS(_BetaPriorMixin, BasePolicy):
    """Beta-Bernoulli Thompson sampling with independent posteriors per customer segment.

    Contexts are **integer segment ids** in ``[0, n_segments)``: a 1-D array, or a 2-D array with a
    single column (map string segments to ids first, e.g. with ``pandas.factorize``, and keep the
    mapping with the policy version). Each (segment, arm) cell has its own ``Beta`` posterior,
    updated as in :class:`BernoulliTS`. The Monte Carlo estimate for a segment uses a seed derived
    from ``mc_seed_`` and the segment id, so a segment's probabilities never depend on which other
    segments are in the same call.

    Cold start: ``add_arm`` gives the new arm the prior in every segment.
    """

    randomized = True
    uses_segments = True
    _state_attrs = ("alpha_", "beta_")

    def __init__(self, n_arms, n_segments, arm_names=None, alpha=1.0, beta=1.0, n_mc_draws=1000,
                 epsilon=0.0, random_state=None):
        super().__init__(n_arms, arm_names=arm_names, epsilon=epsilon, random_state=random_state)
        self.n_segments = n_segments
        self.alpha = alpha
        self.beta = beta
        self.n_mc_draws = n_mc_draws

    def _validate_extra_params(self):
        self.n_segments = check_positive_int(self.n_segments, "n_segments")
        self._validate_beta_params()

    def _check_contexts(self, contexts, n=None):
        return check_segment_ids(contexts, self.n_segments)

    def _init_state(self, n_features):
        ab = np.array([self._prior_ab(p) for p in self.arm_priors_], dtype=float)
        self.alpha_ = np.tile(ab[:, 0], (self.n_segments, 1))
        self.beta_ = np.tile(ab[:, 1], (self.n_segments, 1))

    def _add_arm_state(self, prior):
        a, b = self._prior_ab(prior)
        self.alpha_ = np.hstack([self.alpha_, np.full((self.n_segments, 1), a)])
        self.beta_ = np.hstack([self.beta_, np.full((self.n_segments, 1), b)])

    def _update(self, X, actions, rewards, sample_weight=None):
        w = 1.0 if sample_weight is None else sample_weight
        cell = X[:, 0] * self.n_arms + actions
        size = self.n_segments * self.n_arms
        self.alpha_ += np.bincount(cell, weights=w * rewards, minlength=size).reshape(self.n_segments, self.n_arms)
        self.beta_ += np.bincount(cell, weights=w * (1.0 - rewards), minlength=size).reshape(self.n_segments,
                                                                                           self.n_arms)

    @property
    def posterior_mean_(self) -> np.ndarray:
        """``(n_segments, n_arms)`` posterior mean conversion rates."""
        return self.alpha_ / (self.alpha_ + self.beta_)

    def _segment_probabilities(self, s: int) -> np.ndarray:
        return self._cached(f"p{s}", lambda: _beta_best_arm_probabilities(
            self.alpha_[s], self.beta_[s], self.n_mc_draws, [self.mc_seed_, s]))

    def _probabilities(self, X):
        seg = X[:, 0]
        out = np.empty((len(seg), self.n_arms))
        for s in np.unique(seg):
            out[seg == s] = self._segment_probabilities(int(s))
        return out
