"""The paired off-policy gate (retail_lift.bandit.gate): hand-computed differences, Holm, eligibility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retail_lift.bandit.gate import (
    GATE_COLUMNS,
    GateConfig,
    gate_verdicts,
    holm_passes,
    paired_differences,
    run_gate,
    unsupported_share,
)


def _logged(n=4000, k=3, seed=0, p_true=(0.20, 0.26, 0.20)):
    """A uniform logging policy over k arms, one context cell, rewards drawn from p_true per arm."""
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, k, n)
    rewards = (rng.random(n) < np.asarray(p_true)[actions]).astype(float)
    logged = np.full((n, k), 1.0 / k)
    q_hat = np.tile(np.asarray(p_true), (n, 1))  # a perfect reward model
    return rewards, actions, logged[:, 0].copy(), q_hat, logged


def _always(arm, n, k):
    P = np.zeros((n, k))
    P[:, arm] = 1.0
    return P


def test_paired_difference_by_hand():
    # three decisions, two arms; the champion plays the logged probabilities (all weights 1)
    r = np.array([1.0, 0.0, 1.0])
    a = np.array([0, 1, 1])
    p = np.array([0.5, 0.5, 0.5])
    Q = np.array([[0.6, 0.2], [0.6, 0.2], [0.6, 0.2]])
    logged = np.full((3, 2), 0.5)
    cand = _always(1, 3, 2)
    d = paired_differences(r, a, p, Q, {"logging": logged, "cand": cand}, "logging", interval="influence")
    t = d.table.set_index("policy")
    # DR terms: logging q_target 0.4 + (r - q_logged); cand 0.2 + 2 * 1{a=1} (r - q_logged)
    dr_log = np.array([0.4 + 0.4, 0.4 - 0.2, 0.4 + 0.8])
    dr_cand = np.array([0.2, 0.2 + 2 * -0.2, 0.2 + 2 * 0.8])
    assert t.loc["logging", "dr_value"] == pytest.approx(dr_log.mean())
    assert t.loc["cand", "dr_value"] == pytest.approx(dr_cand.mean())
    diff = dr_cand - dr_log
    assert t.loc["cand", "dr_diff"] == pytest.approx(diff.mean())
    assert t.loc["cand", "diff_se"] == pytest.approx(diff.std(ddof=1) / np.sqrt(3))
    # SNIPS: cand's weights (0, 2, 2) -> (0 + 0 + 2) / 4; logging: mean reward
    assert t.loc["cand", "snips_value"] == pytest.approx(0.5)
    assert t.loc["cand", "snips_diff"] == pytest.approx(0.5 - 2 / 3)
    assert t.loc["cand", "ess"] == pytest.approx(16 / 8) and t.loc["cand", "max_weight"] == 2.0
    assert t.loc["logging", "dr_diff"] == 0.0 and np.isnan(t.loc["logging", "p_value"])


def test_pairing_makes_the_difference_far_more_precise_than_two_separate_intervals():
    r, a, p, Q, logged = _logged(n=6000, p_true=(0.20, 0.23, 0.20))
    # a candidate close to the logging policy: the two values share almost all of their noise
    near = 0.8 * logged + 0.2 * _always(1, len(r), 3)
    d = paired_differences(r, a, p, Q, {"logging": logged, "near": near}, "logging", n_bootstrap=1000)
    t = d.table.set_index("policy")
    r_se = r.std(ddof=1) / np.sqrt(len(r))  # the logging value's own standard error
    assert t.loc["near", "diff_se"] < 0.5 * r_se
    # the bootstrap and influence-function standard errors agree
    infl = paired_differences(r, a, p, Q, {"logging": logged, "near": near}, "logging", interval="influence")
    assert infl.table.set_index("policy").loc["near", "diff_se"] == pytest.approx(t.loc["near", "diff_se"], rel=0.1)
    assert d.replicates.shape == (1000, 2)


def test_bootstrap_is_seeded_and_the_interval_holds_the_estimate():
    r, a, p, Q, logged = _logged(n=3000)
    pols = {"logging": logged, "b": _always(1, len(r), 3)}
    one = paired_differences(r, a, p, Q, pols, "logging", n_bootstrap=1000, random_state=7).table
    two = paired_differences(r, a, p, Q, pols, "logging", n_bootstrap=1000, random_state=7).table
    pd.testing.assert_frame_equal(one, two)
    b = one.set_index("policy").loc["b"]
    assert b["diff_ci_low"] < b["dr_diff"] < b["diff_ci_high"]
    assert 0 < b["p_value"] <= 1


def test_holm_step_down_by_hand():
    passes, th = holm_passes([0.01, 0.04, 0.03, 0.005], alpha=0.05)
    # sorted: 0.005 <= 0.05/4, 0.01 <= 0.05/3, 0.03 > 0.05/2 -> stop: the last two are not rejected
    assert passes.tolist() == [True, False, False, True]
    np.testing.assert_allclose(th, [0.05 / 3, 0.05 / 1, 0.05 / 2, 0.05 / 4])
    assert holm_passes([0.2, 0.001], alpha=0.05)[0].tolist() == [False, True]
    assert holm_passes([], alpha=0.05)[0].tolist() == []


def test_unsupported_share_by_hand():
    # cell 0 played arms 0 and 1, cell 1 played arm 0 only
    a = np.array([0, 1, 0, 0])
    cells = np.array([0, 0, 1, 1])
    P = np.array([[0.5, 0.5, 0.0], [0.2, 0.2, 0.6], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    # unplayed mass per row: 0, 0.6 (arm 2 in cell 0), 0.5 (arm 1 in cell 1), 1.0 (arms 1-2 in cell 1)
    assert unsupported_share(P, a, cells) == pytest.approx((0 + 0.6 + 0.5 + 1.0) / 4)


def test_a_truly_better_candidate_ships_a_worse_one_never():
    r, a, p, Q, logged = _logged(n=20000, p_true=(0.20, 0.30, 0.15), seed=3)
    n = len(r)
    pols = {"logging": logged, "good": _always(1, n, 3), "bad": _always(2, n, 3), "same": logged.copy()}
    g = run_gate(r, a, p, Q, pols, "logging", np.zeros(n, dtype=int)).set_index("policy")
    assert list(g.reset_index().columns) == list(GATE_COLUMNS)
    assert g.loc["good", "verdict"] == "promote" and g.loc["logging", "verdict"] == "replace"
    assert g.loc["bad", "verdict"] == "refuse" and g.loc["same", "verdict"] == "refuse"
    assert g.loc["good", "reason"].startswith("passes: p = ") and "shipped" in g.loc["good", "reason"]
    assert g.loc["bad", "reason"].startswith("refused: p = ")
    # three were tested: Holm's thresholds are alpha / 3, alpha / 2, alpha
    assert sorted(g.loc[["good", "bad", "same"], "holm_threshold"]) == pytest.approx([0.025 / 3, 0.025 / 2, 0.025])


def test_eligibility_refuses_without_spending_a_test():
    r, a, p, Q, logged = _logged(n=6000, p_true=(0.20, 0.30, 0.15), seed=4)
    n = len(r)
    # narrow logging: arm 2 is never played in cell 1
    cells = (np.arange(n) % 2).astype(int)
    keep = ~((cells == 1) & (a == 2))
    r, a, p, Q, logged, cells = r[keep], a[keep], p[keep], Q[keep], logged[keep], cells[keep]
    n = len(r)
    wants_arm2 = _always(2, n, 3)
    pols = {"logging": logged, "good": _always(1, n, 3), "unsupported": wants_arm2}
    g = run_gate(r, a, p, Q, pols, "logging", cells).set_index("policy")
    assert g.loc["unsupported", "unsupported_share"] == pytest.approx((cells == 1).mean())
    assert g.loc["unsupported", "verdict"] == "refuse" and not g.loc["unsupported", "eligible"]
    assert "never played" in g.loc["unsupported", "reason"]
    # only one test was spent: the good candidate's Holm threshold is alpha itself
    assert g.loc["good", "holm_threshold"] == pytest.approx(0.025) and g.loc["good", "verdict"] == "promote"
    strict = run_gate(r, a, p, Q, pols, "logging", cells, GateConfig(min_ess=10 * n)).set_index("policy")
    assert (strict.loc[["good", "unsupported"], "verdict"] == "refuse").all()
    assert "effective sample size" in strict.loc["good", "reason"]
    assert strict.loc["logging", "verdict"] == "keep"


def test_gate_config_and_input_errors_name_the_problem():
    assert GateConfig.from_mapping({"alpha": None, "min_ess": 50}) == GateConfig(min_ess=50)
    with pytest.raises(ValueError, match=r"unknown gate setting\(s\) \['alpah'\]"):
        GateConfig.from_mapping({"alpah": 0.1})
    with pytest.raises(ValueError, match="alpha must lie in"):
        GateConfig(alpha=1.5)
    with pytest.raises(ValueError, match="at least 1000"):
        GateConfig(n_bootstrap=200)
    assert GateConfig(n_bootstrap=200, interval="influence").n_bootstrap == 200
    with pytest.raises(ValueError, match="interval must be one of"):
        GateConfig(interval="exact")
    r, a, p, Q, logged = _logged(n=50)
    with pytest.raises(ValueError, match="champion 'x'"):
        paired_differences(r, a, p, Q, {"logging": logged}, "x")
    with pytest.raises(ValueError, match="policy 'bad': every row"):
        paired_differences(r, a, p, Q, {"logging": logged, "bad": logged * 2}, "logging")
    p_bad = p.copy()
    p_bad[3] = 0.0
    with pytest.raises(ValueError, match="row 3"):
        paired_differences(r, a, p_bad, Q, {"logging": logged}, "logging")
    with pytest.raises(ValueError, match="exactly once"):
        gate_verdicts(pd.DataFrame({"policy": ["a"], "ess": [1.0], "unsupported_share": [0.0], "p_value": [0.1]}),
                      "logging")
