r"""Whole-pipeline trust harness (issue 20, item 4): simulated daily looks through the real code.

:func:`run_trust_harness` simulates thousands of experiments with a known truth **in the shape the SQL
produces** (``fct_experiment_daily_looks``: per experiment × look date × variant × metric the
cumulative closed-window sums ``users, sum_y, sumsq_y, sum_d, …, sum_dx``, ``open_window_users``,
``winsor_cap``, ``mean_y``, ``mean_x``) and runs them through the same code the dbt models run:

* :func:`~retail_lift.experiments.verdicts.decide_experiments` (``ml_experiment_decisions``) on every
  daily look, once with the registry's ``fixed`` and once with its ``sequential`` mode
  (:class:`~retail_lift.experiments.registry.ExperimentSpec`, pre-registered baseline, MDE 10 %
  relative, alpha 0.05, power 0.8);
  on the revenue scenarios also with no registry entry at all (mode ``default``: the documented
  :func:`~retail_lift.experiments.registry.default_spec`, primary ``conversion_rate`` with the guardrail
  ``revenue_per_user`` at a 5 % non-inferiority margin, sequential, baseline from the control's first
  looks), so the guardrail path and the undeclared baseline run end to end too;
* :func:`~retail_lift.experiments.analysis.analyze_experiments` (``ml_experiment_results``) on the
  last look: the coverage of its 95 % interval (and of the CUPED interval) for the true effect.

Simulated world
---------------
Each experiment assigns users for 21 days (``started_at`` … ``ended_at``); a user's attribution
window closes 7 days after assignment, and there is one look a day for 28 days, so the windows of the
last cohort close on day 27 and the decision at the last look is final. A look counts the users whose
window has closed (``users``) and those assigned whose window is still open (``open_window_users``).
The daily traffic is the same every day: 110 % of the larger of the fixed-horizon and the sequential
planned size per arm, over the 21 days. Users are split over the arms by a multinomial draw with the
planned shares (equal); with **sample-ratio mismatch** the last arm loses 3 % of its users at random.

Users have 0–4 pre-period orders (shares 60/20/10/6/4 %), the CUPED covariate ``x`` of
``conversion_rate`` (``pre_orders``); the probability of converting in the window is proportional to
``1 + pre_orders``, scaled to the scenario's baseline (1 %, 10 % or 30 %). A treatment at the MDE
multiplies it by 1.1. Each cohort's sums are exact: multinomial counts of the (pre-orders, converted)
cells.

The heavy-tailed **revenue** metric (``revenue_per_user``): a converter spends a lognormal amount
(log-mean 3.5, log-s.d. 1.2, so the top 1 % of converters bring ~13 % of the uncapped revenue); a user's spending
level (one of 20 equal-probability quantiles of that lognormal) sets the pre-period revenue
``pre_orders × level`` (the covariate ``pre_revenue``) and correlates (0.6 on the log scale) with the
window spend. The spend is capped (winsorised) at the seed's percentile (0.999) of the users' positive
**pre-period** revenue, as the metric definition (``seeds/experiment_metrics.csv``) prescribes: the cap is fixed
before the outcome. Converters' spends are drawn one by one; the other sums follow from the cells. The
true capped means are computed exactly (closed forms of the capped lognormal), so the true effect is
known.

Reported per scenario and mode, each with its Monte Carlo standard error (``s.e.``)
---------------------------------------------------------------------------------------
* **false ship** (A/A): experiments in which some variant is shipped; bound ``<= alpha``;
* **false "do not ship"** (A/A): experiments in which some variant reads "do not ship"; ``<= alpha``;
* **power** (true effect at the MDE): share of the treatment variants shipped (averaged per experiment
  first); ``>= planned power - 5 points`` (without sample-ratio mismatch);
* **coverage** of the 95 % interval of ``analyze_experiments`` at the last look (per variant);
  ``about 0.95``, and the same for the CUPED interval, with CUPED's mean variance reduction;
* **SRM detection**: experiments read ``invalid: SRM``; ``about`` the chi-square test's exact power at
  the simulated mismatch (non-central chi-square), and ``at most 0.001`` without mismatch;
* no experiment still reads ``keep running`` at the last look (every window is closed).

A bound counts as met within 3 Monte Carlo standard errors (:func:`retail_lift.montecarlo.bound_check`;
the error is the larger of the measured one and the binomial one at the bound). The Monte Carlo
utilities are shared with the off-policy gate's harness (:mod:`retail_lift.bandit.gate_harness`).
Everything is seeded per scenario (``[seed, scenario index]``): a report is the same whatever ``jobs``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from retail_lift.montecarlo import bound_check, mean_and_se, with_checks, write_json
from retail_lift.validation import check_positive_int

from .analysis import analyze_experiments
from .metrics import load_metric_definitions
from .registry import ExperimentSpec, MetricSpec, default_spec
from .verdicts import decide_experiments

__all__ = ["FULL_SCENARIOS", "QUICK_SCENARIOS", "Scenario", "run_trust_harness", "simulate_daily_looks",
           "write_harness_report"]

ALPHA, POWER, MDE = 0.05, 0.80, 0.10
LOOKS, ASSIGN_DAYS, ATTRIBUTION_DAYS = 28, 21, 7
START = dt.date(2026, 1, 5)
SRM_LOSS = 0.03
SRM_THRESHOLD = 0.001
TRAFFIC_MARGIN = 1.10
PRE_ORDER_SHARES = np.array([0.60, 0.20, 0.10, 0.06, 0.04])
PROPENSITY = 1.0 + np.arange(len(PRE_ORDER_SHARES))
SPEND_MU, SPEND_SIGMA, SPEND_RHO, SPEND_LEVELS = 3.5, 1.2, 0.6, 20
#: the revenue metric's cap percentile, from the metric definitions file (as the SQL reads it)
WINSORIZE_PERCENTILE = load_metric_definitions()["revenue_per_user"].winsorize_percentile
POWER_SLACK = 0.05
K_SE = 3.0
VARIANTS = ("control", "b", "c")
MODES = ("fixed", "sequential")
#: the registry's documented defaults (:func:`~retail_lift.experiments.registry.default_spec`: primary
#: conversion_rate, guardrail revenue_per_user at a 5 % margin, sequential, baseline from the first looks),
#: run on the revenue scenarios (whose looks carry both metrics)
DEFAULT_MODE = "default"
SUM_COLUMNS = ("sum_y", "sumsq_y", "sum_d", "sumsq_d", "sum_yd", "sum_x", "sumsq_x", "sum_xy", "sum_e",
               "sumsq_e", "sum_xe", "sum_ye", "sum_de", "sum_dx")
LOOK_COLUMNS = ("experiment_id", "look_date", "variant", "metric_name", "metric_type", "is_control", "users",
                "open_window_users", *SUM_COLUMNS, "winsor_cap", "mean_y", "mean_x")


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One simulated design: primary metric, control conversion rate, arms, true effect, mismatch."""

    metric: str = "conversion_rate"  # or "revenue_per_user"
    baseline: float = 0.10  # control conversion rate
    arms: int = 2
    effect: str = "aa"  # "aa" (no effect) or "mde" (every treatment at the MDE)
    srm: bool = False

    def __post_init__(self):
        if self.metric not in ("conversion_rate", "revenue_per_user"):
            raise ValueError(f"scenario metric must be conversion_rate or revenue_per_user, got {self.metric!r}")
        if not 0 < self.baseline < 1 / ((1 + MDE) * PROPENSITY.max() / float(PRE_ORDER_SHARES @ PROPENSITY)):
            raise ValueError(f"scenario baseline must keep every user's conversion probability below 1, "
                             f"got {self.baseline!r}")
        if self.arms not in (2, 3):
            raise ValueError(f"scenario arms must be 2 or 3, got {self.arms!r}")
        if self.effect not in ("aa", "mde"):
            raise ValueError(f"scenario effect must be 'aa' or 'mde', got {self.effect!r}")

    @property
    def revenue(self) -> bool:
        return self.metric == "revenue_per_user"

    @property
    def name(self) -> str:
        what = f"revenue (conv. {self.baseline:.0%})" if self.revenue else f"conversion {self.baseline:.0%}"
        return (f"{what}, {self.arms} arms, {'A/A' if self.effect == 'aa' else 'MDE'}"
                + (", SRM" if self.srm else ""))

    @property
    def key(self) -> str:
        m = "rev" if self.revenue else "conv"
        return f"{m}{self.baseline * 100:g}_{self.arms}arms_{self.effect}{'_srm' if self.srm else ''}"


