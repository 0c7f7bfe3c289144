"""Off-policy evaluation: how much would a target policy earn, judged from a logged decision ledger?

Plain functions over arrays, one row per logged decision ``i`` (context ``x_i``, logged arm
``a_i``, reward ``r_i``):

- ``pscore[i]`` = probability the *logging* policy gave to ``a_i`` (the propensity it logged), in (0, 1];
- ``target_prob[i]`` = probability the *target* policy gives to ``a_i`` in context ``x_i``, in [0, 1];
- ``q_logged[i]`` = reward model's prediction ``q(x_i, a_i)``;
- ``q_target[i]`` = ``sum_a pi(a | x_i) q(x_i, a)``, the model's expected reward under the target.

:func:`prepare_ope_inputs` builds ``target_prob``, ``q_logged`` and ``q_target`` from a target
policy's ``action_probabilities`` and a reward model's ``(n, n_arms)`` predictions. With
importance weights ``w_i = target_prob_i / pscore_i``:

=============  ==================================================================================
``ips``        mean(w r)
``snips``      sum(w r) / sum(w)                                  (``nan`` when every weight is 0)
``dm``         mean(q_target)
``dr``         mean(q_target + w (r - q_logged))                          (Dudik et al. 2011)
``switch_dr``  mean(q_target + w (r - q_logged) 1{w <= tau})       (Wang, Agarwal & Dudik 2017,
               the doubly-robust form used by Open Bandit Pipeline: tau = inf gives DR, tau = 0 DM)
=============  ==================================================================================

Each returns an :class:`OPEResult`: the point estimate, a percentile bootstrap interval (rows
resampled with replacement ``n_bootstrap`` times, seeded by ``random_state``; ``n_bootstrap=0``
skips it), the effective sample size of the importance weights ``(sum w)^2 / sum w^2`` and the
largest weight. A small ``ess`` or a large ``max_weight`` means the estimate rests on few rows.
The bootstrap treats the reward-model predictions as fixed: DM's interval (and the model's share
of DR's) does not include the error of the reward model itself.

For DR, fit the reward model with cross-fitting (:func:`fit_reward_model` keeps out-of-fold
predictions of the training rows in ``cross_fitted_``), so ``q_logged`` is not fitted to the very
rewards it corrects.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..validation import as_1d_float, as_2d_float, check_positive_int, check_probabilities, check_same_length
from .base import check_actions

__all__ = [
    "OPEResult",
    "RewardModel",
    "dm",
    "dr",
    "evaluate_all",
    "fit_reward_model",
    "ips",
    "prepare_ope_inputs",
    "snips",
    "switch_dr",
]


@dataclass(frozen=True)
class OPEResult:
    """An off-policy estimate of a target policy's mean reward per decision."""

    estimator: str
    value: float
    ci_low: float
    ci_high: float
    ess: float
    max_weight: float
    n: int
    alpha: float
    n_bootstrap: int

    def as_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------------------------
# checks and shared pieces
# ----------------------------------------------------------------------------------------------


def _check_inputs(**arrays) -> dict[str, np.ndarray]:
    out = {}
    for name, value in arrays.items():
        if name == "pscore":
            out[name] = check_probabilities(value, "pscore", allow_zero=False)
        elif name == "target_prob":
            out[name] = check_probabilities(value, "target_prob")
        else:
            out[name] = as_1d_float(value, name)
    n = check_same_length(**out)
    if n == 0:
        raise ValueError("the logged data is empty: off-policy evaluation needs at least one row")
    return out


def _check_bootstrap_args(n_bootstrap, alpha) -> tuple[int, float]:
    if n_bootstrap != 0:
        n_bootstrap = check_positive_int(n_bootstrap, "n_bootstrap")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)) or not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    return int(n_bootstrap), float(alpha)


def _ess(w: np.ndarray) -> float:
    s2 = float(np.sum(w * w))
    return float(np.sum(w)) ** 2 / s2 if s2 > 0 else 0.0


