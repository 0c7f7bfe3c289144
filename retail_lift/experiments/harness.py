r"""Trust harness: simulate thousands of experiments with known truth through the public functions.

:func:`run_trust_harness` checks the statistics engine end to end:

* **A/A, fixed horizon** – false-positive rate of :func:`two_proportion_test` (should be ≈ alpha)
  and coverage of its interval for the absolute effect (≈ 1 - alpha);
* **known effect at the MDE** – with the users per arm from :func:`sample_size_proportions`, the
  measured power should be ≈ the planned power, and the interval should still cover the true effect;
* **peeking** – looking ``peeks`` times (e.g. daily for two weeks) and stopping at the first
  ``p < alpha``: the fixed-horizon test's false-positive rate inflates well above alpha, the mSPRT's
  (:func:`msprt_test`) stays at or below alpha;
* **SRM** – the false-alarm rate of :func:`srm_test` under correct randomisation (≈ its threshold);
* **CUPED** – A/A false-positive rate and coverage of the CUPED-adjusted Welch test from sufficient
  statistics, and the measured variance reduction against the theoretical :math:`\rho^2`.

Everything is vectorised: one call of each public function handles all simulated experiments.
Conversions are drawn as Binomial counts (the exact distribution of per-user Bernoulli sums), so the
cost does not grow with the number of users.

Every rate comes with a binomial 99.9 % band ``[lo, hi]`` around its target: if the method is
calibrated, a simulated rate falls outside the band with probability about 0.1 %. The band, the rate
check and the report writers live in :mod:`retail_lift.montecarlo`, shared with the off-policy gate's
harness (:mod:`retail_lift.bandit.gate_harness`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from retail_lift.montecarlo import fmt, rate_check, with_checks, write_json
from retail_lift.validation import check_positive_int

from ._common import check_alpha, check_positive_scalar
from .cuped import cuped
from .frequentist import two_proportion_test
from .power import power_proportions, sample_size_proportions
from .sequential import msprt_test
from .srm import srm_test

__all__ = ["run_trust_harness", "write_harness_report"]

def _looks(n: int, peeks: int) -> np.ndarray:
    """Cumulative users per arm at each of ``peeks`` equally spaced looks (last look = ``n``)."""
    looks = np.round(n * np.arange(1, peeks + 1) / peeks).astype(int)
    return np.maximum(looks, 1)


def _cumulative_binomial(rng, looks: np.ndarray, p: float, size: int) -> np.ndarray:
    inc = np.diff(np.concatenate(([0], looks)))
    return np.cumsum(rng.binomial(inc, p, size=(size, len(looks))), axis=1)


def run_trust_harness(n_experiments: int = 1000, users_per_arm: int | None = None, baseline: float = 0.10,
                      mde: float = 0.10, alpha: float = 0.05, peeks: int = 14, seed: int = 0, *,
                      power: float = 0.8, relative: bool = True, tau: float | None = None,
                      srm_threshold: float = 0.001, cuped_users_per_arm: int = 400) -> dict:
    r"""Simulate A/A and known-effect experiments and report the engine's operating characteristics.

    Parameters
    ----------
    n_experiments : int, default 1000
        Simulated experiments per scenario (A/A, effect, peeking A/A, peeking effect, SRM, CUPED).
    users_per_arm : int, optional
        Users per arm. Default: the planned size from
        :func:`sample_size_proportions(baseline, mde, alpha, power, relative) <sample_size_proportions>`.
    baseline : float, default 0.10
        Control conversion rate.
    mde : float, default 0.10
        Minimum detectable effect (relative by default: 0.10 means 10 % → 11 %); the treatment rate
        of the known-effect scenarios.
    alpha : float, default 0.05
        Significance level of every test.
    peeks : int, default 14
        Equally spaced looks for the peeking scenarios (e.g. daily for two weeks).
    seed : int, default 0
        Seed of the NumPy generator; the whole report is reproducible.
    power : float, default 0.8
        Planned power for the sample-size calculation.
    relative : bool, default True
        Whether ``mde`` is relative to ``baseline``.
    tau : float, optional
        mSPRT mixing scale; default the absolute MDE ``|p_b - p_a|``.
    srm_threshold : float, default 0.001
        Threshold of :func:`srm_test`.
    cuped_users_per_arm : int, default 400
        Users per arm in the CUPED scenario (simulated per user, so kept small).

    Returns
    -------
    dict
        JSON-serialisable report: ``config``, headline numbers (``fixed_horizon_fpr``,
        ``abs_ci_coverage_aa``, ``abs_ci_coverage_effect``, ``power_at_mde``,
        ``peeking_fpr_fixed_horizon``, ``peeking_fpr_sequential``, ``sequential_power_at_mde``,
        ``srm_false_alarm_rate``, ``cuped_fpr``, ``cuped_variance_reduction`` …), per-metric
        ``details`` with binomial 99.9 % bands, boolean ``checks``, ``all_checks_passed`` and
        ``runtime_seconds``.
    """
    t0 = time.perf_counter()
    E = check_positive_int(n_experiments, "n_experiments")
    peeks = check_positive_int(peeks, "peeks")
    alpha = check_alpha(alpha)
    power = check_alpha(power, "power")
    baseline = check_alpha(baseline, "baseline")
    srm_threshold = check_alpha(srm_threshold, "srm_threshold")
    m = check_positive_int(cuped_users_per_arm, "cuped_users_per_arm")
    if m < 2:
        raise ValueError(f"cuped_users_per_arm must be at least 2, got {m}")
    planned = sample_size_proportions(baseline, mde, alpha=alpha, power=power, relative=relative)
    n = planned if users_per_arm is None else check_positive_int(users_per_arm, "users_per_arm")
    p1 = baseline
    p2 = baseline * (1.0 + mde) if relative else baseline + mde
    delta = p2 - p1
    tau = abs(delta) if tau is None else check_positive_scalar(tau, "tau")
    expected_power = power_proportions(baseline, mde, n, alpha=alpha, relative=relative)
    rng = np.random.default_rng(seed)

    # ---- fixed horizon: A/A and known effect -----------------------------------------------------
    aa = two_proportion_test(rng.binomial(n, p1, E), n, rng.binomial(n, p1, E), n, alpha=alpha)
    fpr = float(np.mean(aa.significant))
    cov_aa = float(np.mean((aa.abs_ci_low <= 0.0) & (0.0 <= aa.abs_ci_high)))

    eff = two_proportion_test(rng.binomial(n, p1, E), n, rng.binomial(n, p2, E), n, alpha=alpha)
    pw = float(np.mean(eff.significant & (np.sign(eff.abs_effect) == np.sign(delta))))
    cov_eff = float(np.mean((eff.abs_ci_low <= delta) & (delta <= eff.abs_ci_high)))
    rel_true = p2 / p1 - 1.0
    cov_rel = float(np.mean((eff.rel_ci_low <= rel_true) & (rel_true <= eff.rel_ci_high)))

    # ---- peeking: `peeks` looks, stop at the first p < alpha ---------------------------------------
    looks = _looks(n, peeks)
    ca, cb = _cumulative_binomial(rng, looks, p1, E), _cumulative_binomial(rng, looks, p1, E)
    peek_fixed = two_proportion_test(ca, looks, cb, looks, alpha=alpha)
    peek_fpr_fixed = float(np.mean(peek_fixed.significant.any(axis=1)))
    peek_seq = msprt_test(ca, looks, cb, looks, tau=tau, alpha=alpha)
    peek_fpr_seq = float(np.mean(peek_seq.rejected))
    cs_cov_aa = float(np.mean((peek_seq.abs_ci_low[:, -1] <= 0.0) & (0.0 <= peek_seq.abs_ci_high[:, -1])))

    ca, cb = _cumulative_binomial(rng, looks, p1, E), _cumulative_binomial(rng, looks, p2, E)
    seq_eff = msprt_test(ca, looks, cb, looks, tau=tau, alpha=alpha)
    seq_power = float(np.mean(seq_eff.rejected & (np.sign(seq_eff.abs_effect[:, -1]) == np.sign(delta))))
    stop = seq_eff.first_rejection_look[seq_eff.rejected]
    seq_mean_stop = float(np.mean(looks[stop]) / n) if stop.size else float("nan")
    cs_cov_eff = float(np.mean((seq_eff.abs_ci_low[:, -1] <= delta) & (delta <= seq_eff.abs_ci_high[:, -1])))

    # ---- SRM under correct 50/50 randomisation ---------------------------------------------------------
    assigned_a = rng.binomial(2 * n, 0.5, E)
    srm = srm_test(np.column_stack([assigned_a, 2 * n - assigned_a]), threshold=srm_threshold)
    srm_rate = float(np.mean(srm.is_srm))

    # ---- CUPED A/A from sufficient statistics ------------------------------------------------------------
    # x = pre-period spend ~ Gamma(2, 25); y = 5 + 0.8 x + N(0, 20^2)  =>  rho^2 = 800 / 1200 = 2/3.
    rho2 = (0.8**2 * 2 * 25**2) / (0.8**2 * 2 * 25**2 + 20**2)

    def _arm():
        x = rng.gamma(2.0, 25.0, size=(E, m))
        y = 5.0 + 0.8 * x + rng.normal(0.0, 20.0, size=(E, m))
        return {"users": np.full(E, m), "sum_y": y.sum(1), "sumsq_y": (y * y).sum(1),
                "sum_x": x.sum(1), "sumsq_x": (x * x).sum(1), "sum_xy": (x * y).sum(1)}

    cu = cuped(stats_a=_arm(), stats_b=_arm(), alpha=alpha)
    cuped_fpr = float(np.mean(cu.significant))
    cuped_cov = float(np.mean((cu.abs_ci_low <= 0.0) & (0.0 <= cu.abs_ci_high)))
    cuped_raw_fpr = float(np.mean(cu.unadjusted.significant))
    cuped_vr = float(np.mean(cu.variance_reduction))

    # ---- assemble --------------------------------------------------------------------------------------
    details = {
        "fixed_horizon_fpr": rate_check(alpha, fpr, E),
        "abs_ci_coverage_aa": rate_check(1.0 - alpha, cov_aa, E),
        "abs_ci_coverage_effect": rate_check(1.0 - alpha, cov_eff, E),
        "rel_ci_coverage_effect": rate_check(1.0 - alpha, cov_rel, E),
        "power_at_mde": rate_check(expected_power, pw, E),
        "peeking_fpr_fixed_horizon": rate_check(alpha, peek_fpr_fixed, E, "above"),
        "peeking_fpr_sequential": rate_check(alpha, peek_fpr_seq, E, "at most"),
        "sequential_cs_coverage_aa": rate_check(1.0 - alpha, cs_cov_aa, E, "at least"),
        "sequential_cs_coverage_effect": rate_check(1.0 - alpha, cs_cov_eff, E, "at least"),
        "srm_false_alarm_rate": rate_check(srm_threshold, srm_rate, E),
        "cuped_fpr": rate_check(alpha, cuped_fpr, E),
        "cuped_coverage_aa": rate_check(1.0 - alpha, cuped_cov, E),
    }
    checks = {f"{k}: {d['expectation']}": d["ok"] for k, d in details.items()}
    checks["fixed_horizon_fpr: within 1.5 points of alpha"] = abs(fpr - alpha) <= 0.015
    checks["cuped_variance_reduction: within 0.05 of rho^2"] = abs(cuped_vr - rho2) < 0.05

    return with_checks({
        "config": {"n_experiments": E, "users_per_arm": int(n), "planned_users_per_arm": int(planned),
                   "baseline": p1, "treatment_rate": p2, "mde": float(mde), "relative": bool(relative),
                   "abs_effect": delta, "alpha": alpha, "power": power, "peeks": peeks,
                   "looks_users_per_arm": looks.tolist(), "tau": tau, "srm_threshold": srm_threshold,
                   "cuped_users_per_arm": m, "seed": seed},
        "fixed_horizon_fpr": fpr,
        "abs_ci_coverage_aa": cov_aa,
        "abs_ci_coverage_effect": cov_eff,
        "rel_ci_coverage_effect": cov_rel,
        "power_at_mde": pw,
        "expected_power": expected_power,
        "peeking_fpr_fixed_horizon": peek_fpr_fixed,
        "peeking_fpr_sequential": peek_fpr_seq,
        "sequential_power_at_mde": seq_power,
        "sequential_mean_stop_fraction": seq_mean_stop,
        "sequential_cs_coverage_aa": cs_cov_aa,
        "sequential_cs_coverage_effect": cs_cov_eff,
        "srm_false_alarm_rate": srm_rate,
        "cuped_fpr": cuped_fpr,
        "cuped_unadjusted_fpr": cuped_raw_fpr,
        "cuped_coverage_aa": cuped_cov,
        "cuped_variance_reduction": cuped_vr,
        "cuped_theoretical_variance_reduction": rho2,
        "details": details,
    }, checks, t0)


def write_harness_report(results: dict, path_json, path_md) -> tuple[Path, Path]:
    """Write the harness results as JSON (complete) and Markdown (human-readable summary).

    Parameters
    ----------
    results : dict
        Output of :func:`run_trust_harness`.
    path_json, path_md : str or os.PathLike
        Destination files (parent folders are created).

    Returns
    -------
    (pathlib.Path, pathlib.Path)
        The two paths written.
    """
    if not isinstance(results, dict) or "checks" not in results or "config" not in results:
        raise ValueError("results must be the dict returned by run_trust_harness")
    pj, pm = write_json(results, path_json), Path(path_md)
    pm.parent.mkdir(parents=True, exist_ok=True)

    cfg = results["config"]
    lines = [
        "# Experiment engine trust harness",
        "",
        f"{cfg['n_experiments']:,} simulated experiments per scenario; baseline {cfg['baseline']:.4f}, "
        f"treatment {cfg['treatment_rate']:.4f} (MDE {cfg['mde']}{' relative' if cfg['relative'] else ''}), "
        f"{cfg['users_per_arm']:,} users per arm (planned {cfg['planned_users_per_arm']:,}), "
        f"alpha {cfg['alpha']}, {cfg['peeks']} looks, mSPRT tau {cfg['tau']:.5f}, seed {cfg['seed']}.",
        "",
        "| metric | measured | target | 99.9% band | expectation | ok |",
        "|---|---|---|---|---|---|",
    ]
    for name, d in results["details"].items():
        lo, hi = d["band_99_9"]
        lines.append(f"| {name} | {d['measured']:.4f} | {d['target']:.4f} | [{lo:.4f}, {hi:.4f}] | "
                     f"{d['expectation']} | {fmt(d['ok'])} |")
    lines += ["", "Other measurements:", ""]
    for key in ("expected_power", "sequential_power_at_mde", "sequential_mean_stop_fraction",
                "cuped_unadjusted_fpr", "cuped_variance_reduction", "cuped_theoretical_variance_reduction"):
        if key in results:
            lines.append(f"- {key}: {fmt(results[key])}")
    lines += ["", "| check | passed |", "|---|---|"]
    lines += [f"| {k} | {fmt(v)} |" for k, v in results["checks"].items()]
    lines += ["", f"All checks passed: **{fmt(results['all_checks_passed'])}** "
                  f"(runtime {results['runtime_seconds']:.2f} s).", ""]
    pm.write_text("\n".join(lines))
    return pj, pm
