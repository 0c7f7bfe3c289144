"""Trust harness at a reduced size, with statistically sound (binomial 99.9%) bounds."""

import json
import time

import pytest
from scipy import stats

from retail_lift.experiments import run_trust_harness, sample_size_proportions, write_harness_report

N = 2000  # experiments per scenario


def _band(rate, n=N, level=0.999):
    lo, hi = stats.binom.interval(level, n, rate)
    return lo / n, hi / n


@pytest.fixture(scope="module")
def results():
    t0 = time.perf_counter()
    res = run_trust_harness(n_experiments=N, baseline=0.10, mde=0.10, alpha=0.05, peeks=14, seed=123)
    res["_wall"] = time.perf_counter() - t0
    return res


def test_planned_sample_size_comes_from_the_power_function(results):
    assert results["config"]["users_per_arm"] == sample_size_proportions(0.10, 0.10) == 14751
    assert results["expected_power"] == pytest.approx(0.80, abs=1e-3)


def test_fixed_horizon_is_calibrated(results):
    lo, hi = _band(0.05)
    assert lo <= results["fixed_horizon_fpr"] <= hi
    lo, hi = _band(0.95)
    assert lo <= results["abs_ci_coverage_aa"] <= hi
    assert lo <= results["abs_ci_coverage_effect"] <= hi
    lo, hi = _band(0.80)
    assert lo <= results["power_at_mde"] <= hi


def test_peeking_inflates_fixed_horizon_but_not_sequential(results):
    # 14 equally spaced looks at alpha = 0.05 give a false-positive rate of ~0.21 (Armitage et al.)
    lo, hi = _band(0.21)
    assert lo <= results["peeking_fpr_fixed_horizon"] <= hi
    assert results["peeking_fpr_sequential"] <= _band(0.05)[1]
    assert results["sequential_cs_coverage_aa"] >= _band(0.95)[0]
    assert 0 < results["sequential_power_at_mde"] < 1


def test_srm_and_cuped_scenarios(results):
    assert results["srm_false_alarm_rate"] <= _band(0.001)[1]
    lo, hi = _band(0.05)
    assert lo <= results["cuped_fpr"] <= hi
    assert results["cuped_variance_reduction"] == pytest.approx(2 / 3, abs=0.03)
    assert results["all_checks_passed"] is True


def test_harness_is_fast_and_reproducible(results):
    assert results["_wall"] < 10.0
    again = run_trust_harness(n_experiments=200, seed=5, users_per_arm=3000)
    again2 = run_trust_harness(n_experiments=200, seed=5, users_per_arm=3000)
    assert again["fixed_horizon_fpr"] == again2["fixed_horizon_fpr"]
    assert again["config"]["users_per_arm"] == 3000 and again["expected_power"] < 0.8


def test_write_report(results, tmp_path):
    res = {k: v for k, v in results.items() if not k.startswith("_")}
    pj, pm = write_harness_report(res, tmp_path / "out" / "harness.json", tmp_path / "out" / "harness.md")
    loaded = json.loads(pj.read_text())
    assert loaded["fixed_horizon_fpr"] == res["fixed_horizon_fpr"]
    md = pm.read_text()
    assert "peeking_fpr_sequential" in md and "| fixed_horizon_fpr |" in md
    with pytest.raises(ValueError, match="results"):
        write_harness_report({"x": 1}, tmp_path / "a.json", tmp_path / "a.md")


def test_harness_bad_input():
    with pytest.raises(ValueError, match="n_experiments"):
        run_trust_harness(n_experiments=0)
    with pytest.raises(ValueError, match="alpha"):
        run_trust_harness(n_experiments=10, alpha=0)
