"""The closed loop on the tiny world: decide through the API on the built warehouse, merge the log
into the raw data, prepare + dbt build, and find the decisions in marts.fct_decision_ledger.

The build after the merge starts from a copy of the shared tiny build (the shared file is never written) and
rebuilds, with their tests, every model downstream of the decisions source (`source:shop.decisions+`,
--full-refresh) but the truth evaluation (`source:simulation+`, which the daily path leaves out too); the models
that do not read decisions would come out the same as in the copy (same raw tables), so this equals a build of the
merged data without building the whole warehouse a second time."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest
from fastapi.testclient import TestClient
from helpers import run_dbt

from retail_lift.adapters import prepare_raw
from retail_lift.api.app import create_app
from retail_lift.api.ingest import merge_decision_log
from retail_lift.warehouse import read_only

pytestmark = pytest.mark.dbt


def test_api_decisions_come_back_through_the_build(tiny_world, tiny_warehouse, tmp_path):
    with read_only(tiny_warehouse) as con:
        published = con.execute("select policy_id, is_active, policy_json is not null as servable "
                                "from ml.ml_bandit_published_policy").fetchall()
        customers = [r[0] for r in con.execute(
            "select customer_id from marts.fct_decision_ledger group by 1 order by 1 limit 20").fetchall()]
    assert published and customers
    active = next(p for p, is_active, _ in published if is_active)
    servable = [p for p, _, ok in published if ok]
    # the active version, or (when the gate kept the logging policy) a candidate by name
    policy_id = None if active in servable else servable[0]
    log = tmp_path / "log"
    with TestClient(create_app(tiny_warehouse, log, policy_id=policy_id, seed=0)) as c:
        answers = [c.post("/decide", json={"customer_id": cid}) for cid in customers]
    assert all(a.status_code == 200 for a in answers), answers[0].text
    decided = {a.json()["decision_id"]: a.json() for a in answers}

    raw = tmp_path / "data"
    shutil.copytree(tiny_world / "raw", raw)
    report = merge_decision_log(raw, log)
    assert report.added == len(customers) and merge_decision_log(raw, log).added == 0
    work = tmp_path / "build"
    work.mkdir()
    prepare_raw(raw, work / "raw", truth_dir=tiny_world / "truth", truth_out=work / "truth", log=lambda *_: None)
    db = work / "warehouse.duckdb"
    shutil.copyfile(tiny_warehouse, db)
    run_dbt(["build", "--full-refresh", "-s", "source:shop.decisions+", "--exclude", "source:simulation+"],
            work / "raw", work / "truth", work)
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    rebuilt = {r["unique_id"].split(".")[-1] for r in results if r["unique_id"].startswith("model.")}
    assert {"stg_shop__decisions", "fct_decision_ledger", "ml_bandit_published_policy"} <= rebuilt, rebuilt

    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "select decision_id, customer_id, promotion_id, propensity, policy_id, is_pending "
            "from marts.fct_decision_ledger where decision_id like 'api_%'").fetchall()
        quarantined = con.execute("select count(*) from staging.stg_shop__quarantined_rows "
                                  "where source_table = 'decisions' and row_key like 'api_%'").fetchall()[0][0]
    finally:
        con.close()
    assert quarantined == 0
    assert {r[0] for r in rows} == set(decided)
    for decision_id, customer_id, arm, propensity, logged_policy, _ in rows:
        ans = decided[decision_id]
        assert (customer_id, arm) == (ans["customer_id"], ans["arm"])
        assert propensity == pytest.approx(ans["propensity"])
        assert logged_policy == f"{ans['policy_id']}_{ans['version']}"