FULL_SCENARIOS: tuple[Scenario, ...] = tuple(
    Scenario(metric, b, arms, effect, srm)
    for metric, b in (("conversion_rate", 0.01), ("conversion_rate", 0.10), ("conversion_rate", 0.30),
                      ("revenue_per_user", 0.10))
    for arms in (2, 3) for effect in ("aa", "mde") for srm in (False, True))

#: the reduced run of the test suite: A/A, power on the heavy-tailed metric with 3 arms, and a mismatch
QUICK_SCENARIOS: tuple[Scenario, ...] = (Scenario("conversion_rate", 0.10, 2, "aa", False),
                                         Scenario("revenue_per_user", 0.10, 3, "mde", False),
                                         Scenario("conversion_rate", 0.01, 2, "aa", True))


# ------------------------------------------------------------------------------------------- the world
def _conversion_probs(baseline: float) -> np.ndarray:
    """Per pre-order class, the conversion probability (proportional to 1 + pre_orders, mean = baseline)."""
    return baseline * PROPENSITY / float(PRE_ORDER_SHARES @ PROPENSITY)


def _levels() -> tuple[np.ndarray, np.ndarray]:
    """Spending levels: standard-normal midpoints of 20 equal-probability bins and their lognormal values."""
    z = stats.norm.ppf((np.arange(SPEND_LEVELS) + 0.5) / SPEND_LEVELS)
    return z, np.exp(SPEND_MU + SPEND_SIGMA * z)


