"""Logistic Thompson sampling with a Laplace-approximated Bayesian logistic regression per arm.

Chapelle & Li (2011), "An Empirical Evaluation of Thompson Sampling", Algorithm 3: each arm's
weights have a Gaussian prior ``N(m, Q^{-1})``; a batch of 0/1 rewards ``y`` with contexts ``x``
updates it to the Laplace approximation of the posterior,

    w*  = argmin_w  1/2 (w - m)' Q (w - m) + sum_j log(1 + exp(-s_j w'x_j)),   s_j = 2 y_j - 1
    m  <- w*,   Q <- Q + sum_j p_j (1 - p_j) x_j x_j',   p_j = sigmoid(w*'x_j).

The paper keeps only the diagonal of ``Q`` (``diagonal=True`` does the same); by default the full
precision matrix is kept, which costs little at promotion-model sizes and handles correlated
features. ``w*`` is found by Newton's method with backtracking (the objective is strictly convex).

``fit`` makes a single Laplace update from the prior with the whole ledger, i.e. the Laplace
approximation of the exact batch posterior (its mean equals L2-penalised logistic regression with
penalty ``reg_lambda``). ``partial_fit`` makes one sequential update per call, with the current
approximation as the prior, as in the paper's online algorithm; chunked ``partial_fit`` is
therefore close to, but not identical with, ``fit``.

Thompson draws ``w_k ~ N(m_k, alpha^2 Q_k^{-1})``; the arm with the highest ``sigmoid(w_k'x)`` (the
highest ``w_k'x``) is played. Action probabilities are the Monte Carlo share of ``n_mc_draws``
joint draws won by each arm, with the fixed seed ``mc_seed_`` (see :mod:`.linear`).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from ..validation import check_binary, check_positive_int
from .base import BasePolicy, gaussian_thompson_probabilities
from .linear import _GaussianPriorMixin


def laplace_logistic_update(X: np.ndarray, y: np.ndarray, m0: np.ndarray, Q0: np.ndarray,
                            diagonal: bool = False, max_iter: int = 100,
                            tol: float = 1e-10,
                            sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One Laplace update of a Gaussian prior ``N(m0, Q0^{-1})`` with logistic observations.

    ``sample_weight`` (optional) multiplies each observation's log-likelihood (a row of weight
    ``c`` counts as ``c`` observations). Returns the posterior mode and the posterior precision
    (diagonal only when ``diagonal``).
    """
    s = 2.0 * y - 1.0
    c = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)

    def objective(w):
        z = X @ w
        dw = w - m0
        return 0.5 * dw @ Q0 @ dw + (c * np.logaddexp(0.0, -s * z)).sum()

    w = m0.copy()
    f = objective(w)
    for _ in range(max_iter):
        p = expit(X @ w)
        grad = Q0 @ (w - m0) + X.T @ (c * (p - y))
        hess = Q0 + (X * (c * p * (1.0 - p))[:, None]).T @ X
        step = np.linalg.solve(hess, grad)
        decrement = float(grad @ step)  # Newton decrement squared
        if decrement <= 2.0 * tol:  # converged: one last full step (quadratic convergence) and stop
            w = w - step
            break
        t = 1.0
        while True:
            w_new = w - t * step
            f_new = objective(w_new)
            if f_new <= f - 0.25 * t * decrement:
                break
            t *= 0.5
            if t < 1e-12:  # no further progress possible in floating point
                w_new, f_new = w, f
                break
        if w_new is w:
            break
        w, f = w_new, f_new
    p = expit(X @ w)
    if diagonal:
        Q = np.diag(np.diag(Q0) + (X**2 * (c * p * (1.0 - p))[:, None]).sum(axis=0))
    else:
        Q = Q0 + (X * (c * p * (1.0 - p))[:, None]).T @ X
    return w, 0.5 * (Q + Q.T)


