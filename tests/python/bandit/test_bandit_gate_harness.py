"""The gate trust harness: its world's exact truth, the reduced run (bounds from its Monte Carlo
error), the power-curve arithmetic, reproducibility, the report and the command."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from retail_lift.bandit.gate import GateConfig, run_gate
from retail_lift.bandit.gate_harness import (
    FALSE_SHIP_BOUND,
    LIFTS,
    QUICK,
    candidate_policies,
    default_world,
    gate_tables,
    holdout_for_power,
    logging_policy,
    policy_value,
    run_gate_harness,
    simulate_log,
    write_gate_harness_report,
)
from retail_lift.bandit.ope import fit_reward_model
from retail_lift.cli import main
from retail_lift.montecarlo import binomial_band, clopper_pearson


@pytest.fixture(scope="module")
def world():
    return default_world()


@pytest.fixture(scope="module")
def quick():
    """The reduced run of the test suite: 40 logs of 2,000 decisions per support, every lift."""
    return run_gate_harness(**QUICK, seed=11, jobs=2)


# ---- the world and its fixed policies --------------------------------------------------------------------


@pytest.mark.parametrize("support", ["wide", "narrow"])
@pytest.mark.parametrize("lift", LIFTS)
def test_fixed_policies_have_the_stated_true_values(world, support, lift):
    mu = logging_policy(world, support)
    v0 = policy_value(world, mu)
    assert 0.22 < v0 < 0.27  # conversion around 0.25, as the real world
    pols = candidate_policies(world, support, lift)
    assert set(pols) == ({"candidate", "decoy_second", "decoy_third"} if support == "wide"
                         else {"candidate", "decoy_unsupported", "decoy_thin"})
    assert policy_value(world, pols["candidate"]) / v0 - 1 == pytest.approx(lift, abs=1e-12)
    for name, P in pols.items():
        assert np.allclose(P.sum(axis=1), 1.0) and (P >= 0).all()
        # half of every cell's traffic stays with the logging policy
        assert (P >= 0.5 * mu - 1e-15).all()
        if name != "candidate":
            assert policy_value(world, P) == pytest.approx(v0, abs=1e-12)
            assert not np.allclose(P, mu)


def test_logging_supports(world):
    wide, narrow = logging_policy(world, "wide"), logging_policy(world, "narrow")
    assert np.allclose(wide.sum(axis=1), 1) and np.allclose(narrow.sum(axis=1), 1)
    assert wide.min() == pytest.approx(0.3 / 7)
    assert ((narrow == 0).sum(axis=1) == 2).all() and ((narrow == 0.0025).sum(axis=1) == 2).all()
    pols = candidate_policies(world, "narrow", 0.07)
    # the candidate moves traffic to explored arms only; the unsupported decoy puts half its mass on never-played arms
    assert np.array_equal(pols["candidate"][narrow < 0.01], 0.5 * narrow[narrow < 0.01])
    assert world.shares @ np.where(narrow == 0, pols["decoy_unsupported"], 0).sum(axis=1) == pytest.approx(0.5)
    assert (pols["decoy_thin"][narrow == 0] == 0).all() and pols["decoy_thin"][narrow == 0.0025].max() > 0.2
    with pytest.raises(ValueError, match="support"):
        logging_policy(world, "medium")
    with pytest.raises(ValueError, match="no mixture reaches"):
        candidate_policies(world, "wide", 0.45)


def test_simulated_log_follows_the_world(world):
    mu = logging_policy(world, "wide")
    log = simulate_log(world, mu, 60_000, np.random.default_rng(3))
    shares = np.bincount(log["cells"], minlength=world.n_cells) / 60_000
    assert np.abs(shares - world.shares).max() < 0.01
    assert np.array_equal(log["pscore"], mu[log["cells"], log["actions"]])
    # the mean reward estimates the logging policy's true value (binomial standard error ~0.0018)
    assert abs(log["rewards"].mean() - policy_value(world, mu)) < 4 * math.sqrt(0.25 * 0.75 / 60_000)


# ---- the reduced run -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_reduced_run_meets_the_false_ship_bound(quick):
    """Every scenario's false-ship rate within what a true 5 % rate gives 99.9 % of the time on 40 logs."""
    n = QUICK["n_sims"]
    hi = binomial_band(FALSE_SHIP_BOUND, n)[1]
    assert len(quick["scenarios"]) == 2 * len(LIFTS)
    for s in quick["scenarios"]:
        assert s["n_sims"] == n
        fs = s["false_ship"]
        assert fs["rate"] <= hi, s
        assert fs["check"]["band_99_9"][1] == hi and fs["check"]["ok"]
        assert fs["mc_se"] == pytest.approx(math.sqrt(fs["rate"] * (1 - fs["rate"]) / n))
        assert fs["rate"] <= fs["upper_95"] <= 1
        if s["lift"] <= 0:  # nothing is truly better: every ship is a false ship
            assert s["ship"]["rate"] == fs["rate"] and s["power"] is None


