"""The whole-pipeline trust harness (issue 20, item 4): simulated daily looks in the shape of
fct_experiment_daily_looks through decide_experiments and analyze_experiments, at a reduced size
(200 experiments on 3 scenarios), with its bounds asserted; and the shared Monte Carlo helpers."""

import dataclasses
import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from retail_lift.experiments import harness as H
from retail_lift.experiments import msprt_test, two_proportion_test
from retail_lift.experiments.harness import (
    FULL_SCENARIOS,
    QUICK_SCENARIOS,
    Scenario,
    run_trust_harness,
    simulate_daily_looks,
    write_harness_report,
)
from retail_lift.experiments.verdicts import ExperimentLooks
from retail_lift.montecarlo import (
    binomial_band,
    bound_check,
    clopper_pearson,
    mc_standard_error,
    mean_and_se,
    rate_check,
    with_checks,
    write_docs_block,
)

N = 200  # experiments per scenario (the reduced run: 200 on 3 scenarios)
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def results():
    return run_trust_harness(n_experiments=N, seed=20, scenarios=QUICK_SCENARIOS)


def _scenario(results, key):
    (s,) = [s for s in results["scenarios"] if s["key"] == key]
    return s


def _within(measured, se, bound, kind, n=N, k=3.0):
    s = max(se, math.sqrt(bound * (1 - bound) / n))
    return {"at most": measured - k * s <= bound, "at least": measured + k * s >= bound,
            "about": abs(measured - bound) <= k * s}[kind]


# ---- the simulated looks have the shape of the SQL --------------------------------------------------------


@pytest.mark.parametrize("sc", [Scenario("conversion_rate", 0.30, 3, "mde", True),
                                Scenario("revenue_per_user", 0.10, 2, "aa", False)], ids=lambda s: s.key)
def test_simulated_looks_have_the_columns_and_identities_of_the_daily_looks(sc):
    looks, exps = simulate_daily_looks(sc, 5, np.random.default_rng(1))
    assert list(looks.columns) == list(H.LOOK_COLUMNS)
    metrics = {"conversion_rate"} | ({"revenue_per_user"} if sc.revenue else set())
    assert set(looks["metric_name"]) == metrics
    assert len(looks) == 5 * sc.arms * H.LOOKS * len(metrics)
    assert len(exps) == 5 and set(exps.columns) == {"experiment_id", "control_variant", "planned_split",
                                                     "started_at", "ended_at", "attribution_days"}
    # non-ratio metrics: d = e = 1 per user
    for a, b in (("sum_d", "users"), ("sumsq_d", "users"), ("sum_e", "users"), ("sumsq_e", "users"),
                 ("sum_de", "users"), ("sum_yd", "sum_y"), ("sum_ye", "sum_y"), ("sum_xe", "sum_x"),
                 ("sum_dx", "sum_x")):
        assert (looks[a] == looks[b]).all(), a
    conv = looks[looks["metric_name"] == "conversion_rate"]
    assert (conv["sumsq_y"] == conv["sum_y"]).all() and conv["winsor_cap"].isna().all()
    for (_, _, _), g in looks.groupby(["experiment_id", "variant", "metric_name"]):
        g = g.sort_values("look_date")
        assert g["look_date"].tolist() == [H.START + dt.timedelta(days=d) for d in range(1, H.LOOKS + 1)]
        assert (np.diff(g["users"]) >= 0).all() and (np.diff(g["sum_y"]) >= 0).all()  # cumulative
        assigned = (g["users"] + g["open_window_users"]).to_numpy()
        assert (np.diff(assigned) >= 0).all()
        assert (g["users"].iloc[: H.ATTRIBUTION_DAYS - 1] == 0).all()  # no window closed in the first days
        assert (g["open_window_users"].iloc[-2:] == 0).all()  # every window closed at the end
        ok = g["users"] > 0
        assert np.allclose(g.loc[ok, "mean_y"], g.loc[ok, "sum_y"] / g.loc[ok, "users"])
    rev = looks[looks["metric_name"] == "revenue_per_user"]
    if sc.revenue:
        cap = H.truth(sc)["winsor_cap"]
        assert (rev["winsor_cap"] == cap).all()
        # every user's capped spend is at most the cap: sumsq_y <= cap * sum_y
        assert (rev["sumsq_y"] <= cap * rev["sum_y"] + 1e-6).all()
    # the frame goes through the decision code's reader
    one = looks[looks["experiment_id"] == exps["experiment_id"].iloc[0]]
    e = exps.iloc[0]
    data = ExperimentLooks.from_frame(one, experiment_id=e["experiment_id"], control_variant="control",
                                      planned_split=e["planned_split"], started_at=e["started_at"],
                                      ended_at=e["ended_at"], attribution_days=e["attribution_days"])
    assert len(data.look_dates) == H.LOOKS and ("control", sc.metric) in data.stats


