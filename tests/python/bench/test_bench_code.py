"""A smoke test of the benchmark code (bench/run_bench.py) on the tiny warehouse: the like-for-like
references (DuckDB SQL, pandas, polars when installed) agree with the marts and with each other,
decision scoring and the API load test run, and the report renders its sections.
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


def test_like_for_like_references_equal_the_marts_and_the_report_renders(bench, tiny_warehouse, tmp_path):
    raw = tiny_warehouse.parent / "raw"
    result = {"preset": "tiny", "quick": True, "started_at": "t", "steps": [], "_full_nodes": [],
              "machine": {"cpus": 2, "platform": "test", "loadavg_before": None}}
    bench.like_for_like(raw, tmp_path, tiny_warehouse, result, repeats=1)
    lfl = result["like_for_like"]
    assert lfl["all_equal"] and lfl["compared_with_marts"], json.dumps(lfl, default=str)[:3000]
    expected = {"pandas", "duckdb"} | ({"polars"} if bench.reference_available("polars") is None else set())
    assert set(lfl["engines"]) == expected and len(lfl["pairwise"]) == len(expected) * (len(expected) - 1) // 2
    for engine, v in lfl["engines"].items():
        assert v["equal_to_marts"], engine
        assert v["checks_vs_marts"]["sessions_count"]["sql"] > 0
        assert v["checks_vs_marts"]["funnel_overall"]["sql"]["journeys_viewed"] > 0
        assert len(v["runs"]) == 1 and v["wall_s_median"] > 0
    assert lfl["engines"]["duckdb"]["speedup_vs_pandas"] == round(
        lfl["engines"]["pandas"]["wall_s_median"] / lfl["engines"]["duckdb"]["wall_s_median"], 3)

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
    assert by_name["like for like: DuckDB SQL script >= 2x faster than pandas"]["value"] == \
        lfl["engines"]["duckdb"]["speedup_vs_pandas"]
    for heading in ("## Like for like: the same work in DuckDB SQL, pandas and polars", "## Decision scoring",
                    "## Decision API under local load", "## Targets"):
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

    assert bench.python_step_args(Args) == ["run", "--select", "path:python_models+", "--exclude",
                                            "source:simulation+", "--threads", "1"]
    # the truth evaluation is a step of its own: what is downstream of a Python model and of the truth
    assert bench.python_step_args(Args, evaluation=True) == ["run", "--select",
                                                             "path:python_models+,source:simulation+", "--threads", "1"]
    Args.preset = "default"
    assert bench.python_step_args(Args) == ["run", "--select", "path:python_models+", "--exclude",
                                            "source:simulation+"]
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


def test_compare_outputs_finds_a_difference(bench):
    """The equality check is not vacuous: one session's event count, one funnel total or one customer's
    monetary value off is reported."""
    import pandas as pd

    sessions = pd.DataFrame({"visitor_id": ["a", "b"], "events": [3, 1],
                             "session_started_at": pd.to_datetime(["2026-01-01", "2026-01-02"])})
    rfm = pd.DataFrame({"customer_id": ["c"], "frequency": [2], "monetary": [10.0], "recency_days": [4]})
    funnel = {"journeys_viewed": 5}
    same = bench.compare_outputs((sessions, rfm, funnel), (sessions.copy(), rfm.copy(), dict(funnel)), ("x", "y"))
    assert all(c["equal"] for c in same.values())
    other = sessions.assign(events=[3, 2])
    checks = bench.compare_outputs((sessions, rfm, funnel), (other, rfm, funnel), ("x", "y"))
    assert not checks["sessions_events_per_session"]["equal"] and checks["sessions_events_per_session"][
        "mismatched_events"] == 1
    checks = bench.compare_outputs((sessions, rfm, funnel), (sessions, rfm.assign(monetary=10.01),
                                                             {"journeys_viewed": 6}), ("x", "y"))
    assert not checks["rfm"]["monetary_equal"] and not checks["funnel_overall"]["equal"]
    assert checks["sessions_count"]["equal"]


def test_fair_floor_report_and_docs_table(bench):
    """The fair floor's section of the report and its generated docs table, from a result dict."""
    from retail_lift.reports.docs_tables import RENDERERS

    engines = {e: {"runs": [{"wall_s": w, "peak_rss_bytes": 2**28, "loadavg": None}], "wall_s_median": w,
                   "wall_s_min": w, "peak_rss_bytes_max": 2**28, "internal_timings": {"total_compute_s": w / 2},
                   "version": "1", "equal_to_marts": True}
               for e, w in (("pandas", 4.0), ("duckdb", 2.0))}
    engines["duckdb"].update({"speedup_vs_pandas": 2.0, "memory_ratio_vs_pandas": 1.0})
    ff = {"floor": {"runs": [], "tables": {"events": 10}, "tables_file_bytes": 2**20, "wall_s_median": 1.5,
                    "compute_s_median": 1.0, "peak_rss_bytes_max": 2**28,
                    "internal_timings": {"load_and_clean_s": 0.5, "checkpoint_s": 0.1}},
          "sql_layer": {"selector": "+x", "models": 2, "runs": [], "wall_s_median": 9.0, "run_elapsed_s_median": 5.0,
                        "node_time_sum_s_median": 6.0, "peak_rss_bytes_max": 2**29,
                        "nodes": [{"unique_id": "model.p.base_shop__events", "execution_time_s": 4.0}]},
          "ratio": {"run_elapsed_vs_compute": 5.0, "wall_vs_wall": 6.0, "node_time_sum_vs_compute": 6.0,
                    "peak_rss_ratio": 2.0},
          "by_stage": [{"stage": "load_and_clean", "floor_s": 0.5, "sql_models": ["base_shop__events"],
                        "sql_node_time_s": 4.0}], "target_ratio": 2.0}
    result = {"preset": "tiny", "started_at": "2026-12-07T00:00:00", "machine": {"cpus": 2, "loadavg_before": [1.0]},
              "like_for_like": {"repeats": 1, "engines": engines, "skipped": {}, "compared_with_marts": True,
                                "all_equal": True, "pairwise": {"pandas = duckdb": {"equal": True}}},
              "fair_floor": ff}
    md = "\n".join(bench.fair_floor_md(result))
    assert "**5.0×**" in md and "**missed** (5.0×)" in md
    assert "| load_and_clean | 0.50 | 4.00 | base_shop__events 4.00 |" in md
    table = RENDERERS["like_for_like"](result)
    assert "| duckdb 1 | 2.00 | 256 MiB | 2.00× | 1.00 | yes |" in table
    assert "| time of the work | 1.00 s | 5.00 s | 5.00× | ≤ 2× (missed) |" in table
    result["note"] = "Shared machine."  # run_bench.py --note: the machine's conditions, in the docs table too
    assert "in its own process, one run each. Shared machine." in RENDERERS["like_for_like"](result)

    class Args:
        preset, quick = "tiny", True

    by_name = {t["target"]: t for t in bench.evaluate_targets(Args, result)}
    assert by_name["SQL layer <= 2x the fair floor (run time)"]["status"] == "missed"
    assert by_name["SQL layer <= 2x the fair floor (process wall)"]["value"] == 6.0
    assert by_name["like for like: DuckDB SQL script >= 2x faster than pandas"]["status"] == "met"