def _bootstrap_interval(num: np.ndarray, den: np.ndarray | None, n_bootstrap: int, alpha: float,
                        random_state) -> tuple[float, float]:
    """Percentile interval of ``sum(num) / sum(den)`` (``den=None``: the mean of ``num``)."""
    if n_bootstrap == 0:
        return float("nan"), float("nan")
    n = len(num)
    rng = np.random.default_rng(random_state)
    stats = np.empty(n_bootstrap)
    block = max(1, 2_000_000 // n)
    for start in range(0, n_bootstrap, block):
        b = min(block, n_bootstrap - start)
        idx = rng.integers(0, n, size=(b, n))
        s_num = num[idx].sum(axis=1)
        if den is None:
            stats[start:start + b] = s_num / n
        else:
            s_den = den[idx].sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                stats[start:start + b] = np.where(s_den > 0, s_num / s_den, np.nan)
    if np.isnan(stats).all():
        return float("nan"), float("nan")
    lo, hi = np.nanquantile(stats, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)


def _mean_result(name: str, terms: np.ndarray, weights: np.ndarray | None, n_bootstrap, alpha,
                 random_state) -> OPEResult:
    n_bootstrap, alpha = _check_bootstrap_args(n_bootstrap, alpha)
    lo, hi = _bootstrap_interval(terms, None, n_bootstrap, alpha, random_state)
    n = len(terms)
    if weights is None:  # the direct method weights every row equally
        ess, max_w = float(n), 1.0
    else:
        ess, max_w = _ess(weights), float(weights.max())
    return OPEResult(name, float(terms.mean()), lo, hi, ess, max_w, n, alpha, n_bootstrap)


# ----------------------------------------------------------------------------------------------
# estimators
# ----------------------------------------------------------------------------------------------


def ips(reward, pscore, target_prob, *, n_bootstrap: int = 1000, alpha: float = 0.05,
        random_state=0) -> OPEResult:
    """Inverse propensity scoring: ``mean(w * reward)``; unbiased when ``pscore`` is the true
    logging probability and the logging policy gives every arm the target plays a chance."""
    v = _check_inputs(reward=reward, pscore=pscore, target_prob=target_prob)
    w = v["target_prob"] / v["pscore"]
    return _mean_result("ips", w * v["reward"], w, n_bootstrap, alpha, random_state)


def snips(reward, pscore, target_prob, *, n_bootstrap: int = 1000, alpha: float = 0.05,
          random_state=0) -> OPEResult:
    """Self-normalised IPS: ``sum(w * reward) / sum(w)`` (slightly biased, much lower variance).

    ``value`` is ``nan`` when every weight is 0 (the target never plays a logged arm); bootstrap
    resamples whose weights are all 0 are left out of the interval.
    """
    v = _check_inputs(reward=reward, pscore=pscore, target_prob=target_prob)
    n_bootstrap, alpha = _check_bootstrap_args(n_bootstrap, alpha)
    w = v["target_prob"] / v["pscore"]
    num = w * v["reward"]
    total = float(w.sum())
    value = float(num.sum()) / total if total > 0 else float("nan")
    lo, hi = _bootstrap_interval(num, w, n_bootstrap, alpha, random_state)
    return OPEResult("snips", value, lo, hi, _ess(w), float(w.max()), len(w), alpha, n_bootstrap)


def dm(q_target, *, n_bootstrap: int = 1000, alpha: float = 0.05, random_state=0) -> OPEResult:
    """Direct method: ``mean(q_target)``. Uses no importance weights, so ``ess = n`` and
    ``max_weight = 1``; it is only as good as the reward model."""
    v = _check_inputs(q_target=q_target)
    return _mean_result("dm", v["q_target"], None, n_bootstrap, alpha, random_state)


def dr(reward, pscore, target_prob, q_logged, q_target, *, n_bootstrap: int = 1000, alpha: float = 0.05,
       random_state=0) -> OPEResult:
    """Doubly robust: ``mean(q_target + w * (reward - q_logged))``; unbiased if either the
    propensities or the reward model are right. Equals :func:`dm` when every weight is 0."""
    v = _check_inputs(reward=reward, pscore=pscore, target_prob=target_prob, q_logged=q_logged,
                      q_target=q_target)
    w = v["target_prob"] / v["pscore"]
    terms = v["q_target"] + w * (v["reward"] - v["q_logged"])
    return _mean_result("dr", terms, w, n_bootstrap, alpha, random_state)


def switch_dr(reward, pscore, target_prob, q_logged, q_target, tau: float, *, n_bootstrap: int = 1000,
              alpha: float = 0.05, random_state=0) -> OPEResult:
    """Switch doubly robust (Wang et al. 2017): the DR correction only on rows with ``w <= tau``,
    the direct method elsewhere: ``mean(q_target + w (reward - q_logged) 1{w <= tau})``.

    ``ess`` and ``max_weight`` describe the weights actually used (``w * 1{w <= tau}``).
    """
    if isinstance(tau, bool) or not isinstance(tau, (int, float, np.integer, np.floating)) \
            or np.isnan(tau) or tau < 0:
        raise ValueError(f"tau must be a number >= 0 (inf allowed), got {tau!r}")
    v = _check_inputs(reward=reward, pscore=pscore, target_prob=target_prob, q_logged=q_logged,
                      q_target=q_target)
    w = v["target_prob"] / v["pscore"]
    used = np.where(w <= tau, w, 0.0)
    terms = v["q_target"] + used * (v["reward"] - v["q_logged"])
    return _mean_result("switch_dr", terms, used, n_bootstrap, alpha, random_state)


def evaluate_all(reward, pscore, target_prob, q_logged=None, q_target=None, *, tau: float | None = None,
                 n_bootstrap: int = 1000, alpha: float = 0.05, random_state=0) -> dict[str, OPEResult]:
    """Every estimator the inputs allow: IPS and SNIPS always; DM and DR with a reward model;
    Switch-DR when ``tau`` is given too. Same bootstrap seed for all."""
    kw = dict(n_bootstrap=n_bootstrap, alpha=alpha, random_state=random_state)
    out = {"ips": ips(reward, pscore, target_prob, **kw), "snips": snips(reward, pscore, target_prob, **kw)}
    if (q_logged is None) != (q_target is None):
        raise ValueError("give both q_logged and q_target, or neither")
    if q_target is not None:
        out["dm"] = dm(q_target, **kw)
        out["dr"] = dr(reward, pscore, target_prob, q_logged, q_target, **kw)
        if tau is not None:
            out["switch_dr"] = switch_dr(reward, pscore, target_prob, q_logged, q_target, tau, **kw)
    return out


def prepare_ope_inputs(action_dist, actions, q_hat=None) -> dict[str, np.ndarray]:
    """From a target policy's ``(n, n_arms)`` ``action_dist`` (e.g. ``policy.action_probabilities``
    on the logged contexts) and the logged ``actions``, build ``target_prob``; with a reward
    model's ``(n, n_arms)`` predictions ``q_hat`` also ``q_logged`` and ``q_target``."""
    P = as_2d_float(action_dist, "action_dist")
    if ((P < 0) | (P > 1)).any():
        r, c = (int(i) for i in np.argwhere((P < 0) | (P > 1))[0])
        raise ValueError(f"action_dist must lie in [0, 1]; first other value at row {r}, column {c}: {P[r, c]!r}")
    sums = P.sum(axis=1)
    bad = np.abs(sums - 1.0) > 1e-6
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"action_dist rows must sum to 1; row {i} sums to {sums[i]!r}")
    a = check_actions(actions, P.shape[1])
    check_same_length(action_dist=P, actions=a)
    rows = np.arange(len(a))
    out = {"target_prob": P[rows, a]}
    if q_hat is not None:
        Q = as_2d_float(q_hat, "q_hat")
        if Q.shape != P.shape:
            raise ValueError(f"q_hat must have the shape of action_dist {P.shape}, got {Q.shape}")
        out["q_logged"] = Q[rows, a]
        out["q_target"] = (P * Q).sum(axis=1)
    return out


