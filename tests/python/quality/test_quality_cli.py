"""`retail-lift check` (the click command the main CLI registers): report and exit code."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner
from quality_world import AS_OF

from retail_lift.quality.cli import quality_command


def _check(wh, raw, out, *extra):
    args = ["--warehouse", str(wh), "--raw", str(raw), "--out", str(out), "--as-of", AS_OF.isoformat(), *extra]
    return CliRunner().invoke(quality_command, args, catch_exceptions=False)


@pytest.mark.slow
def test_exit_0_on_good_data_1_on_an_error_and_0_with_warn_only(make_world, tmp_path):
    tables = ["--table", "raw.orders", "--table", "raw.customers", "--no-docs"]
    wh, raw = make_world()
    good = _check(wh, raw, tmp_path / "good", *tables)
    assert good.exit_code == 0, good.output
    assert "2 tables checked" in good.output and "data quality: passed" in good.output

    def orphan(raw_frames, _):
        raw_frames["orders"].loc[2, "customer_id"] = "C999"

    wh, raw = make_world(orphan)
    bad = _check(wh, raw, tmp_path / "bad", *tables)
    assert bad.exit_code == 1
    line = next(x for x in bad.output.splitlines() if x.strip().startswith("ERROR"))
    assert "raw.orders column customer_id: expect_column_pair_values_to_be_equal" in line
    assert '["C999"]' in line
    assert "data quality: FAILED" in bad.output
    assert (tmp_path / "bad" / "summary.json").exists()

    assert _check(wh, raw, tmp_path / "warn", *tables, "--warn-only").exit_code == 0


def test_unknown_table_is_a_usage_error(make_world, tmp_path):
    result = _check(tmp_path / "w.duckdb", tmp_path, tmp_path / "out", "--table", "marts.nope")
    assert result.exit_code == 2 and "no suite for marts.nope" in result.output


def test_a_warehouse_held_by_a_writer_is_reported_not_waited_for(make_world, tmp_path):
    wh, raw = make_world()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys, time; c = duckdb.connect({str(wh)!r}); "
                               "print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = CliRunner().invoke(quality_command, ["--warehouse", str(wh), "--raw", str(raw), "--out",
                                                      str(tmp_path / "out"), "--table", "raw.stores", "--no-docs"])
    finally:
        holder.communicate(input="", timeout=30)
    assert result.exit_code == 2
    assert "cannot open" in result.output and "is dbt still writing to it?" in result.output
