"""The off-policy gate: does a candidate policy truly beat the champion, judged from one logged holdout?

Plain functions over arrays, one row per evaluated decision ``i`` (as in :mod:`.ope`): the reward
``r_i``, the logged arm ``a_i`` and its logged propensity ``p_i``, a reward model's ``(n, n_arms)``
predictions ``q_hat`` (cross-fitted), and for every policy the ``(n, n_arms)`` probabilities it
would give to each arm on the logged contexts (the champion's are usually the logged ones).

The gate tests the **difference** in policy value, candidate minus champion, on the same decisions
(:func:`paired_differences`). Per row, with ``w = pi(a_i | x_i) / p_i``, the doubly robust term of
a policy is ``dr_i = sum_a pi(a | x_i) q(x_i, a) + w (r_i - q(x_i, a_i))``, and the candidate's
difference term is ``d_i = dr_i(candidate) - dr_i(champion)``. Their mean is the DR estimate of the
difference; because both values come from the same rows, the noise both share (which customers
came, which of them bought) cancels, and the interval of the difference is much narrower than the
two separate intervals would suggest. The SNIPS difference is reported beside it.

Its uncertainty comes from a **paired bootstrap** (``interval="bootstrap"``, the default: the same
resampled rows for every policy, ``n_bootstrap >= 1000`` seeded resamples) or from the
**influence-function** variance (``interval="influence"``: ``sd(d) / sqrt(n)``, a normal interval).
The one-sided p-value of "the candidate is no better" is the share of bootstrap replicates at or
below 0 (``(1 + #) / (1 + B)``), or ``1 - Phi(mean / se)``.

The verdicts (:func:`gate_verdicts`):

1. **Eligibility** (depends on the policies and the logged contexts and arms only, never on the
   rewards, so it costs no test): a candidate is refused when its effective sample size
   ``(sum w)^2 / sum w^2`` is below ``min_ess``, or when more than ``max_unsupported_share`` of its
   probability mass lies on (context cell, arm) pairs that the logging policy never played in these
   decisions (:func:`unsupported_share`: there the DR value is the reward model's extrapolation,
   not a measurement).
2. **Holm** over the eligible candidates at family-wise level ``alpha`` (one-sided): the ``j``-th
   smallest p-value passes when it and every smaller one are at most ``alpha / (m - j + 1)``. The
   chance that *any* candidate that is not truly better passes is at most ``alpha``.
3. **Ship** the passing candidate with the best lower bound of its difference (the one-sided
   ``1 - alpha`` bound, i.e. the low end of the two-sided ``1 - 2 alpha`` interval). The champion
   is ``replace``\\ d, or ``keep``\\ s its place when nothing passes.

:class:`GateConfig` holds every threshold with its default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..validation import check_positive_int
from .ope import _ess

__all__ = [
    "GATE_COLUMNS",
    "GateConfig",
    "PairedDifferences",
    "gate_verdicts",
    "holm_passes",
    "paired_differences",
    "run_gate",
    "unsupported_share",
]

INTERVALS = ("bootstrap", "influence")


@dataclass(frozen=True)
class GateConfig:
    """The gate's thresholds, each with its default (see the module docstring).

    alpha : family-wise one-sided level of "ship a candidate that is not truly better" (Holm over
        the eligible candidates). 0.025 = the low end of a two-sided 95 % interval.
    min_ess : a candidate whose importance weights have a smaller effective sample size on the
        holdout is refused (its estimate rests on too few decisions).
    max_unsupported_share : a candidate with more of its probability mass on (context cell, arm)
        pairs the logging policy never played is refused.
    n_bootstrap : paired bootstrap resamples (``interval="bootstrap"``; at least 1,000).
    interval : ``"bootstrap"`` (paired, percentile) or ``"influence"`` (normal, influence-function
        variance).
    random_state : seed of the bootstrap.
    """

    alpha: float = 0.025
    min_ess: float = 100.0
    max_unsupported_share: float = 0.05
    n_bootstrap: int = 1000
    interval: str = "bootstrap"
    random_state: int = 0

    def __post_init__(self):
        for name in ("alpha", "max_unsupported_share"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) or not 0 < float(v) < 1:
                raise ValueError(f"GateConfig.{name} must lie in (0, 1), got {v!r}")
        if isinstance(self.min_ess, bool) or not isinstance(self.min_ess, (int, float, np.floating)) \
                or not float(self.min_ess) >= 0:
            raise ValueError(f"GateConfig.min_ess must be a number >= 0, got {self.min_ess!r}")
        if self.interval not in INTERVALS:
            raise ValueError(f"GateConfig.interval must be one of {INTERVALS}, got {self.interval!r}")
        n_b = check_positive_int(self.n_bootstrap, "GateConfig.n_bootstrap")
        if self.interval == "bootstrap" and n_b < 1000:
            raise ValueError(f"GateConfig.n_bootstrap must be at least 1000 for the paired bootstrap, got {n_b}")

    @classmethod
    def from_mapping(cls, values: Mapping | None) -> GateConfig:
        """A config from a mapping (e.g. dbt config); ``None`` values keep the default; unknown keys
        are an error naming them."""
        values = {k: v for k, v in dict(values or {}).items() if v is not None}
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown gate setting(s) {unknown}; known: {sorted(cls.__dataclass_fields__)}")
        return cls(**values)

    def as_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------------------------


def _check_arrays(rewards, actions, pscore, q_hat, policies: Mapping[str, np.ndarray]):
    r = np.asarray(rewards, dtype=float)
    a = np.asarray(actions)
    p = np.asarray(pscore, dtype=float)
    Q = np.asarray(q_hat, dtype=float)
    if r.ndim != 1 or a.ndim != 1 or p.ndim != 1:
        raise ValueError("rewards, actions and pscore must be 1-D")
    n = len(r)
    if n == 0:
        raise ValueError("the gate needs at least one evaluated decision")
    if len(a) != n or len(p) != n:
        raise ValueError(f"rewards, actions and pscore must have the same length, got {n}, {len(a)}, {len(p)}")
    if Q.ndim != 2 or Q.shape[0] != n:
        raise ValueError(f"q_hat must be (n, n_arms) with n = {n}, got shape {Q.shape}")
    k = Q.shape[1]
    if not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() >= k:
        raise ValueError(f"actions must be arm indices in [0, {k})")
    if (~np.isfinite(p) | (p <= 0) | (p > 1)).any():
        i = int(np.flatnonzero(~np.isfinite(p) | (p <= 0) | (p > 1))[0])
        raise ValueError(f"pscore must lie in (0, 1]; row {i} has {p[i]!r}")
    if not np.isfinite(r).all() or not np.isfinite(Q).all():
        raise ValueError("rewards and q_hat must be finite")
    out = {}
    for name, P in policies.items():
        P = np.asarray(P, dtype=float)
        if P.shape != Q.shape:
            raise ValueError(f"policy {name!r}: probabilities must have the shape of q_hat {Q.shape}, got {P.shape}")
        if ((P < -1e-12) | (P > 1 + 1e-9)).any() or (np.abs(P.sum(axis=1) - 1.0) > 1e-6).any():
            raise ValueError(f"policy {name!r}: every row of probabilities must lie in [0, 1] and sum to 1")
        out[str(name)] = P
    return r, a.astype(np.int64), p, Q, out


def unsupported_share(probs, actions, cells) -> float:
    """Mean probability mass ``probs`` puts on (cell, arm) pairs never played in the log.

    ``probs``: ``(n, n_arms)`` target probabilities on the logged contexts; ``actions``: the arm
    played at each decision; ``cells``: the context cell of each decision (e.g. the encoder's
    segment ids). A pair counts as played when at least one decision of that cell played that arm.
    """
    P = np.asarray(probs, dtype=float)
    a = np.asarray(actions, dtype=np.int64)
    c = np.asarray(cells)
    if P.ndim != 2 or len(a) != len(P) or len(c) != len(P):
        raise ValueError("probs must be (n, n_arms) and actions and cells of length n")
    if len(P) == 0:
        return 0.0
    codes, cell_idx = np.unique(c, return_inverse=True)
    played = np.zeros((len(codes), P.shape[1]), dtype=bool)
    played[cell_idx, a] = True
    return float(np.where(played[cell_idx], 0.0, P).sum(axis=1).mean())


@dataclass
class PairedDifferences:
    """Per-policy DR / SNIPS values and candidate-minus-champion differences with their uncertainty."""

    table: pd.DataFrame          # one row per policy (see :func:`paired_differences`)
    replicates: np.ndarray       # (B, n_policies) bootstrap replicates of the DR differences (empty: influence)


def _snips_value(w, r) -> float:
    s = float(w.sum())
    return float((w * r).sum()) / s if s > 0 else float("nan")


def paired_differences(rewards, actions, pscore, q_hat, policies: Mapping[str, np.ndarray], champion: str,
                       cells=None, *, alpha: float = 0.025, n_bootstrap: int = 1000, interval: str = "bootstrap",
                       random_state=0) -> PairedDifferences:
    """DR and SNIPS values of every policy and its difference to ``champion`` on the same decisions.

    Returns a :class:`PairedDifferences` whose ``table`` has one row per policy (``policies`` order):
    ``policy``, ``dr_value``, ``snips_value``, ``dr_diff``, ``snips_diff``, ``diff_se``,
    ``diff_ci_low`` / ``diff_ci_high`` (two-sided ``1 - 2 alpha``), ``p_value`` (one-sided, "no
    better than the champion"; NaN for the champion), ``ess``, ``max_weight`` and
    ``unsupported_share`` (NaN without ``cells``).
    """
    if champion not in policies:
        raise ValueError(f"champion {champion!r} is not among the policies {sorted(policies)}")
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}, got {interval!r}")
    r, a, p, Q, P = _check_arrays(rewards, actions, pscore, q_hat, policies)
    n = len(r)
    rows = np.arange(n)
    q_logged = Q[rows, a]
    names = list(P)
    terms = np.empty((n, len(names)))
    weights = np.empty((n, len(names)))
    for j, name in enumerate(names):
        w = P[name][rows, a] / p
        weights[:, j] = w
        terms[:, j] = (P[name] * Q).sum(axis=1) + w * (r - q_logged)
    c0 = names.index(champion)
    d = terms - terms[:, [c0]]
    diff = d.mean(axis=0)
    replicates = np.empty((0, len(names)))
    if interval == "bootstrap":
        B = check_positive_int(n_bootstrap, "n_bootstrap")
        rng = np.random.default_rng(random_state)
        replicates = np.empty((B, len(names)))
        block = max(1, 4_000_000 // max(n, 1))
        for start in range(0, B, block):
            b = min(block, B - start)
            idx = rng.integers(0, n, size=(b, n))
            # one resample of rows for every policy: the pairing
            replicates[start:start + b] = np.stack([d[i].mean(axis=0) for i in idx])
        se = replicates.std(axis=0, ddof=1)
        lo, hi = np.quantile(replicates, [alpha, 1.0 - alpha], axis=0)
        pval = (1.0 + (replicates <= 0).sum(axis=0)) / (1.0 + B)
    else:
        se = d.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(len(names), np.nan)
        z = stats.norm.ppf(1.0 - alpha)
        lo, hi = diff - z * se, diff + z * se
        with np.errstate(divide="ignore", invalid="ignore"):
            pval = np.where(se > 0, stats.norm.sf(diff / np.where(se > 0, se, 1.0)), np.where(diff > 0, 0.0, 1.0))
    snips_values = np.array([_snips_value(weights[:, j], r) for j in range(len(names))])
    table = pd.DataFrame({
        "policy": names,
        "dr_value": terms.mean(axis=0),
        "snips_value": snips_values,
        "dr_diff": diff,
        "snips_diff": snips_values - snips_values[c0],
        "diff_se": se,
        "diff_ci_low": lo,
        "diff_ci_high": hi,
        "p_value": pval,
        "ess": [_ess(weights[:, j]) for j in range(len(names))],
        "max_weight": weights.max(axis=0),
        "unsupported_share": [np.nan if cells is None else unsupported_share(P[nm], a, cells) for nm in names],
    })
    table.loc[c0, ["dr_diff", "snips_diff", "diff_se", "diff_ci_low", "diff_ci_high", "p_value"]] = \
        [0.0, 0.0, 0.0, 0.0, 0.0, np.nan]
    return PairedDifferences(table, replicates)


# ----------------------------------------------------------------------------------------------
# verdicts
# ----------------------------------------------------------------------------------------------


def holm_passes(p_values, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down procedure: which hypotheses are rejected at family-wise level ``alpha``, and
    the threshold ``alpha / (m - j + 1)`` each p-value was (or would have been) compared with."""
    pv = np.asarray(p_values, dtype=float)
    m = len(pv)
    order = np.argsort(pv, kind="stable")
    thresholds = np.empty(m)
    thresholds[order] = alpha / (m - np.arange(m))
    passes = np.zeros(m, dtype=bool)
    for j in order:
        if pv[j] <= thresholds[j]:
            passes[j] = True
        else:
            break
    return passes, thresholds


#: the columns of :func:`gate_verdicts`, in order
GATE_COLUMNS = ("policy", "dr_value", "snips_value", "dr_diff", "snips_diff", "diff_se", "diff_ci_low",
                "diff_ci_high", "p_value", "holm_threshold", "ess", "max_weight", "unsupported_share", "eligible",
                "passes", "verdict", "reason")


def gate_verdicts(differences: pd.DataFrame, champion: str, config: GateConfig = GateConfig()) -> pd.DataFrame:
    """The gate's verdict for every policy of a :func:`paired_differences` table.

    Returns :data:`GATE_COLUMNS`, champion first, then candidates by ``diff_ci_low``. ``verdict``:
    the champion ``keep`` or ``replace``; a candidate ``promote`` (shipped), ``pass`` (passed Holm,
    a lower bound not the best) or ``refuse``. ``reason`` says why in one sentence.
    """
    t = differences.copy().reset_index(drop=True)
    is_champ = (t["policy"] == champion).to_numpy()
    if is_champ.sum() != 1:
        raise ValueError(f"champion {champion!r} must appear exactly once in the differences table")
    ess_ok = (t["ess"] >= float(config.min_ess)).to_numpy()
    share = t["unsupported_share"].to_numpy(dtype=float)
    support_ok = ~(share > float(config.max_unsupported_share))  # NaN (not measured) is not a refusal
    finite = np.isfinite(t["p_value"].to_numpy(dtype=float))
    eligible = ~is_champ & ess_ok & support_ok & finite
    passes = np.zeros(len(t), dtype=bool)
    thresholds = np.full(len(t), np.nan)
    if eligible.any():
        ok, th = holm_passes(t.loc[eligible, "p_value"].to_numpy(dtype=float), float(config.alpha))
        passes[eligible] = ok
        thresholds[eligible] = th
    t["holm_threshold"] = thresholds
    t["eligible"] = eligible
    t["passes"] = passes
    winner = None
    if passes.any():
        cand = t.loc[passes].sort_values(["diff_ci_low", "policy"], ascending=[False, True])
        winner = str(cand["policy"].iloc[0])
    m = int(eligible.sum())
    reasons, verdicts = [], []
    for i, row in t.iterrows():
        if is_champ[i]:
            verdicts.append("replace" if winner else "keep")
            reasons.append(f"champion; replaced by {winner}" if winner else
                           "champion; no candidate is shown to beat it, so it stays")
            continue
        diff = (f"DR difference {row['dr_diff']:+.4f} [{row['diff_ci_low']:+.4f}, {row['diff_ci_high']:+.4f}] "
                f"(SNIPS {row['snips_diff']:+.4f})")
        if not ess_ok[i]:
            why = f"refused: effective sample size {row['ess']:.0f} < min_ess {float(config.min_ess):.0f}"
        elif not support_ok[i]:
            why = (f"refused: {share[i]:.1%} of its probability on (cell, arm) pairs the logging policy never "
                   f"played > max_unsupported_share {float(config.max_unsupported_share):.1%}")
        elif not finite[i]:
            why = "refused: no p-value (no interval)"
        elif passes[i]:
            why = (f"passes: p = {row['p_value']:.4f} <= Holm threshold {row['holm_threshold']:.4f} "
                   f"({m} tested at alpha {float(config.alpha)})")
            why += "; best lower bound, shipped" if row["policy"] == winner else "; a lower bound below the shipped one"
        else:
            why = (f"refused: p = {row['p_value']:.4f}, Holm threshold {row['holm_threshold']:.4f} "
                   f"({m} tested at alpha {float(config.alpha)})")
        reasons.append(f"{why}; {diff}")
        verdicts.append("promote" if row["policy"] == winner else ("pass" if passes[i] else "refuse"))
    t["verdict"] = verdicts
    t["reason"] = reasons
    t["_order"] = np.where(is_champ, 0, 1)
    t = t.sort_values(["_order", "diff_ci_low", "policy"], ascending=[True, False, True], kind="stable")
    return t.drop(columns="_order")[list(GATE_COLUMNS)].reset_index(drop=True)


def run_gate(rewards, actions, pscore, q_hat, policies: Mapping[str, np.ndarray], champion: str, cells=None,
             config: GateConfig = GateConfig()) -> pd.DataFrame:
    """:func:`paired_differences` then :func:`gate_verdicts`, with one :class:`GateConfig`."""
    diffs = paired_differences(rewards, actions, pscore, q_hat, policies, champion, cells, alpha=config.alpha,
                               n_bootstrap=config.n_bootstrap, interval=config.interval,
                               random_state=config.random_state)
    return gate_verdicts(diffs.table, champion, config)
