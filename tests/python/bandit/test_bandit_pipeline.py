"""Decision ledger -> context encoding -> candidate policies -> off-policy evaluation -> gate.

The ledgers are logged in the simulated world (``simulate_ledger``: the world's own epsilon-greedy
logging rule, rewards drawn from the true conversion probabilities), so every estimate can be
checked against the true value of the policy on the same decisions.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from retail_lift.bandit import BernoulliTS, EpsilonGreedy, LinUCB, SegmentBernoulliTS
from retail_lift.bandit.context import ContextEncoder, parse_action_probabilities, parse_contexts
from retail_lift.bandit.pipeline import (
    CANDIDATE_NAMES,
    ESTIMATORS,
    evaluate_policies,
    ledger_arrays,
    mask_probabilities,
    ope_gate,
    policy_probabilities,
    settled_rows,
    time_split,
    train_candidates,
    true_policy_value,
    truth_matrix,
)
from retail_lift.evaluation.bandit_simulation import simulate_ledger

ARMS = ["control", "email_no_discount", "email_10pct", "banner_limited_time", "popup_cart_reminder", "bogo",
        "free_shipping"]
CTX = {"age_band": "25-34", "device": "mobile", "acquisition_channel": "facebook", "follows_page": 1,
       "heard_of_shop": 0, "orders_90d": 2, "days_since_last_order": 12.5, "views_30d": 7, "hour": 19}


# ----------------------------------------------------------------------------------------------
# context parsing and encoding
# ----------------------------------------------------------------------------------------------


def test_parse_contexts_types_missing_values_and_extra_keys():
    rows = [json.dumps(CTX), json.dumps({**CTX, "days_since_last_order": None, "device": None, "extra": 3}), None]
    df = parse_contexts(rows)
    assert list(df.columns[:9]) == ["age_band", "device", "acquisition_channel", "follows_page", "heard_of_shop",
                                    "orders_90d", "views_30d", "days_since_last_order", "hour"]
    assert list(df.columns[9:]) == ["extra"]
    assert df.loc[0, "age_band"] == "25-34" and df.loc[0, "days_since_last_order"] == 12.5
    assert df.loc[1, "device"] is None and np.isnan(df.loc[1, "days_since_last_order"])
    assert df.iloc[2, :9].isna().all()  # a NULL context is a row of missing values
    with pytest.raises(ValueError, match="row 1 is not valid JSON"):
        parse_contexts([json.dumps(CTX), "{bad"])


def test_parse_action_probabilities_absent_arms_are_unavailable():
    P = parse_action_probabilities(['{"control":0.25,"bogo":0.75}', '{"free_shipping":1.0}'], ARMS)
    assert P.shape == (2, 7)
    assert P[0].tolist() == [0.25, 0, 0, 0, 0, 0.75, 0] and P[1].tolist() == [0, 0, 0, 0, 0, 0, 1.0]
    with pytest.raises(ValueError, match="arm 'mystery'"):
        parse_action_probabilities(['{"control":0.5,"mystery":0.5}'], ARMS)
    with pytest.raises(ValueError, match="sums to 0.900000"):
        parse_action_probabilities(['{"control":0.4,"bogo":0.5}'], ARMS)


def test_encoder_hand_computed_features_and_json_state():
    other = {**CTX, "age_band": "65+", "device": "desktop", "acquisition_channel": "store", "follows_page": 0,
             "heard_of_shop": 1, "orders_90d": 0, "views_30d": 0, "days_since_last_order": None, "hour": 0}
    df = parse_contexts([json.dumps(CTX), json.dumps(other)])
    enc = ContextEncoder().fit(df)
    assert enc.feature_names_ == [
        "age_band=25-34", "age_band=65+", "device=desktop", "device=mobile", "acquisition_channel=facebook",
        "acquisition_channel=store", "follows_page", "heard_of_shop", "orders_90d_log1p", "views_30d_log1p",
        "days_since_last_order_log1p", "days_since_last_order_missing", "hour_sin", "hour_cos"]
    X = enc.transform(df)
    # two rows: log1p(2) and log1p(0) standardise to +1 and -1; the missing day count becomes the mean (0)
    np.testing.assert_allclose(X[0], [1, 0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 0, np.sin(2 * np.pi * 19 / 24),
                                      np.cos(2 * np.pi * 19 / 24)], atol=1e-12)
    np.testing.assert_allclose(X[1], [0, 1, 1, 0, 0, 1, 0, 1, -1, -1, 0, 1, 0, 1], atol=1e-12)
    # an unseen category gives zeros in its block; a clipped count stays at the cap
    unseen = enc.transform(parse_contexts([json.dumps({**CTX, "device": "smartwatch", "orders_90d": 500})]))
    assert unseen[0, 2:4].tolist() == [0.0, 0.0]
    assert unseen[0, 8] == pytest.approx((np.log1p(enc.caps_["orders_90d"]) - enc.means_["orders_90d"])
                                         / enc.stds_["orders_90d"])
    restored = ContextEncoder.from_dict(json.loads(json.dumps(enc.to_dict())))
    np.testing.assert_array_equal(restored.transform(df), X)
    assert restored.feature_names_ == enc.feature_names_


def test_segment_ids_are_mixed_radix_with_an_other_level():
    df = parse_contexts([json.dumps(CTX), json.dumps({**CTX, "age_band": "65+", "heard_of_shop": 1}),
                         json.dumps({**CTX, "age_band": "unknown"})])
    enc = ContextEncoder(segment_keys=("age_band", "heard_of_shop")).fit(df.iloc[:2])
    # age levels [25-34, 65+, other] x heard levels [0, 1, other]
    assert enc.n_segments_ == 9
    assert enc.segment_ids(df).tolist() == [0 * 3 + 0, 1 * 3 + 1, 2 * 3 + 0]
    assert enc.segment_labels()[4] == "age_band=65+|heard_of_shop=1"


# ----------------------------------------------------------------------------------------------
# a small ledger: pending rows, priors, masks, publishing
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small():
    return simulate_ledger("tiny", days=30, decisions_per_day=150, pending_days=3, seed=5)


def test_simulated_ledger_has_the_warehouse_columns(small):
    L = small.ledger
    assert list(L.columns) == ["decision_id", "customer_id", "decided_at", "policy_id", "promotion_id", "propensity",
                               "action_probabilities", "context", "is_pending", "is_converted", "revenue"]
    assert L["is_converted"].isna().equals(L["is_pending"])
    assert 300 < L["is_pending"].sum() < 600  # three days of about 140 decisions
    assert set(L["promotion_id"]) == set(ARMS)


def test_pending_rows_are_excluded_from_training_and_evaluation(small):
    L = small.ledger
    settled = settled_rows(L)
    assert len(settled) == int((~L["is_pending"]).sum())
    # what pending rows say must not matter: flip their (unknown) rewards to 1 and their arms to bogo
    tampered = L.copy()
    tampered["is_converted"] = tampered["is_converted"].astype("Float64")
    tampered.loc[tampered["is_pending"], "is_converted"] = 1.0
    tampered.loc[tampered["is_pending"], "revenue"] = 999.0
    # ...and a row whose window is open but that has no is_pending flag set is dropped too
    tampered.loc[tampered.index[0], "is_converted"] = None
    a = train_candidates(L, ARMS, candidates=("lints", "thompson_segment"), n_mc_draws=50)
    b = train_candidates(tampered.iloc[1:], ARMS, candidates=("lints", "thompson_segment"), n_mc_draws=50)
    c = train_candidates(tampered, ARMS, candidates=("lints", "thompson_segment"), n_mc_draws=50)
    for name in a:
        assert json.dumps(b[name].to_dict()) == json.dumps(c[name].to_dict())
    assert a.n_train == len(settled) and c.n_train == len(settled) - 1
    table = evaluate_policies(tampered, {"lints": c["lints"]}, c.encoder, n_bootstrap=0)
    assert (table["n"] == len(settled) - 1).all()
    # the time split keeps settled rows only, in time order, without overlap
    train, holdout = time_split(L, holdout_fraction=0.3)
    assert len(train) + len(holdout) == len(settled)
    assert train["decided_at"].max() < holdout["decided_at"].min()
    assert not train["is_pending"].any() and not holdout["is_pending"].any()
    assert len(holdout) / len(settled) == pytest.approx(0.3, abs=0.01)


def test_arms_never_logged_keep_their_prior(small):
    L = small.ledger
    before_launch = L.loc[L["promotion_id"] != "free_shipping"]
    early = before_launch.loc[before_launch["decided_at"] < before_launch["decided_at"].quantile(0.3)]
    assert "free_shipping" not in set(early["promotion_id"])
    cands = train_candidates(early, ARMS, n_mc_draws=100)
    assert list(cands) == list(CANDIDATE_NAMES)
    k = ARMS.index("free_shipping")
    lin = cands["linucb"]
    np.testing.assert_array_equal(lin.A_[k], np.eye(lin.n_coef_))  # reg_lambda = 1
    assert not lin.b_[k].any()
    seg, ts = cands["thompson_segment"], cands["thompson"]
    rate = float(settled_rows(early)["is_converted"].astype(float).mean())
    assert seg.alpha_[:, k] == pytest.approx(np.full(seg.n_segments, rate * 10))
    assert seg.beta_[:, k] == pytest.approx(np.full(seg.n_segments, (1 - rate) * 10))
    assert ts.alpha_[k] == pytest.approx(rate * 10) and ts.beta_[k] == pytest.approx((1 - rate) * 10)
    assert cands["epsilon_greedy"].counts_[k] == 1.0  # the prior pseudo-observation only
    # the logged arms did learn
    assert lin.A_[ARMS.index("email_no_discount")][-1, -1] > 50


def test_mask_probabilities_hand_cases():
    P = np.array([[0.5, 0.3, 0.2], [1.0, 0.0, 0.0], [0.2, 0.2, 0.6]])
    A = np.array([[True, True, False], [False, True, True], [True, True, True]])
    out = mask_probabilities(P, A)
    np.testing.assert_allclose(out, [[0.625, 0.375, 0.0], [0.0, 0.5, 0.5], [0.2, 0.2, 0.6]])
    with pytest.raises(ValueError, match="row 0 has no available arm"):
        mask_probabilities(P[:1], np.zeros((1, 3), dtype=bool))


def test_unavailable_arms_never_get_probability(small):
    L = small.ledger
    train, holdout = time_split(L, holdout_fraction=0.8)  # free_shipping launches ten days in
    cands = train_candidates(train, ARMS, n_mc_draws=100)
    table, details = evaluate_policies(holdout, cands, cands.encoder, n_bootstrap=0, return_details=True)
    available = details["arrays"].available
    k = ARMS.index("free_shipping")
    assert (~available[:, k]).sum() > 50 and available[:, k].sum() > 50  # the launch falls in the holdout
    for name, P in details["target_probabilities"].items():
        assert (P[~available] == 0).all(), name
        np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-5)  # logged values have six decimals
    # without the mask, the untrained free_shipping arm would win LinUCB's bonus before it exists
    dr_rows = table.loc[table["estimator"] == "dr"].set_index("policy")
    assert dr_rows.loc["linucb", "unavailable_mass"] > 0.1
    assert dr_rows.loc["logging", "unavailable_mass"] == 0.0


def test_policy_probabilities_for_publishing(small):
    L = small.ledger
    cands = train_candidates(L, ARMS, candidates=("thompson_segment",), n_mc_draws=200)
    customers = L[["customer_id", "context"]].drop_duplicates("customer_id").head(40)
    long = policy_probabilities(cands["thompson_segment"], cands.encoder, customers)
    assert list(long.columns) == ["customer_id", "promotion_id", "probability"] and len(long) == 40 * 7
    np.testing.assert_allclose(long.groupby("customer_id")["probability"].sum(), 1.0)
    wide = policy_probabilities(cands["thompson_segment"], cands.encoder, customers, wide=True)
    assert list(wide.columns) == ["customer_id", *ARMS]
    np.testing.assert_allclose(wide[ARMS].to_numpy().ravel(), long["probability"].to_numpy())
    only = policy_probabilities(cands["thompson_segment"], cands.encoder, customers, available=["control", "bogo"])
    assert (only.loc[~only["promotion_id"].isin(["control", "bogo"]), "probability"] == 0).all()
    np.testing.assert_allclose(only.groupby("customer_id")["probability"].sum(), 1.0)


def test_true_policy_value_and_truth_matrix():
    P = np.array([[1.0, 0.0], [0.5, 0.5]])
    T = np.array([[0.2, 0.4], [0.1, 0.3]])
    assert true_policy_value(P, T) == pytest.approx((0.2 + 0.2) / 2)
    truth = pd.DataFrame({"exposure_kind": ["decision"] * 4 + ["experiment"],
                          "exposure_id": ["D2", "D2", "D1", "D1", "D1"],
                          "promotion_id": ["a", "b", "b", "a", "a"], "p_convert": [0.1, 0.3, 0.4, 0.2, 0.9]})
    np.testing.assert_array_equal(truth_matrix(truth, ["D1", "D2"], ["a", "b"]), T)
    with pytest.raises(ValueError, match="no truth"):
        truth_matrix(truth, ["D3"], ["a", "b"])


def test_ledger_checks():
    row = {"decided_at": "2026-03-01", "promotion_id": "bogo", "propensity": 0.4, "context": json.dumps(CTX),
           "action_probabilities": '{"bogo":0.5,"control":0.5}', "is_converted": 1, "is_pending": False}
    with pytest.raises(ValueError, match="propensity 0.4 differs"):
        ledger_arrays(pd.DataFrame([row]), ARMS)
    with pytest.raises(ValueError, match="not in arm_names"):
        ledger_arrays(pd.DataFrame([{**row, "promotion_id": "coupon"}]), ARMS)
    with pytest.raises(ValueError, match="lacks column"):
        ledger_arrays(pd.DataFrame([row]).drop(columns="context"), ARMS)


# ----------------------------------------------------------------------------------------------
# off-policy evaluation against the truth, and the gate
# ----------------------------------------------------------------------------------------------


def _always(arm: str) -> EpsilonGreedy:
    """A policy that always plays ``arm`` (a deliberately poor candidate)."""
    policy = EpsilonGreedy(len(ARMS), arm_names=ARMS, epsilon=0.0, prior={"mean": 0.0, "count": 1.0})
    return policy.fit(np.zeros((1, 1)), [ARMS.index(arm)], [1.0])


@pytest.fixture(scope="module")
def offline():
    """55 days x 2,000 logged decisions; train on the first 60 %, evaluate on the last 40 % (~41k rows)."""
    sim = simulate_ledger("tiny", days=55, decisions_per_day=2000, pending_days=3, seed=1)
    train, holdout = time_split(sim.ledger, holdout_fraction=0.4)
    cands = train_candidates(train, sim.arm_names, n_mc_draws=200)
    policies = {**cands, "always_control": _always("control")}
    table, details = evaluate_policies(holdout, policies, cands.encoder, n_bootstrap=200, return_details=True)
    T = truth_matrix(sim.truth, holdout["decision_id"], sim.arm_names)
    truth = {name: true_policy_value(P, T) for name, P in details["target_probabilities"].items()}
    return table, truth, details


@pytest.mark.slow
def test_evaluation_table_shape(offline):
    table, _, _ = offline
    assert set(table["policy"]) == {"logging", *CANDIDATE_NAMES, "always_control"}
    assert all(tuple(g) == ESTIMATORS for _, g in table.groupby("policy")["estimator"])
    assert (table["ci_low"] <= table["value"]).all() and (table["value"] <= table["ci_high"]).all()
    logging = table.loc[table["policy"] == "logging"].set_index("estimator")
    # on-policy: every weight is 1, IPS = SNIPS = the mean logged reward
    assert logging.loc["ips", "max_weight"] == 1.0 and logging.loc["ips", "ess"] == logging.loc["ips", "n"]
    assert logging.loc["ips", "value"] == pytest.approx(logging.loc["snips", "value"])


#: mean relative error of the DR estimates over the evaluated policies that the tests accept
MEAN_REL_TOL = 0.03


@pytest.mark.slow
def test_dr_estimates_lie_within_10_percent_of_the_true_values(offline):
    table, truth, _ = offline
    dr_rows = table.loc[table["estimator"] == "dr"].set_index("policy")
    for name, true_value in truth.items():
        est = dr_rows.loc[name, "value"]
        assert abs(est - true_value) / true_value < 0.10, (name, est, true_value)
    true_values = pd.Series(truth)
    errors = (dr_rows["value"] - true_values).abs() / true_values
    assert errors.mean() < MEAN_REL_TOL
    # the test is not trivially passed: the learned candidates really differ from the logging policy.
    # The world's logging rule is already a fair one (a banner for customers under 35), so they gain
    # about 6 % over it, not a fixed amount; what matters is the accuracy asked for above: an
    # estimate blind to the target policy (the logging policy's on-policy mean for every policy)
    # misses the mean-error bound on the learned candidates, which DR meets
    learned = list(CANDIDATE_NAMES)
    blind = (dr_rows.loc["logging", "value"] - true_values[learned]).abs() / true_values[learned]
    assert errors[learned].mean() < MEAN_REL_TOL < blind.mean(), (errors[learned].mean(), blind.mean())
    assert truth["logging"] - truth["always_control"] > 0.02


@pytest.mark.slow
def test_gate_promotes_a_better_candidate_and_refuses_a_worse_one(offline):
    table, truth, details = offline
    gate = ope_gate(details, champion="logging").set_index("policy")
    assert gate.loc["logging", "verdict"] == "replace"
    winner = gate.index[gate["verdict"] == "promote"]
    assert len(winner) == 1
    # the winner is really better than the champion, by more than the estimation error the DR test
    # tolerates (MEAN_REL_TOL of the value): not a tie that the gate broke by luck
    assert truth[winner[0]] - truth["logging"] > MEAN_REL_TOL * truth["logging"], (winner[0], truth)
    assert gate.loc[winner[0], "diff_ci_low"] > 0 and gate.loc[winner[0], "passes"]
    # the winner has the best lower bound of its paired difference among the candidates that pass
    assert gate.loc[winner[0], "diff_ci_low"] == gate.loc[gate["passes"], "diff_ci_low"].max()
    # every candidate that passes is truly better than the champion
    assert all(truth[p] > truth["logging"] for p in gate.index[gate["passes"]]), (gate["passes"], truth)
    assert gate.loc["always_control", "verdict"] == "refuse"
    assert truth["always_control"] < truth["logging"]
    # the DR value of every policy is the evaluation table's DR estimate, and the difference is paired
    dr_rows = table.loc[table["estimator"] == "dr"].set_index("policy")
    for name in gate.index:
        assert gate.loc[name, "dr_value"] == pytest.approx(dr_rows.loc[name, "value"])
        assert gate.loc[name, "dr_diff"] == pytest.approx(dr_rows.loc[name, "value"] - dr_rows.loc["logging", "value"])
    # only the poor candidate: the champion is kept
    only_bad = {**details, "target_probabilities": {k: v for k, v in details["target_probabilities"].items()
                                                     if k in ("logging", "always_control")}}
    kept = ope_gate(only_bad).set_index("policy")
    assert kept.loc["logging", "verdict"] == "keep" and kept.loc["always_control", "verdict"] == "refuse"
    assert "champion; no candidate" in kept.loc["logging", "reason"]
    with pytest.raises(ValueError, match="champion 'nobody'"):
        ope_gate(details, champion="nobody")
    with pytest.raises(ValueError, match="return_details=True"):
        ope_gate(table)


def test_policies_with_other_arms_are_rejected(small):
    cands = train_candidates(small.ledger, ARMS, candidates=("thompson",), n_mc_draws=50)
    other = BernoulliTS(3, arm_names=["control", "bogo", "free_shipping"])
    with pytest.raises(ValueError, match="has arms"):
        evaluate_policies(small.ledger, {"thompson": cands["thompson"], "other": other}, cands.encoder)
    assert isinstance(cands["thompson"], BernoulliTS)
    assert not isinstance(cands["thompson"], (LinUCB, SegmentBernoulliTS))
