"""The decision API: validation (422), unknown context keys and values (decided and flagged), health,
decisions and their durable log, the exploration floor, shadow scoring, outcomes (unknown ones kept
apart), the champion-kept case (the fallback), the warehouse without decisions (503), the warehouse
left free for a build, and the log's merge into raw data."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from retail_lift.api.app import create_app
from retail_lift.api.cli import ingest_command
from retail_lift.api.ingest import merge_decision_log
from retail_lift.api.log import DECISION_COLUMNS, read_decision_log
from retail_lift.contract import TABLES

CTX = {"age_band": "25-34", "device": "mobile", "acquisition_channel": "facebook", "follows_page": 1,
       "heard_of_shop": 0, "orders_90d": 2, "days_since_last_order": 12.5, "views_30d": 7, "hour": 19}


@pytest.fixture()
def client(api_warehouse, tmp_path):
    app = create_app(api_warehouse, tmp_path / "log", seed=0)
    with TestClient(app) as c:
        yield c


def _raw_lines(folder) -> list[dict]:
    """Every logged decision with all its fields (the API's own ones included)."""
    return [json.loads(line) for f in sorted(folder.glob("decisions-*.jsonl")) for line in f.read_text().splitlines()]


def _log_rows(folder) -> list[dict]:
    rows, skipped = read_decision_log(folder)
    assert skipped == 0
    return rows


# ----------------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body, needle", [
    ({}, "give customer_id, context, or both"),
    ({"customer_id": None, "context": None}, "give customer_id, context, or both"),
    ({"context": {**CTX, "hour": 24}}, "body.context.hour"),
    ({"context": {**CTX, "orders_90d": -1}}, "body.context.orders_90d"),
    ({"context": {**CTX, "orders_90d": "many"}}, "body.context.orders_90d"),
    ({"context": {**CTX, "follows_page": 2}}, "body.context.follows_page"),
    ({"context": "age_band=25-34"}, "body.context"),
    ({"customer_id": 123}, "body.customer_id"),
    ({"customer_id": ""}, "body.customer_id"),
    ({"customer_id": "c1", "promo": "bogo"}, "body.promo: Extra inputs are not permitted"),
])
def test_decide_rejects_bad_input_with_422_and_a_clear_message(client, body, needle):
    res = client.post("/decide", json=body)
    assert res.status_code == 422, res.text
    out = res.json()
    assert out["message"].startswith("invalid request: ") and needle in out["message"], out["message"]
    assert isinstance(out["detail"], list) and out["detail"]


def test_decide_rejects_a_body_that_is_not_json(client):
    res = client.post("/decide", content=b"{not json", headers={"content-type": "application/json"})
    assert res.status_code == 422 and "invalid request" in res.json()["message"]


def test_outcome_validation_and_unknown_decision_kept_apart(client, tmp_path):
    assert client.post("/outcome", json={}).status_code == 422
    assert client.post("/outcome", json={"decision_id": "x", "revenue": -5}).status_code == 422
    assert client.post("/outcome", json={"decision_id": "x", "bonus": 1}).status_code == 422
    res = client.post("/outcome", json={"decision_id": "api_nope", "converted": True})
    assert res.status_code == 404 and "not logged by this API" in res.json()["message"]
    assert "unmatched-outcomes-" in res.json()["message"]
    kept = [json.loads(line) for f in sorted((tmp_path / "log").glob("unmatched-outcomes-*.jsonl"))
            for line in f.read_text().splitlines()]
    assert [(r["decision_id"], r["converted"]) for r in kept] == [("api_nope", True)]
    assert not list((tmp_path / "log").glob("outcomes-*.jsonl"))  # not mixed with the matched outcomes