def winsor_cap() -> float:
    """The cap of the revenue metric, by the SQL's rule: the :data:`WINSORIZE_PERCENTILE` percentile of
    the users' *positive* pre-period revenue (``pre_orders × level``; a lower percentile of the discrete
    distribution, i.e. the smallest value with at least that share of positive values at or below it)."""
    _, v = _levels()
    vals = np.outer(np.arange(len(PRE_ORDER_SHARES)), v).ravel()
    probs = np.outer(PRE_ORDER_SHARES, np.full(SPEND_LEVELS, 1 / SPEND_LEVELS)).ravel()
    positive = vals > 0
    vals, probs = vals[positive], probs[positive] / probs[positive].sum()
    order = np.argsort(vals, kind="stable")
    cum = np.cumsum(probs[order])
    return float(vals[order][np.searchsorted(cum, WINSORIZE_PERCENTILE - 1e-12)])


def _capped_moments(cap: float) -> tuple[float, float]:
    """``E[min(S, cap)]`` and ``E[min(S, cap)^2]`` of one converter's spend (exact: per spending level the
    spend is lognormal with log-mean ``mu + sigma rho z`` and log-s.d. ``sigma sqrt(1 - rho^2)``)."""
    z, _ = _levels()
    mu, s = SPEND_MU + SPEND_SIGMA * SPEND_RHO * z, SPEND_SIGMA * math.sqrt(1 - SPEND_RHO**2)
    lc = math.log(cap)
    above = stats.norm.sf((lc - mu) / s)
    m1 = np.exp(mu + s * s / 2) * stats.norm.cdf((lc - mu - s * s) / s) + cap * above
    m2 = np.exp(2 * mu + 2 * s * s) * stats.norm.cdf((lc - mu - 2 * s * s) / s) + cap * cap * above
    return float(m1.mean()), float(m2.mean())


def truth(sc: Scenario) -> dict:
    """The scenario's exact control mean and per-user s.d. of the primary metric, the true effect per
    treatment, the cap (revenue), the planned sizes and the daily traffic per arm."""
    if sc.revenue:
        cap = winsor_cap()
        m1, m2 = _capped_moments(cap)
        mean = sc.baseline * m1
        sd = math.sqrt(sc.baseline * m2 - mean * mean)
    else:
        cap, mean, sd = None, sc.baseline, math.sqrt(sc.baseline * (1 - sc.baseline))
    planned = {mode: _spec(sc, mode, mean, sd).planned_users_per_arm() for mode in MODES}
    if sc.revenue:
        planned[DEFAULT_MODE] = default_spec("sim").planned_users_per_arm(sc.baseline)
    per_day = math.ceil(TRAFFIC_MARGIN * max(planned[m] for m in MODES) / ASSIGN_DAYS)
    return {"control_mean": mean, "control_sd": sd, "true_effect": mean * MDE if sc.effect == "mde" else 0.0,
            "winsor_cap": cap, "planned_users_per_arm": planned, "users_per_arm_per_day": per_day,
            "users_per_arm": per_day * ASSIGN_DAYS}


def _spec(sc: Scenario, mode: str, baseline: float, sd: float, experiment_id: str = "sim") -> ExperimentSpec:
    mtype = "mean" if sc.revenue else "proportion"
    return ExperimentSpec(experiment_id, MetricSpec(sc.metric, "primary", mtype), (), mde_relative=MDE, alpha=ALPHA,
                          power=POWER, analysis_mode=mode, max_duration_days=LOOKS, baseline=baseline,
                          baseline_sd=sd if sc.revenue else None, source="trust harness")