def test_simulation_matches_the_declared_truth():
    """Means, the treatment lift and the mismatch of many simulated experiments match the exact truth."""
    sc = Scenario("revenue_per_user", 0.10, 3, "mde", True)
    t = H.truth(sc)
    looks, _ = simulate_daily_looks(sc, 40, np.random.default_rng(7))
    last = looks[looks["look_date"] == looks["look_date"].max()]
    for metric, mean in (("conversion_rate", 0.10), ("revenue_per_user", t["control_mean"])):
        f = last[last["metric_name"] == metric].groupby("variant")[["users", "sum_y"]].sum()
        m = f["sum_y"] / f["users"]
        assert m["control"] == pytest.approx(mean, rel=0.01)
        assert m["b"] / m["control"] == pytest.approx(1 + H.MDE, abs=0.02)
        assert m["c"] / m["control"] == pytest.approx(1 + H.MDE, abs=0.02)
    users = last[last["metric_name"] == "conversion_rate"].groupby("variant")["users"].sum()
    assert users["c"] / users["control"] == pytest.approx(1 - H.SRM_LOSS, abs=0.002)
    assert users.sum() == 40 * 3 * t["users_per_arm_per_day"] * H.ASSIGN_DAYS


def test_revenue_cap_and_capped_moments_are_exact():
    rng = np.random.default_rng(3)
    z, v = H._levels()
    n = 400_000
    pre_orders = rng.choice(len(H.PRE_ORDER_SHARES), size=n, p=H.PRE_ORDER_SHARES)
    level = rng.integers(0, H.SPEND_LEVELS, size=n)
    pre_revenue = pre_orders * v[level]
    cap = H.winsor_cap()
    positive, q = pre_revenue[pre_revenue > 0], H.WINSORIZE_PERCENTILE  # the SQL's rule: positive values only
    assert np.mean(positive <= cap) >= q - 0.002 and np.mean(positive < cap) <= q + 0.002
    s = H.SPEND_SIGMA * math.sqrt(1 - H.SPEND_RHO**2)
    spend = np.minimum(np.exp(H.SPEND_MU + H.SPEND_SIGMA * H.SPEND_RHO * z[level] + s * rng.standard_normal(n)), cap)
    m1, m2 = H._capped_moments(cap)
    assert spend.mean() == pytest.approx(m1, rel=0.01) and (spend**2).mean() == pytest.approx(m2, rel=0.03)
    assert 0 < np.mean(spend >= cap) < 0.01  # a heavy tail, capped