def test_unknown_context_keys_and_values_are_decided_with_the_unknown_bucket_and_flagged(client, tmp_path):
    odd = {**CTX, "favourite_colour": "red", "device": "smart_fridge", "loyalty": {"tier": 3}}
    res = client.post("/decide", json={"customer_id": "c_odd", "context": odd})
    assert res.status_code == 200, res.text
    out = res.json()
    assert out["context_flags"] == ["unknown_key:favourite_colour", "unknown_key:loyalty", "unknown_value:device"]
    # decided exactly as with the device missing: the encoder's unknown bucket (all zeros in its one-hot block)
    policy = client.app.state.policy
    missing = {k: v for k, v in CTX.items() if k != "device"}
    np.testing.assert_allclose(list(out["probabilities"].values()),
                               policy.probabilities_one(missing, client.app.state.floor), atol=1e-12)
    row = _raw_lines(tmp_path / "log")
    assert row[-1]["context_flags"] == out["context_flags"]
    assert json.loads(row[-1]["context"]) == odd  # unknown keys stay in the logged context
    clean = client.post("/decide", json={"context": CTX}).json()
    assert clean["context_flags"] == []


# ----------------------------------------------------------------------------------------------
# health, decisions, the log
# ----------------------------------------------------------------------------------------------


def test_healthz_names_the_served_version(client, api_world):
    res = client.get("/healthz")
    assert res.status_code == 200
    h = res.json()
    active = api_world["promoted"].loc[api_world["promoted"]["is_active"]].iloc[0]
    assert h["status"] == "ok" and h["policy_loaded"] is True
    assert (h["policy_id"], h["version"], h["served_as"], h["reason"]) == ("lints", active["version"], "active", None)
    assert h["arms"] == api_world["arms"] and h["floor"] == 0.01 and h["shadow_policy_id"] is None
    assert h["known_customers"] == api_world["ledger"]["customer_id"].nunique()


def test_openapi_spec_documents_the_endpoints(client):
    spec = client.get("/openapi.json").json()
    assert {"/decide", "/outcome", "/healthz"} <= set(spec["paths"])
    assert "Context" in spec["components"]["schemas"]


def test_decide_returns_an_arm_and_logs_it_durably_in_the_contract_columns(client, api_world, tmp_path):
    arms = api_world["arms"]
    customer = str(api_world["ledger"]["customer_id"].iloc[0])
    bodies = [{"context": CTX}, {"customer_id": customer}, {"customer_id": "new_customer", "context": {"hour": 3}},
              {"customer_id": "c_no_hour", "context": {k: v for k, v in CTX.items() if k != "hour"}}]
    answers = []
    for body in bodies:
        res = client.post("/decide", json=body)
        assert res.status_code == 200, res.text
        out = res.json()
        assert out["arm"] in arms and 0 < out["propensity"] <= 1
        assert out["propensity"] == pytest.approx(out["probabilities"][out["arm"]])
        assert sum(out["probabilities"].values()) == pytest.approx(1.0)
        assert min(out["probabilities"].values()) >= 0.01 - 1e-12  # the default exploration floor
        assert (out["policy_id"], out["customer_id"]) == ("lints", body.get("customer_id"))
        assert (out["served_as"], out["served_reason"], out["context_flags"]) == ("active", None, [])
        answers.append(out)
    assert answers[1]["context_source"] == "latest_logged_decision" and answers[0]["context_source"] == "request"
    rows = _log_rows(tmp_path / "log")
    assert [r["decision_id"] for r in rows] == [a["decision_id"] for a in answers]
    assert len({r["decision_id"] for r in rows}) == 4
    for row, ans in zip(rows, answers, strict=True):
        assert list(row) == list(DECISION_COLUMNS) == TABLES["decisions"].column_names
        assert row["promotion_id"] == ans["arm"] and row["propensity"] == ans["propensity"]
        assert row["policy_id"] == f"lints_{ans['version']}"
        assert json.loads(row["action_probabilities"]) == ans["probabilities"]
        assert isinstance(json.loads(row["context"]), dict)
        assert pd.Timestamp(row["decided_at"]) == pd.Timestamp(ans["decided_at"])
    assert json.loads(rows[0]["context"]) == CTX
    assert json.loads(rows[1]["context"]) == json.loads(
        api_world["ledger"].sort_values("decided_at").query("customer_id == @customer")["context"].iloc[-1])
    assert "hour" in json.loads(rows[3]["context"])  # filled with the current UTC hour
    # the log reads as the contract's decisions table
    con = duckdb.connect()
    typed = con.execute(
        "select " + ", ".join(f"cast({c.name} as {c.type}) as {c.name}" for c in TABLES["decisions"].columns)
        + f" from read_json('{tmp_path / 'log'}/decisions-*.jsonl', format='newline_delimited')").fetchdf()
    con.close()
    assert len(typed) == 4 and typed["propensity"].between(0, 1, inclusive="right").all()
    assert typed["decided_at"].notna().all()
    # an outcome for a logged decision is recorded
    res = client.post("/outcome", json={"decision_id": answers[0]["decision_id"], "converted": True, "revenue": 42.5})
    assert res.status_code == 200
    outcomes = [json.loads(line) for f in sorted((tmp_path / "log").glob("outcomes-*.jsonl"))
                for line in f.read_text().splitlines()]
    assert outcomes[0]["decision_id"] == answers[0]["decision_id"] and outcomes[0]["revenue"] == 42.5