def _modes(sc: Scenario) -> tuple[str, ...]:
    return (*MODES, DEFAULT_MODE) if sc.revenue else MODES


def _shares(sc: Scenario) -> np.ndarray:
    w = np.ones(sc.arms)
    if sc.srm:
        w[-1] *= 1 - SRM_LOSS
    return w / w.sum()


def srm_detection_power(sc: Scenario, users_per_arm_per_day: int) -> float:
    """Exact probability that the chi-square SRM test flags the last look (non-central chi-square)."""
    n = sc.arms * users_per_arm_per_day * ASSIGN_DAYS
    planned = np.full(sc.arms, 1 / sc.arms)
    ncp = n * float(np.sum((_shares(sc) - planned) ** 2 / planned))
    crit = stats.chi2.isf(SRM_THRESHOLD, sc.arms - 1)
    return float(stats.ncx2.sf(crit, sc.arms - 1, ncp)) if ncp > 0 else SRM_THRESHOLD


# ------------------------------------------------------------------------------------------ simulation
def _cohort_sums(sc: Scenario, t: dict, n_exp: int, rng) -> dict[str, np.ndarray]:
    """Per experiment × arm × assignment day, the cohort's sums for each metric: {metric: (E, arms, days, 6)}
    with columns users, sum_y, sumsq_y, sum_x, sumsq_x, sum_xy."""
    E, K, A = n_exp, sc.arms, ASSIGN_DAYS
    total = t["users_per_arm_per_day"] * K
    users = rng.multinomial(total, _shares(sc), size=(E, A)).transpose(0, 2, 1)  # (E, K, A)
    lift = np.where(np.arange(K) > 0, 1 + (MDE if sc.effect == "mde" else 0.0), 1.0)
    p = _conversion_probs(sc.baseline)[None, :] * lift[:, None]  # (K, X)
    X = len(PRE_ORDER_SHARES)
    xo = np.arange(X, dtype=float)
    if not sc.revenue:
        cells = np.concatenate([PRE_ORDER_SHARES * (1 - p), PRE_ORDER_SHARES * p], axis=1)  # (K, 2X)
        c = rng.multinomial(users, cells[None, :, None, :])  # (E, K, A, 2X)
        conv = c[..., X:].astype(float)
        allc = (c[..., :X] + c[..., X:]).astype(float)
        sy = conv.sum(-1)
        out = np.stack([users.astype(float), sy, sy, allc @ xo, allc @ (xo * xo), conv @ xo], axis=-1)
        return {"conversion_rate": out}
    z, v = _levels()
    L = SPEND_LEVELS
    q = (PRE_ORDER_SHARES[:, None] / L) * np.ones(L)[None, :]  # (X, L)
    cells = np.concatenate([(q[None] * (1 - p)[:, :, None]).reshape(K, -1),
                            (q[None] * p[:, :, None]).reshape(K, -1)], axis=1)  # (K, 2XL)
    c = rng.multinomial(users, cells[None, :, None, :])  # (E, K, A, 2XL)
    XL = X * L
    conv = c[..., XL:]
    allc = (c[..., :XL] + conv).astype(float)
    xrev = (xo[:, None] * v[None, :]).ravel()  # pre_revenue of each (pre_orders, level) cell
    conv_total = conv.sum(-1).astype(float)
    conv_stats = np.stack([users.astype(float), conv_total, conv_total, allc @ np.repeat(xo, L),
                           allc @ np.repeat(xo * xo, L), conv.astype(float) @ np.repeat(xo, L)], axis=-1)
    # converters' spends, one by one: lognormal given the level, capped at the pre-period cap
    flat = conv.reshape(-1)
    idx = np.repeat(np.arange(flat.size), flat)
    cell = idx % XL
    level = cell % L
    s_cond = SPEND_SIGMA * math.sqrt(1 - SPEND_RHO**2)
    y = np.minimum(np.exp(SPEND_MU + SPEND_SIGMA * SPEND_RHO * z[level] + s_cond * rng.standard_normal(idx.size)),
                   t["winsor_cap"])
    g = idx // XL
    G = E * K * A
    sum_y = np.bincount(g, y, G).reshape(E, K, A)
    sumsq_y = np.bincount(g, y * y, G).reshape(E, K, A)
    sum_xy = np.bincount(g, y * xrev[cell], G).reshape(E, K, A)
    rev_stats = np.stack([users.astype(float), sum_y, sumsq_y, allc @ xrev, allc @ (xrev * xrev), sum_xy], axis=-1)
    return {"conversion_rate": conv_stats, "revenue_per_user": rev_stats}


