"""analyze_experiments: the warehouse's experiment table from sufficient statistics."""

import dataclasses

import pandas as pd
import pytest

from retail_lift.experiments.analysis import RESULT_COLUMNS, analyze_experiments
from retail_lift.tables.experiments import ExperimentResultsConfig

#: the warehouse's design (ml_experiment_results: alpha 0.05, power 0.8, a 20 % relative MDE)
DESIGN = dataclasses.asdict(ExperimentResultsConfig())


def _stats(rows):
    cols = ["experiment_id", "variant", "metric_name", "metric_type", "is_control", "users",
            "sum_y", "sumsq_y", "sum_x", "sumsq_x", "sum_xy"]
    return pd.DataFrame(rows, columns=cols)


def _rate_rows(exp, x_c, n_c, x_t, n_t):
    # a binary metric: sum of squares equals the sum; the covariate carries some signal
    return [
        (exp, "control", "conversion_rate", "proportion", True, n_c, x_c, x_c, 50.0, 60.0, 10.0),
        (exp, "treat", "conversion_rate", "proportion", False, n_t, x_t, x_t, 52.0, 61.0, 12.0),
    ]


def _srm(exp, n_c, n_t):
    return pd.DataFrame({"experiment_id": [exp, exp], "variant": ["control", "treat"],
                         "observed_users": [n_c, n_t], "planned_share": [0.5, 0.5]})


def test_reference_case_matches_the_closed_forms():
    out = analyze_experiments(_stats(_rate_rows("e1", 100, 1000, 125, 1000)), _srm("e1", 1000, 1000), **DESIGN)
    assert list(out.columns) == RESULT_COLUMNS
    r = out.iloc[0]
    assert r.effect == pytest.approx(0.025)
    assert r.relative_lift == pytest.approx(0.25)
    assert r.p_value == pytest.approx(0.0769, abs=5e-5)
    assert r.p_value_adjusted == pytest.approx(r.p_value)  # one test: Holm leaves it
    assert r.prob_beat_control == pytest.approx(0.9614, abs=5e-5)
    assert r.expected_loss_ship == pytest.approx(0.00022, abs=5e-6)
    assert r.expected_loss_keep == pytest.approx(0.02517, abs=5e-6)
    assert not r.is_srm
    # 1000 users per arm are below the plan for a 20 % lift on a 10 % rate (3,841 per arm):
    # an insignificant interim result keeps running
    assert r.planned_users_per_arm == 3841
    assert r.decision == "keep running"


def test_srm_blocks_a_winning_experiment():
    out = analyze_experiments(_stats(_rate_rows("e2", 1000, 10000, 1400, 10000)), _srm("e2", 10000, 9400), **DESIGN)
    r = out.iloc[0]
    assert r.is_srm and r.srm_p_value < 0.001
    assert r.p_value < 1e-10
    assert r.decision == "invalid: SRM"


def test_significant_win_at_planned_size_ships_and_holm_adjusts():
    rows = _rate_rows("e3", 1000, 10000, 1400, 10000)
    rows += [("e3", "control", "revenue_per_user", "mean", True, 10000, 50000.0, 900000.0, 0.0, 0.0, 0.0),
             ("e3", "treat", "revenue_per_user", "mean", False, 10000, 50500.0, 910000.0, 0.0, 0.0, 0.0)]
    out = analyze_experiments(_stats(rows), _srm("e3", 10000, 10000), **DESIGN).set_index("metric_name")
    conv, rev = out.loc["conversion_rate"], out.loc["revenue_per_user"]
    assert conv.decision == "ship"
    # Holm with two tests: the smaller p doubled, the larger max(2 p_min, p_max)
    assert conv.p_value_adjusted == pytest.approx(min(1, 2 * conv.p_value))
    assert rev.p_value_adjusted == pytest.approx(max(rev.p_value, 2 * conv.p_value))
    # no covariate variance: CUPED reduces to the unadjusted comparison
    assert rev.cuped_effect == pytest.approx(rev.effect)
    assert rev.cuped_variance_reduction == pytest.approx(0.0, abs=1e-12)
    assert 0 <= rev.prob_beat_control <= 1


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="variant_stats is missing column"):
        analyze_experiments(pd.DataFrame({"experiment_id": ["e"]}), _srm("e", 1, 1), **DESIGN)


def test_a_mean_metric_whose_control_mean_is_zero_has_no_relative_lift_but_an_effect():
    """A control arm whose every value is 0 (e.g. no held-out customer of a promotion plan ordered): the
    difference and its interval are still computed; the relative lift is NULL (it used to raise
    ZeroDivisionError on the scalar path)."""
    stats = pd.DataFrame({
        "experiment_id": "e", "variant": ["control", "treated"], "is_control": [True, False],
        "metric_name": "margin", "metric_type": "mean", "users": [10, 20], "sum_y": [0.0, 40.0],
        "sumsq_y": [0.0, 200.0], "sum_x": 0.0, "sumsq_x": 0.0, "sum_xy": 0.0})
    srm = pd.DataFrame({"experiment_id": "e", "variant": ["control", "treated"], "observed_users": [10, 20],
                        "planned_share": [1 / 3, 2 / 3]})
    r = analyze_experiments(stats, srm, alpha=0.1, power=0.8, mde_relative=0.05).iloc[0]
    assert r["effect"] == pytest.approx(2.0) and r["effect_ci_low"] < 2.0 < r["effect_ci_high"]
    assert pd.isna(r["relative_lift"])


def test_a_mean_metric_without_variance_in_either_arm_is_known_exactly():
    """Every control user at 0 and every treated user at -0.05 (a plan's contact cost, no order yet): the
    difference is known exactly (se 0, the documented rule of welch_from_moments) instead of raising."""
    stats = pd.DataFrame({
        "experiment_id": "e", "variant": ["control", "treated"], "is_control": [True, False],
        "metric_name": "margin", "metric_type": "mean", "users": [10, 90], "sum_y": [0.0, -4.5],
        "sumsq_y": [0.0, 0.225], "sum_x": 0.0, "sumsq_x": 0.0, "sum_xy": 0.0})
    srm = pd.DataFrame({"experiment_id": "e", "variant": ["control", "treated"], "observed_users": [10, 90],
                        "planned_share": [0.1, 0.9]})
    r = analyze_experiments(stats, srm, alpha=0.1, power=0.8, mde_relative=0.05).iloc[0]
    assert r["effect"] == pytest.approx(-0.05) and r["p_value"] == 0.0
