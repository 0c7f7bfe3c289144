"""The truth evaluation off the daily path (issue 23): the dbt selectors `evaluation` and `daily`, and
`make evaluate`.

`evaluation` must be exactly the nodes downstream of the simulation source (recomputed here from the
manifest's child map, not trusted from the selector), `daily` everything else, with nothing in both and
nothing left out; no node of `daily` may read a node of `evaluation` (the daily build never needs the truth).
`make evaluate` is run as users run it, on a copy of the shared tiny build: it builds and tests exactly the
evaluation selector and leaves the evaluation tables as the full build made them; without truth (a
bring-your-own-data build) or without a warehouse it stops before dbt, with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from helpers import PROJECT_DIR, run_dbt

from retail_lift.adapters.prepare import _prepare_truth
from retail_lift.evaluation.truth import check_can_evaluate

pytestmark = pytest.mark.dbt

VENV = Path(sys.executable).parent.parent


def _ls(selector: str | None, raw: Path, truth: Path, workdir: Path) -> dict[str, str]:
    args = ["--quiet", "ls", "--output", "json", "--output-keys", "unique_id", "resource_type"]
    proc = run_dbt([*args, *(["--selector", selector] if selector else [])], raw, truth, workdir)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return {r["unique_id"]: r["resource_type"] for r in rows}


def _downstream_of_truth(manifest: dict) -> set[str]:
    todo = [k for k, s in manifest["sources"].items() if s["source_name"] == "simulation"]
    seen = set(todo)
    while todo:
        for child in manifest["child_map"].get(todo.pop(), []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def _make_evaluate(warehouse: Path, truth: Path, raw: Path, tmp: Path) -> subprocess.CompletedProcess:
    """`make evaluate` as a user runs it (install counted as done: this interpreter's venv is installed)."""
    env = {**os.environ, "RETAIL_LIFT_WAREHOUSE": str(warehouse), "RETAIL_LIFT_TRUTH": str(truth),
           "RETAIL_LIFT_RAW": str(raw), "DBT_LOG_PATH": str(tmp / "logs"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    return subprocess.run(["make", "--no-print-directory", "-C", str(PROJECT_DIR), "-o", "install", "evaluate",
                           f"VENV={VENV}", f"EVALUATE_TARGET={tmp / 'target'}"],
                          env=env, capture_output=True, text=True)


def test_selectors_partition_the_project_at_the_truth(tiny_world, tmp_path):
    raw, truth = tiny_world / "raw", tiny_world / "truth"
    every = _ls(None, raw, truth, tmp_path)
    evaluation = _ls("evaluation", raw, truth, tmp_path)
    daily = _ls("daily", raw, truth, tmp_path)
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())

    assert not set(evaluation) & set(daily)
    assert set(evaluation) | set(daily) == set(every)
    truth_nodes = _downstream_of_truth(manifest)
    simulation_sources = {k for k, s in manifest["sources"].items() if s["source_name"] == "simulation"}
    assert set(evaluation) == truth_nodes | simulation_sources
    # what it holds: the truth's staging views, every model of python_models/evaluation, the evaluation marts
    models = {k for k, kind in evaluation.items() if kind == "model"}
    for path in (PROJECT_DIR / "python_models" / "evaluation").rglob("*.py"):
        assert f"model.retail_lift.{path.stem}" in models
    assert "model.retail_lift.rpt_eval_bandit_policy_value_vs_truth" in models
    assert all(manifest["nodes"][m]["original_file_path"].startswith(
        ("models/staging/simulation/", "python_models/evaluation/", "models/marts/evaluation/")) for m in models)
    # no daily node reads an evaluation node: the daily build never needs the truth. Of the exposures only
    # the docs site (which shows the comparison) is downstream of the truth; the dashboard and API are not.
    for uid in daily:
        node = {**manifest["nodes"], **manifest["exposures"], **manifest["unit_tests"]}.get(uid)
        if node is not None:
            assert not set(node.get("depends_on", {}).get("nodes", [])) & set(evaluation), uid
    assert {k for k, kind in evaluation.items() if kind == "exposure"} == {
        "exposure.retail_lift.docs_site_charts_and_model_cards"}


def test_make_evaluate_builds_the_evaluation_selector(tiny_world, tiny_warehouse, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(tiny_warehouse, warehouse)
    truth = tiny_warehouse.parent / "truth"
    with duckdb.connect(str(warehouse)) as con:  # the evaluation tables are rebuilt, not left from the copy
        con.execute("delete from evaluation.ml_eval_clv_vs_truth")
    proc = _make_evaluate(warehouse, truth, tiny_warehouse.parent / "raw", tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "--selector evaluation" in proc.stdout

    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    # warn: the quality targets against the oracle are warn-severity tests, and the tiny world misses two of them
    # (the full tiny build warns on both too, among its 7 warnings)
    assert results and all(r["status"] in ("success", "pass", "warn", "no-op") for r in results), \
        [(r["unique_id"], r["status"]) for r in results if r["status"] not in ("success", "pass", "warn", "no-op")]
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    # every node downstream of the truth ran (the sources themselves are not run; the on-run-start hooks are)
    ran = {r["unique_id"] for r in results if not r["unique_id"].startswith("operation.")}
    assert ran == {n for n in _downstream_of_truth(manifest) if not n.startswith("source.")}

    with duckdb.connect() as con:  # the same rows as the full build (NaN equals NaN in DuckDB's except)
        con.execute(f"attach '{tiny_warehouse}' as full_build (read_only)")
        con.execute(f"attach '{warehouse}' as evaluated (read_only)")
        tables = [t for (t,) in con.execute(
            "select table_name from information_schema.tables where table_catalog = 'full_build' "
            "and table_schema = 'evaluation' and table_type = 'BASE TABLE'").fetchall()]
        assert len(tables) >= 5
        for table in tables:
            a, b = _rounded(con, "full_build", table), _rounded(con, "evaluated", table)
            counts = con.execute(f"select (select count(*) from ({a})), (select count(*) from ({b})), "
                                 f"(select count(*) from ({a} except all {b})), "
                                 f"(select count(*) from ({b} except all {a}))").fetchone()
            assert counts[0] == counts[1] and counts[2:] == (0, 0), (table, counts)
        assert con.execute("select count(*) from evaluated.evaluation.ml_eval_clv_vs_truth").fetchone()[0] > 0


def _rounded(con, catalog: str, table: str) -> str:
    """The table with its doubles to 9 significant digits: SQL sums over parallel threads differ in the last
    bits between two builds (measured on the default world: 1e-14 relative in rpt_eval_bandit_policy_value_vs_truth)."""
    cols = con.execute("select column_name, data_type from information_schema.columns where table_catalog = ? "
                       "and table_schema = 'evaluation' and table_name = ? order by ordinal_position",
                       [catalog, table]).fetchall()
    exprs = [f'(case when isnan("{c}") or "{c}" = 0 then "{c}" else round("{c}", cast(8 - floor(log10(abs("{c}"))) '
             f'as integer)) end) as "{c}"' if t in ("DOUBLE", "FLOAT", "REAL") else f'"{c}"' for c, t in cols]
    return f"select {', '.join(exprs)} from {catalog}.evaluation.{table}"


def test_make_evaluate_stops_without_truth_or_warehouse(tmp_path):
    empty = tmp_path / "truth"
    with duckdb.connect() as con:
        _prepare_truth(con, None, empty)  # what `retail-lift prepare` lands for bring-your-own-data
    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).close()

    proc = _make_evaluate(warehouse, empty, tmp_path, tmp_path)
    assert proc.returncode != 0
    assert "no simulated truth" in proc.stderr and str(empty) in proc.stderr
    assert "dbt" not in proc.stdout.split("check-truth", 1)[1]  # stopped before dbt

    proc = _make_evaluate(tmp_path / "missing.duckdb", empty, tmp_path, tmp_path)
    assert proc.returncode != 0 and "no warehouse at" in proc.stderr and "missing.duckdb" in proc.stderr

    with pytest.raises(ValueError, match="lacks truth_exposures.parquet"):
        (empty / "truth_exposures.parquet").unlink()
        check_can_evaluate(empty, warehouse)