def _experiments_frame(ids: Sequence[str], arms: int) -> pd.DataFrame:
    split = ",".join(f"{v}:1" for v in VARIANTS[:arms])
    return pd.DataFrame({"experiment_id": list(ids), "control_variant": "control", "planned_split": split,
                         "started_at": START, "ended_at": START + dt.timedelta(days=ASSIGN_DAYS - 1),
                         "attribution_days": ATTRIBUTION_DAYS})


def simulate_daily_looks(sc: Scenario, n_experiments: int, rng, *, prefix: str = "sim") -> tuple[pd.DataFrame,
                                                                                                 pd.DataFrame]:
    """Simulate ``n_experiments`` experiments of scenario ``sc``: the daily looks in the columns of
    ``fct_experiment_daily_looks`` (:data:`LOOK_COLUMNS`) and the experiments table
    (``experiment_id, control_variant, planned_split, started_at, ended_at, attribution_days``)."""
    E = check_positive_int(n_experiments, "n_experiments")
    t = truth(sc)
    K = sc.arms
    cohorts = _cohort_sums(sc, t, E, rng)
    d = np.arange(1, LOOKS + 1)
    n_closed = np.clip(d - ATTRIBUTION_DAYS + 1, 0, ASSIGN_DAYS)  # cohorts a <= d - W have closed windows
    n_assigned = np.minimum(d + 1, ASSIGN_DAYS)  # cohorts a <= d are assigned
    ids = [f"{prefix}_{i:05d}" for i in range(E)]
    frames = []
    for metric, cs in cohorts.items():
        cum = np.concatenate([np.zeros((E, K, 1, cs.shape[-1])), np.cumsum(cs, axis=2)], axis=2)
        closed = cum[:, :, n_closed, :]  # (E, K, LOOKS, 6)
        assigned = cum[:, :, n_assigned, 0]
        users, sy, sqy, sx, sqx, sxy = (closed[..., i].ravel() for i in range(6))
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_y, mean_x = np.where(users > 0, sy / users, np.nan), np.where(users > 0, sx / users, np.nan)
        cap = t["winsor_cap"] if metric == "revenue_per_user" else np.nan
        f = pd.DataFrame({
            "experiment_id": np.repeat(ids, K * LOOKS),
            "look_date": np.tile(np.array([START + dt.timedelta(days=int(k)) for k in d], dtype=object), E * K),
            "variant": np.tile(np.repeat(np.array(VARIANTS[:K], dtype=object), LOOKS), E),
            "metric_name": metric,
            "metric_type": "mean" if metric == "revenue_per_user" else "proportion",
            "is_control": np.tile(np.repeat(np.arange(K) == 0, LOOKS), E),
            "users": users.astype(np.int64), "open_window_users": (assigned.ravel() - users).astype(np.int64),
            # non-ratio metrics: d = e = 1 per user
            "sum_y": sy, "sumsq_y": sqy, "sum_d": users, "sumsq_d": users, "sum_yd": sy, "sum_x": sx,
            "sumsq_x": sqx, "sum_xy": sxy, "sum_e": users, "sumsq_e": users, "sum_xe": sx, "sum_ye": sy,
            "sum_de": users, "sum_dx": sx, "winsor_cap": cap, "mean_y": mean_y, "mean_x": mean_x})
        frames.append(f)
    looks = pd.concat(frames, ignore_index=True)[list(LOOK_COLUMNS)]
    return looks, _experiments_frame(ids, K)


