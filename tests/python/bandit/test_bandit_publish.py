"""Publishing policy versions to the warehouse and serving them: the tables of the dbt models, the
published-policy round trip through a DuckDB file, ``decide``, and the ``simulate`` / ``decide`` CLI."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from retail_lift.bandit import BasePolicy
from retail_lift.bandit.cli import decide_command
from retail_lift.bandit.context import ContextEncoder, parse_contexts
from retail_lift.bandit.pipeline import CANDIDATE_NAMES, ledger_arrays, policy_inputs, time_split
from retail_lift.bandit.publish import NoServablePolicyError, PublishedPolicy, load_published_policy
from retail_lift.evaluation.bandit_simulation import simulate_ledger
from retail_lift.evaluation.cli import simulate_command
from retail_lift.tables.bandit import (
    SCHEMAS,
    customer_probabilities,
    empty_table,
    has_enough_decisions,
    holdout_probabilities,
    latest_contexts,
    policy_evaluation,
    published_arms,
    published_policies,
)

CTX = {"age_band": "25-34", "device": "mobile", "acquisition_channel": "facebook", "follows_page": 1,
       "heard_of_shop": 0, "orders_90d": 2, "days_since_last_order": 12.5, "views_30d": 7, "hour": 19}
FAST = dict(n_mc_draws=200, random_state=0)


@pytest.fixture(scope="module")
def world():
    """A small ledger logged in the tiny world, with the warehouse's data_ends_at column, and the
    promotions table (free_shipping launches mid-ledger; 'vip_gift' launches after the data ends)."""
    sim = simulate_ledger("tiny", days=30, decisions_per_day=150, pending_days=3, seed=5)
    ledger = sim.ledger.copy()
    end = ledger["decided_at"].max().normalize() + pd.Timedelta(days=1)
    ledger["data_ends_at"] = end
    launch = ledger.loc[ledger["promotion_id"] == "free_shipping", "decided_at"].min().normalize()
    promotions = pd.DataFrame({
        "promotion_id": [*sim.arm_names, "vip_gift"],
        "launched_at": [pd.NaT if a != "free_shipping" else launch for a in sim.arm_names]
        + [end + pd.Timedelta(days=30)],
    })
    arms = published_arms(promotions, ledger, end)
    evaluation = policy_evaluation(ledger, arms, n_bootstrap=50, **FAST)
    published = published_policies(ledger, evaluation, arms, **FAST)
    return {"ledger": ledger, "promotions": promotions, "arms": arms, "end": end, "evaluation": evaluation,
            "published": published}


def _write_warehouse(path, published: pd.DataFrame) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema if not exists ml")
        con.register("published", published)
        con.execute("create or replace table ml.ml_bandit_published_policy as select * from published")
    finally:
        con.close()


def _promote(evaluation: pd.DataFrame, winner: str) -> pd.DataFrame:
    """The evaluation as if ``winner`` had passed the gate (to exercise the promoted path)."""
    ev = evaluation.copy()
    ev.loc[ev["gate_verdict"] == "promote", "gate_verdict"] = "pass"
    ev.loc[ev["is_champion"], "gate_verdict"] = "replace"
    ev.loc[ev["policy_id"] == winner, ["gate_verdict", "passes_gate"]] = ["promote", True]
    return ev


# ----------------------------------------------------------------------------------------------
# the tables of the dbt models
# ----------------------------------------------------------------------------------------------


def test_published_arms_respect_launch_dates(world):
    assert "vip_gift" not in world["arms"]  # launches after the end of the data
    assert "free_shipping" in world["arms"]
    assert world["arms"] == sorted(world["arms"])
    # an arm the ledger logged is kept even if the promotions table says it launched later
    late = world["promotions"].assign(launched_at=world["end"] + pd.Timedelta(days=1))
    assert set(published_arms(late, world["ledger"], world["end"])) >= set(world["ledger"]["promotion_id"])


def test_evaluation_table_has_every_policy_and_estimator_and_one_gate_verdict_per_policy(world):
    ev = world["evaluation"]
    assert list(ev.columns) == list(SCHEMAS["policy_evaluation"])
    assert set(ev["policy_id"]) == {"logging", *CANDIDATE_NAMES}
    assert len(ev) == 7 * 5 and not ev.duplicated(["policy_id", "estimator"]).any()
    assert (ev.groupby("policy_id")["gate_verdict"].nunique() == 1).all()
    assert ev.loc[ev["is_champion"], "policy_id"].unique().tolist() == ["logging"]
    train, holdout = time_split(world["ledger"], 0.3)
    assert (ev["n_decisions"] == len(holdout)).all() and (ev["n_train_decisions"] == len(train)).all()
    assert (ev["holdout_starts_at"] == holdout["decided_at"].min()).all()


def test_holdout_probabilities_reproduce_the_evaluation(world):
    """The separately trained holdout table gives the evaluation's IPS (what the dbt test reconciles)."""
    hp = holdout_probabilities(world["ledger"], world["arms"], **FAST)
    assert list(hp.columns) == list(SCHEMAS["holdout_probabilities"])
    sums = hp.groupby(["policy_id", "decision_id"])["probability"].sum()
    np.testing.assert_allclose(sums.drop("logging"), 1.0, atol=1e-9)
    np.testing.assert_allclose(sums.loc["logging"], 1.0, atol=1e-4)  # the world logs six decimals
    assert (hp.loc[~hp["is_available"], "probability"] == 0).all()
    _, holdout = time_split(world["ledger"], 0.3)
    arrays = ledger_arrays(holdout, world["arms"])
    logged = hp.loc[hp["policy_id"] == "logging", "probability"].to_numpy().reshape(len(holdout), -1)
    np.testing.assert_allclose(logged, arrays.logged_probs)
    chosen = holdout[["decision_id", "promotion_id", "propensity", "is_converted"]]
    m = hp.merge(chosen, on=["decision_id", "promotion_id"])
    ips = (m["probability"] / m["propensity"] * m["is_converted"].astype(float)).groupby(m["policy_id"]).mean()
    ev = world["evaluation"].set_index(["estimator", "policy_id"]).loc["ips", "value"]
    pd.testing.assert_series_equal(ips.sort_index(), ev.sort_index(), check_names=False, atol=1e-12, rtol=0)