def test_scenario_grid_and_bad_input():
    assert len(FULL_SCENARIOS) == 32 and len({s.key for s in FULL_SCENARIOS}) == 32
    assert {s.baseline for s in FULL_SCENARIOS if not s.revenue} == {0.01, 0.10, 0.30}
    assert {(s.arms, s.effect, s.srm) for s in FULL_SCENARIOS} == {
        (a, e, m) for a in (2, 3) for e in ("aa", "mde") for m in (False, True)}
    assert len(QUICK_SCENARIOS) == 3
    with pytest.raises(ValueError, match="arms"):
        Scenario(arms=4)
    with pytest.raises(ValueError, match="metric"):
        Scenario(metric="aov")
    with pytest.raises(ValueError, match="baseline"):
        Scenario(baseline=0.5)
    with pytest.raises(ValueError, match="effect"):
        Scenario(effect="big")
    with pytest.raises(ValueError, match="n_experiments"):
        run_trust_harness(n_experiments=0)
    with pytest.raises(ValueError, match="scenarios"):
        run_trust_harness(n_experiments=5, scenarios=[])


# ---- the reduced run: every bound of the issue ------------------------------------------------------------


@pytest.mark.slow
def test_reduced_run_covers_its_scenarios(results):
    # its speed is not asserted here (the project keeps speed targets in bench/, not in timed tests)
    assert results["config"]["n_experiments"] == N and len(results["scenarios"]) == 3


@pytest.mark.slow
def test_aa_false_ship_and_false_do_not_ship_at_most_alpha(results):
    s = _scenario(results, "conv10_2arms_aa")
    assert s["truth"]["planned_users_per_arm"] == {"fixed": 14751, "sequential": 27380}
    for mode in ("fixed", "sequential"):
        m = s["modes"][mode]
        assert _within(m["ship"]["rate"], m["ship"]["mc_se"], 0.05, "at most")
        assert _within(m["dns"]["rate"], m["dns"]["mc_se"], 0.05, "at most")
        assert m["keep"]["rate"] == 0  # every window closed: always final
        assert m["srm"]["rate"] <= 0.02  # no mismatch: the SRM check (p < 0.001) almost never fires
    assert _within(s["analysis"]["coverage"]["rate"], s["analysis"]["coverage"]["mc_se"], 0.95, "about")
    assert s["analysis"]["cuped_variance_reduction"] > 0.02  # the pre-period covariate helps


@pytest.mark.slow
def test_power_at_the_mde_on_heavy_tailed_revenue_with_three_arms(results):
    s = _scenario(results, "rev10_3arms_mde")
    t = s["truth"]
    assert t["true_effect"] == pytest.approx(0.1 * t["control_mean"])
    # "default": no registry entry, conversion primary with the revenue guardrail (5 % margin)
    assert set(s["modes"]) == {"fixed", "sequential", "default"}
    for mode in ("fixed", "sequential", "default"):
        m = s["modes"][mode]
        assert _within(m["power"]["rate"], m["power"]["mc_se"], 0.75, "at least"), (mode, m["power"])
        assert m["dns"]["rate"] == 0  # a real improvement is never called harmful
    cov = s["analysis"]["coverage"]
    assert _within(cov["rate"], cov["mc_se"], 0.95, "about")
    assert s["modes"]["sequential"]["power"]["rate"] >= 0.7


@pytest.mark.slow
def test_srm_detected_and_never_shipped(results):
    s = _scenario(results, "conv1_2arms_aa_srm")
    assert s["srm_expected_detection"] > 0.99  # 330,000 users per arm, 3 % lost: the test cannot miss it
    for mode in ("fixed", "sequential"):
        m = s["modes"][mode]
        assert _within(m["srm"]["rate"], m["srm"]["mc_se"], s["srm_expected_detection"], "about")
        assert m["ship"]["rate"] == 0


@pytest.mark.slow
def test_every_check_passes_and_is_reported(results):
    assert results["all_checks_passed"] is True, [k for k, v in results["checks"].items() if not v]
    keys = set(results["checks"])
    for needle in ("false ship", "false do not ship", "power", "coverage", "SRM detection", "SRM false alarm"):
        assert any(needle in k for k in keys), needle


