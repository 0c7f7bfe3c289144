"""Trust harness at a reduced size, with statistically sound (binomial 99.9%) bounds."""

import json
import math

import pytest
from scipy import stats

from retail_lift.experiments import run_trust_harness, sample_size_proportions, write_harness_report
from retail_lift.montecarlo import (
    binomial_band,
    clopper_pearson,
    mc_standard_error,
    rate_check,
    with_checks,
    write_docs_block,
)

N = 2000  # experiments per scenario


def _band(rate, n=N, level=0.999):
    lo, hi = stats.binom.interval(level, n, rate)
    return lo / n, hi / n


@pytest.fixture(scope="module")
def results():
    return run_trust_harness(n_experiments=N, baseline=0.10, mde=0.10, alpha=0.05, peeks=14, seed=123)


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


def test_harness_is_reproducible():
    again = run_trust_harness(n_experiments=200, seed=5, users_per_arm=3000)
    again2 = run_trust_harness(n_experiments=200, seed=5, users_per_arm=3000)
    assert again["fixed_horizon_fpr"] == again2["fixed_horizon_fpr"]
    assert again["config"]["users_per_arm"] == 3000 and again["expected_power"] < 0.8


def test_write_report(results, tmp_path):
    res = results
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


# ---- the shared Monte Carlo helpers (retail_lift.montecarlo, also used by the gate harness) ----------------


def test_binomial_band_and_mc_error():
    assert binomial_band(0.05, 2000) == _band(0.05)
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
