r"""Gate trust harness: simulated decision logs with known truth through the off-policy gate.

:func:`run_gate_harness` checks :func:`retail_lift.bandit.gate.run_gate` end to end, as the
experiment engine's trust harness (:mod:`retail_lift.experiments.harness`) checks the A/B
statistics: how often does the gate ship a candidate that is **not truly better** than the
champion (a false ship), and how often does it ship one that is (power), against the holdout size?

**The world** (:func:`default_world`, fixed, independent of the simulation seed): ``6`` context
cells with known shares, ``7`` arms, and a known conversion probability ``p(cell, arm)`` (a logistic
table around 0.25: cell, arm and cell x arm effects drawn once from a fixed seed). A decision draws
its cell from the shares, the logging policy draws the arm, the reward is Bernoulli ``p(cell, arm)``.

**The logging policies** (the champion; epsilon-greedy around a hand-written rule, as the real
logging policy ``rules_eps30_v1``):

* ``wide`` support: the rule arm gets ``0.7``, and ``epsilon = 0.3`` is spread over all 7 arms
  (every arm at least ``0.3 / 7 ~ 0.043`` in every cell);
* ``narrow`` support: in each cell the rule arm gets ``0.795``, two other arms ``0.1`` each, two
  arms ``0.0025`` each (*thin*: played a few times in a large log, rarely or never in a small one)
  and the last two ``0`` (*never played*; which arms is drawn once per cell from a fixed seed).

**The candidates** are fixed policies (nothing is trained per simulation) whose true value is
known exactly, because the value of any policy ``pi`` is ``V(pi) = sum_c share_c sum_a pi(a | c)
p(c, a)``. A policy is built as ``pi = (1 - lambda) mu + lambda nu`` (``mu`` = the logging policy,
``lambda = 0.5``: half of every cell's traffic moves) with ``nu = theta A + (1 - theta) B`` for two
deterministic arm choices ``A`` and ``B`` per cell; ``V`` is linear, so ``theta`` is solved for the
wanted value in closed form: ``V(pi) = (1 - lambda) V(mu) + lambda (theta V(A) + (1 - theta) V(B))``.

* ``candidate`` (the scenario's policy): ``A`` = each cell's best arm, ``B`` = its worst arm among
  the arms the logging policy explores (probability > 1 %), solved to a true value of exactly
  ``V(mu) (1 + lift)`` for ``lift`` in ``-3 %``, ``0``, ``+3 %``, ``+7 %``;
* two **decoys** in every simulated log beside it, both of true value exactly ``V(mu)`` (not better,
  so shipping one is a false ship, and Holm has more than one hypothesis to control):
  with wide support ``decoy_second`` (second-best and worst explored arm) and ``decoy_third``
  (third-best and worst explored arm); with narrow support ``decoy_unsupported`` (best and worst
  *never played* arm: it must be refused by the support check) and ``decoy_thin`` (best *thin* arm
  and worst explored arm: heavy importance weights, to be refused by the ESS check or measured).

**One simulated log** of ``n`` decisions: cells, logged arms, Bernoulli rewards; ``q_hat`` from
:func:`~retail_lift.bandit.ope.fit_reward_model` (``model="logistic"``, ``n_folds=5``, its
``cross_fitted_`` predictions) on the one-hot cells, exactly as the build's pipeline; then
:func:`~retail_lift.bandit.gate.run_gate` with the default :class:`~retail_lift.bandit.gate.GateConfig`,
the logging policy as champion (its probabilities = the logged ones), the cell ids as ``cells``,
once per lift scenario on the same log and ``q_hat`` (common random numbers across lifts; one
bootstrap serves every lift, see :func:`gate_tables`).

**Per scenario** (support x holdout size x lift), over ``n_sims`` independent logs: the ship rate,
the **false-ship rate** (a shipped policy whose true value is not above the champion's), the
**power** (shipping a truly better policy), each with its Monte Carlo standard error, the exact
(Clopper-Pearson) one-sided 95 % upper bound of the false-ship rate and the binomial 99.9 % band
of a 5 % rate (:mod:`retail_lift.montecarlo`, shared with the experiments harness); the bias of the
DR difference against the true difference. The **power curve** lists the power of the ``+3 %`` and
``+7 %`` candidates against the holdout size, with :func:`holdout_for_power` the size needed for
80 % power: interpolated between measured sizes that bracket it, otherwise extrapolated from the
measured standard error of the difference (``se ~ sigma / sqrt(n)``, normal approximation).
"""