def test_unknown_customer_without_context_is_404(client):
    res = client.post("/decide", json={"customer_id": "never_seen"})
    assert res.status_code == 404 and "send a context" in res.json()["message"]


def test_a_restarted_api_knows_the_decisions_it_logged(api_warehouse, tmp_path):
    with TestClient(create_app(api_warehouse, tmp_path / "log", seed=1)) as c:
        decision_id = c.post("/decide", json={"context": CTX}).json()["decision_id"]
    with TestClient(create_app(api_warehouse, tmp_path / "log", seed=2)) as c:
        assert c.get("/healthz").json()["decisions_logged"] == 1
        assert c.post("/outcome", json={"decision_id": decision_id, "reward": 1}).status_code == 200


def test_the_warehouse_is_free_for_a_build_while_the_api_runs(api_warehouse, tmp_path):
    with TestClient(create_app(api_warehouse, tmp_path / "log")) as c:
        assert c.post("/decide", json={"context": CTX}).status_code == 200
        con = duckdb.connect(str(api_warehouse))  # read-write, as dbt opens it
        try:
            con.execute("create or replace table main.build_probe as select 1 as x")
            con.execute("drop table main.build_probe")
        finally:
            con.close()
        assert c.post("/decide", json={"context": CTX}).status_code == 200  # still serving from memory


def test_the_gate_kept_the_logging_policy_so_the_declared_fallback_is_served(kept_warehouse, api_world, tmp_path):
    with TestClient(create_app(kept_warehouse, tmp_path / "log", seed=0)) as c:
        h = c.get("/healthz")
        assert h.status_code == 200 and h.json()["policy_loaded"] is True
        assert (h.json()["policy_id"], h.json()["served_as"]) == ("fallback", "fallback")
        assert "no candidate passed the off-policy gate" in h.json()["reason"]
        customer = str(api_world["ledger"]["customer_id"].iloc[0])
        for body in ({"context": CTX}, {"customer_id": customer}):
            res = c.post("/decide", json=body)
            assert res.status_code == 200, res.text
            assert (res.json()["policy_id"], res.json()["served_as"]) == ("fallback", "fallback")
            assert "kept the logging policy" in res.json()["served_reason"]
            assert min(res.json()["probabilities"].values()) >= 0.01 - 1e-12
    rows = _log_rows(tmp_path / "log")
    assert len(rows) == 2 and all(r["policy_id"].startswith("fallback_v") for r in rows)
    # a named candidate instead
    with TestClient(create_app(kept_warehouse, tmp_path / "log", policy_id="thompson")) as c:
        out = c.post("/decide", json={"context": CTX}).json()
        assert (out["policy_id"], out["served_as"]) == ("thompson", "requested")


