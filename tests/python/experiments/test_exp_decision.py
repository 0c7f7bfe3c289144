"""The decision rule, branch by branch."""

import pytest

from retail_lift.experiments import (
    DO_NOT_SHIP,
    INVALID_SRM,
    KEEP_RUNNING,
    SHIP,
    decide,
    msprt_test,
    srm_test,
    two_proportion_test,
    welch_test,
)


def test_significant_win_at_planned_size_ships():
    r = two_proportion_test(1000, 10_000, 1120, 10_000)  # p ~ 0.006
    d = decide(r, planned_users_per_arm=10_000)
    assert d.verdict == SHIP and d.direction == "beneficial" and d.sample_size_reached
    assert d.srm_flagged is False


def test_interim_win_keeps_running_but_interim_harm_stops():
    win = two_proportion_test(500, 5_000, 600, 5_000)
    assert decide(win, planned_users_per_arm=10_000).verdict == KEEP_RUNNING
    harm = two_proportion_test(600, 5_000, 500, 5_000)
    assert decide(harm, planned_users_per_arm=10_000).verdict == DO_NOT_SHIP


def test_no_effect_at_planned_size_is_do_not_ship():
    r = two_proportion_test(1000, 10_000, 1010, 10_000)
    d = decide(r, planned_users_per_arm=10_000)
    assert d.verdict == DO_NOT_SHIP and d.significant is False


def test_multiplicity_adjusted_p_value_overrides():
    r = two_proportion_test(1000, 10_000, 1100, 10_000)  # raw p ~ 0.02
    assert r.p_value < 0.05
    assert decide(r, planned_users_per_arm=10_000).verdict == SHIP
    assert decide(r, planned_users_per_arm=10_000, p_value=0.08).verdict == DO_NOT_SHIP


def test_srm_never_ships():
    r = two_proportion_test(1000, 10_000, 1300, 10_600)  # strong win but 10,000 vs 10,600 users
    assert srm_test([10_000, 10_600]).is_srm
    d = decide(r, planned_users_per_arm=10_000)
    assert d.verdict == INVALID_SRM and d.srm_flagged
    assert decide(r, planned_users_per_arm=10_000, srm=True).verdict == INVALID_SRM
    # with the designed split declared, the same counts are fine
    ok = decide(r, planned_users_per_arm=10_000, expected_split=(10_000, 10_600))
    assert ok.verdict == SHIP


def test_lower_is_better_metric():
    r = welch_test(5000, 5000 * 2.0, 5000 * (4.0 + 1.0), 5000, 5000 * 1.9, 5000 * (3.61 + 1.0))
    assert r.p_value < 0.05 and r.abs_effect < 0
    assert decide(r, planned_users_per_arm=5000).verdict == DO_NOT_SHIP
    assert decide(r, planned_users_per_arm=5000, higher_is_better=False).verdict == SHIP


def test_sequential_can_ship_early_and_stops_at_max():
    looks = [2000, 4000, 6000]
    win = msprt_test([200, 400, 600], looks, [260, 530, 800], looks, tau=0.02)
    assert win.p_value[-1] < 0.05
    assert decide(win, planned_users_per_arm=20_000).verdict == SHIP
    flat = msprt_test([200, 400, 600], looks, [205, 404, 598], looks, tau=0.02)
    assert decide(flat, planned_users_per_arm=20_000).verdict == KEEP_RUNNING
    assert decide(flat, planned_users_per_arm=6_000).verdict == DO_NOT_SHIP


def test_bad_inputs():
    r = two_proportion_test(1, 10, 2, 10)
    with pytest.raises(ValueError, match="planned_users_per_arm"):
        decide(r, planned_users_per_arm=0)
    with pytest.raises(ValueError, match="result"):
        decide({"p_value": 0.01}, planned_users_per_arm=10)
    with pytest.raises(ValueError, match="p_value"):
        decide(r, planned_users_per_arm=10, p_value=1.5)
    with pytest.raises(ValueError, match="abs_effect|n_a"):
        decide(two_proportion_test([1, 2], 10, [2, 3], 10), planned_users_per_arm=10)