# ----------------------------------------------------------------------------------------- evaluation
def _evaluate(sc: Scenario, n_experiments: int, seed: int, index: int, chunk: int = 100) -> dict:
    """Simulate one scenario, decide in both modes and analyse the last look; per-experiment outcomes."""
    t0 = time.perf_counter()
    rng = np.random.default_rng([seed, index])
    t = truth(sc)
    K = sc.arms
    treat = list(VARIANTS[1:K])
    out = {m: {"ship": [], "dns": [], "power": [], "srm": [], "keep": [], "inconclusive": [], "stop_day": []}
           for m in _modes(sc)}
    cov, cov_cuped, vr = [], [], []
    t_sim = t_dec = t_an = 0.0
    for start in range(0, n_experiments, chunk):
        n = min(chunk, n_experiments - start)
        a = time.perf_counter()
        looks, exps = simulate_daily_looks(sc, n, rng, prefix=f"{sc.key}_{start}")
        t_sim += time.perf_counter() - a
        for mode in _modes(sc):
            a = time.perf_counter()
            reg = None if mode == DEFAULT_MODE else {e: _spec(sc, mode, t["control_mean"], t["control_sd"], e)
                                                     for e in exps["experiment_id"]}
            dec = decide_experiments(looks, exps, reg)
            t_dec += time.perf_counter() - a
            o = out[mode]
            for _, g in dec.groupby("experiment_id", sort=False):
                vals = g["decision"].to_numpy()
                o["ship"].append(float(np.any(vals == "ship")))
                o["dns"].append(float(np.any(vals == "do not ship")))
                o["power"].append(float(np.mean(vals == "ship")))
                o["srm"].append(float(np.all(vals == "invalid: SRM")))
                o["keep"].append(float(np.any(vals == "keep running")))
                o["inconclusive"].append(float(np.mean(vals == "inconclusive")))
                days = [(d - START).days for d, v in zip(g["decided_at"], vals, strict=True) if v == "ship"
                        and d is not None and not pd.isna(d)]
                o["stop_day"] += days
        a = time.perf_counter()
        last = looks[(looks["look_date"] == START + dt.timedelta(days=LOOKS)) & (looks["metric_name"] == sc.metric)]
        srm = last.assign(observed_users=last["users"] + last["open_window_users"], planned_share=1.0 / K)
        res = analyze_experiments(last, srm[["experiment_id", "variant", "observed_users", "planned_share"]],
                                  alpha=ALPHA, power=POWER, mde_relative=MDE, srm_threshold=SRM_THRESHOLD)
        t_an += time.perf_counter() - a
        res = res[res["variant"].isin(treat)]
        te = t["true_effect"]
        for _, g in res.groupby("experiment_id", sort=False):
            cov.append(float(np.mean((g["effect_ci_low"] <= te) & (te <= g["effect_ci_high"]))))
            cov_cuped.append(float(np.mean((g["cuped_ci_low"] <= te) & (te <= g["cuped_ci_high"]))))
            vr.append(float(np.nanmean(g["cuped_variance_reduction"].astype(float))))
    return {"index": index, "scenario": dataclasses.asdict(sc), "key": sc.key, "name": sc.name, "truth": t,
            "outcomes": out, "coverage": cov, "cuped_coverage": cov_cuped, "cuped_variance_reduction": vr,
            "seconds": {"simulate": t_sim, "decide": t_dec, "analyze": t_an, "total": time.perf_counter() - t0}}


def _task(args) -> dict:
    return _evaluate(*args)


def _rate(values) -> dict:
    m, se = mean_and_se(values)
    return {"rate": m, "mc_se": se}


def _summarise(r: dict, n: int) -> dict:
    sc = Scenario(**r["scenario"])
    t = r["truth"]
    srm_expected = srm_detection_power(sc, t["users_per_arm_per_day"])
    s = {"key": r["key"], "name": r["name"], "scenario": r["scenario"], "n_experiments": n, "truth": t,
         "srm_expected_detection": srm_expected, "modes": {}, "seconds": r["seconds"]}
    cov, cov_c = _rate(r["coverage"]), _rate(r["cuped_coverage"])
    s["analysis"] = {"coverage": cov, "cuped_coverage": cov_c,
                     "cuped_variance_reduction": float(np.mean(r["cuped_variance_reduction"]))}
    checks = {"coverage": bound_check(cov["rate"], cov["mc_se"], 1 - ALPHA, "about", n, K_SE),
              "cuped coverage": bound_check(cov_c["rate"], cov_c["mc_se"], 1 - ALPHA, "about", n, K_SE)}
    for mode, o in r["outcomes"].items():
        m = {k: _rate(o[k]) for k in ("ship", "dns", "power", "srm", "keep", "inconclusive")}
        m["median_ship_day"] = float(np.median(o["stop_day"])) if o["stop_day"] else None
        m["planned_users_per_arm"] = t["planned_users_per_arm"][mode]
        s["modes"][mode] = m
        if sc.effect == "aa":
            checks[f"{mode}: false ship"] = bound_check(m["ship"]["rate"], m["ship"]["mc_se"], ALPHA, "at most", n,
                                                        K_SE)
            checks[f"{mode}: false do not ship"] = bound_check(m["dns"]["rate"], m["dns"]["mc_se"], ALPHA, "at most",
                                                                n, K_SE)
        elif not sc.srm:
            checks[f"{mode}: power"] = bound_check(m["power"]["rate"], m["power"]["mc_se"], POWER - POWER_SLACK,
                                                   "at least", n, K_SE)
        if sc.srm:
            checks[f"{mode}: SRM detection"] = bound_check(m["srm"]["rate"], m["srm"]["mc_se"], srm_expected,
                                                           "about", n, K_SE)
        else:
            checks[f"{mode}: SRM false alarm"] = bound_check(m["srm"]["rate"], m["srm"]["mc_se"], SRM_THRESHOLD,
                                                             "at most", n, K_SE)
        checks[f"{mode}: final at the last look (no keep running)"] = {"measured": m["keep"]["rate"], "bound": 0.0,
                                                                      "kind": "equal", "ok": m["keep"]["rate"] == 0}
    s["checks"] = checks
    return s