def test_node_memory_and_the_evaluation_split(bench, monkeypatch):
    """Each node gets the sampled RSS at its start and its peak while it ran; a build's totals are given with and
    without the truth evaluation's steps; the saved JSON leaves the samples out."""
    samples = [(0.0, 100), (1.0, 150), (2.0, 400), (3.0, 120), (4.0, 130)]
    assert bench.node_memory(samples, 1.5, 3.5) == {"rss_start_bytes": 150, "rss_peak_bytes": 400}
    assert bench.node_memory(samples, 3.2, 3.4) == {"rss_start_bytes": 120, "rss_peak_bytes": 120}
    assert bench.node_memory([], 0.0, 1.0) == {"rss_start_bytes": None, "rss_peak_bytes": None}

    class Args:
        python_threads = None
        preset = "default"

    class FakeDbt:
        warehouse = Path("/nonexistent/warehouse.duckdb")

    def step(name, wall, peak, rc=0):
        return {"step": name, "wall_s": wall, "peak_rss_bytes": peak, "returncode": rc, "nodes": [],
                "_rss_samples": [(0.0, 1)]}

    steps = [step("seeds", 1.0, 10), step("sql_layer", 2.0, 20), step("python_models", 3.0, 30),
             step("evaluation", 4.0, 90), step("dbt_tests", 5.0, 15, rc=1), step("evaluation_tests", 6.0, 95)]
    monkeypatch.setattr(bench, "registry_versions", lambda warehouse: {})
    out = bench.build_summary(Args, steps, "", {}, FakeDbt)
    assert out["wall_s"] == 21.0 and out["dbt_wall_s"] == 21.0 and out["peak_rss_bytes"] == 95
    assert out["without_evaluation"] == {"wall_s": 11.0, "peak_rss_bytes": 30, "evaluation_wall_s": 10.0}
    assert out["failed_steps"] == []  # failing tests are failed tests, not a failed step
    assert "_rss_samples" in steps[0] and all("_rss_samples" not in s for s in bench._public(out)["steps"])
    rows = bench.python_node_memory([
        {"unique_id": "model.p.a", "step": "python_models", "execution_time_s": 2.0, "rss_start_bytes": 1,
         "rss_peak_bytes": 5},
        {"unique_id": "model.p.e", "step": "evaluation", "execution_time_s": 1.0, "rss_start_bytes": 5,
         "rss_peak_bytes": 9},
        {"unique_id": "model.p.s", "step": "sql_layer", "execution_time_s": 1.0, "rss_start_bytes": 1,
         "rss_peak_bytes": 99}])
    assert [r["unique_id"] for r in rows] == ["model.p.e", "model.p.a"]
    assert "| model.p.e | evaluation | 1.0 |" in "\n".join(bench.python_memory_md(rows))


