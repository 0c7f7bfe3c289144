"""The declared fallback (the logging policy's arm shares, overall and per segment) and the serving
exploration floor."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from retail_lift.bandit import BasePolicy, LoggedArmShares, score_decision
from retail_lift.bandit.fallback import FALLBACK_MIN_DECISIONS, fit_fallback
from retail_lift.bandit.pipeline import ledger_arrays
from retail_lift.bandit.serve import DEFAULT_FLOOR, apply_floor, check_floor
from retail_lift.evaluation.bandit_simulation import simulate_ledger


def test_shares_per_segment_with_enough_decisions_else_overall():
    # segment 0: 4 decisions (3 on arm 0), segment 1: 2 decisions (both arm 2), segment 2: none
    seg = np.array([0, 0, 0, 0, 1, 1])
    arms = np.array([0, 0, 0, 1, 2, 2])
    pol = LoggedArmShares(3, n_segments=3, arm_names=["a", "b", "c"], min_decisions=3).fit(seg, arms, np.zeros(6))
    overall = np.array([3, 1, 2]) / 6
    np.testing.assert_allclose(pol.overall_shares_, overall)
    P = pol.action_probabilities(np.array([0, 1, 2]))
    np.testing.assert_allclose(P[0], [0.75, 0.25, 0.0])  # its own shares (4 >= 3 decisions)
    np.testing.assert_allclose(P[1], overall)           # 2 < 3 decisions: the overall shares
    np.testing.assert_allclose(P[2], overall)           # never seen: the overall shares
    assert pol.own_share_segments_.tolist() == [0]
    # sample weights count as decisions; rewards are ignored
    weighted = LoggedArmShares(3, 3, min_decisions=3).fit(seg, arms, np.ones(6), sample_weight=np.full(6, 2.0))
    assert weighted.own_share_segments_.tolist() == [0, 1]
    # before any decision: uniform; a new arm starts at 0 everywhere
    assert np.allclose(LoggedArmShares(4, 2).action_probabilities(np.array([1])), 0.25)
    pol.add_arm("d")
    assert pol.action_probabilities(np.array([0, 2]))[:, 3].tolist() == [0.0, 0.0]


def test_round_trip_and_bad_parameters():
    pol = LoggedArmShares(2, 4, arm_names=["x", "y"], min_decisions=1, random_state=3)
    pol.fit(np.array([0, 1, 1, 3]), np.array([0, 1, 1, 0]), np.zeros(4))
    back = BasePolicy.from_dict(json.loads(json.dumps(pol.to_dict())))
    assert isinstance(back, LoggedArmShares)
    ids = np.arange(4)
    np.testing.assert_array_equal(back.action_probabilities(ids), pol.action_probabilities(ids))
    with pytest.raises(ValueError, match="min_decisions must be a positive integer"):
        LoggedArmShares(2, 4, min_decisions=0).fit(np.array([0]), np.array([0]), np.zeros(1))
    with pytest.raises(ValueError, match="segment ids"):
        pol.action_probabilities(np.array([4]))


def test_fit_fallback_on_a_ledger_uses_every_decision_and_the_encoder_segments():
    ledger = simulate_ledger("tiny", days=12, decisions_per_day=120, pending_days=3, seed=2).ledger
    arms = sorted(set(ledger["promotion_id"]) | {"late_arm"})
    fb = fit_fallback(ledger, arms, min_decisions=50)
    assert fb.n_decisions == len(ledger) and ledger["is_pending"].any()  # pending decisions count
    assert fb.last_decided_at == ledger["decided_at"].max()
    seg = fb.encoder.segment_ids(ledger["context"])
    counts = pd.crosstab(seg, ledger["promotion_id"]).reindex(columns=arms, fill_value=0)
    big = counts.index[counts.sum(axis=1) >= 50]
    assert len(big) > 0 and set(fb.policy.own_share_segments_) == set(big)
    P = fb.policy.action_probabilities(np.asarray(big))
    np.testing.assert_allclose(P, counts.loc[big].to_numpy() / counts.loc[big].sum(axis=1).to_numpy()[:, None])
    assert (P[:, arms.index("late_arm")] == 0).all()
    # every logged decision's segment is served, and the logging policy's shares follow its logged probabilities
    logged = ledger_arrays(ledger, arms, settled=False).logged_probs.mean(axis=0)
    np.testing.assert_allclose(fb.policy.overall_shares_, logged, atol=0.03)
    assert FALLBACK_MIN_DECISIONS == 100
    with pytest.raises(ValueError, match="empty ledger"):
        fit_fallback(ledger.iloc[0:0], arms)
    # the warehouse's row order does not matter: two builds of the same data publish the same fallback
    shuffled = fit_fallback(ledger.sample(frac=1.0, random_state=9), arms, min_decisions=50)
    assert json.dumps(shuffled.policy.to_dict()) == json.dumps(fb.policy.to_dict())
    assert json.dumps(shuffled.encoder.to_dict()) == json.dumps(fb.encoder.to_dict())


def test_the_floor_gives_every_arm_at_least_the_floor_and_the_draw_uses_the_floored_probabilities():
    assert DEFAULT_FLOOR == 0.01
    p = np.array([1.0, 0.0, 0.0, 0.0])
    f = apply_floor(p, 0.05)
    np.testing.assert_allclose(f, [0.85, 0.05, 0.05, 0.05])
    assert apply_floor(p, 0.0) is not None and np.array_equal(apply_floor(p, 0.0), p)
    assert check_floor(0.25, 4) == 0.25
    for bad, msg in ((0.3, r"floor must be at most 1 / number of arms"), (-0.1, "floor must be a number >= 0"),
                     (float("nan"), "floor must be a number >= 0"), (True, "floor must be a number >= 0")):
        with pytest.raises(ValueError, match=msg):
            check_floor(bad, 4)
    pol = LoggedArmShares(4, 1, min_decisions=1).fit(np.zeros(5, dtype=int), np.zeros(5, dtype=int), np.zeros(5))
    gen = np.random.default_rng(0)
    outs = [score_decision(pol, np.array([0]), gen, floor=0.05) for _ in range(2000)]
    assert all(o["probabilities"] == pytest.approx([0.85, 0.05, 0.05, 0.05]) for o in outs[:5])
    assert all(o["propensity"] == pytest.approx(o["probabilities"][o["arm"]]) for o in outs)
    drawn = np.bincount([o["arm"] for o in outs], minlength=4) / len(outs)
    assert drawn[1:].min() > 0.02 and abs(drawn[0] - 0.85) < 0.03  # arms of share 0 are drawn, at the floor


def test_published_fallback_decides_from_cached_segment_probabilities_refreshed_after_learning():
    from retail_lift.bandit.publish import PublishedPolicy

    ledger = simulate_ledger("tiny", days=6, decisions_per_day=100, pending_days=2, seed=3).ledger
    arms = sorted(set(ledger["promotion_id"]))
    fb = fit_fallback(ledger, arms, min_decisions=20)
    version = PublishedPolicy("fallback", "v1", pd.Timestamp("2026-01-01"), arms, fb.policy, fb.encoder,
                              served_as="fallback", reason="the gate kept the logging policy")
    ctx = json.loads(ledger["context"].iloc[0])
    seg = fb.encoder.segment_id_one(ctx)
    expected = apply_floor(fb.policy.action_probabilities(np.array([seg]))[0], 0.02)
    np.testing.assert_allclose(version.probabilities_one(ctx, 0.02), expected)
    out = version.decide(ctx, rng=0, floor=0.02)
    assert out["propensity"] == pytest.approx(expected[arms.index(out["arm"])])
    # the policy learns again: the cached probabilities are not reused
    fb.policy.partial_fit(np.full(500, seg), np.zeros(500, dtype=int), np.zeros(500))
    assert version.probabilities_one(ctx, 0.02)[0] > expected[0]
    with pytest.raises(ValueError, match="served_as must be one of"):
        PublishedPolicy("fallback", "v1", pd.Timestamp("2026-01-01"), arms, fb.policy, fb.encoder, served_as="x")