def test_published_versions_one_active_the_gates_choice(world):
    pub = world["published"]
    assert list(pub.columns) == list(SCHEMAS["published_policies"])
    assert set(pub["policy_id"]) == {"logging", "fallback", *CANDIDATE_NAMES}
    assert pub["is_active"].sum() == 1
    assert pub.loc[pub["is_fallback"], "policy_id"].tolist() == ["fallback"]
    assert pub["version"].unique().tolist() == ["v" + world["end"].strftime("%Y%m%d")]
    assert (pub["created_at"] == world["end"]).all()
    logging = pub.loc[pub["policy_id"] == "logging"].iloc[0]
    assert logging["policy_class"] == "logged" and pd.isna(logging["policy_json"]) and pd.isna(logging["encoder_json"])
    assert logging["logged_policy_ids"] == "rules_eps30_v1"
    promoted = world["evaluation"].loc[world["evaluation"]["gate_verdict"] == "promote", "policy_id"].unique()
    active = pub.loc[pub["is_active"], "policy_id"].iloc[0]
    assert active == (promoted[0] if len(promoted) else "logging")
    # refit on every settled decision, with the published arm list
    settled = int((~world["ledger"]["is_pending"]).sum())
    assert (pub.loc[~pub["policy_id"].isin(["logging", "fallback"]), "n_train_decisions"] == settled).all()
    # the fallback learns the shares from every logged decision, pending ones included
    fallback = pub.set_index("policy_id").loc["fallback"]
    assert fallback["n_train_decisions"] == len(world["ledger"]) and not fallback["is_active"]
    assert fallback["policy_class"] == "LoggedArmShares" and pd.isna(fallback["gate_verdict"])
    assert fallback["trained_until"] == world["ledger"]["decided_at"].max()
    assert all(json.loads(a) == world["arms"] for a in pub["arms"])
    # deterministic: the same data gives the same versions
    again = published_policies(world["ledger"], world["evaluation"], world["arms"], **FAST)
    pd.testing.assert_frame_equal(pub, again)


