"""Context-free epsilon-greedy and uniform-random policies."""

from __future__ import annotations

import numpy as np

from .base import BasePolicy


class EpsilonGreedy(BasePolicy):
    """Context-free epsilon-greedy on per-arm mean rewards.

    With probability ``1 - epsilon`` play the arm with the highest mean reward (ties share the
    mass), otherwise a uniformly random arm, so
    ``action_probabilities = (1 - epsilon) * greedy_one_hot + epsilon / n_arms`` (exact, no Monte
    Carlo). Rewards may be any real numbers. Contexts are ignored (only their row count is used;
    ``None`` stands for one row).

    Cold start: an arm with no observations (and no prior pseudo-observations) counts as best, so
    a new arm takes the greedy share until its first reward is seen.

    Parameters
    ----------
    prior : dict ``{"mean": m, "count": c}`` or ``(m, c)``, optional
        Pseudo-observations given to every arm: ``c`` rewards of mean ``m``. Default: none.
        ``add_arm(name, prior=...)`` takes the same form for one arm.
    """

    context_free = True
    _state_attrs = ("sums_", "counts_")

    def __init__(self, n_arms, arm_names=None, epsilon=0.1, prior=None, random_state=None):
        super().__init__(n_arms, arm_names=arm_names, epsilon=epsilon, random_state=random_state)
        self.prior = prior

    def _validate_extra_params(self) -> None:
        self._normalise_prior(self.prior)

    @staticmethod
    def _normalise_prior(prior):
        if prior is None:
            return None
        if isinstance(prior, dict):
            mean, count = prior.get("mean"), prior.get("count")
        else:
            try:
                mean, count = prior
            except (TypeError, ValueError):
                raise ValueError(f"prior must be {{'mean': m, 'count': c}} or (m, c), got {prior!r}") from None
        try:
            mean, count = float(mean), float(count)
        except (TypeError, ValueError):
            raise ValueError(f"prior mean and count must be numbers, got {prior!r}") from None
        if not np.isfinite(mean) or not np.isfinite(count) or count < 0:
            raise ValueError(f"prior needs a finite mean and a count >= 0, got {prior!r}")
        return {"mean": mean, "count": count}

    def _check_prior(self, prior):
        return self._normalise_prior(prior)

    def _prior_stats(self, prior):
        prior = prior if prior is not None else self._normalise_prior(self.prior)
        if prior is None:
            return 0.0, 0.0
        return prior["mean"] * prior["count"], prior["count"]

    def _init_state(self, n_features):
        stats = np.array([self._prior_stats(p) for p in self.arm_priors_], dtype=float).reshape(-1, 2)
        self.sums_ = stats[:, 0].copy()
        self.counts_ = stats[:, 1].copy()

    def _add_arm_state(self, prior):
        s, c = self._prior_stats(prior)
        self.sums_ = np.append(self.sums_, s)
        self.counts_ = np.append(self.counts_, c)

    def _update(self, X, actions, rewards, sample_weight=None):
        if sample_weight is None:
            self.sums_ += np.bincount(actions, weights=rewards, minlength=self.n_arms)
            self.counts_ += np.bincount(actions, minlength=self.n_arms)
        else:
            self.sums_ += np.bincount(actions, weights=sample_weight * rewards, minlength=self.n_arms)
            self.counts_ += np.bincount(actions, weights=sample_weight, minlength=self.n_arms)

    @property
    def means_(self) -> np.ndarray:
        """Estimated mean reward per arm (``inf`` for an arm without observations)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.counts_ > 0, self.sums_ / np.where(self.counts_ > 0, self.counts_, 1.0),
                            np.inf)

    def _probabilities(self, X):
        means = self.means_
        top = means.max()
        if np.isinf(top):
            greedy = np.isinf(means).astype(float)
        else:
            greedy = (means >= top - 1e-12 * max(1.0, abs(top))).astype(float)
        greedy /= greedy.sum()
        return np.broadcast_to(greedy, (X.shape[0], self.n_arms)).copy()


class Random(BasePolicy):
    """Uniform random policy (every arm with probability ``1 / n_arms``): the usual logging policy
    of an exploration bucket. Learns nothing; contexts are ignored."""

    context_free = True

    def __init__(self, n_arms, arm_names=None, random_state=None):
        # no ``epsilon``: the policy is already uniform
        self.n_arms = n_arms
        self.arm_names = arm_names
        self.random_state = random_state

    def _init_state(self, n_features):
        pass

    def _add_arm_state(self, prior):
        pass

    def _update(self, X, actions, rewards, sample_weight=None):
        pass

    def _probabilities(self, X):
        return np.full((X.shape[0], self.n_arms), 1.0 / self.n_arms)