def test_speed_probe_is_measured_and_rendered(bench):
    """Every bench run records a fixed single-thread workload's seconds, so two runs on different machines can
    be told apart from a change of the code; the report states it."""
    probe = bench.speed_probe()
    assert set(probe) == {"duckdb_group_by_s", "numpy_sort_s"} and all(v > 0 for v in probe.values())
    result = {"preset": "tiny", "started_at": "t", "steps": [],
              "machine": {"cpus": 2, "platform": "test", "loadavg_before": None, "speed_probe": probe}}
    md = bench.markdown(result)
    assert f"DuckDB group-by of 20M rows {probe['duckdb_group_by_s']} s" in md
    del result["machine"]["speed_probe"]  # results of runs before the probe still render
    assert "Speed probe" not in bench.markdown(result)


def test_classifier_memory_bench_reports_phases_and_quality(tiny_warehouse, tmp_path):
    """bench/classifier_memory.py: one process per setting, the peak per phase of the fit, the chosen model and
    its out-of-time metrics; a cap below the labelled rows trains on fewer rows."""
    spec = importlib.util.spec_from_file_location("classifier_memory", BENCH.parent / "classifier_memory.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main([str(tiny_warehouse), "--classifier", "facebook_acquisition", "--max-train-rows",
                        "1000000", "300", "--out", str(tmp_path), "--name", "cm"]) == 0
    rows = json.loads((tmp_path / "cm.json").read_text())["rows"]
    assert [r["max_train_rows"] for r in rows] == [1_000_000, 300]
    for r in rows:
        assert r["status"] == "trained" and r["chosen_model"] == "xgboost" and r["peak_rss_gib"] > 0
        assert "train_compare_score" in r["phases"] and r["phases"]["_fit_one"]["calls"] >= 2  # compare + refit
        assert 0.5 < r["quality"]["test"]["roc_auc"] <= 1
    assert rows[1]["quality"]["test"]["n"] == 300 < rows[0]["quality"]["test"]["n"]
    md = (tmp_path / "cm.md").read_text()
    assert "| facebook_acquisition | 300 | no model store | xgboost | xgboost |" in md
