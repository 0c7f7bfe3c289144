r"""Experiment analysis for the warehouse: one row per experiment x variant x metric.

:func:`analyze_experiments` takes the sufficient statistics the SQL layer computes
(``fct_experiment_variant_stats``: per experiment, variant and metric the closed-window ``users`` and
the uniform sums of the numerator ``y``, denominator ``d`` and covariate ``x`` / covariate denominator
``e`` of the metric definitions file: ``sum_y, sumsq_y, sum_d, sumsq_d, sum_yd, sum_x, sumsq_x,
sum_xy, sum_e, sumsq_e, sum_xe, sum_ye, sum_de, sum_dx``; frames with only ``users, sum_y, sumsq_y,
sum_x, sumsq_x, sum_xy`` still work, with d = e = 1) and the sample-ratio data
(``fct_experiment_srm``), and runs every test in this package on each treatment variant against the
experiment's control.

For each row
    * ``effect`` (treatment minus control), its interval, ``relative_lift`` (delta method) and
      ``p_value``: the pooled two-proportion z test for rate metrics (``metric_type`` proportion),
      Welch's t test for means, and for ``ratio`` metrics (``sum_y / sum_d`` over the arm, e.g.
      average order value) the same test on the delta-method variance of the ratio of sums
      (Deng, Knoblich & Lu 2018; :mod:`retail_lift.experiments.ratio`); ``control_mean`` /
      ``variant_mean`` are then the ratios;
    * ``p_value_adjusted``: Holm's correction across all variants and metrics of the experiment;
    * ``cuped_*``: the same comparison with CUPED variance reduction on the pre-period covariate, for
      every metric type (for ratios on the linearised metric and covariate, Deng et al. 2013);
      ``cuped_variance_reduction`` = 1 − Var(CUPED effect) / Var(unadjusted effect), the share of the
      variance of the effect estimate that the covariate removes (0 when the covariate is constant,
      NULL when the metric has no covariate);
    * ``sequential_p_value``: the always-valid mSPRT p-value (valid under continuous monitoring;
      mixture scale ``tau`` = the planned minimum detectable effect);
    * ``prob_beat_control`` and the expected losses: the exact Beta-Binomial posterior for rate
      metrics; for revenue-type metrics a normal approximation of the posterior of the difference
      under a flat prior (``P = Phi(effect / se)``; expected loss of shipping
      ``E[max(-d, 0)] = se * phi(z) - effect * Phi(-z)``);
    * ``srm_p_value`` / ``is_srm``: chi-square test of the users per variant against the planned
      split (flag at ``p < 0.001``);
    * ``planned_users_per_arm``: users per arm needed to detect ``mde_relative`` at ``alpha`` and
      ``power`` given the control's rate (or mean and standard deviation);
    * ``decision`` and ``decision_reason``: :func:`retail_lift.experiments.decide` applied to the
      row's test with the Holm-adjusted p-value (ship / do not ship / keep running / invalid: SRM).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from .bayesian import bayesian_proportion_test
from .decision import INVALID_SRM, decide
from .frequentist import two_proportion_test, welch_from_moments
from .multiple_testing import holm
from .power import sample_size_means, sample_size_proportions
from .ratio import ALL_SUMS, DENOMINATOR_SUMS, ArmMoments, arm_moments, cuped_delta
from .sequential import msprt_from_estimates
from .srm import srm_test

RESULT_COLUMNS = [
    "experiment_id", "variant", "metric_name", "metric_type", "control_variant",
    "control_users", "variant_users", "control_mean", "variant_mean",
    "effect", "effect_ci_low", "effect_ci_high", "relative_lift", "relative_lift_ci_low", "relative_lift_ci_high",
    "p_value", "p_value_adjusted", "is_significant",
    "cuped_effect", "cuped_ci_low", "cuped_ci_high", "cuped_p_value", "cuped_variance_reduction",
    "sequential_p_value", "prob_beat_control", "expected_loss_ship", "expected_loss_keep",
    "srm_p_value", "is_srm", "planned_users_per_arm", "decision", "decision_reason",
]

REQUIRED_STATS = ["experiment_id", "variant", "metric_name", "metric_type", "is_control", "users",
                  "sum_y", "sumsq_y", "sum_x", "sumsq_x", "sum_xy"]
REQUIRED_SRM = ["experiment_id", "variant", "observed_users", "planned_share"]


def _check_columns(df: pd.DataFrame, required: list[str], name: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{name} is missing column(s) {', '.join(missing)}; found {', '.join(df.columns)}")


def _srm_by_experiment(srm: pd.DataFrame, threshold: float) -> dict[str, tuple[float, bool]]:
    out = {}
    for exp_id, g in srm.groupby("experiment_id", sort=True):
        g = g[g["planned_share"].notna() & (g["planned_share"] > 0)]
        if len(g) < 2 or g["observed_users"].sum() == 0:
            out[exp_id] = (float("nan"), False)
            continue
        res = srm_test(g["observed_users"].to_numpy(dtype=float), g["planned_share"].to_numpy(dtype=float),
                       threshold=threshold)
        out[exp_id] = (float(res.p_value), bool(res.is_srm))
    return out


def _is_rate(metric_type: str) -> bool:
    return str(metric_type).lower() in ("proportion", "rate", "binary", "conversion")


def _is_ratio(metric_type: str) -> bool:
    return str(metric_type).lower() == "ratio"


def _get(r, k):
    v = getattr(r, k, None)
    return None if v is None or pd.isna(v) else float(v)


def _moments(r, ratio: bool) -> ArmMoments:
    """Linearised moments of one row (old frames without the d / e sums: d = e = 1)."""
    if ratio and any(_get(r, k) is None for k in DENOMINATOR_SUMS):
        raise ValueError(f"experiment {r.experiment_id!r}, variant {r.variant!r}, metric {r.metric_name!r}: a ratio "
                         f"metric needs {', '.join(DENOMINATOR_SUMS)} (null or missing)")
    return arm_moments(*(_get(r, k) if k != "users" else float(r.users) for k in ALL_SUMS), ratio=ratio)


def _compare(c, t, metric_type: str, alpha: float, mde_relative: float, power: float, prior) -> dict:
    rate, ratio = _is_rate(metric_type), _is_ratio(metric_type)
    nc, nt = int(c.users), int(t.users)
    row: dict = {"control_users": nc, "variant_users": nt}
    if nc < 2 or nt < 2:
        return row
    mc_, mt_ = _moments(c, ratio), _moments(t, ratio)
    mean_c, mean_t = float(mc_.est), float(mt_.est)
    if not (math.isfinite(mean_c) and math.isfinite(mean_t)):  # a ratio with a zero denominator sum
        return row
    row.update(control_mean=mean_c, variant_mean=mean_t)
    if rate:
        test = two_proportion_test(int(round(c.sum_y)), nc, int(round(t.sum_y)), nt, alpha=alpha)
        bayes = bayesian_proportion_test(int(round(c.sum_y)), nc, int(round(t.sum_y)), nt, prior=prior,
                                         n_samples=20_000, seed=0)
        row.update(prob_beat_control=bayes.prob_b_beats_a, expected_loss_ship=bayes.expected_loss_b,
                   expected_loss_keep=bayes.expected_loss_a)
        planned = (sample_size_proportions(mean_c, mde_relative, alpha=alpha, power=power, relative=True)
                   if 0 < mean_c < 1 else np.nan)
    else:
        # Welch on the (linearised) per-user variances: for a mean exactly welch_test; for a ratio the
        # delta-method variance of the ratio of sums (ratio.py)
        test = welch_from_moments(float(nc), mean_c, float(mc_.var), float(nt), mean_t, float(mt_.var), alpha, True)
        se = test.abs_se
        if se > 0:
            z = test.abs_effect / se
            row.update(prob_beat_control=float(stats.norm.cdf(z)),
                       expected_loss_ship=float(se * stats.norm.pdf(z) - test.abs_effect * stats.norm.cdf(-z)),
                       expected_loss_keep=float(se * stats.norm.pdf(z) + test.abs_effect * stats.norm.cdf(z)))
        sd_c = math.sqrt(max(test.var_a, 0.0))
        planned = (sample_size_means(sd_c, mde_relative * mean_c, alpha=alpha, power=power)
                   if sd_c > 0 and mean_c > 0 else np.nan)
    row.update(effect=test.abs_effect, effect_ci_low=test.abs_ci_low, effect_ci_high=test.abs_ci_high,
               relative_lift=test.rel_effect, relative_lift_ci_low=test.rel_ci_low,
               relative_lift_ci_high=test.rel_ci_high, p_value=test.p_value,
               planned_users_per_arm=planned, _test=test)
    tau = mde_relative * abs(mean_c) if mean_c else None
    if tau and test.abs_se > 0:
        seq = msprt_from_estimates(test.abs_effect, test.abs_se ** 2, tau=tau, alpha=alpha)
        row["sequential_p_value"] = float(np.asarray(seq.p_value).ravel()[-1])
    cu = cuped_delta(mc_, mt_)
    if cu is not None and np.isfinite(cu.adj_c) and np.isfinite(cu.adj_t):
        adj = welch_from_moments(float(nc), float(cu.adj_c), float(cu.adj_var_c), float(nt), float(cu.adj_t),
                                 float(cu.adj_var_t), alpha, True)
        row.update(cuped_effect=adj.abs_effect, cuped_ci_low=adj.abs_ci_low, cuped_ci_high=adj.abs_ci_high,
                   cuped_p_value=adj.p_value, cuped_variance_reduction=float(cu.variance_reduction))
    return row


def analyze_experiments(variant_stats: pd.DataFrame, srm: pd.DataFrame, *, alpha: float, power: float,
                        mde_relative: float, prior=(1.0, 1.0), srm_threshold: float = 0.001) -> pd.DataFrame:
    """Analyse every experiment; see the module docstring. Returns the columns of :data:`RESULT_COLUMNS`.

    ``alpha``, ``power`` and ``mde_relative``: the design (the warehouse's are the defaults of
    :class:`retail_lift.tables.experiments.ExperimentResultsConfig`). ``variant_stats`` needs
    :data:`REQUIRED_STATS` (``metric_type`` 'proportion' for rate metrics, anything else for means),
    ``srm`` needs :data:`REQUIRED_SRM`. An experiment without a control row or with fewer than two users
    in an arm yields rows with NULL statistics and the verdict 'keep running'.
    """
    _check_columns(variant_stats, REQUIRED_STATS, "variant_stats")
    _check_columns(srm, REQUIRED_SRM, "srm")
    srm_flags = _srm_by_experiment(srm, srm_threshold)
    rows, tests = [], []
    for (exp_id, metric), g in variant_stats.groupby(["experiment_id", "metric_name"], sort=True):
        control = g[g["is_control"].astype(bool)]
        if control.empty:
            continue
        c = control.iloc[0]
        for t in g[~g["is_control"].astype(bool)].sort_values("variant").itertuples(index=False):
            row = {"experiment_id": exp_id, "variant": t.variant, "metric_name": metric,
                   "metric_type": t.metric_type, "control_variant": c["variant"]}
            row.update(_compare(c, t, t.metric_type, alpha, mde_relative, power, prior))
            p_srm, is_srm = srm_flags.get(exp_id, (float("nan"), False))
            row.update(srm_p_value=p_srm, is_srm=is_srm)
            tests.append(row.pop("_test", None))
            rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in RESULT_COLUMNS})
    for col in RESULT_COLUMNS:
        if col not in out.columns:
            out[col] = np.nan
    # Holm across all variants and metrics of an experiment
    out["p_value_adjusted"] = np.nan
    for _, idx in out.groupby("experiment_id").groups.items():
        p = out.loc[idx, "p_value"]
        ok = p.notna()
        if ok.any():
            out.loc[p[ok].index, "p_value_adjusted"] = holm(p[ok].to_numpy(dtype=float))
    out["is_significant"] = out["p_value_adjusted"] < alpha
    decisions, reasons = [], []
    for r, test in zip(out.itertuples(index=False), tests, strict=True):
        if r.is_srm:
            decisions.append(INVALID_SRM)
            reasons.append(f"sample-ratio mismatch (p = {r.srm_p_value:.2g} < {srm_threshold})")
        elif test is None or pd.isna(r.p_value) or pd.isna(r.planned_users_per_arm):
            decisions.append("keep running")
            reasons.append("not enough data to test")
        else:
            d = decide(test, planned_users_per_arm=int(math.ceil(r.planned_users_per_arm)), alpha=alpha,
                       p_value=float(r.p_value_adjusted), srm=bool(r.is_srm))
            decisions.append(d.verdict)
            reasons.append(d.reason)
    out["decision"] = decisions
    out["decision_reason"] = reasons
    return out[RESULT_COLUMNS].reset_index(drop=True)
