"""Ratio metrics (delta method) and CUPED for every metric type, checked against independent computations:
Monte Carlo over simulated user-level experiments, an OLS regression with the covariate, explicit per-user
linearisation, and the array-based :func:`retail_lift.experiments.cuped`."""

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from retail_lift.experiments import cuped
from retail_lift.experiments.analysis import analyze_experiments
from retail_lift.experiments.ratio import arm_moments, cuped_delta
from retail_lift.experiments.registry import ExperimentSpec, MetricSpec
from retail_lift.experiments.verdicts import ExperimentLooks, _estimates, decide_variants
from retail_lift.tables.experiments import ExperimentResultsConfig

#: the warehouse's design (ml_experiment_results: alpha 0.05, power 0.8, a 20 % relative MDE)
DESIGN = dataclasses.asdict(ExperimentResultsConfig())


def users(rng, n, lift=0.0, shape=(), rate=0.3):
    """Per-user orders d, revenue y, pre-period orders e and revenue x (heterogeneous, correlated pre/post)."""
    lam = rng.gamma(0.7, rate / 0.7, size=(*shape, n))
    value = rng.lognormal(3.3, 0.6, size=(*shape, n))  # the user's typical order value, pre and post
    d = rng.poisson(lam).astype(float)
    e = rng.poisson(lam * 4).astype(float)
    y = d * value * rng.lognormal(0, 0.3, size=(*shape, n)) * (1 + lift)
    x = e * value * rng.lognormal(0, 0.3, size=(*shape, n))
    return y, d, x, e


def sums(y, d, x, e):
    n = np.full(y.shape[:-1], float(y.shape[-1])) if y.ndim > 1 else float(y.shape[-1])
    s = lambda a: a.sum(axis=-1)  # noqa: E731
    return dict(users=n, sum_y=s(y), sumsq_y=s(y * y), sum_d=s(d), sumsq_d=s(d * d), sum_yd=s(y * d),
                sum_x=s(x), sumsq_x=s(x * x), sum_xy=s(x * y), sum_e=s(e), sumsq_e=s(e * e), sum_xe=s(x * e),
                sum_ye=s(y * e), sum_de=s(d * e), sum_dx=s(d * x))


@pytest.mark.slow
def test_ratio_delta_variance_and_cuped_match_monte_carlo():
    rng = np.random.default_rng(7)
    reps, n = 1500, 2000
    c = arm_moments(**sums(*users(rng, n, shape=(reps,))), ratio=True)
    t = arm_moments(**sums(*users(rng, n, lift=0.05, shape=(reps,))), ratio=True)
    raw = t.est - c.est
    # delta method: the reported variance of the ratio of sums equals its variance over replications
    assert np.var(c.est, ddof=1) / np.mean(c.var / n) == pytest.approx(1.0, abs=0.12)
    assert np.var(raw, ddof=1) / np.mean(c.var / n + t.var / n) == pytest.approx(1.0, abs=0.12)
    cu = cuped_delta(c, t)
    adj = cu.adj_t - cu.adj_c
    v_adj = cu.adj_var_c / n + cu.adj_var_t / n
    assert np.var(adj, ddof=1) / np.mean(v_adj) == pytest.approx(1.0, abs=0.12)
    # unbiased: same mean as the unadjusted difference (the true AOV lift is 5 %)
    assert abs(adj.mean() - raw.mean()) < 4 * np.sqrt(np.var(adj) / reps)
    assert abs(adj.mean() / c.est.mean() - 0.05) < 0.01
    # reported variance reduction = the realised one
    realised = 1 - np.var(adj) / np.var(raw)
    assert realised > 0.1
    assert np.mean(cu.variance_reduction) == pytest.approx(realised, abs=0.06)
    # 95 % intervals cover the true difference
    truth = raw.mean()
    cover = np.mean(np.abs(adj - truth) <= 1.96 * np.sqrt(v_adj))
    assert cover == pytest.approx(0.95, abs=0.02)


def test_ratio_delta_variance_matches_the_bootstrap():
    rng = np.random.default_rng(3)
    y, d, x, e = users(rng, 4000)
    m = arm_moments(**sums(y, d, x, e), ratio=True)
    idx = rng.integers(0, len(y), size=(2000, len(y)))
    boot = y[idx].sum(axis=1) / d[idx].sum(axis=1)
    assert float(m.est) == pytest.approx(y.sum() / d.sum())
    assert np.var(boot, ddof=1) / (float(m.var) / len(y)) == pytest.approx(1.0, abs=0.1)


