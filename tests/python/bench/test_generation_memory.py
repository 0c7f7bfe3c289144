"""A smoke test of bench/generation_memory.py on the tiny preset: both versions run under /usr/bin/time,
their files are compared by sha256, the stepwise profile covers every step and table, the report renders."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "generation_memory.py"


@pytest.mark.skipif(not Path("/usr/bin/time").exists() or shutil.which("git") is None,
                    reason="needs /usr/bin/time and git")
def test_generation_bench_compares_versions_and_profiles_steps(tmp_path):
    spec = importlib.util.spec_from_file_location("generation_memory", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["generation_memory"] = module
    spec.loader.exec_module(module)
    out = tmp_path / "result"
    assert module.main(["--presets", "tiny", "--base-rev", "HEAD", "--profile", "--work", str(tmp_path / "work"),
                        "--out", str(out)]) == 0
    r = json.loads(out.with_suffix(".json").read_text())
    assert [(x["preset"], x["version"]) for x in r["runs"]] == [("tiny", "base"), ("tiny", "branch")]
    for run in r["runs"]:
        assert run["wall_seconds"] > 0 and 0.05 < run["peak_rss_gib"] < 4 and run["customers"] == 1000
        assert run["files"] == 15 and run["events"] > 10_000
    assert r["identical"]["tiny"]["differ"] == [] and r["identical"]["tiny"]["files"] == 15
    steps = [x["step"] for x in r["profiles"]["tiny/branch"]]
    assert {"people", "sessions", "decisions", "apply_exposures", "orders_and_events", "write events.parquet",
            "write truth_exposures.parquet"} <= set(steps)
    assert all(x["peak_gib"] >= x["rss_after_gib"] - 0.01 for x in r["profiles"]["tiny/branch"])
    md = out.with_suffix(".md").read_text()
    assert "tiny: 15 files, byte-identical" in md and "## Stepwise profile: tiny/branch" in md
    assert not (tmp_path / "work" / "tiny_branch").exists()  # generated worlds are deleted