def test_customer_probabilities_of_the_champion_and_of_a_promoted_candidate(world):
    ledger, arms = world["ledger"], world["arms"]
    latest = latest_contexts(ledger)
    assert latest["customer_id"].is_unique
    last = ledger.sort_values("decided_at").groupby("customer_id")["decision_id"].last()
    assert latest.set_index("customer_id")["decision_id"].equals(last.loc[latest["customer_id"]])
    keep = customer_probabilities(world["published"].assign(is_active=world["published"]["policy_id"] == "logging"),
                                  ledger)
    assert list(keep.columns) == list(SCHEMAS["customer_probabilities"])
    assert len(keep) == len(latest) * len(arms)
    np.testing.assert_allclose(keep.groupby("customer_id")["probability"].sum(), 1.0, atol=1e-4)
    row = keep.loc[keep["context_decision_id"] == latest["decision_id"].iloc[0]]
    logged = json.loads(latest["action_probabilities"].iloc[0])
    assert dict(zip(row["promotion_id"], row["probability"], strict=True)) == {a: logged.get(a, 0.0) for a in arms}
    published = published_policies(ledger, _promote(world["evaluation"], "lints"), arms, **FAST)
    assert published.loc[published["is_active"], "policy_id"].tolist() == ["lints"]
    scored = customer_probabilities(published, ledger)
    assert set(scored["policy_id"]) == {"lints"} and len(scored) == len(latest) * len(arms)
    np.testing.assert_allclose(scored.groupby("customer_id")["probability"].sum(), 1.0, atol=1e-9)


def test_too_few_settled_decisions_publish_the_logging_policy_and_the_fallback(world):
    few = world["ledger"].head(60)  # decisions, but too few settled ones to evaluate
    published = published_policies(few, empty_table("policy_evaluation"), world["arms"], **FAST)
    assert published["policy_id"].tolist() == ["logging", "fallback"]
    assert published["is_active"].tolist() == [True, False] and published["is_fallback"].tolist() == [False, True]
    assert published.loc[1, "n_train_decisions"] == 60 and pd.isna(published.loc[0, "gate_verdict"])


def test_no_decisions_gives_empty_tables_of_the_same_shape(world):
    empty = world["ledger"].iloc[0:0]
    assert not has_enough_decisions(empty) and not has_enough_decisions(world["ledger"].iloc[:50])
    assert has_enough_decisions(world["ledger"])
    for name, schema in SCHEMAS.items():
        t = empty_table(name)
        assert list(t.columns) == list(schema) and len(t) == 0


# ----------------------------------------------------------------------------------------------
# round trip through the warehouse and decide()
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def warehouse(world, tmp_path_factory):
    """A DuckDB file holding ml.ml_bandit_published_policy (the gate's verdict as evaluated)."""
    path = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    _write_warehouse(path, world["published"])
    return path


@pytest.mark.parametrize("name", CANDIDATE_NAMES)
def test_round_trip_and_decide_match_action_probabilities(world, warehouse, name):
    version = load_published_policy(warehouse, name)
    assert isinstance(version, PublishedPolicy)
    assert (version.policy_id, version.version, version.arms) == (name, "v" + world["end"].strftime("%Y%m%d"),
                                                                  world["arms"])
    # the loaded policy is the refit candidate, probability for probability
    row = world["published"].set_index("policy_id").loc[name]
    contexts = latest_contexts(world["ledger"])["context"].head(40).tolist()
    batch = version.action_probabilities(contexts)
    fresh = BasePolicy.from_dict(json.loads(row["policy_json"]))
    enc = ContextEncoder.from_dict(json.loads(row["encoder_json"]))
    expected = fresh.action_probabilities(policy_inputs(fresh, enc, parse_contexts(contexts)))
    np.testing.assert_array_equal(batch, expected)
    # decide() on one context: the same probabilities, an arm of the published list, its propensity
    for i in (0, 7, 31):
        out = version.decide(json.loads(contexts[i]), rng=np.random.default_rng(i))
        assert set(out) == {"arm", "propensity", "policy_id", "version", "probabilities"}
        assert list(out["probabilities"]) == world["arms"]
        np.testing.assert_allclose(list(out["probabilities"].values()), batch[i], rtol=0, atol=1e-12)
        assert out["arm"] in world["arms"] and out["propensity"] == out["probabilities"][out["arm"]] > 0
        assert out["policy_id"] == name
    # JSON text works too, and a seeded draw is reproducible
    assert version.decide(json.dumps(CTX), rng=3) == version.decide(CTX, rng=3)


def test_decide_frequencies_follow_the_probabilities(warehouse):
    version = load_published_policy(warehouse, "lints")
    gen = np.random.default_rng(0)
    n = 600
    outs = [version.decide(CTX, gen) for _ in range(n)]
    p = np.array(list(outs[0]["probabilities"].values()))
    freq = np.array([sum(o["arm"] == a for o in outs) for a in version.arms]) / n
    assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-9)