from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats
from scipy.special import expit, logit

from ..montecarlo import clopper_pearson, fmt, mc_standard_error, rate_check, with_checks, write_json
from ..validation import check_positive_int
from .gate import GateConfig, gate_verdicts, paired_differences
from .ope import fit_reward_model

__all__ = [
    "FALSE_SHIP_BOUND",
    "FULL",
    "GateWorld",
    "LIFTS",
    "QUICK",
    "SUPPORTS",
    "candidate_policies",
    "default_world",
    "gate_tables",
    "holdout_for_power",
    "logging_policy",
    "policy_value",
    "run_gate_harness",
    "simulate_log",
    "write_gate_harness_report",
]

#: the candidate's true value relative to the champion's, per scenario
LIFTS = (-0.03, 0.0, 0.03, 0.07)
SUPPORTS = ("wide", "narrow")
#: the bound on the false-ship rate in every scenario
FALSE_SHIP_BOUND = 0.05
TARGET_POWER = 0.8
#: share of every cell's traffic a candidate or decoy moves away from the logging policy
MOVE = 0.5
CHAMPION = "logging"

#: the full run (``make gate-harness``) and the reduced one (the test suite)
FULL = dict(n_sims=200, sizes=(2000, 7000, 20000), power_sizes={"wide": (40000,), "narrow": (30000,)},
            lifts=LIFTS, supports=SUPPORTS)
QUICK = dict(n_sims=40, sizes=(2000,), power_sizes=(), lifts=LIFTS, supports=SUPPORTS)


# ----------------------------------------------------------------------------------------------
# the world and its policies (exact values)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateWorld:
    """A small contextual world with known conversion probabilities.

    ``shares`` (n_cells,) probability of each context cell; ``p`` (n_cells, n_arms) true conversion
    probability; ``rule`` the logging rule's arm per cell; ``narrow_roles`` (n_cells, n_arms) the
    narrow logging policy's role of every arm: 0 rule, 1 explored, 2 thin, 3 never played.
    """

    shares: np.ndarray
    p: np.ndarray
    rule: np.ndarray
    narrow_roles: np.ndarray

    @property
    def n_cells(self) -> int:
        return self.p.shape[0]

    @property
    def n_arms(self) -> int:
        return self.p.shape[1]

    def as_dict(self) -> dict:
        return {"shares": self.shares.tolist(), "p": np.round(self.p, 6).tolist(), "rule": self.rule.tolist(),
                "narrow_roles": self.narrow_roles.tolist()}


def default_world() -> GateWorld:
    """The harness's world: 6 cells, 7 arms, conversion around 0.25 (drawn once from seed 7)."""
    n_cells, n_arms = 6, 7
    rng = np.random.default_rng(7)
    cell = rng.normal(0.0, 0.2, n_cells)
    arm = rng.normal(0.0, 0.1, n_arms)
    inter = rng.normal(0.0, 0.3, (n_cells, n_arms))
    p = expit(logit(0.26) + cell[:, None] + arm[None, :] + inter)
    rule = np.array([0, 1, 2, 0, 1, 2])
    roles = np.zeros((n_cells, n_arms), dtype=int)
    for c in range(n_cells):
        others = rng.permutation([a for a in range(n_arms) if a != rule[c]])
        roles[c, others[:2]], roles[c, others[2:4]], roles[c, others[4:]] = 1, 2, 3
    return GateWorld(np.array([0.25, 0.20, 0.18, 0.15, 0.12, 0.10]), p, rule, roles)


def logging_policy(world: GateWorld, support: str) -> np.ndarray:
    """The logging policy's ``(n_cells, n_arms)`` probabilities for ``support`` ``"wide"`` or ``"narrow"``."""
    if support == "wide":
        mu = np.full(world.p.shape, 0.3 / world.n_arms)
        mu[np.arange(world.n_cells), world.rule] += 0.7
        return mu
    if support == "narrow":
        return np.choose(world.narrow_roles, [0.795, 0.1, 0.0025, 0.0])
    raise ValueError(f"support must be one of {SUPPORTS}, got {support!r}")


def policy_value(world: GateWorld, probs) -> float:
    """True value (conversion per decision) of a policy given as ``(n_cells, n_arms)`` probabilities."""
    return float(world.shares @ (np.asarray(probs, dtype=float) * world.p).sum(axis=1))