def run_trust_harness(n_experiments: int = 1000, seed: int = 0, *, scenarios: Sequence[Scenario] | None = None,
                      jobs: int = 1, chunk: int = 100, progress: Callable[[int, int], None] | None = None) -> dict:
    """Simulate ``n_experiments`` experiments per scenario through ``decide_experiments`` (fixed and
    sequential modes) and ``analyze_experiments``, and check the bounds of the module docstring.

    Parameters
    ----------
    n_experiments : int, default 1000
        Simulated experiments per scenario (each decided in both modes).
    seed : int, default 0
        Scenario ``i`` is simulated from ``numpy.random.default_rng([seed, i])``.
    scenarios : sequence of Scenario, optional
        Default :data:`FULL_SCENARIOS` (32: 4 metrics/baselines × 2 and 3 arms × A/A and MDE × with and
        without sample-ratio mismatch); the test suite runs :data:`QUICK_SCENARIOS`.
    jobs : int, default 1
        Worker processes (one scenario per task).
    chunk : int, default 100
        Experiments simulated and decided together (memory).
    progress : callable(done, total), optional
        Called after every scenario.

    Returns
    -------
    dict
        JSON-serialisable: ``config``, ``scenarios`` (per scenario: truth, planned sizes, per mode the
        rates with their Monte Carlo standard errors, the analysis' coverage, the checks), ``checks``
        (``"<scenario> | <check>": bool``), ``all_checks_passed``, ``runtime_seconds``.
    """
    t0 = time.perf_counter()
    n = check_positive_int(n_experiments, "n_experiments")
    jobs = check_positive_int(jobs, "jobs")
    chunk = check_positive_int(chunk, "chunk")
    scenarios = tuple(FULL_SCENARIOS if scenarios is None else scenarios)
    if not scenarios or not all(isinstance(s, Scenario) for s in scenarios):
        raise ValueError("scenarios must be a non-empty sequence of Scenario")
    tasks = [(sc, n, seed, i, chunk) for i, sc in enumerate(scenarios)]
    order = sorted(range(len(tasks)), key=lambda i: -truth(scenarios[i])["users_per_arm"] * scenarios[i].arms
                   * (20 if scenarios[i].revenue else 1))
    raw: list[dict | None] = [None] * len(tasks)
    if jobs == 1:
        for done, i in enumerate(order, 1):
            raw[i] = _task(tasks[i])
            if progress:
                progress(done, len(tasks))
    else:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            for done, (i, res) in enumerate(zip(order, pool.map(_task, [tasks[i] for i in order]), strict=True), 1):
                raw[i] = res
                if progress:
                    progress(done, len(tasks))
    summaries = [_summarise(r, n) for r in raw]
    checks = {f"{s['name']} | {k}": v["ok"] for s in summaries for k, v in s["checks"].items()}
    experiments = n * len(scenarios)
    cfg = {"n_experiments": n, "n_scenarios": len(scenarios), "seed": seed, "jobs": jobs, "alpha": ALPHA,
           "power": POWER, "mde_relative": MDE, "looks": LOOKS, "assignment_days": ASSIGN_DAYS,
           "attribution_days": ATTRIBUTION_DAYS, "srm_loss": SRM_LOSS, "srm_threshold": SRM_THRESHOLD,
           "traffic_margin": TRAFFIC_MARGIN, "pre_order_shares": PRE_ORDER_SHARES.tolist(),
           "spend": {"log_mean": SPEND_MU, "log_sd": SPEND_SIGMA, "rho": SPEND_RHO, "levels": SPEND_LEVELS},
           "winsorize_percentile": WINSORIZE_PERCENTILE, "power_slack": POWER_SLACK, "k_se": K_SE,
           "decide_seconds": sum(s["seconds"]["decide"] for s in summaries),
           "analyze_seconds": sum(s["seconds"]["analyze"] for s in summaries),
           "simulate_seconds": sum(s["seconds"]["simulate"] for s in summaries)}
    cfg["experiments_per_minute_per_process"] = (
        experiments / max(sum(s["seconds"]["total"] for s in summaries), 1e-9) * 60)
    return with_checks({"config": cfg, "scenarios": summaries}, checks, t0)


