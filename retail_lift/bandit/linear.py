"""Linear contextual bandits with per-arm ridge posteriors: LinUCB and linear Thompson sampling.

Each arm ``k`` keeps the ridge / Gaussian statistics ``A_k = P_k + sum x x'`` and
``b_k = P_k m_k + sum r x`` where ``P_k = precision * I`` and ``m_k`` are the arm's prior precision
and prior mean; the coefficient estimate is ``theta_k = A_k^{-1} b_k``. With ``fit_intercept`` a
constant 1 is appended to every context, so coefficient vectors are ``[context columns...,
intercept]``. Rewards may be any real numbers (0/1 conversions or revenue).

``fit`` on a ledger and ``partial_fit`` on the same rows in any chunks give the same state (the
statistics are sums).

Cold start: ``add_arm(name, prior={"precision": p, "mean": [...]})``; by default the new arm gets
the identity prior scaled by ``reg_lambda`` and a zero mean, i.e. wide uncertainty, so LinUCB's
bonus (or LinTS's posterior spread) sends it traffic right away.
"""

from __future__ import annotations

import numpy as np

from ..validation import check_positive_int
from .base import BasePolicy, argmax_probabilities, gaussian_thompson_probabilities


class _GaussianPriorMixin:
    """Design matrix (optional intercept) and per-arm Gaussian priors ``N(mean, (precision I)^-1)``,
    shared by the linear policies and :class:`~retail_lift.bandit.logistic.LogisticTS`."""

    def _validate_design_params(self):
        self._check_positive(self.reg_lambda, "reg_lambda")
        if not isinstance(self.fit_intercept, (bool, np.bool_)):
            raise ValueError(f"fit_intercept must be a bool, got {self.fit_intercept!r}")

    def _design(self, X: np.ndarray) -> np.ndarray:
        if self.fit_intercept:
            return np.hstack([X, np.ones((X.shape[0], 1))])
        return X

    @property
    def n_coef_(self) -> int:
        """Length of a coefficient vector: context columns, plus one with ``fit_intercept``."""
        return self.n_features_ + int(bool(self.fit_intercept))

    def _check_prior(self, prior):
        if prior is None:
            return None
        if not isinstance(prior, dict) or not set(prior) <= {"precision", "mean"}:
            raise ValueError(f"prior must be a dict with keys 'precision' and/or 'mean', got {prior!r}")
        out = {"precision": self._check_positive(prior.get("precision", self.reg_lambda), "prior precision")}
        if prior.get("mean") is not None:
            mean = np.asarray(prior["mean"], dtype=float)
            if mean.ndim != 1 or not np.isfinite(mean).all():
                raise ValueError(f"prior mean must be a finite 1-D vector, got {prior['mean']!r}")
            if getattr(self, "n_features_", None) is not None and len(mean) != self.n_coef_:
                raise ValueError(f"prior mean must have {self.n_coef_} entries (context columns"
                                 f"{' + intercept' if self.fit_intercept else ''}), got {len(mean)}")
            out["mean"] = mean.tolist()
        return out

    def _prior_arrays(self, prior) -> tuple[np.ndarray, np.ndarray]:
        """``(precision matrix, mean vector)`` of one arm's prior."""
        d = self.n_coef_
        precision = float(self.reg_lambda) if prior is None else prior["precision"]
        mean = np.zeros(d)
        if prior is not None and prior.get("mean") is not None:
            mean = np.asarray(prior["mean"], dtype=float)
            if len(mean) != d:
                raise ValueError(f"prior mean must have {d} entries, got {len(mean)}")
        return precision * np.eye(d), mean


