"""Closed-loop simulation against the simulated world's true response.

Assertions use the truth-based expected reward (``sum_a pi(a|x) p(x, a)``), not the noisy
realised conversions. Two worlds:

* the generated world itself (``tiny``), learning from scratch (no warm start, rewards only when
  the 14-day window closes): in 44 days the learners get close to the best single arm (which arm
  that is, is computed from the truth) rather than past it, so they are checked to beat random
  assignment and the control group, to have sublinear regret and to close most of the gap between
  random assignment and the best arm;
* the same world as a deployment runs it (warm start from the logged history, delay-corrected
  feedback from the open windows): sublinear regret measured by the regret growth exponent;
* a world whose promotion effects flip with the customer's age (``SegmentedWorld``): there the
  contextual policies must beat the best single arm.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retail_lift.bandit.context import parse_action_probabilities, parse_contexts
from retail_lift.bandit.pipeline import truth_matrix
from retail_lift.evaluation.bandit_simulation import (
    CONTROL,
    SimulationWorld,
    logging_probabilities,
    open_window_weight,
    plot_simulation,
    regret_growth_exponent,
    simulate_closed_loop,
)
from retail_lift.world.generate import ARM_IDS, ATTRIBUTION_DAYS, PERIOD_START

pytestmark = pytest.mark.slow  # over ~10 s of fitting or simulation per module; make test-fast leaves it out

LEARNERS = ("thompson_segment", "linucb", "lints", "logistic_ts")


@pytest.fixture(scope="module")
def real_run():
    # 44 days: rewards arrive from day 14, free_shipping launches on day 22
    return simulate_closed_loop("tiny", days=44, decisions_per_day=1500, seed=0, n_mc_draws=200, feedback="window",
                                warm_start_days=0)


def _summary(result) -> pd.DataFrame:
    return result.summary.set_index("policy")


# ----------------------------------------------------------------------------------------------
# the world wrapper reproduces the generator
# ----------------------------------------------------------------------------------------------


def test_simulation_world_reproduces_the_generated_truth_and_contexts(tiny_world):
    decisions = pd.read_parquet(tiny_world / "raw" / "decisions.parquet")
    truth = pd.read_parquet(tiny_world / "truth" / "truth_exposures.parquet")
    world = SimulationWorld("tiny", seed=7)  # the seed of the tiny_world fixture
    assert len(decisions) > 500
    # the generator's own decision log, rebuilt by running its steps in its order (the experiments
    # draw from the random stream before the decisions): same decisions, customers and arms
    log = world.generated_decisions()
    assert log["decision_id"].tolist() == decisions["decision_id"].tolist()
    cust, t = log["customer"].to_numpy(), log["t"].to_numpy()
    np.testing.assert_array_equal(world.customer_ids(cust), decisions["customer_id"].to_numpy())
    assert log["promotion_id"].tolist() == decisions["promotion_id"].tolist()
    np.testing.assert_array_equal(log["propensity"].to_numpy(), decisions["propensity"].to_numpy())
    # decided_at is the exact decision time truncated to whole seconds; the context and the truth
    # were computed at the exact time
    t_logged = (decisions["decided_at"] - pd.Timestamp(str(PERIOD_START))).dt.total_seconds().to_numpy()
    np.testing.assert_array_equal(np.floor(t), t_logged)
    # same latent customers: the true response of every logged decision
    T = truth_matrix(truth, decisions["decision_id"], ARM_IDS)
    np.testing.assert_allclose(world.true_p(cust, t), T, rtol=1e-12, atol=0)
    # at the logged (truncated) times it differs only through churn inside the window (< 1 s of ~14 days)
    np.testing.assert_allclose(world.true_p(cust, t_logged), T, atol=1e-5)
    # same observable contexts, byte for byte
    assert (world.context_json(cust, t) == decisions["context"].to_numpy()).all()
    assert (log["context"].to_numpy() == decisions["context"].to_numpy()).all()
    # the replicated logging rule gives the logged probabilities
    logged = parse_action_probabilities(decisions["action_probabilities"], ARM_IDS)
    np.testing.assert_allclose(logging_probabilities(parse_contexts(decisions["context"]), t, world.arm_launch),
                               logged, atol=1e-6)
    # the world object is left as it was: asking again gives the same log
    pd.testing.assert_frame_equal(world.generated_decisions(), log)


# ----------------------------------------------------------------------------------------------
# the generated world
# ----------------------------------------------------------------------------------------------


def test_learners_beat_random_assignment_and_the_control_group(real_run):
    s = _summary(real_run)
    for name in LEARNERS:
        assert s.loc[name, "expected_reward_2nd_half"] > s.loc["random", "expected_reward_2nd_half"] + 0.01, name
        assert s.loc[name, "lift_vs_control_2nd_half"] > 0.04, name
        # and they close most of the gap between random assignment and the hindsight-best arm
        gap = s.loc["best_single_arm", "expected_reward_2nd_half"] - s.loc["random", "expected_reward_2nd_half"]
        closed = s.loc[name, "expected_reward_2nd_half"] - s.loc["random", "expected_reward_2nd_half"]
        assert closed / gap > 0.5, name
    # the hindsight-best arm is the arm with the highest mean true p over the run: check it against
    # the truth on independent traffic of the same period (which arm that is depends on the world,
    # so it is computed, not named). A different arm would be accepted only if statistically tied
    # with the best one (4 standard errors of the paired difference: two independent samples)
    world = SimulationWorld("tiny", seed=42)
    cust, t, _ = world.draw_decisions(np.random.default_rng(123), world.check_period(44), 44, 1500)
    p = world.true_p(cust, t)
    diff = p[:, int(np.argmax(p.mean(axis=0)))] - p[:, ARM_IDS.index(real_run.best_arm)]
    assert diff.mean() <= 4 * diff.std(ddof=1) / np.sqrt(diff.size), (real_run.best_arm, p.mean(axis=0))
    assert s.loc["best_single_arm", "lift_vs_best_arm"] == pytest.approx(0.0, abs=1e-12)
    assert abs(s.loc["random", "lift_vs_control"]) < 0.02  # the control group is random assignment too


def test_regret_grows_sublinearly_for_learners_and_linearly_for_random(real_run):
    s = _summary(real_run)
    for name in LEARNERS:
        assert s.loc[name, "regret_2nd_half"] < 0.75 * s.loc[name, "regret_1st_half"], name
    ratio = s.loc["random", "regret_2nd_half"] / s.loc["random", "regret_1st_half"]
    assert 0.85 < ratio < 1.15
    d = real_run.daily
    assert (d["regret"] >= -1e-9).all()  # nobody beats the oracle in expectation
    for _, g in d.groupby("policy"):
        np.testing.assert_allclose(g["cum_regret"], g["regret"].cumsum())
        np.testing.assert_array_equal(g["cum_conversions"], g["conversions"].cumsum())
    np.testing.assert_allclose(s["cum_regret"], d.groupby("policy", sort=False)["regret"].sum()[s.index])


def test_rewards_arrive_when_the_attribution_window_closes(real_run):
    d = real_run.daily.set_index(["policy", "day"])
    for name in LEARNERS:
        seen = d.loc[name, "labels_observed"]
        assert (seen.loc[: ATTRIBUTION_DAYS - 1] == 0).all()
        # on day 14 the policy has learned from exactly its day-0 decisions
        assert seen.loc[ATTRIBUTION_DAYS] == d.loc[(name, 0), "decisions"]
    # before any feedback LinUCB's arms tie: uniform over the launched arms (all but free_shipping)
    mix = real_run.arm_mix
    early = mix.loc[(mix["policy"] == "linucb") & (mix["day"] < ATTRIBUTION_DAYS)]
    launched = early["promotion_id"] != "free_shipping"
    np.testing.assert_allclose(early.loc[launched, "mean_probability"], 1 / (len(ARM_IDS) - 1))


def test_new_arm_is_explored_through_its_prior(real_run):
    mix = real_run.arm_mix
    fs = mix.loc[mix["promotion_id"] == "free_shipping"]
    launch = real_run.new_arm_day
    assert launch == 22
    assert (fs.loc[fs["day"] < launch, "decisions"] == 0).all()
    first_window = fs.loc[(fs["day"] >= launch) & (fs["day"] < launch + ATTRIBUTION_DAYS)]
    for name in ("thompson_segment", "lints", "logistic_ts"):
        share = first_window.loc[first_window["policy"] == name, "share"]
        assert 0.1 < share.mean() < 0.9, name  # real traffic before a single reward is seen, not all of it
    # LinUCB's optimism sends every decision to the unexplored arm until its first window closes
    assert first_window.loc[first_window["policy"] == "linucb", "share"].min() > 0.9
    ctl = first_window.loc[first_window["policy"] == CONTROL, "share"].mean()
    assert ctl == pytest.approx(1 / len(ARM_IDS), abs=0.04)


def test_traffic_is_paired_and_the_control_group_held_out(real_run):
    d = real_run.daily
    by_day = d.loc[d["policy"] != CONTROL].pivot(index="day", columns="policy", values="decisions")
    assert (by_day.nunique(axis=1) == 1).all()  # every policy decides for the same customers
    share = d.loc[d["policy"] == CONTROL, "decisions"].sum() / (d.loc[d["policy"] == "random", "decisions"].sum()
                                                               + d.loc[d["policy"] == CONTROL, "decisions"].sum())
    assert share == pytest.approx(0.1, abs=0.01)


def test_same_seed_same_result_and_conversion_feedback_learns_earlier():
    kw = dict(days=16, decisions_per_day=200, policies=("lints", "random"), n_mc_draws=50, new_arm_day=8,
              warm_start_days=0)
    a = simulate_closed_loop("tiny", seed=3, feedback="window", **kw)
    b = simulate_closed_loop("tiny", seed=3, feedback="window", **kw)
    pd.testing.assert_frame_equal(a.daily, b.daily)
    pd.testing.assert_frame_equal(a.arm_mix, b.arm_mix)
    c = simulate_closed_loop("tiny", seed=3, feedback="conversion", **kw)
    seen = c.daily.loc[c.daily["policy"] == "lints"].set_index("day")
    # conversions land after a few days; only conversions are known before the window closes
    assert seen.loc[5, "labels_observed"] > 0
    assert (seen.loc[:ATTRIBUTION_DAYS - 1, "labels_observed"] == seen.loc[:ATTRIBUTION_DAYS - 1,
                                                                          "conversions_observed"]).all()
    with pytest.raises(ValueError, match="too long"):
        simulate_closed_loop("tiny", days=80)


def test_plot_simulation_writes_three_pngs(real_run, tmp_path):
    paths = plot_simulation(real_run, tmp_path / "plots")
    assert [p.name for p in paths] == ["cumulative_regret.png", "arm_mix.png", "cumulative_conversions.png"]
    for p in paths:
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


# ----------------------------------------------------------------------------------------------
# a world where the best promotion depends on the customer
# ----------------------------------------------------------------------------------------------


class SegmentedWorld(SimulationWorld):
    """The world's organic conversion, plus promotion effects that flip with age: banners for
    customers under 35, BOGO from 35 to 54, no promotion from 55 (+0.10 for the right arm, +0.02
    for the others)."""

    BEST = {"young": "banner_limited_time", "middle": "bogo", "old": "control"}

    def true_p(self, cust, t):
        base = super().true_p(cust, t)[:, 0]
        age = self.contexts(cust, t)["age_band"].to_numpy()
        group = np.where(np.isin(age, ["18-24", "25-34"]), "young",
                         np.where(np.isin(age, ["55-64", "65+"]), "old", "middle"))
        delta = np.full((len(base), len(ARM_IDS)), 0.02)
        for g, arm in self.BEST.items():
            delta[group == g, ARM_IDS.index(arm)] = 0.10
        return np.clip(base[:, None] + delta, 0.0, 1.0)


def test_contextual_policies_beat_the_best_single_arm_when_the_best_arm_depends_on_the_customer():
    result = simulate_closed_loop(SegmentedWorld("tiny", seed=42), days=36, decisions_per_day=1200, new_arm=None,
                                  policies=("linucb", "lints", "logistic_ts", "best_single_arm", "random"), seed=1,
                                  n_mc_draws=200, feedback="window", warm_start_days=0)
    s = _summary(result)
    for name in ("linucb", "lints", "logistic_ts"):
        assert s.loc[name, "lift_vs_best_arm_2nd_half"] > 0.03, name
        assert s.loc[name, "expected_reward_2nd_half"] > s.loc["best_single_arm", "expected_reward_2nd_half"], name
        assert s.loc[name, "regret_2nd_half"] < 0.6 * s.loc[name, "regret_1st_half"], name
    # the learners found each segment's arm: the old get no promotion most of the time at the end
    mix = result.arm_mix
    last = mix.loc[(mix["policy"] == "linucb") & (mix["day"] >= 30)].groupby("promotion_id")["share"].mean()
    assert last[["banner_limited_time", "bogo", "control"]].sum() > 0.8


# ----------------------------------------------------------------------------------------------
# as deployed: warm start from the logged history, delay-corrected feedback
# ----------------------------------------------------------------------------------------------


def test_regret_growth_exponent_of_known_curves():
    days = np.arange(1, 61, dtype=float)
    assert regret_growth_exponent(np.full(60, 3.0)) == pytest.approx(1.0)  # constant regret a day: linear
    sqrt_curve = np.diff(np.sqrt(days), prepend=0.0)  # cumulative regret sqrt(T)
    assert regret_growth_exponent(sqrt_curve) == pytest.approx(0.5)
    assert np.isnan(regret_growth_exponent(np.zeros(10)))


def test_open_window_weight_by_hand():
    delays = [1.0, 2.0, 3.0, 4.0]  # F(e): 0 before 1 day, 1/2 at 2 days, 1 from 4 days
    w = open_window_weight([0.5, 2.0, 10.0], delays, 0.25)
    np.testing.assert_allclose(w, [0.0, 0.5 * 0.75 / (1 - 0.25 * 0.5), 1.0])
    # at the base rate the expected weighted conversion rate is the true rate and a row counts F(e) times
    p0, F = 0.3, 0.5
    wf = open_window_weight([2.0], delays, p0)[0]
    assert p0 * F / (p0 * F + (1 - p0 * F) * wf) == pytest.approx(p0)
    assert p0 * F + (1 - p0 * F) * wf == pytest.approx(F)
    with pytest.raises(ValueError, match="must not be empty"):
        open_window_weight([1.0], [], 0.2)
    with pytest.raises(ValueError, match="base_rate"):
        open_window_weight([1.0], delays, 1.0)


@pytest.fixture(scope="module")
def deployed_run():
    # 24 days after 28 days of logged history; free_shipping launches on day 12
    return simulate_closed_loop("tiny", days=24, decisions_per_day=600, seed=0, n_mc_draws=100, warm_start_days=28,
                                policies=("thompson_segment", "linucb", "lints", "best_single_arm", "random"))


def test_deployed_learners_have_sublinear_regret_and_beat_random_and_the_control(deployed_run):
    s = _summary(deployed_run)
    assert deployed_run.config["feedback"] == "delay_corrected" and deployed_run.config["n_warm_start_decisions"] > 0
    for name in ("thompson_segment", "linucb", "lints"):
        # measured on this configuration: 0.75 (linucb) .. 0.85 (lints); random 0.99
        assert s.loc[name, "regret_growth_exponent"] < 0.9, name
        assert s.loc[name, "regret_3rd_third"] < 0.85 * s.loc[name, "regret_1st_third"], name
        assert s.loc[name, "lift_vs_control"] > 0.1, name
        assert s.loc[name, "expected_reward"] > s.loc["random", "expected_reward"] + 0.02, name
    assert 0.95 < s.loc["random", "regret_growth_exponent"] < 1.05
    thirds = s[["regret_1st_third", "regret_2nd_third", "regret_3rd_third"]].sum(axis=1)
    np.testing.assert_allclose(thirds, s["cum_regret"])


def test_warm_start_and_delay_correction_learn_before_the_first_window_closes():
    kw = dict(days=12, decisions_per_day=300, seed=2, n_mc_draws=50, policies=("lints", "random"), new_arm=None)
    runs = {
        "scratch": simulate_closed_loop("tiny", feedback="window", warm_start_days=0, **kw),
        "warm": simulate_closed_loop("tiny", feedback="window", warm_start_days=28, **kw),
        "warm_corrected": simulate_closed_loop("tiny", feedback="delay_corrected", warm_start_days=28, **kw),
    }
    regret = {k: _summary(r).loc["lints", "cum_regret"] for k, r in runs.items()}
    assert regret["warm"] < 0.8 * regret["scratch"]
    assert regret["warm_corrected"] < regret["warm"]
    # the logged history is learned from on day 0 (its settled part), identically by every mode
    d = runs["warm"].daily.set_index(["policy", "day"])
    assert d.loc[("lints", 0), "labels_observed"] > 0
    assert runs["warm"].config["n_warm_start_decisions"] == runs["warm_corrected"].config["n_warm_start_decisions"]
    # the traffic and the rewards do not depend on the warm start: the random policy is the same run
    for name in ("warm", "warm_corrected"):
        pd.testing.assert_frame_equal(runs[name].daily.loc[runs[name].daily["policy"] == "random"],
                                      runs["scratch"].daily.loc[runs["scratch"].daily["policy"] == "random"])
    with pytest.raises(ValueError, match="warm_start_days"):
        simulate_closed_loop("tiny", days=40, warm_start_days=28)
    with pytest.raises(ValueError, match="feedback"):
        simulate_closed_loop("tiny", days=5, feedback="never")