def test_active_version_loads_by_default_and_the_logging_champion_is_not_servable(world, tmp_path):
    keep = world["published"].assign(is_active=world["published"]["policy_id"] == "logging")
    _write_warehouse(tmp_path / "keep.duckdb", keep)
    # the logging policy is active: the declared fallback is served, and says why
    served = load_published_policy(tmp_path / "keep.duckdb")
    assert (served.policy_id, served.served_as) == ("fallback", "fallback")
    assert "no candidate passed the off-policy gate" in served.reason and "arm shares" in served.reason
    with pytest.raises(NoServablePolicyError, match="no candidate passed the off-policy gate.*thompson"):
        load_published_policy(tmp_path / "keep.duckdb", fallback=False)
    with pytest.raises(NoServablePolicyError, match="policy that logged the decisions"):
        load_published_policy(tmp_path / "keep.duckdb", "logging")
    # a table built before the fallback existed (no is_fallback column): nothing to serve
    _write_warehouse(tmp_path / "old.duckdb", keep.drop(columns="is_fallback").query("policy_id != 'fallback'"))
    with pytest.raises(NoServablePolicyError, match="no candidate passed the off-policy gate"):
        load_published_policy(tmp_path / "old.duckdb")
    promoted = published_policies(world["ledger"], _promote(world["evaluation"], "thompson_segment"), world["arms"],
                                   **FAST)
    _write_warehouse(tmp_path / "promoted.duckdb", promoted)
    active = load_published_policy(tmp_path / "promoted.duckdb")
    assert (active.policy_id, active.served_as, active.reason) == ("thompson_segment", "active", None)
    assert load_published_policy(tmp_path / "promoted.duckdb", "thompson").served_as == "requested"
    with pytest.raises(LookupError, match="no policy 'nope'"):
        load_published_policy(tmp_path / "promoted.duckdb", "nope")
    with pytest.raises(FileNotFoundError):
        load_published_policy(tmp_path / "missing.duckdb")
    # the read-only connection is closed: a writer can open the file right away (same process)
    duckdb.connect(str(tmp_path / "promoted.duckdb")).close()


def test_a_version_only_chooses_its_published_arms(world, warehouse):
    version = load_published_policy(warehouse, "thompson")
    assert "vip_gift" not in version.arms
    arms = {version.decide(CTX, rng=s)["arm"] for s in range(200)}
    assert arms <= set(world["arms"])
    with pytest.raises(ValueError, match="not the published arm list"):
        PublishedPolicy("thompson", "v1", world["end"], version.arms[:-1], version.policy, version.encoder)


# ----------------------------------------------------------------------------------------------
# the CLI
# ----------------------------------------------------------------------------------------------


