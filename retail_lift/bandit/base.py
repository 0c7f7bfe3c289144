"""Shared machinery of every promotion policy: the base class, ledger checks, sampling helpers.

Contract (modelled on Open Bandit Pipeline and on scikit-learn):

- ``__init__`` only stores its arguments; nothing is checked there.
- ``fit(contexts, actions, rewards)`` checks the parameters and the decision ledger, resets the
  policy to its priors and learns from the whole ledger in one batch.
- ``sample_weight`` (optional, in ``fit`` and ``partial_fit``): a non-negative weight per row; a
  row of weight ``w`` counts as ``w`` observations (a weight of 1 everywhere is the unweighted
  update). Used for rows whose reward is only partly observed (delayed feedback).
- ``partial_fit(contexts, actions, rewards)`` updates the current posterior / statistics in place
  (online learning); on a policy that never learned, it starts from the priors.
- ``action_probabilities(contexts)`` returns an ``(n, n_arms)`` array whose rows sum to one.
- ``select(contexts, rng)`` samples arms *from those probabilities*, and
  ``select_with_propensity`` also returns the probability of each chosen arm, so every decision
  can be logged with the exact propensity it was drawn with (what off-policy evaluation needs).
- ``add_arm(name, prior=...)`` adds a promotion mid-life; the new arm explores through its prior.

A policy that has not learned anything yet acts from its priors (cold start), so
``action_probabilities`` works before ``fit``.

Every policy has an ``epsilon`` parameter that mixes its probabilities with the uniform
distribution, ``(1 - epsilon) * p + epsilon / n_arms``. For :class:`EpsilonGreedy` it is the
exploration rate; for the others (default 0) it is a propensity floor that keeps every arm loggable.

Randomness: ``random_state`` (an int or ``None``) seeds two independent streams, one for the Monte
Carlo estimate of the action probabilities of the Thompson-sampling policies (its seed is fixed
once and kept in the policy's state, so the same policy state and context always give the same
probabilities) and one for ``select`` when no ``rng`` is passed.
"""

from __future__ import annotations

import abc
import inspect
import json
from typing import Any, ClassVar

import numpy as np

from ..validation import as_1d_float, as_2d_float, check_in_range, check_positive_int, check_same_length

_POLICY_REGISTRY: dict[str, type[BasePolicy]] = {}

SERIALIZATION_VERSION = 1


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


def check_actions(actions, n_arms: int, name: str = "actions") -> np.ndarray:
    """Integer arm indices in ``[0, n_arms)``, returned as an int array."""
    arr = as_1d_float(actions, name)
    bad = arr != np.round(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must contain integer arm indices; first other value at position {i}: "
                         f"{arr[i]!r}")
    check_in_range(arr, name, 0, n_arms - 1)
    return arr.astype(np.int64)