class _RidgeArms(_GaussianPriorMixin, BasePolicy):
    """Per-arm Bayesian ridge regression state shared by LinUCB and LinTS (abstract)."""

    _state_attrs = ("A_", "b_")

    def _validate_extra_params(self):
        self._validate_design_params()

    # ------------------------------------------------------------ state
    def _init_state(self, n_features):
        pairs = [self._prior_arrays(p) for p in self.arm_priors_]
        self.A_ = np.stack([P for P, _ in pairs])
        self.b_ = np.stack([P @ m for P, m in pairs])
        self._refresh(range(self.n_arms))

    def _after_load(self):
        self.A_ = np.asarray(self.A_, dtype=float)
        self.b_ = np.asarray(self.b_, dtype=float)
        self._refresh(range(self.n_arms))

    def _add_arm_state(self, prior):
        A0, m0 = self._prior_arrays(prior)
        b0 = A0 @ m0
        self.A_ = np.concatenate([self.A_, A0[None]])
        self.b_ = np.concatenate([self.b_, b0[None]])
        self.A_inv_ = np.concatenate([self.A_inv_, np.zeros_like(A0)[None]])
        self.theta_ = np.concatenate([self.theta_, np.zeros_like(b0)[None]])
        self._refresh([self.n_arms])  # n_arms is incremented by add_arm after this hook

    def _refresh(self, arms) -> None:
        arms = list(arms)
        if not hasattr(self, "A_inv_") or self.A_inv_.shape != self.A_.shape:
            self.A_inv_ = np.zeros_like(self.A_)
            self.theta_ = np.zeros_like(self.b_)
        eye = np.eye(self.A_.shape[1])
        for k in arms:
            inv = np.linalg.solve(self.A_[k], eye)
            self.A_inv_[k] = 0.5 * (inv + inv.T)
            self.theta_[k] = self.A_inv_[k] @ self.b_[k]

    def _update(self, X, actions, rewards, sample_weight=None):
        Xd = self._design(X)
        arms = np.unique(actions)
        for k in arms:
            m = actions == k
            Xk = Xd[m]
            if sample_weight is None:
                self.A_[k] += Xk.T @ Xk
                self.b_[k] += Xk.T @ rewards[m]
            else:
                wk = sample_weight[m]
                self.A_[k] += (Xk * wk[:, None]).T @ Xk
                self.b_[k] += Xk.T @ (wk * rewards[m])
        self._refresh(arms)

    # ------------------------------------------------------------ predictions
    def expected_rewards(self, contexts) -> np.ndarray:
        """``(n, n_arms)`` posterior-mean reward ``x' theta_k`` of every arm."""
        X = self._check_contexts(contexts)
        self._ensure_state(X)
        return self._design(X) @ self.theta_.T

    def _mean_and_sd(self, Xd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = Xd @ self.theta_.T
        quad = (np.matmul(Xd[None], self.A_inv_) * Xd[None]).sum(axis=2).T
        return mean, np.sqrt(np.maximum(quad, 0.0))


class LinUCB(_RidgeArms):
    """LinUCB (Li et al. 2010, disjoint model): play ``argmax_k x'theta_k + alpha * sqrt(x' A_k^{-1} x)``.

    The policy is deterministic: ``action_probabilities`` is the one-hot of the argmax (exact ties
    share the mass) mixed with ``epsilon`` uniform exploration, so every arm keeps a propensity of at
    least ``epsilon / n_arms`` when ``epsilon > 0``.

    Parameters
    ----------
    alpha : float >= 0
        Width of the confidence bonus.
    reg_lambda : float > 0
        Ridge penalty = prior precision of every arm's coefficients.
    fit_intercept : bool
        Append a constant feature.
    """

    def __init__(self, n_arms, arm_names=None, alpha=1.0, reg_lambda=1.0, fit_intercept=True, epsilon=0.0,
                 random_state=None):
        super().__init__(n_arms, arm_names=arm_names, epsilon=epsilon, random_state=random_state)
        self.alpha = alpha
        self.reg_lambda = reg_lambda
        self.fit_intercept = fit_intercept

    def _validate_extra_params(self):
        super()._validate_extra_params()
        a = self.alpha
        if isinstance(a, bool) or not isinstance(a, (int, float, np.integer, np.floating)) \
                or not np.isfinite(a) or a < 0:
            raise ValueError(f"alpha must be a finite number >= 0, got {a!r}")

    def ucb(self, contexts) -> np.ndarray:
        """``(n, n_arms)`` upper confidence bounds."""
        X = self._check_contexts(contexts)
        self._ensure_state(X)
        mean, sd = self._mean_and_sd(self._design(X))
        return mean + self.alpha * sd

    def _probabilities(self, X):
        mean, sd = self._mean_and_sd(self._design(X))
        return argmax_probabilities(mean + self.alpha * sd)


class LinTS(_RidgeArms):
    """Linear Thompson sampling (Agrawal & Goyal 2013): ``theta_k ~ N(theta_hat_k, v^2 A_k^{-1})``.

    Action probabilities are the Monte Carlo share of ``n_mc_draws`` joint posterior draws in which
    each arm has the highest ``x' theta_k``. The draws come from the fixed seed ``mc_seed_`` and are
    shared by all rows, so one row's probabilities do not depend on the rest of the batch; the
    resolution is ``1 / n_mc_draws``. ``select`` samples from these probabilities.

    Parameters
    ----------
    v : float > 0
        Posterior scale (exploration strength).
    reg_lambda : float > 0
        Ridge penalty = prior precision.
    n_mc_draws : int
        Posterior draws of the Monte Carlo estimate.
    """

    randomized = True

    def __init__(self, n_arms, arm_names=None, v=1.0, reg_lambda=1.0, fit_intercept=True, n_mc_draws=1000,
                 epsilon=0.0, random_state=None):
        super().__init__(n_arms, arm_names=arm_names, epsilon=epsilon, random_state=random_state)
        self.v = v
        self.reg_lambda = reg_lambda
        self.fit_intercept = fit_intercept
        self.n_mc_draws = n_mc_draws

    def _validate_extra_params(self):
        super()._validate_extra_params()
        self._check_positive(self.v, "v")
        self.n_mc_draws = check_positive_int(self.n_mc_draws, "n_mc_draws")

    def posterior_draws(self) -> np.ndarray:
        """The ``(n_mc_draws, n_arms, n_coef)`` coefficient draws behind ``action_probabilities``."""
        def build():
            rng = np.random.default_rng(self.mc_seed_)
            z = rng.standard_normal((self.n_mc_draws, self.n_arms, self.n_coef_))
            chol = np.linalg.cholesky(self.A_inv_)  # (K, d, d)
            return self.theta_[None] + self.v * np.einsum("kij,nkj->nki", chol, z)
        return self._cached("draws", build)

    def _probabilities(self, X):
        return gaussian_thompson_probabilities(self._design(X), self.posterior_draws())