def _mix_to_value(world: GateWorld, mu: np.ndarray, arm_a: np.ndarray, arm_b: np.ndarray, target: float):
    """``(1 - MOVE) mu + MOVE (theta onehot(arm_a) + (1 - theta) onehot(arm_b))`` of value ``target``."""
    eye = np.eye(world.n_arms)
    va, vb = policy_value(world, eye[arm_a]), policy_value(world, eye[arm_b])
    need = (target - (1.0 - MOVE) * policy_value(world, mu)) / MOVE
    theta = (need - vb) / (va - vb)
    if not 0.0 <= theta <= 1.0:
        raise ValueError(f"no mixture reaches the value {target:.5f} (arm values {va:.5f}, {vb:.5f})")
    return (1.0 - MOVE) * mu + MOVE * (theta * eye[arm_a] + (1.0 - theta) * eye[arm_b])


def _ranked(world: GateWorld, allowed: np.ndarray) -> np.ndarray:
    """Arms of each cell by true conversion, best first, among ``allowed`` (others last)."""
    return np.argsort(np.where(allowed, -world.p, np.inf), axis=1, kind="stable")


def candidate_policies(world: GateWorld, support: str, lift: float) -> dict[str, np.ndarray]:
    """The scenario's fixed policies, ``{name: (n_cells, n_arms) probabilities}``: ``candidate``
    of true value ``V(logging) (1 + lift)`` and two decoys of true value ``V(logging)``."""
    mu = logging_policy(world, support)
    v0 = policy_value(world, mu)
    cells = np.arange(world.n_cells)
    explored = mu > 0.01
    ranked = _ranked(world, explored)
    best, worst = ranked[:, 0], ranked[cells, explored.sum(axis=1) - 1]
    out = {"candidate": _mix_to_value(world, mu, best, worst, v0 * (1.0 + lift))}
    if support == "wide":
        out["decoy_second"] = _mix_to_value(world, mu, ranked[:, 1], worst, v0)
        out["decoy_third"] = _mix_to_value(world, mu, ranked[:, 2], worst, v0)
    else:
        never = _ranked(world, world.narrow_roles == 3)
        thin = _ranked(world, world.narrow_roles == 2)
        out["decoy_unsupported"] = _mix_to_value(world, mu, never[:, 0], never[:, 1], v0)
        out["decoy_thin"] = _mix_to_value(world, mu, thin[:, 0], worst, v0)
    return out


# ----------------------------------------------------------------------------------------------
# one simulated log through the gate
# ----------------------------------------------------------------------------------------------


def simulate_log(world: GateWorld, mu: np.ndarray, n: int, rng) -> dict[str, np.ndarray]:
    """``n`` logged decisions: ``cells``, ``actions`` (drawn from ``mu``), ``pscore``, ``rewards``."""
    cells = rng.choice(world.n_cells, size=n, p=world.shares)
    cum = np.cumsum(mu[cells], axis=1)
    actions = np.minimum((rng.random(n)[:, None] > cum).sum(axis=1), world.n_arms - 1)
    rewards = (rng.random(n) < world.p[cells, actions]).astype(float)
    return {"cells": cells, "actions": actions, "pscore": mu[cells, actions], "rewards": rewards}


def gate_tables(world: GateWorld, support: str, log: dict, q_hat: np.ndarray, lifts: Sequence[float],
                config: GateConfig) -> dict[float, object]:
    """The gate's verdict table for every lift on one log: exactly ``run_gate(rewards, actions, pscore,
    q_hat, {logging, candidate, decoys}, "logging", cells, config)`` per lift.

    ``run_gate`` is :func:`~retail_lift.bandit.gate.paired_differences` then
    :func:`~retail_lift.bandit.gate.gate_verdicts`; a policy's row of ``paired_differences`` does not
    depend on the other policies of the call (the bootstrap's resampled rows depend only on ``n`` and
    the seed), so one call with the champion, the decoys and every lift's candidate serves all lifts,
    and ``gate_verdicts`` then judges each lift's family on its own (tested equal to ``run_gate``).
    """
    cells = log["cells"]
    mu = logging_policy(world, support)
    fixed = {lift: candidate_policies(world, support, lift) for lift in lifts}
    policies = {CHAMPION: mu[cells]}
    for lift, pols in fixed.items():
        policies[f"candidate {lift:+}"] = pols["candidate"][cells]
        policies.update({k: P[cells] for k, P in pols.items() if k != "candidate"})
    table = paired_differences(log["rewards"], log["actions"], log["pscore"], q_hat, policies, CHAMPION, cells,
                               alpha=config.alpha, n_bootstrap=config.n_bootstrap, interval=config.interval,
                               random_state=config.random_state).table
    out = {}
    for lift, pols in fixed.items():
        family = [CHAMPION, f"candidate {lift:+}", *(k for k in pols if k != "candidate")]
        # in run_gate's order (Holm orders tied p-values by position)
        sub = table.set_index("policy").loc[family].reset_index()
        sub["policy"] = sub["policy"].replace({f"candidate {lift:+}": "candidate"})
        out[lift] = gate_verdicts(sub, CHAMPION, config)
    return out