def resolve_rng(rng) -> np.random.Generator:
    """``None`` is not accepted here (the policy supplies its own stream); an int seeds a new one."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise ValueError(f"rng must be None, an int seed or a numpy Generator, got {type(rng).__name__}")


def sample_from_probabilities(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One arm per row of ``probs`` by inverse-CDF sampling; an arm with probability 0 is never drawn."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(probs.shape[0]) * cdf[:, -1]
    # first index whose cdf exceeds u; a zero-probability arm repeats the previous cdf value, so it
    # can never be the first to exceed u, and u < cdf[-1] keeps the index in range.
    return (cdf <= u[:, None]).sum(axis=1).clip(max=probs.shape[1] - 1)


def argmax_probabilities(scores: np.ndarray, rtol: float = 1e-12) -> np.ndarray:
    """One-hot of the row-wise argmax; exact ties (up to ``rtol``) share the mass equally."""
    top = scores.max(axis=1, keepdims=True)
    tie = scores >= top - rtol * np.maximum(1.0, np.abs(top))
    return tie / tie.sum(axis=1, keepdims=True)


def argmax_frequencies(winners: np.ndarray, n_arms: int) -> np.ndarray:
    """``winners`` (n, n_draws) of arm indices → (n, n_arms) share of draws each arm won."""
    n, n_draws = winners.shape
    flat = winners + n_arms * np.arange(n)[:, None]
    counts = np.bincount(flat.ravel(), minlength=n * n_arms).reshape(n, n_arms)
    return counts / n_draws


def gaussian_thompson_probabilities(X: np.ndarray, draws: np.ndarray, max_cells: int = 4_000_000) -> np.ndarray:
    """Monte Carlo P(arm k has the highest linear score) for each row of ``X``.

    ``draws`` has shape (n_draws, n_arms, d): posterior samples of every arm's coefficients. The
    same draws are shared by every row (common random numbers), so each row's estimate depends only
    on that row, never on the rest of the batch.
    """
    n_draws, n_arms, d = draws.shape
    flat = draws.reshape(n_draws * n_arms, d).T  # (d, n_draws * n_arms)
    out = np.empty((X.shape[0], n_arms))
    step = max(1, max_cells // (n_draws * n_arms))
    for start in range(0, X.shape[0], step):
        scores = (X[start:start + step] @ flat).reshape(-1, n_draws, n_arms)
        out[start:start + step] = argmax_frequencies(argmax_last_axis(scores), n_arms)
    return out


def argmax_last_axis(scores: np.ndarray) -> np.ndarray:
    """``scores.argmax(axis=-1)`` for finite scores and a short last axis (the arms): one vectorised
    comparison per arm instead of numpy's per-row loop (several times faster for a handful of arms).
    Ties go to the first arm, as with ``argmax``."""
    best = scores[..., 0].copy()
    idx = np.zeros(best.shape, dtype=np.intp)
    for j in range(1, scores.shape[-1]):
        s = scores[..., j]
        better = s > best
        idx = np.where(better, j, idx)
        best = np.where(better, s, best)
    return idx


def _encode(obj):
    """JSON-safe encoding of state values (arrays keep their dtype and shape)."""
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": str(obj.dtype), "shape": list(obj.shape)}
    if isinstance(obj, dict):
        return {str(k): _encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    return obj


def _decode(obj):
    if isinstance(obj, dict):
        if "__ndarray__" in obj:
            return np.asarray(obj["__ndarray__"], dtype=obj["dtype"]).reshape(obj["shape"])
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj


# ----------------------------------------------------------------------------------------------
# base class
# ----------------------------------------------------------------------------------------------


class BasePolicy(abc.ABC):
    """Base class of all policies. Subclasses implement the ``_``-prefixed hooks.

    Parameters common to every policy
    ---------------------------------
    n_arms : int
        Number of promotions (arms). Arms are referred to by index ``0 .. n_arms - 1``.
    arm_names : list of str, optional
        Display names, default ``arm_0 .. arm_{n-1}``. Must be unique.
    epsilon : float in [0, 1]
        Uniform mixing, ``(1 - epsilon) * p + epsilon / n_arms``.
    random_state : int or None
        Seed of the policy's random streams (see the module docstring).

    Attributes set once the policy has state
    ----------------------------------------
    n_features_ : int or None
        Context width the policy was built for (``None`` for context-free policies).
    n_updates_ : int
        Number of ledger rows learned from since the last ``fit``.
    """

    #: ``True`` when the action probabilities are a Monte Carlo estimate (Thompson sampling).
    randomized: ClassVar[bool] = False
    #: ``True`` when the policy ignores contexts (only their row count is used).
    context_free: ClassVar[bool] = False
    #: ``True`` when the contexts are integer segment ids (``ContextEncoder.segment_ids``), not features.
    uses_segments: ClassVar[bool] = False
    #: names of the instance attributes that make up the learned state (serialised by ``to_dict``).
    _state_attrs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, n_arms, arm_names=None, epsilon=0.0, random_state=None):
        self.n_arms = n_arms
        self.arm_names = arm_names
        self.epsilon = epsilon
        self.random_state = random_state

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not inspect.isabstract(cls):
            _POLICY_REGISTRY[cls.__name__] = cls

    # ---------------------------------------------------------------- parameters
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self) -> dict[str, Any]:
        """Constructor arguments (JSON-safe when the arguments were)."""
        out = {}
        for name in self._param_names():
            value = getattr(self, name)
            if isinstance(value, tuple):
                value = list(value)
            out[name] = value
        return out

    def _validate_params(self) -> None:
        self.n_arms = check_positive_int(self.n_arms, "n_arms")
        if self.arm_names is not None:
            names = [str(a) for a in self.arm_names]
            if len(names) != self.n_arms:
                raise ValueError(f"arm_names must have n_arms={self.n_arms} entries, got {len(names)}")
            if len(set(names)) != len(names):
                raise ValueError(f"arm_names must be unique, got {names}")
            self.arm_names = names
        eps = getattr(self, "epsilon", 0.0)
        if not isinstance(eps, (int, float, np.integer, np.floating)) or not 0.0 <= float(eps) <= 1.0:
            raise ValueError(f"epsilon must be a number in [0, 1], got {eps!r}")
        rs = self.random_state
        if rs is not None and (isinstance(rs, bool) or not isinstance(rs, (int, np.integer)) or rs < 0):
            raise ValueError(f"random_state must be None or a non-negative int, got {rs!r}")
        self._validate_extra_params()

    def _validate_extra_params(self) -> None:  # noqa: B027 - optional hook
        """Subclass hook: check the family's hyper-parameters."""

    @staticmethod
    def _check_positive(value, name: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive finite number, got {value!r}")
        return float(value)

    @property
    def arm_names_(self) -> list[str]:
        """Arm names, defaulting to ``arm_0 .. arm_{n-1}``."""
        if self.arm_names is None:
            return [f"arm_{k}" for k in range(self.n_arms)]
        return list(self.arm_names)

    @property
    def is_initialized(self) -> bool:
        return getattr(self, "_initialized", False)

    # ---------------------------------------------------------------- random streams
    def _seed_sequence(self) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.random_state)

    def _fresh_mc_seed(self) -> int:
        return int(self._seed_sequence().spawn(2)[0].generate_state(1)[0])

    @property
    def _rng(self) -> np.random.Generator:
        rng = self.__dict__.get("_select_rng")
        if rng is None:
            rng = np.random.default_rng(self._seed_sequence().spawn(2)[1])
            self.__dict__["_select_rng"] = rng
        return rng

    def _resolve_rng(self, rng) -> np.random.Generator:
        return self._rng if rng is None else resolve_rng(rng)

    # ---------------------------------------------------------------- input checks
    def _check_contexts(self, contexts, n: int | None = None) -> np.ndarray:
        """Contexts as a 2-D float array (context-free policies: only the row count matters)."""
        if self.context_free:
            if contexts is None:
                return np.empty((1 if n is None else n, 0))
            arr = np.asarray(contexts)
            rows = arr.shape[0] if arr.ndim >= 1 else 1
            return np.empty((rows, 0))
        X = as_2d_float(contexts, "contexts")
        d = getattr(self, "n_features_", None)
        if d is not None and X.shape[1] != d:
            raise ValueError(f"contexts must have {d} columns (as when the policy was built), got {X.shape[1]}")
        return X

    def _check_rewards(self, rewards) -> np.ndarray:
        return as_1d_float(rewards, "rewards")

    def _check_ledger(self, contexts, actions, rewards):
        a = check_actions(actions, self.n_arms)
        r = self._check_rewards(rewards)
        X = self._check_contexts(contexts, n=len(a))
        check_same_length(contexts=X, actions=a, rewards=r)
        return X, a, r

    @staticmethod
    def _check_weights(sample_weight, n: int) -> np.ndarray | None:
        if sample_weight is None:
            return None
        w = as_1d_float(sample_weight, "sample_weight")
        check_same_length(actions=np.empty(n), sample_weight=w)
        check_in_range(w, "sample_weight", 0.0, np.inf)
        return w

    # ---------------------------------------------------------------- state management
    def _ensure_state(self, X: np.ndarray) -> None:
        if not self.is_initialized:
            self._validate_params()
            self._reset(X.shape[1])

    def _reset(self, n_features: int) -> None:
        priors = getattr(self, "arm_priors_", None)
        if priors is None or len(priors) != self.n_arms:
            priors = [None] * self.n_arms
        self.arm_priors_ = list(priors)
        self.n_features_ = None if self.context_free else int(n_features)
        self.n_updates_ = 0
        self.mc_seed_ = self._fresh_mc_seed()
        self._init_state(self.n_features_)
        self._initialized = True
        self._touch()

    def _touch(self) -> None:
        """Invalidate cached quantities (posterior draws) after the state changed."""
        self.__dict__.pop("_cache", None)

    def _cached(self, key: str, build):
        cache = self.__dict__.setdefault("_cache", {})
        if key not in cache:
            cache[key] = build()
        return cache[key]

    # ---------------------------------------------------------------- public API
    def fit(self, contexts, actions, rewards, sample_weight=None):
        """Reset to the priors and learn from a whole decision ledger. Returns ``self``."""
        self._validate_params()
        X, a, r = self._check_ledger(contexts, actions, rewards)
        w = self._check_weights(sample_weight, len(a))
        self._initialized = False
        self._reset(X.shape[1])
        if len(a):
            self._update(X, a, r, w)
            self.n_updates_ += len(a)
            self._touch()
        return self

    def partial_fit(self, contexts, actions, rewards, sample_weight=None):
        """Update the current state with new ledger rows (online learning). Returns ``self``."""
        if not self.is_initialized:
            self._validate_params()
        X, a, r = self._check_ledger(contexts, actions, rewards)
        w = self._check_weights(sample_weight, len(a))
        self._ensure_state(X)
        if len(a):
            self._update(X, a, r, w)
            self.n_updates_ += len(a)
            self._touch()
        return self

    def action_probabilities(self, contexts) -> np.ndarray:
        """``(n, n_arms)`` probabilities of choosing each arm; rows sum to 1, entries in [0, 1]."""
        X = self._check_contexts(contexts)
        self._ensure_state(X)
        return self._mix(self._probabilities(X))

    def select(self, contexts, rng=None) -> np.ndarray:
        """Sample one arm index per row, from ``action_probabilities(contexts)``."""
        return self.select_with_propensity(contexts, rng)[0]

    def select_with_propensity(self, contexts, rng=None) -> tuple[np.ndarray, np.ndarray]:
        """Sample one arm per row and return ``(arms, propensities)``.

        The propensity is the probability the arm was drawn with, i.e. the entry of
        ``action_probabilities(contexts)`` for that row and arm; it is what the decision ledger
        should record for off-policy evaluation. ``rng``: ``None`` (the policy's own stream,
        seeded by ``random_state``), an int seed or a ``numpy.random.Generator``.
        """
        probs = self.action_probabilities(contexts)
        arms = sample_from_probabilities(probs, self._resolve_rng(rng))
        return arms, probs[np.arange(len(arms)), arms]

    def add_arm(self, name: str | None = None, prior=None) -> int:
        """Add a new arm (promotion) and return its index.

        The new arm starts from ``prior`` (family-specific, see the subclass docstring; ``None``
        means the family's default, which is uninformative / optimistic), so it is explored
        right away rather than receiving no traffic.
        """
        self._validate_params()
        names = self.arm_names_
        name = f"arm_{self.n_arms}" if name is None else str(name)
        if name in names:
            raise ValueError(f"an arm named {name!r} already exists")
        prior = self._check_prior(prior)
        if self.is_initialized:
            self._add_arm_state(prior)
            self._touch()
        priors = getattr(self, "arm_priors_", None)
        if priors is None or len(priors) != self.n_arms:
            priors = [None] * self.n_arms
        self.arm_priors_ = list(priors) + [prior]
        self.arm_names = names + [name]
        self.n_arms += 1
        return self.n_arms - 1

    # ---------------------------------------------------------------- hooks
    @abc.abstractmethod
    def _init_state(self, n_features: int | None) -> None:
        """Build the prior state for ``self.n_arms`` arms (per-arm priors in ``self.arm_priors_``)."""

    @abc.abstractmethod
    def _update(self, X: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
                sample_weight: np.ndarray | None = None) -> None:
        """Learn from validated ledger rows (``sample_weight``: ``None`` or one weight >= 0 per row)."""

    @abc.abstractmethod
    def _probabilities(self, X: np.ndarray) -> np.ndarray:
        """Policy probabilities before the epsilon mixing."""

    @abc.abstractmethod
    def _add_arm_state(self, prior) -> None:
        """Append one arm, built from the (checked) ``prior``, to the live state."""

    def _check_prior(self, prior):
        """Validate and normalise a per-arm prior (JSON-safe); ``None`` means the default."""
        if prior is not None:
            raise ValueError(f"{type(self).__name__} takes no arm prior, got {prior!r}")
        return None

    def _mix(self, probs: np.ndarray) -> np.ndarray:
        eps = float(getattr(self, "epsilon", 0.0))
        if eps > 0.0:
            probs = (1.0 - eps) * probs + eps / probs.shape[1]
        return probs

    # ---------------------------------------------------------------- serialisation
    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_cache", None)  # posterior draws are rebuilt on demand
        return state

    def to_dict(self) -> dict:
        """JSON-safe description: class, constructor parameters and learned state.

        ``json.dumps(policy.to_dict())`` is what the warehouse stores as a policy version. The
        policy's ``select`` stream is not part of it (a restored policy restarts that stream from
        ``random_state``); the Monte Carlo seed is, so restored probabilities are identical.
        """
        state = None
        if self.is_initialized:
            state = {name: getattr(self, name) for name in
                     ("arm_priors_", "n_features_", "n_updates_", "mc_seed_", *self._state_attrs)}
        out = {
            "class": type(self).__name__,
            "format_version": SERIALIZATION_VERSION,
            "params": self.get_params(),
            "state": state,
        }
        out = _encode(out)
        json.dumps(out)  # fail here, not in the caller, if something is not JSON-safe
        return out

    @classmethod
    def from_dict(cls, data: dict) -> BasePolicy:
        """Rebuild a policy written by :meth:`to_dict` (call on ``BasePolicy`` or the right class)."""
        name = data.get("class")
        target = _POLICY_REGISTRY.get(name)
        if target is None:
            raise ValueError(f"unknown policy class {name!r}")
        if cls is not BasePolicy and not issubclass(target, cls):
            raise ValueError(f"data describes a {name}, not a {cls.__name__}")
        if data.get("format_version") != SERIALIZATION_VERSION:
            raise ValueError(f"unsupported format_version {data.get('format_version')!r}")
        policy = target(**data["params"])
        state = data.get("state")
        if state is not None:
            policy._validate_params()
            for key, value in _decode(state).items():
                setattr(policy, key, value)
            policy._after_load()
            policy._initialized = True
        return policy

    def _after_load(self) -> None:  # noqa: B027 - optional hook
        """Subclass hook: restore derived arrays after :meth:`from_dict`."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"