class LogisticTS(_GaussianPriorMixin, BasePolicy):
    """Logistic Thompson sampling for 0/1 rewards (conversions), Chapelle & Li (2011).

    Parameters
    ----------
    alpha : float > 0
        Posterior scale of the Thompson draws (1 = the Laplace posterior; < 1 exploits more).
    reg_lambda : float > 0
        Prior precision of every weight (L2 penalty).
    fit_intercept : bool
        Append a constant feature (coefficient vectors are ``[context columns..., intercept]``).
    diagonal : bool
        Keep only the diagonal of the posterior precision (the paper's Algorithm 3).
    n_mc_draws : int
        Posterior draws of the Monte Carlo estimate of the action probabilities.
    max_iter, tol : Newton iterations and stopping tolerance (on the Newton decrement).

    Cold start: ``add_arm(name, prior={"precision": p, "mean": [...]})``, default
    ``N(0, I / reg_lambda)``: for rare conversions (large negative intercepts on the known arms),
    a wide zero-mean prior makes the new arm win many draws.
    """

    randomized = True
    _state_attrs = ("m_", "Q_")

    def __init__(self, n_arms, arm_names=None, alpha=1.0, reg_lambda=1.0, fit_intercept=True, diagonal=False,
                 n_mc_draws=1000, max_iter=100, tol=1e-10, epsilon=0.0, random_state=None):
        super().__init__(n_arms, arm_names=arm_names, epsilon=epsilon, random_state=random_state)
        self.alpha = alpha
        self.reg_lambda = reg_lambda
        self.fit_intercept = fit_intercept
        self.diagonal = diagonal
        self.n_mc_draws = n_mc_draws
        self.max_iter = max_iter
        self.tol = tol

    def _validate_extra_params(self):
        self._validate_design_params()
        self._check_positive(self.alpha, "alpha")
        self._check_positive(self.tol, "tol")
        self.n_mc_draws = check_positive_int(self.n_mc_draws, "n_mc_draws")
        self.max_iter = check_positive_int(self.max_iter, "max_iter")
        if not isinstance(self.diagonal, (bool, np.bool_)):
            raise ValueError(f"diagonal must be a bool, got {self.diagonal!r}")

    def _check_rewards(self, rewards):
        return check_binary(rewards, "rewards").astype(float)

    # ------------------------------------------------------------ state
    def _init_state(self, n_features):
        pairs = [self._prior_arrays(p) for p in self.arm_priors_]
        self.Q_ = np.stack([Q for Q, _ in pairs])
        self.m_ = np.stack([m for _, m in pairs])

    def _after_load(self):
        self.Q_ = np.asarray(self.Q_, dtype=float)
        self.m_ = np.asarray(self.m_, dtype=float)

    def _add_arm_state(self, prior):
        Q0, m0 = self._prior_arrays(prior)
        self.Q_ = np.concatenate([self.Q_, Q0[None]])
        self.m_ = np.concatenate([self.m_, m0[None]])

    def _update(self, X, actions, rewards, sample_weight=None):
        Xd = self._design(X)
        for k in np.unique(actions):
            sel = actions == k
            self.m_[k], self.Q_[k] = laplace_logistic_update(
                Xd[sel], rewards[sel], self.m_[k], self.Q_[k], diagonal=bool(self.diagonal),
                max_iter=self.max_iter, tol=float(self.tol),
                sample_weight=None if sample_weight is None else sample_weight[sel])

    # ------------------------------------------------------------ predictions
    def expected_rewards(self, contexts) -> np.ndarray:
        """``(n, n_arms)`` conversion probability at the posterior mode, ``sigmoid(x' m_k)``."""
        X = self._check_contexts(contexts)
        self._ensure_state(X)
        return expit(self._design(X) @ self.m_.T)

    def posterior_draws(self) -> np.ndarray:
        """The ``(n_mc_draws, n_arms, n_coef)`` weight draws behind ``action_probabilities``."""
        def build():
            rng = np.random.default_rng(self.mc_seed_)
            z = rng.standard_normal((self.n_mc_draws, self.n_arms, self.n_coef_))
            cov = np.linalg.inv(self.Q_)
            chol = np.linalg.cholesky(0.5 * (cov + np.swapaxes(cov, 1, 2)))
            return self.m_[None] + self.alpha * np.einsum("kij,nkj->nki", chol, z)
        return self._cached("draws", build)

    def _probabilities(self, X):
        return gaussian_thompson_probabilities(self._design(X), self.posterior_draws())