def test_cuped_on_a_mean_equals_ols_with_the_covariate():
    rng = np.random.default_rng(11)
    y0, _, x0, _ = users(rng, 3000)
    y1, _, x1, _ = users(rng, 3000, lift=0.1)
    c = arm_moments(**sums(y0, np.ones_like(y0), x0, np.ones_like(x0)))
    t = arm_moments(**sums(y1, np.ones_like(y1), x1, np.ones_like(x1)))
    cu = cuped_delta(c, t)
    # OLS y ~ 1 + treated + x: the treated coefficient is the CUPED effect, the x slope is theta
    y = np.r_[y0, y1]
    X = np.c_[np.ones_like(y), np.r_[np.zeros_like(y0), np.ones_like(y1)], np.r_[x0, x1]]
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    assert float(cu.adj_t - cu.adj_c) == pytest.approx(beta[1], rel=1e-9)
    assert float(cu.theta) == pytest.approx(beta[2], rel=1e-9)
    resid = y - X @ beta
    se_ols = np.sqrt(resid @ resid / (len(y) - 3) * np.linalg.inv(X.T @ X)[1, 1])
    assert np.sqrt(float(cu.adj_var_c / 3000 + cu.adj_var_t / 3000)) == pytest.approx(se_ols, rel=0.03)
    # and equals the array-based cuped() of the package
    ref = cuped(y0, x0, y1, x1)
    assert float(cu.variance_reduction) == pytest.approx(ref.variance_reduction, rel=1e-9)


def frame_from_users(arms: dict, *, old: bool = False) -> pd.DataFrame:
    """The interface-B rows (three metrics) of an experiment from per-user arrays {variant: (y, d, x, e)}."""
    rows = []
    for v, (y, d, x, e) in arms.items():
        one = np.ones_like(y)
        conv = (d > 0).astype(float)
        for metric, mtype, arrays in (("conversion_rate", "proportion", (conv, one, (e > 0).astype(float), one)),
                                      ("revenue_per_user", "mean", (y, one, x, one)),
                                      ("average_order_value", "ratio", (y, d, x, e))):
            if old and mtype == "ratio":
                continue
            r = {"experiment_id": "exp", "variant": v, "metric_name": metric, "metric_type": mtype,
                 "is_control": v == "control", **sums(*arrays)}
            if old:
                r = {k: r[k] for k in ("experiment_id", "variant", "metric_name", "metric_type", "is_control",
                                       "users", "sum_y", "sumsq_y", "sum_x", "sumsq_x", "sum_xy")}
            rows.append(r)
    return pd.DataFrame(rows)


def srm_frame(arms):
    return pd.DataFrame([{"experiment_id": "exp", "variant": v, "observed_users": len(a[0]), "planned_share": 0.5}
                         for v, a in arms.items()])


def test_analyze_experiments_handles_ratio_rows_and_reports_cuped_reduction():
    rng = np.random.default_rng(5)
    arms = {"control": users(rng, 5000), "b": users(rng, 5000, lift=0.1)}
    out = analyze_experiments(frame_from_users(arms), srm_frame(arms), **DESIGN).set_index("metric_name")
    aov = out.loc["average_order_value"]
    (yc, dc, xc, ec), (yt, dt_, xt, et) = arms["control"], arms["b"]
    assert aov.control_mean == pytest.approx(yc.sum() / dc.sum())
    assert aov.effect == pytest.approx(yt.sum() / dt_.sum() - yc.sum() / dc.sum())

    # explicit per-user linearisation (an independent path from the sums)
    def lin(y, d):
        r = y.sum() / d.sum()
        return (y - r * d) / d.mean()

    se = np.sqrt(np.var(lin(yc, dc), ddof=1) / len(yc) + np.var(lin(yt, dt_), ddof=1) / len(yt))
    assert (aov.effect_ci_high - aov.effect_ci_low) / (2 * 1.96) == pytest.approx(se, rel=1e-3)
    # CUPED on the linearised metric: OLS of the linearised outcome on the linearised covariate, within arms
    lc, lt = lin(yc, dc), lin(yt, dt_)
    kc, kt = lin(xc, ec), lin(xt, et)
    theta = (np.dot(kc - kc.mean(), lc) + np.dot(kt - kt.mean(), lt)) / (
        np.dot(kc - kc.mean(), kc) + np.dot(kt - kt.mean(), kt))
    var_adj = (np.var(lc - theta * kc, ddof=1) + np.var(lt - theta * kt, ddof=1)) / 5000
    var_raw = (np.var(lc, ddof=1) + np.var(lt, ddof=1)) / 5000
    assert aov.cuped_variance_reduction == pytest.approx(1 - var_adj / var_raw, rel=1e-6)
    rx = (xc.sum() + xt.sum()) / (ec.sum() + et.sum())
    adj = (yt.sum() / dt_.sum() - theta * (xt.sum() / et.sum() - rx)) - (
        yc.sum() / dc.sum() - theta * (xc.sum() / ec.sum() - rx))
    assert aov.cuped_effect == pytest.approx(adj, rel=1e-9)
    assert 0 < aov.cuped_variance_reduction < 1 and aov.cuped_ci_high - aov.cuped_ci_low < (
        aov.effect_ci_high - aov.effect_ci_low)
    # means: the package's array-based cuped()
    rpu = out.loc["revenue_per_user"]
    ref = cuped(yc, xc, yt, xt)
    assert rpu.cuped_effect == pytest.approx(ref.abs_effect) and rpu.cuped_p_value == pytest.approx(ref.p_value)
    assert rpu.cuped_variance_reduction == pytest.approx(ref.variance_reduction)
    assert rpu.cuped_variance_reduction > 0.1
    # old frames (no d / e sums) give the same non-ratio rows
    old = analyze_experiments(frame_from_users(arms, old=True), srm_frame(arms), **DESIGN).set_index("metric_name")
    cols = ["effect", "p_value", "cuped_effect", "cuped_p_value", "cuped_variance_reduction", "planned_users_per_arm"]
    pd.testing.assert_frame_equal(old.loc[["conversion_rate", "revenue_per_user"], cols],
                                  out.loc[["conversion_rate", "revenue_per_user"], cols])