def test_503_only_without_decisions_or_without_a_warehouse(empty_warehouse, tmp_path):
    with TestClient(create_app(empty_warehouse, tmp_path / "log")) as c:
        h = c.get("/healthz")
        assert h.status_code == 503 and h.json()["policy_loaded"] is False
        res = c.post("/decide", json={"context": CTX})
        assert res.status_code == 503
        msg = res.json()["message"]
        assert "holds no decisions" in msg and "ingest-decisions" in msg and "make build" in msg
    assert not list((tmp_path / "log").glob("decisions-*.jsonl"))
    with TestClient(create_app(tmp_path / "missing.duckdb", tmp_path / "log")) as c:
        assert c.get("/healthz").status_code == 503
        assert "no warehouse" in c.post("/decide", json={"context": CTX}).json()["message"]


def test_floor_is_validated_and_applied_before_the_draw(api_warehouse, tmp_path):
    n_arms = 7
    with pytest.raises(ValueError, match="floor must be at most 1 / number of arms"):
        create_app(api_warehouse, tmp_path / "log", floor=0.2)
    with TestClient(create_app(api_warehouse, tmp_path / "log", seed=0, floor=1 / n_arms)) as c:
        out = c.post("/decide", json={"context": CTX}).json()  # the whole mass is the floor: uniform
        assert out["probabilities"] == pytest.approx(dict.fromkeys(out["probabilities"], 1 / n_arms))
        assert out["propensity"] == pytest.approx(1 / n_arms)
    with TestClient(create_app(api_warehouse, tmp_path / "log0", seed=0, floor=0.0)) as c:
        raw = c.post("/decide", json={"context": CTX}).json()
        policy = c.app.state.policy
        np.testing.assert_allclose(list(raw["probabilities"].values()), policy.probabilities_one(CTX), atol=1e-12)


def test_shadow_scores_beside_the_served_policy_and_is_logged_not_served(kept_warehouse, tmp_path):
    with pytest.raises(ValueError, match="shadow: cannot load policy 'nope'"):
        create_app(kept_warehouse, tmp_path / "log", shadow="nope")
    with TestClient(create_app(kept_warehouse, tmp_path / "log", seed=0, shadow="lints")) as c:
        h = c.get("/healthz").json()
        assert h["policy_id"] == "fallback" and h["shadow_policy_id"].startswith("lints_v")
        outs = [c.post("/decide", json={"customer_id": f"c{i}", "context": {**CTX, "hour": i}}).json()
                for i in range(5)]
        shadow = c.app.state.shadow
    assert all(o["policy_id"] == "fallback" for o in outs)
    lines = _raw_lines(tmp_path / "log")
    assert [r["decision_id"] for r in lines] == [o["decision_id"] for o in outs]
    for i, r in enumerate(lines):
        assert r["shadow_policy_id"] == h["shadow_policy_id"] and r["policy_id"].startswith("fallback_v")
        shadow_p = json.loads(r["shadow_action_probabilities"])
        np.testing.assert_allclose(list(shadow_p.values()), shadow.probabilities_one({**CTX, "hour": i}, 0.01),
                                   atol=1e-12)
        assert list(shadow_p) == shadow.arms and json.loads(r["action_probabilities"]) == outs[i]["probabilities"]
    # the ingestion keeps the contract's columns only
    rows = _log_rows(tmp_path / "log")
    assert all(list(r) == list(DECISION_COLUMNS) for r in rows)


# ----------------------------------------------------------------------------------------------
# merging the log into the raw data
# ----------------------------------------------------------------------------------------------


def _raw_decisions(path) -> pd.DataFrame:
    con = duckdb.connect()
    try:
        return con.execute(f"select * from '{path}'").fetchdf()
    finally:
        con.close()