def _simulate_one(task) -> list[dict]:
    """One log (support, size, sim) through the gate, once per lift: per-scenario outcomes."""
    world, support, n, lifts, seed_key, config = task
    rng = np.random.default_rng(np.random.SeedSequence(seed_key))
    mu = logging_policy(world, support)
    log = simulate_log(world, mu, n, rng)
    X = np.eye(world.n_cells)[log["cells"]]
    q_hat = fit_reward_model(X, log["actions"], log["rewards"], world.n_arms, model="logistic",
                             n_folds=5).cross_fitted_
    v0 = policy_value(world, mu)
    out = []
    for lift, gate in gate_tables(world, support, log, q_hat, lifts, config).items():
        fixed = candidate_policies(world, support, lift)
        g = gate.set_index("policy")
        shipped = g.index[g["verdict"] == "promote"]
        shipped = str(shipped[0]) if len(shipped) else None
        better = shipped is not None and policy_value(world, fixed[shipped]) > v0 * (1.0 + 1e-12)
        out.append({
            "support": support, "size": n, "lift": lift, "sim": int(seed_key[-1]), "shipped": shipped,
            "truly_better": bool(better),
            "eligible": {k: bool(g.loc[k, "eligible"]) for k in fixed},
            "support_refused": {k: bool(g.loc[k, "unsupported_share"] > config.max_unsupported_share) for k in fixed},
            "p_value": {k: float(g.loc[k, "p_value"]) for k in fixed},
            "n_eligible": int(g["eligible"].sum()),
            "cand_diff": float(g.loc["candidate", "dr_diff"]),
            "cand_se": float(g.loc["candidate", "diff_se"]),
        })
    return out


# ----------------------------------------------------------------------------------------------
# summaries
# ----------------------------------------------------------------------------------------------


def _rate_summary(k: int, n: int) -> dict:
    rate = k / n
    return {"rate": rate, "count": int(k), "mc_se": mc_standard_error(rate, n)}