def test_cli_decide_prints_the_decision_and_fails_cleanly(world, warehouse, tmp_path):
    runner = CliRunner()
    res = runner.invoke(decide_command, [json.dumps(CTX), "--warehouse", str(warehouse), "--policy-id", "lints",
                                         "--seed", "4"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out == load_published_policy(warehouse, "lints").decide(CTX, rng=4)
    res = runner.invoke(decide_command, ["{not json", "--warehouse", str(warehouse)])
    assert res.exit_code == 2 and "not valid JSON" in res.output
    keep = world["published"].assign(is_active=world["published"]["policy_id"] == "logging")
    _write_warehouse(tmp_path / "keep.duckdb", keep)
    res = runner.invoke(decide_command, [json.dumps(CTX), "--warehouse", str(tmp_path / "keep.duckdb")])
    assert res.exit_code == 0 and json.loads(res.output)["policy_id"] == "fallback"  # the logging policy is active
    res = runner.invoke(decide_command, [json.dumps(CTX), "--warehouse", str(tmp_path / "keep.duckdb"),
                                         "--policy-id", "logging"])
    assert res.exit_code == 2 and "shadow scoring" in res.output
    res = runner.invoke(decide_command, [json.dumps(CTX)], env={"RETAIL_LIFT_WAREHOUSE": str(tmp_path / "none.db")})
    assert res.exit_code == 2 and "no warehouse" in res.output


@pytest.mark.slow
def test_cli_simulate_writes_tables_and_charts(tmp_path):
    out = tmp_path / "bandit"
    res = CliRunner().invoke(simulate_command, ["--preset", "tiny", "--days", "6", "--decisions-per-day", "150",
                                                "--policy", "thompson_segment", "--policy", "lints",
                                                "--policy", "best_single_arm", "--seed", "0", "--seed", "1",
                                                "--out", str(out)])
    assert res.exit_code == 0, res.output
    for name in ("summary.csv", "summary_by_seed.csv", "daily.csv", "arm_mix.csv", "simulation.json",
                 "cumulative_regret.png", "arm_mix.png", "cumulative_conversions.png"):
        assert (out / name).stat().st_size > 0, name
    by_seed = pd.read_csv(out / "summary_by_seed.csv")
    assert sorted(by_seed["seed"].unique()) == [0, 1] and "regret_growth_exponent" in by_seed
    assert "spread over seeds [0, 1]" in res.output
    summary = pd.read_csv(out / "summary.csv")
    assert summary["policy"].tolist() == ["thompson_segment", "lints", "best_single_arm", "control_group"]
    assert "lift vs ctl" in res.output and "cum. regret" in res.output and "thompson_segment" in res.output
    assert json.loads((out / "simulation.json").read_text())["days"] == 6
    res = CliRunner().invoke(simulate_command, ["--preset", "tiny", "--days", "500", "--out", str(out)])
    assert res.exit_code == 2 and "too long" in res.output


# ----------------------------------------------------------------------------------------------
# the one-context fast path of decide() equals the batch path
# ----------------------------------------------------------------------------------------------


def _edge_contexts() -> list[dict]:
    """Contexts a client may send: missing keys, nulls, unseen categories, booleans, extra keys,
    floats for counts, NaN, and numbers sent as text (those take the pandas fallback)."""
    return [
        {},
        {"hour": 0},
        {**CTX, "age_band": None, "days_since_last_order": None},
        {**CTX, "device": "smart-fridge", "acquisition_channel": "carrier-pigeon"},
        {**CTX, "follows_page": True, "heard_of_shop": False},
        {**CTX, "orders_90d": 4000.0, "views_30d": 0.5, "days_since_last_order": -3.0, "hour": 23.5},
        {**CTX, "campaign": "black-friday", "hour": None},
        {**CTX, "age_band": float("nan"), "views_30d": float("nan")},
        {**CTX, "orders_90d": "3", "follows_page": "1"},
        {**CTX, "age_band": 35, "follows_page": 2},
        {**CTX, "orders_90d": float("inf"), "days_since_last_order": float("-inf"), "hour": float("inf")},
    ]


@pytest.mark.parametrize("name", CANDIDATE_NAMES)
def test_decide_fast_path_equals_the_batch_path(world, warehouse, name):
    version = load_published_policy(warehouse, name)
    contexts = [json.loads(c) for c in latest_contexts(world["ledger"])["context"]] + _edge_contexts()
    batch_inputs = policy_inputs(version.policy, version.encoder, parse_contexts(contexts))
    batch = version.action_probabilities(contexts)
    for i, ctx in enumerate(contexts):
        one = version.input_one(ctx)
        if version.policy.context_free:
            assert one is None
        else:
            np.testing.assert_array_equal(np.asarray(one), batch_inputs[i])  # bit for bit
        out = version.decide(ctx, rng=i)
        np.testing.assert_array_equal(np.array(list(out["probabilities"].values())), batch[i])
        assert out["propensity"] == batch[i][version.arms.index(out["arm"])]


def test_encoder_one_context_equals_transform_bit_for_bit(world):
    contexts = [json.loads(c) for c in world["ledger"]["context"]] + _edge_contexts()
    enc = ContextEncoder().fit(parse_contexts([c for c in world["ledger"]["context"]]))
    frame = parse_contexts(contexts)
    X, seg = enc.transform(frame), enc.segment_ids(frame)
    fallback = 0
    for i, ctx in enumerate(contexts):
        x, s = enc.transform_one(ctx), enc.segment_id_one(ctx)
        if x is None:  # a number sent as text: the caller parses it with pandas
            fallback += 1
            assert s is None or s == seg[i]
            continue
        np.testing.assert_array_equal(x, X[i])
        assert s == seg[i]
    assert fallback == 1
    # the lookup tables follow a refit
    enc.fit(frame.iloc[:5])
    np.testing.assert_array_equal(enc.transform_one(CTX), enc.transform([CTX])[0])


def test_decide_does_not_touch_pandas_for_json_typed_contexts(warehouse, monkeypatch):
    import retail_lift.bandit.publish as publish_module

    def no_pandas(_):
        raise AssertionError("the batch (pandas) path was used")

    versions = {name: load_published_policy(warehouse, name) for name in CANDIDATE_NAMES}
    monkeypatch.setattr(publish_module, "parse_contexts", no_pandas)
    for name, version in versions.items():
        assert version.decide(CTX, rng=1)["policy_id"] == name
        assert version.decide({"device": "tablet", "hour": None}, rng=1)["arm"] in version.arms
    # a number sent as text is left to pandas' parser (the fallback)
    with pytest.raises(AssertionError, match="batch"):
        versions["lints"].decide({**CTX, "orders_90d": "2"}, rng=1)