@pytest.mark.slow
def test_reduced_run_support_checks(quick):
    for s in quick["scenarios"]:
        if s["support"] == "narrow":
            # half its mass on never-played arms: refused by the support check in every log
            assert s["support_refused_by_policy"]["decoy_unsupported"] == 1.0
            assert s["shipped_by_policy"]["decoy_unsupported"] == 0.0
            # 2,000 decisions leave the thin decoy's effective sample size below min_ess (about n / 31)
            assert s["eligible_by_policy"]["decoy_thin"] == 0.0
        assert s["eligible_by_policy"]["candidate"] == 1.0


@pytest.mark.slow
def test_reduced_run_power_matches_the_full_run(quick):
    """Power at 2,000 decisions against the committed full run: the reduced run's rate lies in the
    binomial 99.9 % band of a true rate anywhere in the full run's exact 99.9 % interval."""
    n = QUICK["n_sims"]
    for s in quick["scenarios"]:
        if s["lift"] > 0:
            lo_f, hi_f = clopper_pearson(FULL_POWER_2K[s["support"], s["lift"]], 200, level=0.999)
            assert binomial_band(lo_f, n)[0] <= s["power"]["rate"] <= binomial_band(hi_f, n)[1], s


@pytest.mark.slow
def test_reduced_run_dr_difference_is_unbiased(quick):
    for s in quick["scenarios"]:
        assert s["candidate_dr_diff_bias_t999"] == pytest.approx(stats.t.ppf(0.9995, QUICK["n_sims"] - 1))
        tolerance = s["candidate_dr_diff_bias_t999"] * s["candidate_dr_diff_bias_mc_se"]
        assert abs(s["candidate_dr_diff_bias"]) <= tolerance, s


#: truly better ships out of 200 logs of 2,000 decisions, measured by `make gate-harness` (seed 0)
FULL_POWER_2K = {("wide", 0.03): 3, ("wide", 0.07): 11, ("narrow", 0.03): 32, ("narrow", 0.07): 90}


# ---- power curve arithmetic ------------------------------------------------------------------------------


def _normal_curve(sizes, diff, sigma, z):
    return [{"size": n, "power": float(stats.norm.cdf(diff * math.sqrt(n) / sigma - z)), "true_diff": diff,
             "sigma": sigma, "mean_eligible": 3.0} for n in sizes]


def test_holdout_for_power_interpolates_and_extrapolates():
    diff, sigma, alpha = 0.01, 0.8, 0.025
    z = stats.norm.ppf(1 - alpha / 3)
    exact = ((z + stats.norm.ppf(0.8)) * sigma / diff) ** 2
    # on an exactly normal curve, probit-in-sqrt(n) interpolation is exact
    got = holdout_for_power(_normal_curve([10_000, 30_000, 90_000], diff, sigma, z), alpha)
    assert got["method"] == "interpolated" and got["from_sizes"] == [30_000, 90_000]
    assert got["size"] == pytest.approx(exact, rel=1e-3)
    got = holdout_for_power(_normal_curve([2_000, 7_000], diff, sigma, z), alpha)
    assert got["method"] == "extrapolated" and got["holm_m"] == 3 and got["from_sizes"] == [7_000]
    assert got["size"] == math.ceil(exact)
    # the cross-check line through the two largest sizes is exact on an exactly normal curve as well
    assert got["line_size"] == pytest.approx(exact, rel=1e-3)
    got = holdout_for_power(_normal_curve([200_000], diff, sigma, z), alpha)
    assert got["size"] == 200_000 and got["method"].startswith("at most")
    with pytest.raises(ValueError, match="empty"):
        holdout_for_power([], alpha)