def _summarise(rows: list[dict], world: GateWorld, config: GateConfig) -> dict:
    first = rows[0]
    support, size, lift = first["support"], first["size"], first["lift"]
    n = len(rows)
    mu = logging_policy(world, support)
    v0 = policy_value(world, mu)
    fixed = candidate_policies(world, support, lift)
    true_diff = policy_value(world, fixed["candidate"]) - v0
    shipped = sum(r["shipped"] is not None for r in rows)
    false = sum(r["shipped"] is not None and not r["truly_better"] for r in rows)
    true = sum(r["truly_better"] for r in rows)
    diffs = np.array([r["cand_diff"] for r in rows])
    ses = np.array([r["cand_se"] for r in rows])
    bias_se = float(diffs.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    fs = _rate_summary(false, n)
    fs["upper_95"] = clopper_pearson(false, n, level=0.90)[1]
    fs["check"] = rate_check(FALSE_SHIP_BOUND, fs["rate"], n, "at most")
    fs["meets_bound"] = bool(fs["rate"] <= FALSE_SHIP_BOUND)
    return {
        "support": support, "size": int(size), "lift": float(lift), "n_sims": n,
        "true_value_champion": v0, "true_diff": true_diff,
        "ship": _rate_summary(shipped, n),
        "false_ship": fs,
        "power": _rate_summary(true, n) if lift > 0 else None,
        "shipped_by_policy": {k: sum(r["shipped"] == k for r in rows) / n for k in fixed},
        "eligible_by_policy": {k: sum(r["eligible"][k] for r in rows) / n for k in fixed},
        "support_refused_by_policy": {k: sum(r["support_refused"][k] for r in rows) / n for k in fixed},
        "mean_eligible": float(np.mean([r["n_eligible"] for r in rows])),
        "candidate_dr_diff_mean": float(diffs.mean()),
        "candidate_dr_diff_bias": float(diffs.mean() - true_diff),
        "candidate_dr_diff_bias_mc_se": bias_se,
        # two-sided 99.9 % Student t quantile (n - 1 degrees of freedom): the bias check's tolerance in MC se
        "candidate_dr_diff_bias_t999": float(stats.t.ppf(0.9995, n - 1)) if n > 1 else float("nan"),
        "candidate_diff_se_mean": float(ses.mean()),
        "candidate_sigma": float(ses.mean() * math.sqrt(size)),
    }


def holdout_for_power(curve: Sequence[dict], alpha: float, target: float = TARGET_POWER) -> dict:
    """Holdout size for ``target`` power from a power curve (rows of ``size``, ``power``,
    ``true_diff``, ``sigma`` = measured ``se(diff) sqrt(n)``, ``mean_eligible``), sorted by size.

    ``method="interpolated"``: two measured sizes bracket ``target``; the size is interpolated
    linearly in ``sqrt(n)`` on the probit scale of the power (the normal approximation's
    ``Phi^-1(power) = diff sqrt(n) / sigma - z`` is linear in ``sqrt(n)``). Otherwise
    ``method="extrapolated"``: ``n = ((z + z_target) sigma / diff)^2`` with the ``sigma`` of the
    largest measured size and ``z = Phi^-1(1 - alpha / m)``, ``m`` = the mean number of eligible
    candidates there rounded (the Holm threshold of the smallest p-value); ``line_size`` is a
    cross-check, the probit-in-``sqrt(n)`` line through the two largest measured sizes carried on
    (``None`` when their powers do not rise strictly inside (0, 1)).
    """
    rows = sorted(curve, key=lambda r: r["size"])
    if not rows:
        raise ValueError("an empty power curve")
    for lo, hi in zip(rows, rows[1:], strict=False):
        if lo["power"] < target <= hi["power"]:
            clip = lambda p: min(max(p, 0.5 / 1000), 1 - 0.5 / 1000)  # noqa: E731 - probit of 0 or 1
            z_lo, z_hi, z_t = (stats.norm.ppf(clip(p)) for p in (lo["power"], hi["power"], target))
            s_lo, s_hi = math.sqrt(lo["size"]), math.sqrt(hi["size"])
            s = s_lo + (z_t - z_lo) * (s_hi - s_lo) / (z_hi - z_lo)
            return {"size": int(round(s * s)), "method": "interpolated", "from_sizes": [lo["size"], hi["size"]]}
    if rows[0]["power"] >= target:
        return {"size": int(rows[0]["size"]), "method": "at most (smallest measured size already reaches it)",
                "from_sizes": [rows[0]["size"]]}
    last = rows[-1]
    m = max(1, int(round(last["mean_eligible"])))
    z = stats.norm.ppf(1.0 - alpha / m) + stats.norm.ppf(target)
    size = (z * last["sigma"] / last["true_diff"]) ** 2
    out = {"size": int(math.ceil(size)), "method": "extrapolated", "from_sizes": [last["size"]],
           "sigma": last["sigma"], "holm_m": m, "line_size": None}
    if len(rows) >= 2 and 0 < rows[-2]["power"] < last["power"] < 1:
        # cross-check: the probit-in-sqrt(n) line through the two largest measured sizes, carried on
        (n1, p1), (n2, p2) = ((r["size"], r["power"]) for r in rows[-2:])
        z1, z2 = stats.norm.ppf(p1), stats.norm.ppf(p2)
        s = math.sqrt(n2) + (stats.norm.ppf(target) - z2) * (math.sqrt(n2) - math.sqrt(n1)) / (z2 - z1)
        out["line_size"] = int(round(s * s))
    return out


# ----------------------------------------------------------------------------------------------
# the harness
# ----------------------------------------------------------------------------------------------


def _check_sizes(values, name: str) -> tuple[int, ...]:
    out = tuple(check_positive_int(v, name) for v in values)
    if any(v < 50 for v in out):
        raise ValueError(f"{name} must be at least 50 decisions each, got {list(out)}")
    return out


def run_gate_harness(n_sims: int = FULL["n_sims"], sizes: Sequence[int] = FULL["sizes"],
                     power_sizes: Sequence[int] | Mapping[str, Sequence[int]] = FULL["power_sizes"],
                     lifts: Sequence[float] = LIFTS, supports: Sequence[str] = SUPPORTS, seed: int = 0, *,
                     jobs: int = 1, config: GateConfig | None = None, world: GateWorld | None = None,
                     progress: Callable[[int, int], None] | None = None) -> dict:
    """Simulate decision logs with known truth and report the gate's false-ship rate and power.

    Parameters
    ----------
    n_sims : int, default 200
        Independent simulated logs per support and holdout size (each evaluated for every lift).
    sizes : ints, default (2000, 7000, 20000)
        Holdout sizes (decisions) of the full scenario grid (every lift).
    power_sizes : ints, or {support: ints}, default {"wide": (40000,), "narrow": (30000,)}
        Further holdout sizes for the power curve only (the positive lifts), for every support or
        per support.
    lifts : floats, default (-0.03, 0, 0.03, 0.07)
        The candidate's true value relative to the champion's.
    supports : default ("wide", "narrow")
        Logging policies (see the module docstring).
    seed : int, default 0
        Every log's generator is seeded from ``(seed, support, size, sim)``: the report is the same
        for a seed whatever ``jobs``.
    jobs : int, default 1
        Worker processes.
    config : GateConfig, optional
        The gate's settings; default ``GateConfig()``, as the build.
    world : GateWorld, optional
        Default :func:`default_world`.
    progress : callable(done, total), optional
        Called after every simulated log.

    Returns
    -------
    dict
        JSON-serialisable: ``config``, ``world`` (with the true values of every policy),
        ``scenarios`` (one per support x size x lift: ship, false-ship and power rates with their
        Monte Carlo errors, see :func:`_summarise`), ``power_curve`` and ``holdout_for_80_power``
        per support and positive lift, ``logs`` (every log's outcome per lift), ``checks``,
        ``all_checks_passed``, ``runtime_seconds``.
    """
    t0 = time.perf_counter()
    n_sims = check_positive_int(n_sims, "n_sims")
    jobs = check_positive_int(jobs, "jobs")
    sizes = _check_sizes(sizes, "sizes")
    supports = tuple(supports)
    if not supports or any(s not in SUPPORTS for s in supports):
        raise ValueError(f"supports must be among {SUPPORTS}, got {list(supports)}")
    if not isinstance(power_sizes, Mapping):
        power_sizes = {s: power_sizes for s in supports}
    if set(power_sizes) - set(supports):
        raise ValueError(f"power_sizes names supports not run: {sorted(set(power_sizes) - set(supports))}")
    power_sizes = {s: _check_sizes(v, "power_sizes") for s, v in power_sizes.items()}
    if not sizes:
        raise ValueError("sizes must name at least one holdout size")
    lifts = tuple(float(v) for v in lifts)
    if not lifts or any(not -0.5 < v < 0.5 for v in lifts):
        raise ValueError(f"lifts must be relative values in (-0.5, 0.5), got {list(lifts)}")
    world = default_world() if world is None else world
    config = GateConfig() if config is None else config
    positive = tuple(v for v in lifts if v > 0)
    tasks = []
    for support in supports:
        extra = [n for n in power_sizes.get(support, ()) if n not in sizes]
        grid = [(n, lifts) for n in sizes] + ([(n, positive) for n in extra] if positive else [])
        for n, ls in grid:
            tasks += [(world, support, n, ls, [seed, SUPPORTS.index(support), n, i], config) for i in range(n_sims)]
    order = sorted(range(len(tasks)), key=lambda i: -tasks[i][2] * len(tasks[i][3]))  # longest first
    results: list[list[dict]] = [[] for _ in tasks]
    if jobs == 1:
        it = ((i, _simulate_one(tasks[i])) for i in order)
        for done, (i, res) in enumerate(it, 1):
            results[i] = res
            if progress:
                progress(done, len(tasks))
    else:
        # spawned workers: forking a process that already runs threads (BLAS, DuckDB, a test session) can hang
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            for done, (i, res) in enumerate(zip(order, pool.map(_simulate_one, [tasks[i] for i in order]),
                                                strict=True), 1):
                results[i] = res
                if progress:
                    progress(done, len(tasks))
    settings = {"n_sims": n_sims, "sizes": list(sizes), "lifts": list(lifts),
                "power_sizes": {k: list(v) for k, v in power_sizes.items()}, "supports": list(supports), "seed": seed,
                "jobs": jobs, "gate": config.as_dict(), "reward_model": "logistic, 5-fold cross-fitted, one-hot cells",
                "move": MOVE, "false_ship_bound": FALSE_SHIP_BOUND}
    return _assemble([row for res in results for row in res], settings, world, config, t0)


def _assemble(logs: list[dict], settings: dict, world: GateWorld, config: GateConfig, started: float) -> dict:
    """The report from the per-log outcomes (kept in it as ``logs``, so it can be summarised again)."""
    supports, lifts = tuple(settings["supports"]), tuple(settings["lifts"])
    positive = tuple(v for v in lifts if v > 0)
    by_key: dict[tuple, list[dict]] = {}
    for row in logs:
        by_key.setdefault((row["support"], row["size"], row["lift"]), []).append(row)
    scenarios = [_summarise(by_key[k], world, config) for k in sorted(by_key, key=lambda k: (
        supports.index(k[0]), k[1], k[2]))]

    curves, n80 = {}, {}
    for support in supports:
        for lift in positive:
            rows = [{"size": s["size"], "power": s["power"]["rate"], "power_mc_se": s["power"]["mc_se"],
                     "true_diff": s["true_diff"], "sigma": s["candidate_sigma"],
                     "mean_eligible": s["mean_eligible"]}
                    for s in scenarios if s["support"] == support and s["lift"] == lift]
            for r in rows:  # the normal approximation at the measured sigma, beside the measured power
                z = stats.norm.ppf(1.0 - config.alpha / max(1, int(round(r["mean_eligible"]))))
                r["normal_approx_power"] = float(stats.norm.cdf(r["true_diff"] * math.sqrt(r["size"]) / r["sigma"] - z))
            key = f"{support} {lift:+.0%}"
            curves[key] = rows
            n80[key] = holdout_for_power(rows, config.alpha)

    checks = {}
    for s in scenarios:
        name = f"{s['support']} n={s['size']} lift={s['lift']:+.0%}"
        checks[f"false ships <= {FALSE_SHIP_BOUND:.0%}: {name}"] = s["false_ship"]["meets_bound"]
        if s["support"] == "narrow":
            checks[f"unsupported decoy refused by the support check every time: {name}"] = \
                s["support_refused_by_policy"]["decoy_unsupported"] == 1.0
        if s["n_sims"] > 1 and s["candidate_dr_diff_bias_mc_se"] > 0:
            tolerance = s["candidate_dr_diff_bias_t999"] * s["candidate_dr_diff_bias_mc_se"]
            checks[f"candidate DR difference unbiased (|bias| within the 99.9 % t band of its MC se): {name}"] = \
                abs(s["candidate_dr_diff_bias"]) <= tolerance
    values = {}
    for support in supports:
        mu = logging_policy(world, support)
        values[support] = {"logging": policy_value(world, mu)}
        for lift in lifts:
            for name, P in candidate_policies(world, support, lift).items():
                values[support][name if name != "candidate" else f"candidate {lift:+.0%}"] = policy_value(world, P)
    return with_checks({
        "config": settings,
        "world": {**world.as_dict(), "logging": {s: logging_policy(world, s).tolist() for s in supports},
                  "true_values": values},
        "scenarios": scenarios,
        "power_curve": curves,
        "holdout_for_80_power": n80,
        "logs": logs,
    }, checks, started)


# ----------------------------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------------------------


def _pm(rate: dict | None) -> str:
    return "–" if rate is None else f"{rate['rate']:.3f} ± {rate['mc_se']:.3f}"


def write_gate_harness_report(results: dict, path_json, path_md) -> tuple[Path, Path]:
    """Write the gate harness results as JSON (complete) and Markdown (the tables of the docs)."""
    if not isinstance(results, dict) or not {"scenarios", "checks", "config"} <= set(results):
        raise ValueError("results must be the dict returned by run_gate_harness")
    pj, pm = write_json(results, path_json), Path(path_md)
    pm.parent.mkdir(parents=True, exist_ok=True)
    cfg, gate = results["config"], results["config"]["gate"]
    tv = results["world"]["true_values"]
    lines = [
        "# Off-policy gate trust harness",
        "",
        f"{cfg['n_sims']:,} simulated decision logs per support and holdout size (seed {cfg['seed']}), every log "
        f"through `run_gate` with the default `GateConfig` (alpha {gate['alpha']} family-wise one-sided, Holm; "
        f"min_ess {gate['min_ess']:g}; max_unsupported_share {gate['max_unsupported_share']}; paired bootstrap, "
        f"{gate['n_bootstrap']} resamples) and a {cfg['reward_model']} reward model, as the build. A world of 6 "
        f"context cells and 7 arms with known conversion; the champion is the logging policy (epsilon-greedy "
        f"around a rule: *wide* support explores every arm, *narrow* support explores 2 arms per cell, plays 2 "
        f"more with probability 0.0025 and never plays the last 2). Each log is judged once per true lift of the "
        f"fixed `candidate` (-3 %, 0, +3 %, +7 % of the champion's value), always beside two decoys whose true "
        f"value equals the champion's (wide: `decoy_second`, `decoy_third`; narrow: `decoy_unsupported`, all "
        f"on never-played arms, and `decoy_thin`, on the 0.0025 arms). Every fixed policy keeps half of each "
        f"cell's traffic on the logging policy and moves the other half to a mix of two arms per cell, the mix "
        f"solved in closed form for the stated true value (`retail_lift.bandit.gate_harness`). Reproduce with "
        f"`make gate-harness` (`retail-lift gate-harness --n {cfg['n_sims']} --seed {cfg['seed']}`).",
        "",
        "True values (conversion per decision): " + "; ".join(
            f"{s}: logging {v['logging']:.4f}" for s, v in tv.items()) + ".",
        "",
        f"**False ships** (a shipped policy that is not truly better; the bound is {cfg['false_ship_bound']:.0%} in "
        f"every scenario) and **power** (a truly better policy shipped), rate ± Monte Carlo standard error; "
        f"'95 % upper' is the exact one-sided Clopper-Pearson bound, the band is where a true 5 % rate lands "
        f"99.9 % of the time:",
        "",
        "| support | holdout | true lift | ship rate | false ships | 95 % upper | 99.9 % band of 5 % | ≤ 5 % | power "
        "| decoys shipped | candidate eligible | decoys eligible | DR bias of the difference (± MC se) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in results["scenarios"]:
        fs = s["false_ship"]
        lo, hi = fs["check"]["band_99_9"]
        decoys = ", ".join(f"{v:.2f}" for k, v in s["eligible_by_policy"].items() if k != "candidate")
        decoys_shipped = sum(v for k, v in s["shipped_by_policy"].items() if k != "candidate")
        lines.append(
            f"| {s['support']} | {s['size']:,} | {s['lift']:+.0%} | {_pm(s['ship'])} | {_pm(fs)} | "
            f"{fs['upper_95']:.3f} | [{lo:.3f}, {hi:.3f}] | {fmt(fs['meets_bound'])} | {_pm(s['power'])} | "
            f"{decoys_shipped:.3f} | {s['eligible_by_policy']['candidate']:.2f} | {decoys} | "
            f"{s['candidate_dr_diff_bias']:+.5f} ± {s['candidate_dr_diff_bias_mc_se']:.5f} |")
    lines += ["", "**Power curve** (power of the truly better candidate against the holdout size; the normal "
              "approximation uses the measured standard error of the DR difference and the Holm threshold "
              "alpha / m of the eligible candidates):", "",
              "| support | true lift | holdout | power | normal approximation | se of the difference |",
              "|---|---|---|---|---|---|"]
    for key, rows in results["power_curve"].items():
        support, lift = key.split(" ")
        for r in rows:
            lines.append(f"| {support} | {lift} | {r['size']:,} | {r['power']:.3f} ± {r['power_mc_se']:.3f} | "
                         f"{r['normal_approx_power']:.3f} | {r['sigma'] / math.sqrt(r['size']):.5f} |")
    lines += ["", "**Holdout for 80 % power**:", "", "| support | true lift | decisions | how |", "|---|---|---|---|"]
    for key, d in results["holdout_for_80_power"].items():
        support, lift = key.split(" ")
        if d["method"] == "extrapolated":
            how = (f"extrapolated from the se of the difference measured at {d['from_sizes'][0]:,} decisions "
                   f"(sigma {d['sigma']:.3f}, se = sigma / sqrt(n), Holm m = {d['holm_m']}); not simulated")
            if d.get("line_size"):
                how += f"; the probit line through the two largest measured sizes gives {d['line_size']:,}"
        elif d["method"] == "interpolated":
            how = f"interpolated between the measured {d['from_sizes'][0]:,} and {d['from_sizes'][1]:,}"
        else:
            how = d["method"]
        lines.append(f"| {support} | {lift} | {d['size']:,} | {how} |")
    failed = [k for k, ok in results["checks"].items() if not ok]
    lines += ["", f"{len(results['checks'])} checks (false ships at most 5 % in every scenario; the never-played "
              f"decoy refused by the support check in every narrow-support log; the candidate's DR difference "
              f"unbiased within the 99.9 % t band of its Monte Carlo standard error): "
              + ("all passed." if not failed else "failed: " + "; ".join(failed) + "."),
              "", f"All checks passed: **{fmt(results['all_checks_passed'])}** "
                  f"(runtime {results['runtime_seconds']:.0f} s, {cfg['jobs']} process(es)).", ""]
    pm.write_text("\n".join(lines))
    return pj, pm