@pytest.mark.slow
def test_the_harness_catches_a_rule_that_ships_too_easily(monkeypatch):
    """Sanity of the harness itself: a decision rule at alpha 0.3 fails the false-ship bound."""
    real = H._spec

    def loose(sc, mode, baseline, sd, experiment_id="sim"):
        return dataclasses.replace(real(sc, mode, baseline, sd, experiment_id), alpha=0.3)

    monkeypatch.setattr(H, "_spec", loose)
    res = run_trust_harness(n_experiments=100, seed=1, scenarios=[Scenario("conversion_rate", 0.30, 2, "aa")])
    assert res["all_checks_passed"] is False
    assert res["checks"]["conversion 30%, 2 arms, A/A | fixed: false ship"] is False


@pytest.mark.slow
def test_write_report(results, tmp_path):
    pj, pm = write_harness_report(results, tmp_path / "out" / "h.json", tmp_path / "out" / "h.md")
    loaded = json.loads(pj.read_text())
    assert loaded["scenarios"][0]["modes"]["fixed"]["ship"] == results["scenarios"][0]["modes"]["fixed"]["ship"]
    md = pm.read_text()
    assert md.startswith("# Experiment decisions: whole-pipeline trust harness")
    assert md.count("| conversion 10%, 2 arms, A/A |") == 2 and "All checks passed: **yes**" in md
    with pytest.raises(ValueError, match="results"):
        write_harness_report({"x": 1}, tmp_path / "a.json", tmp_path / "a.md")


@pytest.mark.slow
def test_cli_writes_report_and_docs_block(tmp_path):
    from retail_lift.cli import main

    r = CliRunner().invoke(main, ["trust-harness", "--quick", "--n", "20", "--jobs", "1", "--out",
                                  str(tmp_path / "r"), "--docs", str(tmp_path / "_t.md")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "r" / "trust_harness.json").exists()
    assert (tmp_path / "_t.md").read_text().startswith("{% docs trust_harness %}\n# Experiment decisions")


def test_committed_docs_block_is_the_full_run():
    text = (ROOT / "docs" / "experiments" / "_trust_harness.md").read_text()
    assert text.startswith("{% docs trust_harness %}\n# Experiment decisions: whole-pipeline trust harness")
    assert "1,000 simulated experiments per scenario (32 scenarios" in text
    assert text.count(" | fixed | ") == 32 and text.count(" | sequential | ") == 32
    assert text.count(" | default | ") == 8  # the revenue scenarios, without a registry entry
    assert "All checks passed: **yes**" in text


# ---- a part kept from the former harness: peeking a fixed test inflates it, the mSPRT does not ------------


def test_peeking_inflates_the_fixed_test_but_not_the_msprt():
    rng = np.random.default_rng(123)
    n, looks, E = 14751, 14, 2000
    users = np.round(n * np.arange(1, looks + 1) / looks).astype(int)
    inc = np.diff(np.concatenate(([0], users)))
    ca = np.cumsum(rng.binomial(inc, 0.10, size=(E, looks)), axis=1)
    cb = np.cumsum(rng.binomial(inc, 0.10, size=(E, looks)), axis=1)
    peek = float(np.mean(two_proportion_test(ca, users, cb, users).significant.any(axis=1)))
    lo, hi = binomial_band(0.21, E)  # 14 equally spaced looks at alpha 0.05: ~0.21 (Armitage et al.)
    assert lo <= peek <= hi
    assert float(np.mean(msprt_test(ca, users, cb, users, tau=0.01).rejected)) <= binomial_band(0.05, E)[1]


# ---- the shared Monte Carlo helpers (retail_lift.montecarlo, also used by the gate harness) ----------------


def test_mean_and_se():
    m, se = mean_and_se([1, 0, 0, 1, 1, 0, 0, 0])
    assert m == 0.375 and se == pytest.approx(mc_standard_error(0.375, 8))
    m, se = mean_and_se(np.array([0.5, 1.0, 0.0, 0.5]))
    assert m == 0.5 and se == pytest.approx(np.std([0.5, 1, 0, 0.5]) / 2)
    with pytest.raises(ValueError, match="values"):
        mean_and_se([])
    with pytest.raises(ValueError, match="values"):
        mean_and_se([0.1, float("nan")])


def test_bound_check_within_k_standard_errors():
    assert bound_check(0.06, 0.007, 0.05, "at most", 1000)["ok"]  # 0.06 - 3 * 0.0069 <= 0.05
    assert not bound_check(0.08, 0.008, 0.05, "at most", 1000)["ok"]
    assert bound_check(0.72, 0.014, 0.75, "at least", 1000)["ok"]
    assert not bound_check(0.68, 0.015, 0.75, "at least", 1000)["ok"]
    r = bound_check(1.0, 0.0, 0.95, "about", 1000)  # se 0 at a rate of 1: judged with the error at the bound
    assert r["se_used"] == pytest.approx(math.sqrt(0.95 * 0.05 / 1000)) and not r["ok"]
    assert bound_check(0.94, 0.0075, 0.95, "about", 1000)["ok"]
    with pytest.raises(ValueError, match="kind"):
        bound_check(0.1, 0.01, 0.05, "below", 100)
    with pytest.raises(ValueError, match="se"):
        bound_check(0.1, -1.0, 0.05, "at most", 100)


def test_binomial_band_and_mc_error():
    lo, hi = binomial_band(0.05, 200)
    assert stats.binom.cdf(lo * 200 - 1, 200, 0.05) <= 0.0005 and stats.binom.sf(hi * 200, 200, 0.05) <= 0.0005
    assert mc_standard_error(0.05, 200) == pytest.approx(math.sqrt(0.05 * 0.95 / 200))
    assert mc_standard_error(0.0, 40) == 0.0
    with pytest.raises(ValueError, match="n"):
        mc_standard_error(0.5, 0)
    with pytest.raises(ValueError, match="rate"):
        binomial_band(1.5, 10)


def test_clopper_pearson_is_the_exact_interval():
    for k, n in ((0, 40), (3, 200), (17, 50), (40, 40)):
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.9, method="exact")
        assert clopper_pearson(k, n, level=0.9) == pytest.approx((ci.low, ci.high), abs=1e-9)
    with pytest.raises(ValueError, match="successes"):
        clopper_pearson(5, 4)