# ---- reproducibility, inputs, report, command ------------------------------------------------------------


@pytest.mark.slow
def test_same_seed_same_report_whatever_the_processes():
    kw = dict(n_sims=2, sizes=(400,), power_sizes=(), lifts=(0.07,), supports=("narrow",), seed=5)
    a, b = run_gate_harness(**kw, jobs=1), run_gate_harness(**kw, jobs=2)
    c = run_gate_harness(**{**kw, "seed": 6}, jobs=1)
    strip = lambda r: json.dumps({k: v for k, v in r.items() if k not in ("runtime_seconds", "config")})  # noqa: E731
    assert strip(a) == strip(b)
    assert strip(a) != strip(c)


def test_bad_input():
    with pytest.raises(ValueError, match="n_sims"):
        run_gate_harness(n_sims=0)
    with pytest.raises(ValueError, match="sizes"):
        run_gate_harness(n_sims=1, sizes=(10,))
    with pytest.raises(ValueError, match="supports"):
        run_gate_harness(n_sims=1, supports=("medium",))
    with pytest.raises(ValueError, match="power_sizes"):
        run_gate_harness(n_sims=1, supports=("wide",), power_sizes={"narrow": (1000,)})
    with pytest.raises(ValueError, match="lifts"):
        run_gate_harness(n_sims=1, lifts=(0.9,))
    with pytest.raises(ValueError, match="results"):
        write_gate_harness_report({"x": 1}, "a.json", "a.md")


@pytest.mark.slow
def test_report_and_command(quick, tmp_path):
    pj, pm = write_gate_harness_report(quick, tmp_path / "r" / "g.json", tmp_path / "r" / "g.md")
    first = json.loads(pj.read_text())["scenarios"][0]
    assert first["false_ship"]["rate"] == quick["scenarios"][0]["false_ship"]["rate"]
    md = pm.read_text()
    assert "| narrow | 2,000 | +7% |" in md and "Holdout for 80 % power" in md
    assert md.count("\n| wide | 2,000 |") == len(LIFTS)

    docs = tmp_path / "docs" / "_gate_harness.md"
    res = CliRunner().invoke(main, ["gate-harness", "--quick", "--n", "2", "--jobs", "1", "--out",
                                    str(tmp_path / "cli"), "--docs", str(docs)])
    written = json.loads((tmp_path / "cli" / "gate_harness.json").read_text())
    assert written["config"]["n_sims"] == 2
    # the command fails exactly when a check fails (2 logs per scenario: a single false ship fails one)
    assert res.exit_code == (0 if written["all_checks_passed"] else 1), res.output
    assert ("gate harness checks failed" in res.output) == (not written["all_checks_passed"])
    block = docs.read_text()
    assert block.startswith("{% docs bandit_gate_harness %}\n# Off-policy gate trust harness")
    assert block.rstrip().endswith("{% enddocs %}")


@pytest.mark.parametrize("support,n", [("wide", 1500), ("narrow", 3000)])
def test_one_bootstrap_for_every_lift_gives_run_gates_verdicts(world, support, n):
    """The harness judges all lifts of a log from one paired_differences call: the same tables as run_gate."""
    mu = logging_policy(world, support)
    log = simulate_log(world, mu, n, np.random.default_rng(1))
    X = np.eye(world.n_cells)[log["cells"]]
    q_hat = fit_reward_model(X, log["actions"], log["rewards"], world.n_arms, model="logistic", n_folds=5).cross_fitted_
    tables = gate_tables(world, support, log, q_hat, LIFTS, GateConfig())
    cells = log["cells"]
    for lift in LIFTS:
        policies = {"logging": mu[cells], **{k: P[cells] for k, P in candidate_policies(world, support, lift).items()}}
        expected = run_gate(log["rewards"], log["actions"], log["pscore"], q_hat, policies, "logging", cells,
                            GateConfig())
        pd.testing.assert_frame_equal(tables[lift], expected, check_exact=True)