# --------------------------------------------------------------------------------------------- report
def _pm(d: dict | None) -> str:
    if d is None:
        return ""
    return f"{d['rate']:.3f} ± {d['mc_se']:.3f}"


def write_harness_report(results: dict, path_json, path_md) -> tuple[Path, Path]:
    """Write the harness results as JSON (complete) and Markdown (the table of every scenario and mode).

    Returns the two paths written. ``results`` must be the dict of :func:`run_trust_harness`.
    """
    if not isinstance(results, dict) or "checks" not in results or "scenarios" not in results:
        raise ValueError("results must be the dict returned by run_trust_harness")
    pj, pm = write_json(results, path_json), Path(path_md)
    pm.parent.mkdir(parents=True, exist_ok=True)
    cfg = results["config"]
    lines = [
        "# Experiment decisions: whole-pipeline trust harness",
        "",
        f"{cfg['n_experiments']:,} simulated experiments per scenario ({cfg['n_scenarios']} scenarios, seed "
        f"{cfg['seed']}), each a table of {cfg['looks']} daily cumulative looks in the columns of "
        "`fct_experiment_daily_looks`, decided by `decide_experiments` (the code of `ml_experiment_decisions`) "
        "in the registry's fixed and sequential modes and analysed at the last look by `analyze_experiments` "
        f"(`ml_experiment_results`). Design: alpha {cfg['alpha']}, power {cfg['power']}, MDE "
        f"{cfg['mde_relative']:.0%} relative, pre-registered baseline; users assigned for {cfg['assignment_days']} "
        f"days, {cfg['attribution_days']}-day windows, traffic {cfg['traffic_margin']:.0%} of the larger planned "
        f"size; sample-ratio mismatch = the last arm loses {cfg['srm_loss']:.0%} of its users. Revenue: lognormal "
        f"spend × conversion, capped at the {cfg['winsorize_percentile']:.1%} percentile of positive pre-period "
        "revenue. Mode "
        "`default` (revenue scenarios): no registry entry, i.e. the documented defaults (primary conversion_rate, "
        "guardrail revenue_per_user at a 5 % non-inferiority margin, sequential, baseline from the control's first "
        "looks).",
        "",
        f"Rates ± Monte Carlo s.e. Bounds (met within {cfg['k_se']:g} s.e.): false ship and false \"do not ship\" "
        f"under A/A ≤ {cfg['alpha']}; power at the MDE ≥ {cfg['power'] - cfg['power_slack']:.2f} (no mismatch); "
        "95 % interval coverage; SRM detection = the chi-square test's exact power at the mismatch (≤ 0.001 "
        "without); every experiment final at the last look.",
        "",
        "| scenario | mode | planned / arm | users / arm | false ship | false do not ship | power | coverage "
        "(CUPED) | CUPED var. red. | SRM flagged (expected) | ok |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in results["scenarios"]:
        aa = s["scenario"]["effect"] == "aa"
        for mode, m in s["modes"].items():
            ok = all(v["ok"] for k, v in s["checks"].items() if k.startswith(mode) or ":" not in k)
            cov = s["analysis"]
            lines.append(
                f"| {s['name']} | {mode} | {m['planned_users_per_arm']:,} | {s['truth']['users_per_arm']:,} | "
                f"{_pm(m['ship']) if aa else ''} | {_pm(m['dns']) if aa else ''} | {'' if aa else _pm(m['power'])} | "
                f"{_pm(cov['coverage'])} ({cov['cuped_coverage']['rate']:.3f}) | "
                f"{cov['cuped_variance_reduction']:.3f} | {_pm(m['srm'])} ({s['srm_expected_detection']:.3f}) | "
                f"{'yes' if ok else '**no**'} |")
    failed = [k for k, v in results["checks"].items() if not v]
    lines += ["", f"{len(results['checks'])} checks, {len(failed)} failed"
              + (": " + "; ".join(failed) if failed else "") + ".", "",
              f"All checks passed: **{'yes' if results['all_checks_passed'] else 'no'}** (runtime "
              f"{results['runtime_seconds']:.0f} s, {cfg['jobs']} process(es); "
              f"{cfg['experiments_per_minute_per_process']:,.0f} experiments per minute per process, each decided "
              f"in every mode and analysed once; decide {cfg['decide_seconds']:.0f} s, analyze "
              f"{cfg['analyze_seconds']:.0f} s, simulate {cfg['simulate_seconds']:.0f} s).", ""]
    pm.write_text("\n".join(lines))
    return pj, pm