# ----------------------------------------------------------------------------------------------
# reward model
# ----------------------------------------------------------------------------------------------


class _Constant:
    """Fallback for an arm with too little (or one-class) data: predict a constant."""

    def __init__(self, value: float):
        self.value = float(value)

    def predict_reward(self, X):
        return np.full(X.shape[0], self.value)


class _Fitted:
    def __init__(self, estimator, use_proba: bool):
        self.estimator = estimator
        self.use_proba = use_proba

    def predict_reward(self, X):
        if self.use_proba:
            return self.estimator.predict_proba(X)[:, 1]
        return self.estimator.predict(X)


class RewardModel:
    """Per-arm reward model ``q(x, a)``: one regressor (or classifier for 0/1 rewards) per arm.

    Parameters
    ----------
    n_arms : int
    model : "auto", "logistic", "ridge", "gbm" or a scikit-learn estimator (cloned per arm)
        ``auto`` = standardised logistic regression for 0/1 rewards, ridge otherwise; ``gbm`` =
        histogram gradient boosting. A classifier must expose ``predict_proba``.
    n_folds : int
        ``>= 2``: also compute ``cross_fitted_``, out-of-fold predictions ``(n, n_arms)`` for the
        training rows (each row predicted by models that did not see it), for DR. ``0`` or ``1``:
        skip.
    min_rows : int
        An arm with fewer rows (or with a single reward value, for a classifier) is predicted by
        the mean of its rewards (the overall mean if it has none).
    n_threads : int or None
        Thread limit (BLAS and OpenMP) while fitting and predicting. Per-arm models are small, and
        on a busy machine multi-threaded boosting can be many times slower than one thread, so the
        default is 1; ``None`` leaves the libraries' own settings.
    """

    def __init__(self, n_arms, model="auto", n_folds=5, min_rows=10, n_threads=1, random_state=0):
        self.n_arms = n_arms
        self.model = model
        self.n_folds = n_folds
        self.min_rows = min_rows
        self.n_threads = n_threads
        self.random_state = random_state

    def _thread_limit(self):
        from contextlib import nullcontext

        if self.n_threads is None:
            return nullcontext()
        from threadpoolctl import threadpool_limits  # a scikit-learn dependency

        return threadpool_limits(limits=check_positive_int(self.n_threads, "n_threads"))

    def _make_estimator(self, binary: bool):
        from sklearn.base import clone
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        kind = self.model
        if not isinstance(kind, str):
            est = clone(kind)
            return est, binary and hasattr(est, "predict_proba")
        if kind == "auto":
            kind = "logistic" if binary else "ridge"
        if kind == "logistic":
            if not binary:
                raise ValueError("model='logistic' needs 0/1 rewards")
            return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), True
        if kind == "ridge":
            return make_pipeline(StandardScaler(), Ridge(alpha=1.0)), False
        if kind == "gbm":
            if binary:
                return HistGradientBoostingClassifier(random_state=self.random_state), True
            return HistGradientBoostingRegressor(random_state=self.random_state), False
        raise ValueError(f"model must be 'auto', 'logistic', 'ridge', 'gbm' or an estimator, got {kind!r}")

    def _fit_arms(self, X, a, r):
        overall = float(r.mean()) if len(r) else 0.0
        models = []
        for k in range(self.n_arms):
            sel = a == k
            rk = r[sel]
            if sel.sum() < self.min_rows:
                models.append(_Constant(rk.mean() if len(rk) else overall))
                continue
            est, use_proba = self._make_estimator(self.binary_)
            if use_proba and len(np.unique(rk)) < 2:
                models.append(_Constant(rk.mean()))
                continue
            est.fit(X[sel], rk)
            models.append(_Fitted(est, use_proba))
        return models

    @staticmethod
    def _predict_with(models, X):
        return np.column_stack([m.predict_reward(X) for m in models])

    def fit(self, contexts, actions, rewards):
        """Fit one model per arm (and the cross-fitted predictions); returns ``self``."""
        with self._thread_limit():
            return self._fit(contexts, actions, rewards)

    def _fit(self, contexts, actions, rewards):
        self.n_arms = check_positive_int(self.n_arms, "n_arms")
        self.min_rows = check_positive_int(self.min_rows, "min_rows")
        X = as_2d_float(contexts, "contexts")
        a = check_actions(actions, self.n_arms)
        r = as_1d_float(rewards, "rewards")
        n = check_same_length(contexts=X, actions=a, rewards=r)
        if n == 0:
            raise ValueError("cannot fit a reward model on an empty ledger")
        self.n_features_ = X.shape[1]
        self.binary_ = bool(np.isin(r, (0.0, 1.0)).all())
        self.models_ = self._fit_arms(X, a, r)
        self.cross_fitted_ = None
        n_folds = int(self.n_folds or 0)
        if n_folds >= 2:
            from sklearn.model_selection import KFold

            folds = KFold(n_splits=min(n_folds, n), shuffle=True, random_state=self.random_state)
            oof = np.empty((n, self.n_arms))
            for train, test in folds.split(X):
                oof[test] = self._predict_with(self._fit_arms(X[train], a[train], r[train]), X[test])
            self.cross_fitted_ = oof
        return self

    def predict(self, contexts) -> np.ndarray:
        """``(n, n_arms)`` predicted rewards (models fitted on all training rows)."""
        X = as_2d_float(contexts, "contexts")
        if X.shape[1] != self.n_features_:
            raise ValueError(f"contexts must have {self.n_features_} columns, got {X.shape[1]}")
        with self._thread_limit():
            return self._predict_with(self.models_, X)


def fit_reward_model(contexts, actions, rewards, n_arms, *, model="auto", n_folds: int = 5,
                     min_rows: int = 10, n_threads: int | None = 1, random_state=0) -> RewardModel:
    """Fit a :class:`RewardModel`; ``predict(contexts) -> (n, n_arms)``, and ``cross_fitted_`` holds
    the out-of-fold predictions of the training rows (use those as ``q_hat`` for DR on the same
    ledger)."""
    return RewardModel(n_arms, model=model, n_folds=n_folds, min_rows=min_rows, n_threads=n_threads,
                       random_state=random_state).fit(contexts, actions, rewards)
