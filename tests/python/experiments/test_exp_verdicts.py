"""One decision per experiment x variant: every branch of the rule, on deterministic daily looks."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from retail_lift.experiments import SHIP, decide, holm, two_proportion_test
from retail_lift.experiments.registry import ExperimentSpec, MetricSpec, default_spec
from retail_lift.experiments.verdicts import (
    INCONCLUSIVE,
    ArmLooks,
    ExperimentLooks,
    decide_experiments,
    decide_variants,
    parse_planned_split,
)

START = dt.date(2026, 3, 1)
VALUES = {"ship", "do not ship", "keep running", "invalid: SRM", "inconclusive"}


def arms(per_day: int, rates: list[float], days: int, rev_per_conv: list[float] | None = None):
    """Cumulative looks: ``per_day`` users a day in each arm, round(per_day * rate) conversions a day."""
    users = per_day * np.arange(1, days + 1, dtype=float)
    out = []
    for j, r in enumerate(rates):
        conv = np.cumsum(np.full(days, round(per_day * r), dtype=float))
        rev = (rev_per_conv or [50.0] * len(rates))[j]
        out.append((ArmLooks(users, conv, conv), ArmLooks(users, conv * rev, conv * rev * rev * 2.0)))
    return out


def looks(rates, *, per_day=2000, days=14, variants=None, split=None, open_users=None, ended=13, attribution=1,
          rev=None):
    variants = variants or ["control"] + [f"t{i}" for i in range(1, len(rates))]
    stats = {}
    for v, (conv, revenue) in zip(variants, arms(per_day, rates, days, rev), strict=True):
        stats[(v, "conversion_rate")], stats[(v, "revenue_per_user")] = conv, revenue
    dates = tuple(START + dt.timedelta(days=i + 1) for i in range(days))
    split = split or ",".join(f"{v}:1" for v in variants)
    return ExperimentLooks("exp", "control", split, dates, stats, open_users or {}, START,
                           START + dt.timedelta(days=ended), attribution)


def spec(mode="sequential", baseline=0.10, mde=0.10, guard=None, **kw):
    guards = (MetricSpec("revenue_per_user", "guardrail", "mean", True, guard),) if guard else ()
    return ExperimentSpec("exp", MetricSpec("conversion_rate", "primary", "proportion"), guards, mde_relative=mde,
                          analysis_mode=mode, baseline=baseline, **kw)


def one(data, s, **kw):
    (d,) = decide_variants(data, s, **kw)
    assert d.decision in VALUES or d.decision.startswith("invalid: ")
    return d


def test_clear_win_stops_early_through_the_always_valid_test():
    d = one(looks([0.10, 0.13]), spec())
    assert d.decision == SHIP and d.decided_at == START + dt.timedelta(days=2) and d.is_final
    assert "always-valid" in d.reason and d.p_value_adjusted < 0.05 and d.ci_low > 0


def test_clear_harm_stops_early_in_both_modes():
    for mode in ("sequential", "fixed"):
        d = one(looks([0.10, 0.07]), spec(mode))
        assert d.decision == "do not ship" and d.reason.startswith("harm:") and d.decided_at < START + dt.timedelta(6)


def test_interim_fixed_horizon_harm_no_longer_stops():
    """5,000 users per arm, 10 % vs 8.8 %: fixed p = 0.04 (the current rule says 'do not ship'),
    always-valid p = 0.4; the planned size (14,751) is not reached and windows are open."""
    data = looks([0.10, 0.088], per_day=1000, days=5, ended=13)
    old_test = two_proportion_test(500, 5000, 440, 5000)
    old = decide(old_test, planned_users_per_arm=14751, srm=False)
    assert 0.03 < old_test.p_value < 0.05 and old.verdict == "do not ship"
    d = one(data, spec("fixed"))
    assert d.decision == "keep running" and not d.is_final
    assert d.p_value > 0.3 and d.planned_users_per_arm == 14751


def test_fixed_mode_reads_the_fixed_test_once_at_the_planned_size():
    # 1,100 a day: 15,400 >= 14,751 at the last look; 10 % vs 10.9 %: fixed z ~ 2.6, mSPRT not yet
    data = looks([0.10, 0.109], per_day=1100, days=14)
    d = one(data, spec("fixed"))
    z = two_proportion_test(1540, 15400, int(round(1100 * 0.109)) * 14, 15400)
    assert d.decision == SHIP and "fixed-horizon" in d.reason and d.decided_at == data.look_dates[-1]
    assert d.p_value == pytest.approx(z.p_value, rel=1e-9)
    # the same data in sequential mode: the planned size is the mSPRT's own and the experiment has ended
    s = one(data, spec("sequential"))
    assert s.decision == INCONCLUSIVE and s.planned_users_per_arm > 25_000 and s.is_final


def test_no_effect_is_inconclusive_when_final_and_keep_running_while_windows_are_open():
    data = looks([0.10, 0.10], per_day=500, days=14,
                 open_users={"control": np.full(14, 300.0), "t1": np.full(14, 310.0)})
    final = one(data, spec(), as_of=data.look_dates[-1])
    assert final.decision == INCONCLUSIVE and final.is_final and "ended and every window closed" in final.reason
    early = one(data, spec(), as_of=data.look_dates[4])
    assert early.decision == "keep running" and not early.is_final
    assert f"windows open until {START + dt.timedelta(days=14)}" in early.reason
    assert "610 users waiting" in early.reason and early.open_window_users == 610
    assert f"data to {data.look_dates[4]}" in early.reason


def test_max_duration_makes_the_decision_final():
    data = looks([0.10, 0.10], per_day=500, days=14, ended=40)  # still assigning
    assert one(data, spec(max_duration_days=10)).decision == INCONCLUSIVE
    assert one(data, spec(max_duration_days=28)).decision == "keep running"


def test_holm_across_variants():
    data = looks([0.10, 0.104, 0.125, 0.10], per_day=2000, days=14)
    ds = decide_variants(data, spec())
    assert [d.variant for d in ds] == ["t1", "t2", "t3"]
    raw = np.array([d.p_value for d in ds])
    assert np.allclose([d.p_value_adjusted for d in ds], holm(raw))
    assert [d.decision for d in ds] == [INCONCLUSIVE, SHIP, INCONCLUSIVE]


def test_guardrails_gate_a_ship():
    win_rev_crash = looks([0.10, 0.13], rev=[50.0, 20.0])  # conversion up, revenue per user down ~50 %
    d = one(win_rev_crash, spec(guard=0.05))
    assert d.decision == "do not ship" and "revenue_per_user is worse than its 5% non-inferiority margin" in d.reason
    ok = one(looks([0.10, 0.13]), spec(guard=0.05))
    assert ok.decision == SHIP and "revenue_per_user non-inferior" in ok.reason
    # a small revenue dip near the margin is not proven either way: keep running while open, inconclusive when final
    near = looks([0.10, 0.13], rev=[50.0, 36.6], per_day=300)
    assert one(near, spec(guard=0.05), as_of=near.look_dates[5]).decision == "keep running"
    assert one(near, spec(guard=0.05)).decision == INCONCLUSIVE


def test_sample_ratio_mismatch_invalidates_every_variant():
    data = looks([0.10, 0.13, 0.10], open_users={"control": np.full(14, 3000.0), "t1": np.zeros(14),
                                                 "t2": np.zeros(14)})
    ds = decide_variants(data, spec())
    assert {d.decision for d in ds} == {"invalid: SRM"} and all("sample-ratio mismatch" in d.reason for d in ds)


@pytest.mark.parametrize("kwargs, spec_kw, expect", [
    ({"split": "control:1,t1:1,t9:1"}, {}, "invalid: variant 't9' missing from the assignments"),
    ({"split": "control:0,t1:0"}, {}, "invalid: bad planned split"),
    ({"split": "control:1,t1:x"}, {}, "invalid: bad planned split"),
    ({"split": "a:1,t1:1"}, {}, "invalid: control 'control' not in the planned split"),
    ({"split": "control:1"}, {}, "invalid: bad planned split"),
])
def test_bad_declarations_are_invalid_never_ship(kwargs, spec_kw, expect):
    ds = decide_variants(looks([0.10, 0.13], **kwargs), spec(**spec_kw))
    assert ds and all(d.decision.startswith(expect) for d in ds)
    assert all(d.decision != SHIP and d.is_final for d in ds)


def test_unknown_metric_and_unplanned_variant_are_invalid():
    bad = ExperimentSpec("exp", MetricSpec("add_to_cart_rate", "primary", "proportion"), baseline=0.1)
    assert one(looks([0.10, 0.13]), bad).decision == "invalid: unknown metric 'add_to_cart_rate'"
    data = looks([0.10, 0.13, 0.12], split="control:1,t1:1")
    assert {d.decision for d in decide_variants(data, spec())} == {
        "invalid: variant 't2' assigned but not in the planned split"}


def test_parse_planned_split():
    assert parse_planned_split(" control : 2 , b:1,, ") == {"control": 2.0, "b": 1.0}
    assert parse_planned_split({"a": 1, "b": 3}) == {"a": 1.0, "b": 3.0}
    for bad in ("a:1,a:1", "a:-1,b:1", "a", 5):
        with pytest.raises(ValueError):
            parse_planned_split(bad)


def test_without_a_baseline_the_control_mean_at_the_first_look_is_used():
    d = one(looks([0.10, 0.13]), spec(baseline=None))
    assert d.decision == SHIP
    assert d.planned_users_per_arm == spec(baseline=0.10).planned_users_per_arm()


def test_frame_round_trip_and_default_registry():
    data = looks([0.10, 0.13], days=6, ended=13)
    rows = []
    for (v, m), a in data.stats.items():
        for i, d in enumerate(data.look_dates):
            rows.append({"experiment_id": "exp", "look_date": d, "variant": v, "metric_name": m,
                         "users": a.users[i], "sum_y": a.sum_y[i], "sumsq_y": a.sumsq_y[i], "open_window_users": 5})
    frame = pd.DataFrame(rows)
    exps = pd.DataFrame([{"experiment_id": "exp", "control_variant": "control", "planned_split": "control:1,t1:1",
                          "started_at": pd.Timestamp(START), "ended_at": pd.Timestamp(START + dt.timedelta(13)),
                          "attribution_days": 1}])
    out = decide_experiments(frame, exps)
    direct = decide_variants(data, default_spec("exp"))
    assert len(out) == 1 and out.loc[0, "decision"] == direct[0].decision == SHIP
    assert out.loc[0, "reason"] == direct[0].reason and out.loc[0, "open_window_users"] == 10
    with pytest.raises(ValueError, match="missing column"):
        ExperimentLooks.from_frame(frame.drop(columns="sum_y"), experiment_id="exp", control_variant="control",
                                   planned_split="control:1,t1:1")


def test_fallback_baseline_skips_looks_without_conversions():
    data = looks([0.10, 0.13])
    c = data.stats[("control", "conversion_rate")]
    zero_first = ArmLooks(c.users, np.concatenate(([0.0], c.sum_y[1:])), np.concatenate(([0.0], c.sumsq_y[1:])))
    stats = dict(data.stats)
    stats[("control", "conversion_rate")] = zero_first
    d = one(ExperimentLooks("exp", "control", data.planned_split, data.look_dates, stats, {}, START,
                            data.ended_at, 1), spec(baseline=None))
    assert d.planned_users_per_arm == spec(baseline=0.10).planned_users_per_arm()  # 400 / 4,000 on look 2
    assert d.decision == SHIP


def _simulate(rng, p_t, n_sims, mode, looks_n=14, baseline=0.10):
    planned = spec("fixed").planned_users_per_arm()
    per_day = -(-planned // looks_n)
    users = per_day * np.arange(1, looks_n + 1, dtype=float)
    dates = tuple(START + dt.timedelta(days=i + 1) for i in range(looks_n))
    out, old_harm = [], 0
    for _ in range(n_sims):
        ca = np.cumsum(rng.binomial(per_day, baseline, looks_n)).astype(float)
        cb = np.cumsum(rng.binomial(per_day, p_t, looks_n)).astype(float)
        data = ExperimentLooks("exp", "control", "control:1,t1:1", dates,
                               {("control", "conversion_rate"): ArmLooks(users, ca, ca),
                                ("t1", "conversion_rate"): ArmLooks(users, cb, cb)}, {}, START,
                               START + dt.timedelta(days=looks_n - 1), 1)
        out.append(one(data, spec(mode)).decision)
        for k in range(looks_n - 1):  # the current rule's interim harm stop
            r = two_proportion_test(int(ca[k]), int(users[k]), int(cb[k]), int(users[k]))
            if decide(r, planned_users_per_arm=planned, srm=False).verdict == "do not ship":
                old_harm += 1
                break
    return np.array(out), old_harm / n_sims


@pytest.mark.slow
def test_aa_false_decisions_stay_below_alpha_and_power_at_the_mde():
    """Reduced version of bench/experiment_decisions_aa.py (300 A/A experiments, 14 daily looks, 10 %)."""
    rng = np.random.default_rng(7)
    n = 300
    dec, old_harm = _simulate(rng, 0.10, n, "fixed")
    se = np.sqrt(0.05 * 0.95 / n)
    assert np.mean(dec == "ship") <= 0.05 + 3 * se and np.mean(dec == "do not ship") <= 0.05 + 3 * se
    assert np.all(dec != "keep running")  # ended, windows closed: always final
    assert old_harm > 0.06  # the current interim harm stop (issue: 11 % against a nominal 2.5 %)
    seq, _ = _simulate(rng, 0.10, n, "sequential")
    assert np.mean(seq == "ship") + np.mean(seq == "do not ship") <= 0.05 + 3 * se
    eff, _ = _simulate(rng, 0.11, 200, "fixed")  # true effect = the MDE; planned power 0.8
    assert np.mean(eff == "ship") >= 0.8 - 3 * np.sqrt(0.8 * 0.2 / 200)


def test_planned_variant_with_only_empty_rows_is_missing():
    data = looks([0.10, 0.13, 0.12])
    empty = ArmLooks(np.zeros(14), np.zeros(14), np.zeros(14))
    stats = dict(data.stats)
    stats[("t2", "conversion_rate")] = stats[("t2", "revenue_per_user")] = empty
    ds = decide_variants(ExperimentLooks("exp", "control", data.planned_split, data.look_dates, stats, {}, START,
                                         data.ended_at, 1), spec())
    assert [d.decision for d in ds] == ["invalid: variant 't2' missing from the assignments"] * 2


def test_every_window_open_says_until_when_and_how_many_wait():
    """The issue's e-mail test: data end two days after the last assignment, 14-day windows, 0 users analysed."""
    dates = tuple(START + dt.timedelta(days=i + 1) for i in range(3))
    zero = ArmLooks(np.zeros(3), np.zeros(3), np.zeros(3))
    stats = {(v, m): zero for v in ("control", "t1") for m in ("conversion_rate", "revenue_per_user")}
    opened = {"control": np.array([10000.0, 21000.0, 32000.0]), "t1": np.array([10000.0, 21000.0, 32000.0])}
    data = ExperimentLooks("exp", "control", "control:1,t1:1", dates, stats, opened, START, START + dt.timedelta(1), 14)
    d = one(data, default_spec("exp"))
    assert d.decision == "keep running" and d.variant_users == 0 and d.open_window_users == 64000
    assert d.reason.startswith(f"windows open until {START + dt.timedelta(15)}, data to {dates[-1]}; "
                               "64,000 users waiting in open windows")
    late = one(data, default_spec("exp"), as_of=START + dt.timedelta(15))
    assert late.decision == INCONCLUSIVE and late.is_final