def _existing_raw(folder, ledger: pd.DataFrame):
    """A raw decisions.parquet in the contract's types (as `retail-lift generate` writes it)."""
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.register("ledger", ledger.head(50))
        cols = ", ".join(f"cast({c.name} as {c.type}) as {c.name}" for c in TABLES["decisions"].columns)
        con.execute(f"copy (select {cols} from ledger) to '{folder / 'decisions.parquet'}' (format parquet)")
    finally:
        con.close()


def test_merge_decision_log_appends_once_and_keeps_the_contract_types(api_warehouse, api_world, tmp_path):
    log = tmp_path / "log"
    with TestClient(create_app(api_warehouse, log, seed=3)) as c:
        ids = [c.post("/decide", json={"customer_id": f"c{i}", "context": CTX}).json()["decision_id"] for i in range(5)]
    raw = tmp_path / "raw"
    _existing_raw(raw, api_world["ledger"])
    # a line cut short by a crash is skipped, not ingested
    with open(next(log.glob("decisions-*.jsonl")), "a") as f:
        f.write('{"decision_id":"api_half","customer_')
    first = merge_decision_log(raw, log)
    assert (first.logged, first.added, first.already_present, first.skipped_lines) == (5, 5, 0, 1)
    table = _raw_decisions(raw / "decisions.parquet")
    assert len(table) == 55 and table["decision_id"].is_unique and set(ids) <= set(table["decision_id"])
    con = duckdb.connect()
    types = dict(con.execute(f"select column_name, column_type from (describe select * from "
                             f"'{raw / 'decisions.parquet'}')").fetchall())
    con.close()
    assert types == {c.name: c.type for c in TABLES["decisions"].columns}
    again = merge_decision_log(raw, log)
    assert (again.added, again.already_present) == (0, 5)
    assert len(_raw_decisions(raw / "decisions.parquet")) == 55
    # a folder without decisions gets a new contract-typed table; the CLI reports the counts
    empty = tmp_path / "raw_empty"
    empty.mkdir()
    res = CliRunner().invoke(ingest_command, ["--data", str(empty), "--log-dir", str(log)])
    assert res.exit_code == 0 and "5 decision(s) appended" in res.output
    assert len(_raw_decisions(empty / "decisions.parquet")) == 5


def test_merge_into_a_csv_decisions_table_appends_lines(api_warehouse, tmp_path):
    log = tmp_path / "log"
    with TestClient(create_app(api_warehouse, log, seed=4)) as c:
        for i in range(3):
            c.post("/decide", json={"customer_id": f"c{i}", "context": CTX})
    raw = tmp_path / "raw"
    raw.mkdir()
    header = "decision_id,customer_id,decided_at,policy_id,promotion_id,propensity,action_probabilities,context\n"
    (raw / "decisions.csv").write_text(header + 'd1,c9,2026-01-10 00:00:00,p,control,0.5,"{""control"":1}",{}')
    assert merge_decision_log(raw, log).added == 3
    assert merge_decision_log(raw, log).added == 0
    con = duckdb.connect()
    back = con.execute(f"select * from read_csv('{raw / 'decisions.csv'}', header=true, all_varchar=true)").fetchdf()
    con.close()
    assert len(back) == 4 and back["decision_id"].is_unique
    assert all(isinstance(json.loads(t), dict) for t in back["action_probabilities"])
    assert 0 < float(back["propensity"].iloc[-1]) <= 1


def test_cli_rejects_a_bad_floor_or_shadow_naming_the_option(kept_warehouse, tmp_path):
    from retail_lift.api.cli import api_command

    runner = CliRunner()
    res = runner.invoke(api_command, ["--warehouse", str(kept_warehouse), "--log-dir", str(tmp_path / "log"),
                                      "--floor", "0.5"])
    assert res.exit_code == 2 and "--floor must be at most 1 / number of arms = 1/7" in res.output
    res = runner.invoke(api_command, ["--warehouse", str(kept_warehouse), "--log-dir", str(tmp_path / "log"),
                                      "--shadow", "nope"])
    assert res.exit_code == 2 and "--shadow: cannot load policy 'nope'" in res.output
