"""A smoke test of the benchmark code (bench/run_bench.py) on the tiny warehouse: the pandas reference
agrees with the marts, decision scoring and the API load test run, and the report renders its sections.
The benchmark itself (timings, targets) runs with `make bench`, never in the test suite."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.dbt

BENCH = Path(__file__).resolve().parents[3] / "bench" / "run_bench.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("run_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_bench"] = module
    spec.loader.exec_module(module)
    return module


def test_pandas_reference_equals_the_marts_and_the_report_renders(bench, tiny_warehouse, tmp_path):
    raw = tiny_warehouse.parent / "raw"
    result = {"preset": "tiny", "quick": True, "started_at": "t", "steps": [], "_full_nodes": [],
              "machine": {"cpus": 2, "platform": "test", "loadavg_before": None}}
    bench.pandas_reference(raw, tmp_path, tiny_warehouse, result)
    pr = result["pandas_reference"]
    assert pr["all_equal"], json.dumps(pr["checks"])
    assert pr["checks"]["sessions_count"]["sql"] > 0
    assert pr["checks"]["funnel_overall"]["sql"]["journeys_viewed"] > 0

    bench.decisions(tiny_warehouse, raw, result, n_single=50, n_batch=2_000)
    ds = result["decision_scoring"]
    assert ds["single"]["n"] == 50 and 0 < ds["single"]["p50_ms"] <= ds["single"]["p99_ms"]
    assert ds["batch"]["probabilities_sum_ok"]

    dbt = bench.Dbt(tmp_path, raw, tiny_warehouse.parent / "truth")
    dbt.warehouse = tiny_warehouse
    bench.api_latency(dbt, result, n=30)
    api = result["api_latency"]
    assert "error" not in api, api
    assert api["requests"] == api["n"] == 30 and api["concurrency"] == 16 and api["p99_ms"] > 0
    assert api["errors"] == 0 and api["lost"] == 0 and api["log_check"]["answered_200"] == api["log_check"]["log_lines"]

    class Args:
        preset, quick = "tiny", True

    result["targets"] = bench.evaluate_targets(Args, result)
    by_name = {t["target"]: t for t in result["targets"]}
    assert by_name["p99 single decision <= 5 ms"]["value"] == ds["single"]["p99_ms"]
    assert by_name["API p99 <= 50 ms"]["value"] == api["p99_ms"]
    assert by_name["API lost decisions == 0"]["status"] == "met"
    md = bench.markdown(result)
    for heading in ("## SQL layer vs pandas reference", "## Decision scoring", "## Decision API under local load",
                    "## Targets"):
        assert heading in md


def test_node_profile_splits_time_by_kind(bench, tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    manifest = {"nodes": {
        "model.p.a": {"resource_type": "model", "language": "sql"},
        "model.p.b": {"resource_type": "model", "language": "python"},
        "test.p.t": {"resource_type": "test"}}, "unit_tests": {}}
    (target / "manifest.json").write_text(json.dumps(manifest))
    dbt = bench.Dbt(tmp_path, tmp_path, tmp_path)
    nodes = [{"unique_id": "model.p.a", "execution_time_s": 1.0}, {"unique_id": "model.p.b", "execution_time_s": 3.0},
             {"unique_id": "test.p.t", "execution_time_s": 1.0}]
    prof = bench.node_profile(dbt, nodes, top=2)
    assert prof["node_time_by_kind_s"] == {"python model": 3.0, "sql model": 1.0, "test": 1.0}
    assert prof["node_time_share_by_kind"]["python model"] == 0.6
    assert [n["unique_id"] for n in prof["top_nodes"]] == ["model.p.b", "model.p.a"]


def test_python_step_threads(bench):
    """--python-threads: 1 by default at the large preset, the profile's threads otherwise, in the report."""

    class Args:
        python_threads = None
        preset = "large"

    assert bench.python_step_args(Args) == ["run", "--select", "path:python_models+", "--threads", "1"]
    Args.preset = "default"
    assert bench.python_step_args(Args) == ["run", "--select", "path:python_models+"]
    Args.python_threads = 3
    assert bench.python_step_args(Args)[-2:] == ["--threads", "3"] and bench.python_threads(Args) == 3
    Args.python_threads = 0
    with pytest.raises(ValueError, match="python-threads"):
        bench.python_threads(Args)
    result = {"preset": "large", "quick": True, "started_at": "t", "steps": [], "slowest_nodes": [],
              "machine": {"cpus": 2, "platform": "test", "loadavg_before": None},
              "full_build": {"python_threads": 1, "steps": [], "wall_s": 1.0, "dbt_wall_s": 1.0,
                             "peak_rss_bytes": None, "failed_tests": []}}
    assert "Python models step: `--threads 1`." in bench.markdown(result)
    result["full_build"]["python_threads"] = None
    assert "Python models step: the profile's threads." in bench.markdown(result)