def test_rate_check_expectations():
    lo, hi = binomial_band(0.05, 1000)
    assert rate_check(0.05, 0.05, 1000)["ok"] and not rate_check(0.05, hi + 0.001, 1000)["ok"]
    assert rate_check(0.05, 0.0, 1000, "at most")["ok"] and not rate_check(0.05, hi + 0.001, 1000, "at most")["ok"]
    assert rate_check(0.05, hi + 0.001, 1000, "above")["ok"]
    assert not rate_check(0.05, lo - 0.001, 1000, "at least")["ok"]
    assert rate_check(0.05, 0.04, 1000)["band_99_9"] == [lo, hi]
    with pytest.raises(ValueError, match="expect"):
        rate_check(0.05, 0.04, 1000, "about")


def test_report_tail_and_docs_block(tmp_path):
    rep = with_checks({"a": 1}, {"x": True, "y": 0}, started=0.0)
    assert list(rep) == ["a", "checks", "all_checks_passed", "runtime_seconds"]
    assert rep["checks"] == {"x": True, "y": False} and rep["all_checks_passed"] is False
    p = write_docs_block("# title\n\ntext", "some_block", tmp_path / "d" / "_b.md")
    assert p.read_text() == "{% docs some_block %}\n# title\n\ntext\n{% enddocs %}\n"
    with pytest.raises(ValueError, match="identifier"):
        write_docs_block("x", "not a name", tmp_path / "c.md")


def test_frame_is_a_dataframe_of_plain_types():
    looks, _ = simulate_daily_looks(QUICK_SCENARIOS[0], 2, np.random.default_rng(0))
    assert isinstance(looks, pd.DataFrame) and looks["users"].dtype == np.int64