def test_a_ratio_row_without_denominator_sums_is_named():
    rng = np.random.default_rng(1)
    arms = {"control": users(rng, 50), "b": users(rng, 50)}
    f = frame_from_users(arms)
    f.loc[f.metric_name == "average_order_value", "sum_d"] = np.nan
    with pytest.raises(ValueError, match=r"metric 'average_order_value'.*sum_d"):
        analyze_experiments(f, srm_frame(arms), **DESIGN)


def daily_looks(arms: dict, days: int = 10) -> pd.DataFrame:
    """Cumulative looks: the first k/days of each arm's users have closed windows at look k."""
    rows = []
    start = dt.date(2026, 1, 1)
    for k in range(1, days + 1):
        part = {v: tuple(a[: len(a) * k // days] for a in arrs) for v, arrs in arms.items()}
        f = frame_from_users(part)
        f["look_date"] = start + dt.timedelta(days=k)
        f["open_window_users"] = 0
        rows.append(f)
    return pd.concat(rows, ignore_index=True)


def test_verdicts_read_the_new_columns_and_use_cuped_and_the_delta_method():
    rng = np.random.default_rng(9)
    arms = {"control": users(rng, 6000), "b": users(rng, 6000, lift=0.3)}
    frame = daily_looks(arms)
    data = ExperimentLooks.from_frame(frame, experiment_id="exp", control_variant="control",
                                      planned_split="control:1,b:1", started_at="2026-01-01",
                                      ended_at="2026-01-10", attribution_days=1)
    c, t = data.stats[("control", "average_order_value")], data.stats[("b", "average_order_value")]
    assert c.metric_type == "ratio" and c.sum_d is not None and c.sum_e is not None
    assert data.stats[("control", "revenue_per_user")].sum_d is None  # a mean: d = 1 carries nothing
    eff, var, mc = _estimates(c, t, False, len(data.look_dates) - 1)
    last = analyze_experiments(frame[frame.look_date == frame.look_date.max()].drop(columns="look_date"),
                               srm_frame(arms), **DESIGN).set_index("metric_name").loc["average_order_value"]
    assert eff[-1] == pytest.approx(last.cuped_effect, rel=1e-9)
    assert mc[-1] == pytest.approx(last.control_mean)
    assert np.sqrt(var[-1]) == pytest.approx((last.cuped_ci_high - last.cuped_ci_low) / (2 * 1.96), rel=1e-3)
    # CUPED shrinks the variance at every look; without the covariate columns the plain delta method is used
    plain = ExperimentLooks.from_frame(frame.drop(columns=["sum_x", "sumsq_x", "sum_xy"]), experiment_id="exp",
                                       control_variant="control", planned_split="control:1,b:1")
    e0, v0, _ = _estimates(plain.stats[("control", "average_order_value")],
                           plain.stats[("b", "average_order_value")], False, len(data.look_dates) - 1)
    assert e0[-1] == pytest.approx(last.effect, rel=1e-9)
    assert np.all(var[1:] < v0[1:])
    # a 30 % lift in average order value ships on the ratio primary metric
    spec = ExperimentSpec("exp", MetricSpec("average_order_value", "primary", "ratio"),
                          (MetricSpec("conversion_rate", "guardrail", "proportion", True, 0.5),),
                          mde_relative=0.1, max_duration_days=9)
    (d,) = decide_variants(data, spec)
    assert d.decision == "ship", d.reason
    assert d.planned_users_per_arm and d.planned_users_per_arm > 0


def test_a_ratio_metric_without_denominator_columns_is_refused():
    rng = np.random.default_rng(2)
    frame = daily_looks({"control": users(rng, 200), "b": users(rng, 200)}, days=3)
    with pytest.raises(ValueError, match="ratio metric 'average_order_value'.*sum_d"):
        ExperimentLooks.from_frame(frame.drop(columns=["sum_d", "sumsq_d", "sum_yd"]), experiment_id="exp",
                                   control_variant="control", planned_split="control:1,b:1")
