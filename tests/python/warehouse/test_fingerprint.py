"""retail-lift fingerprint: order-independent, float-tolerant checksums that name what changed."""

import json

import duckdb
from click.testing import CliRunner

from retail_lift.cli import main
from retail_lift.fingerprint import compare_fingerprints, warehouse_fingerprint


def _make(path, rows, *, extra_seconds=0.0):
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("create table marts.t (id integer, name varchar, value double, fit_seconds double)")
    con.executemany("insert into marts.t values (?, ?, ?, ?)", [(*r, 1.0 + extra_seconds) for r in rows])
    con.execute("create view marts.v as select * from marts.t")
    con.close()


ROWS = [(1, "a", 0.1 + 0.2), (2, "b", 1234.5), (3, None, None)]


def test_order_float_noise_and_wall_clock_do_not_count(tmp_path):
    _make(tmp_path / "a.duckdb", ROWS)
    # same rows in another order, the double off in its last bits, another timing column
    _make(tmp_path / "b.duckdb", [ROWS[2], (2, "b", 1234.5 + 1e-10), (1, "a", 0.3)], extra_seconds=7.0)
    a, b = warehouse_fingerprint(tmp_path / "a.duckdb"), warehouse_fingerprint(tmp_path / "b.duckdb")
    assert list(a["tables"]) == ["marts.t"]  # tables, not views
    assert a["tables"]["marts.t"]["rows"] == 3
    assert "fit_seconds" not in a["tables"]["marts.t"]["column_checksums"]
    assert compare_fingerprints(a, b) == []


def test_differences_are_named_by_table_and_column(tmp_path):
    _make(tmp_path / "a.duckdb", ROWS)
    _make(tmp_path / "b.duckdb", [(1, "a", 0.3), (2, "b", 1234.6), (3, None, None)])
    _make(tmp_path / "c.duckdb", ROWS[:2])
    a = warehouse_fingerprint(tmp_path / "a.duckdb")
    assert compare_fingerprints(a, warehouse_fingerprint(tmp_path / "b.duckdb")) == ["marts.t: values differ in value"]
    diffs = compare_fingerprints(a, warehouse_fingerprint(tmp_path / "c.duckdb"))
    assert diffs[0] == "marts.t: rows 3 -> 2"
    # names swapped between rows: every column's own checksum is the same, but the rows are not, and the
    # double column is weighted by its row's other columns
    _make(tmp_path / "d.duckdb", [(1, "b", 0.3), (2, "a", 1234.5), (3, None, None)])
    assert compare_fingerprints(a, warehouse_fingerprint(tmp_path / "d.duckdb")) == [
        "marts.t: values differ in value"]
    # a change far below the column's total still counts
    _make(tmp_path / "e.duckdb", [(1, "a", 0.3 + 1e-6), (2, "b", 1234.5), (3, None, None)])
    assert compare_fingerprints(a, warehouse_fingerprint(tmp_path / "e.duckdb")) == [
        "marts.t: values differ in value"]


def test_cli_writes_and_compares(tmp_path):
    _make(tmp_path / "a.duckdb", ROWS)
    runner = CliRunner()
    res = runner.invoke(main, ["fingerprint", "--warehouse", str(tmp_path / "a.duckdb"),
                               "--out", str(tmp_path / "fp.json")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "fp.json").read_text())["tables"]["marts.t"]["rows"] == 3
    _make(tmp_path / "b.duckdb", ROWS[:1])
    res = runner.invoke(main, ["fingerprint", "--warehouse", str(tmp_path / "b.duckdb"),
                               "--compare", str(tmp_path / "fp.json")])
    assert res.exit_code == 1
    assert "marts.t: rows 3 -> 1" in res.output
