"""The same warehouse on DuckDB and on Spark: the tiny world built on both targets gives identical tables.

Builds the SQL layer of the tiny world on local Spark (dbt-spark, `method: session`, selector `spark_sql`)
and compares every SQL model Spark built with the same model of the shared DuckDB build (`tiny_warehouse`):
same columns, same row count, same order-independent checksum over normalised values
(retail_lift.spark.compare). Skipped, with the reason printed, when Java, pyspark or dbt-spark is missing:
they come with the optional `spark` dependency group (`pip install -e '.[spark]'`), not with `make test`'s
default install.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from helpers import PROJECT_DIR, run_dbt

from retail_lift.adapters import prepare_raw

pytestmark = pytest.mark.dbt

MATERIALIZED = {"table", "incremental", "view"}


def _skip_reason() -> str | None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "Java is not installed (Spark needs Java 17)"
    for module, extra in (("pyspark", "pyspark"), ("dbt.adapters.spark", "dbt-spark")):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return f"{extra} is not installed (optional dependency group: pip install -e '.[spark]')"
    return None


def _spark_copy_of_hidden_files(raw: Path) -> None:
    """Spark skips files whose name starts with '_'; register_sources reads them from raw/spark/ (see the macro)."""
    (raw / "spark").mkdir(exist_ok=True)
    for hidden in raw.glob("_*.parquet"):
        shutil.copyfile(hidden, raw / "spark" / hidden.name.lstrip("_"))


@pytest.fixture(scope="module")
def spark_build(request, tmp_path_factory):
    reason = _skip_reason()
    if reason:
        print(f"\nSKIP cross-engine test: {reason}")
        pytest.skip(reason)
    tiny_world = request.getfixturevalue("tiny_world")  # only when the test runs: generating it takes a while
    work = tmp_path_factory.mktemp("spark_build")
    raw, truth = work / "raw", work / "truth"
    prepare_raw(tiny_world / "raw", raw, truth_dir=tiny_world / "truth", truth_out=truth, log=lambda *_: None)
    _spark_copy_of_hidden_files(raw)
    env = {"RETAIL_LIFT_SPARK_DIR": str(work / "spark")}
    start = time.perf_counter()
    run_dbt(["build", "--target", "spark", "--selector", "spark_sql"], raw, truth, work, extra_env=env)
    print(f"\nspark build of the tiny world (dbt build --target spark --selector spark_sql): "
          f"{time.perf_counter() - start:.0f} s")
    # the Python layer: retail-lift score runs the same model files against Spark, then builds and tests the SQL
    # models on top of them. In its own process, before this process opens a Spark session (the local Derby
    # metastore admits one JVM at a time).
    start = time.perf_counter()
    score = subprocess.run(
        [str(Path(sys.executable).with_name("retail-lift")), "score", "--target", "spark", "--project-dir",
         str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR), "--target-path", str(work / "target_score"),
         "--log-path", str(work / "logs_score")],
        env={**os.environ, "RETAIL_LIFT_RAW": str(raw), "RETAIL_LIFT_TRUTH": str(truth), **env},
        capture_output=True, text=True, cwd=work)
    assert score.returncode == 0, f"retail-lift score failed:\n{score.stdout[-4000:]}\n{score.stderr[-4000:]}"
    print(f"retail-lift score --target spark (Python models, the SQL built on them, their tests): "
          f"{time.perf_counter() - start:.0f} s")
    return work, raw, truth, env


def _built_models(work: Path) -> list[dict]:
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    results = json.loads((work / "target" / "run_results.json").read_text())
    ok = {r["unique_id"] for r in results["results"] if r["status"] == "success"}
    return [n for uid, n in manifest["nodes"].items()
            if uid in ok and n["resource_type"] == "model" and n["config"]["materialized"] in MATERIALIZED]


def test_spark_builds_every_sql_model_and_passes_its_tests(spark_build):
    work, *_ = spark_build
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    bad = [f"{r['unique_id']}: {r['status']}: {(r['message'] or '')[:300]}" for r in results
           if r["status"] not in ("success", "pass")]
    assert not bad, "\n".join(bad)
    assert len(_built_models(work)) > 50


def test_every_sql_model_is_identical_on_duckdb_and_spark(spark_build, request, monkeypatch):
    from retail_lift.spark.compare import fingerprint, row_differences
    from retail_lift.spark.score import open_session, spark_to_arrow

    work, raw, truth, env = spark_build
    # the shared DuckDB build of the same world; asked for here, not in the signature, so that pytest does not
    # build it (a session fixture goes first) when the Spark part is skipped
    tiny_warehouse = request.getfixturevalue("tiny_warehouse")
    for key, value in {"RETAIL_LIFT_RAW": str(raw), "RETAIL_LIFT_TRUTH": str(truth), **env}.items():
        monkeypatch.setenv(key, value)
    models = _built_models(work)
    session = open_session(PROJECT_DIR, PROJECT_DIR, "spark", work / "target_read", work / "logs_read")
    start = time.perf_counter()
    differences = []
    with duckdb.connect(str(tiny_warehouse), read_only=True) as con:
        for node in sorted(models, key=lambda n: n["name"]):
            name = f"{node['schema']}.{node['alias']}"
            on_duckdb = con.sql(f"select * from {name}").to_arrow_table()
            on_spark = spark_to_arrow(session.spark.table(name))
            a, b = fingerprint(on_duckdb), fingerprint(on_spark)
            if a.columns != b.columns:
                differences.append(f"{name}: columns differ: duckdb only {sorted(set(a.columns) - set(b.columns))}, "
                                   f"spark only {sorted(set(b.columns) - set(a.columns))}")
            elif a != b:
                detail = "; ".join(row_differences(on_duckdb, on_spark, limit=2))
                differences.append(f"{name}: duckdb {a.rows} rows, spark {b.rows} rows, checksums differ: {detail}")
    print(f"\ncompared {len(models)} models on DuckDB and Spark in {time.perf_counter() - start:.0f} s")
    assert not differences, f"{len(differences)} of {len(models)} models differ:\n" + "\n".join(differences)


def test_every_scored_table_is_identical_on_duckdb_and_spark(spark_build, request, monkeypatch):
    """The Python layer and the SQL built on it: every table of the DuckDB build that the SQL-layer comparison
    did not cover (schemas ml and evaluation, and the marts on top of the Python models)."""
    from retail_lift.spark.compare import fingerprint, row_differences
    from retail_lift.spark.score import open_session, spark_to_arrow

    work, raw, truth, env = spark_build
    tiny_warehouse = request.getfixturevalue("tiny_warehouse")
    for key, value in {"RETAIL_LIFT_RAW": str(raw), "RETAIL_LIFT_TRUTH": str(truth), **env}.items():
        monkeypatch.setenv(key, value)
    sql_layer = {f"{n['schema']}.{n['alias']}" for n in _built_models(work)}
    session = open_session(PROJECT_DIR, PROJECT_DIR, "spark", work / "target_read", work / "logs_read")
    differences, compared = [], 0
    with duckdb.connect(str(tiny_warehouse), read_only=True) as con:
        names = [f"{schema}.{table}" for schema, table in con.execute(
            "select table_schema, table_name from information_schema.tables where table_schema in "
            "('staging', 'intermediate', 'marts', 'ml', 'evaluation') and table_type = 'BASE TABLE' "
            "and table_name not like '%__dbt_tmp%' order by 1, 2").fetchall()]
        for name in names:
            if name in sql_layer:
                continue
            compared += 1
            on_duckdb = con.sql(f"select * from {name}").to_arrow_table()
            on_spark = spark_to_arrow(session.spark.table(name))
            a, b = fingerprint(on_duckdb), fingerprint(on_spark)
            if a != b:
                detail = "; ".join(row_differences(on_duckdb, on_spark, limit=2))
                differences.append(f"{name}: duckdb {a.rows} rows, spark {b.rows} rows: {detail}")
    print(f"\ncompared {compared} scored tables on DuckDB and Spark")
    assert compared >= 30
    assert not differences, f"{len(differences)} of {compared} tables differ:\n" + "\n".join(differences)
