"""The checkpoint runner: a good world passes; summary, Data Docs, batches, skipped and discovered tables."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest
from quality_world import AS_OF

from retail_lift.contract import TABLES
from retail_lift.quality import run_checkpoint
from retail_lift.quality.sources import TableSource
from retail_lift.quality.suites import SUITES, suite_for


@pytest.mark.slow
def test_good_world_passes_and_writes_summary_and_data_docs(make_world, tmp_path):
    wh, raw = make_world()
    out = tmp_path / "reports"
    result = run_checkpoint(wh, raw, out, as_of=AS_OF)
    assert result.success, result.message()
    assert not result.warnings, [w.describe() for w in result.warnings]
    assert {t.table for t in result.tables if t.status == "checked"} == {s.table for s in SUITES}
    assert not [r for r in result.results if r.status == "skipped"]

    summary = json.loads((out / "summary.json").read_text())
    assert summary["success"] is True and summary["counts"]["errors"] == 0
    record = next(r for r in summary["results"] if r["table"] == "raw.orders" and r["column"] == "amount"
                  and r["expectation"] == "expect_column_values_to_be_between")
    assert record["severity"] == "error" and record["success"] is True and record["kwargs"]["min_value"] == 0
    assert {"table", "expectation", "column", "severity", "success", "unexpected_count",
            "sample_bad_values"} <= set(record)

    index = out / "data_docs" / "index.html"
    assert result.data_docs_index == index and index.exists()
    html = index.read_text()  # our front page: self-contained, readable offline
    assert "Outcome: <span class=\"pass\">passed</span>" in html
    assert "raw.orders" in html and "ml.ml_customer_lifetime_value" in html and "http" not in html
    assert (out / "data_docs" / "gx_index.html").exists()
    assert list((out / "data_docs" / "validations" / "raw" / "orders").rglob("*.html"))  # GX's pages

    # the warehouse is not left open: a read-write connection (which needs the file lock) succeeds
    con = duckdb.connect(str(wh))
    try:
        con.execute("create table marts.written_after_the_check as select 1 as x")
    finally:
        con.close()


def _spy_on_fetch(monkeypatch) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []
    original = TableSource.fetch

    def fetch(self, batch, columns=None):
        df = original(self, batch, columns)
        seen.append((self.table, len(df)))
        return df

    monkeypatch.setattr(TableSource, "fetch", fetch)
    return seen


@pytest.mark.slow
def test_large_tables_are_validated_in_day_batches_with_the_same_result(make_world, tmp_path, monkeypatch):
    def edit(raw, wh):
        raw["events"].loc[[0, 10, 17], "visitor_id"] = None  # events on three different days

    wh, raw = make_world(edit)
    suites = [suite_for("raw.events")]
    whole = run_checkpoint(wh, raw, tmp_path / "a", suites=suites, discover=False, build_docs=False, as_of=AS_OF)
    seen = _spy_on_fetch(monkeypatch)
    batched = run_checkpoint(wh, raw, tmp_path / "b", suites=suites, discover=False, build_docs=False,
                             as_of=AS_OF, batch_rows=7)
    assert [t.batches for t in whole.tables] == [1]
    assert [t.batches for t in batched.tables] == [3]  # 19 events over three days
    assert max(n for _, n in seen) <= 7
    [a], [b] = whole.errors, batched.errors
    assert (a.column, a.unexpected_count, a.element_count) == (b.column, b.unexpected_count, b.element_count)
    assert (b.column, b.unexpected_count, b.batches) == ("visitor_id", 3, 3)
    assert len(b.sample_rows) == 3  # one per batch, with the visitor and time of each


def test_a_key_repeated_in_different_batches_is_still_found(make_world, tmp_path):
    def edit(raw, wh):
        raw["orders"].loc[2, "order_id"] = "O1"  # O1 on 2026-01-05 and 2026-01-07

    wh, raw = make_world(edit)
    result = run_checkpoint(wh, raw, tmp_path / "out", suites=[suite_for("raw.orders")], discover=False,
                            build_docs=False, as_of=AS_OF, batch_rows=1)
    assert result.tables[0].batches == 3
    [error] = result.errors
    assert (error.rule, error.unexpected_count, error.sample_bad_values) == ("unique_order_id", 2, ["O1"])


def test_a_table_without_time_column_is_sliced(make_world, tmp_path, monkeypatch):
    def edit(raw, wh):
        raw["order_lines"].loc[3, "quantity"] = 0  # in the second slice

    wh, raw = make_world(edit)
    seen = _spy_on_fetch(monkeypatch)
    result = run_checkpoint(wh, raw, tmp_path / "out", suites=[suite_for("raw.order_lines")], discover=False,
                            build_docs=False, as_of=AS_OF, batch_rows=2)
    assert [n for t, n in seen if t == "raw.order_lines"] == [2, 2]
    [error] = result.errors
    assert (error.column, error.sample_bad_values, error.batches) == ("quantity", [0.0], 2)


def test_a_missing_table_is_skipped_with_a_warning(make_world, tmp_path):
    def edit(raw, wh):
        del wh["ml.ml_customer_lifetime_value"]

    wh, raw = make_world(edit)
    result = run_checkpoint(wh, raw, tmp_path / "out", suites=[suite_for("ml.ml_customer_lifetime_value")],
                            build_docs=False, as_of=AS_OF)
    assert result.success
    [table] = result.tables
    assert (table.table, table.status) == ("ml.ml_customer_lifetime_value", "skipped")
    assert any("ml.ml_customer_lifetime_value: table not found" in n for n in result.notes)


def test_no_warehouse_checks_the_raw_tables_only(make_world, tmp_path):
    _, raw = make_world()
    suites = [suite_for("raw.stores"), suite_for("marts.fct_sessions")]
    result = run_checkpoint(tmp_path / "absent.duckdb", raw, tmp_path / "out", suites=suites, build_docs=False,
                            as_of=AS_OF)
    assert result.success
    assert [(t.table, t.status) for t in result.tables] == [("raw.stores", "checked"),
                                                             ("marts.fct_sessions", "skipped")]
    assert any("warehouse" in n and "not found" in n for n in result.notes)


def test_every_raw_table_of_the_contract_has_a_suite_with_its_columns():
    for name, table in TABLES.items():
        suite = suite_for(f"raw.{name}")
        assert suite is not None, name
        assert dict(suite.columns) == {c.name: c.type for c in table.columns}


def test_every_check_reads_declared_or_derived_columns():
    """A typo in the registry (a column no table has) would silently skip a check: catch it here."""
    for suite in SUITES:
        known = set(suite.columns) | set(suite.derived_columns)
        for check in suite.flat_checks:
            assert set(check.columns) <= known, (suite.table, check)


def test_a_scored_table_without_suite_is_checked_by_column_names(make_world, tmp_path):
    def edit(raw, wh):
        wh["ml.ml_promotion_uplift"] = pd.DataFrame({
            "customer_id": ["C1", "C2"], "promotion_id": ["bogo", "bogo"],
            "predicted_uplift": [0.05, 1.5], "p_convert": [0.2, 0.3], "propensity": [0.5, 0.0],
            "session_count": [3, 4],
            "expected_revenue": [120.0, -3.0],  # not a rate: no range implied
        })

    wh, raw = make_world(edit)
    result = run_checkpoint(wh, raw, tmp_path / "out", suites=[], build_docs=False, as_of=AS_OF)
    assert "no suite of their own, checked by column-name conventions: ml.ml_promotion_uplift" in result.notes
    failed = {(e.column, tuple(e.sample_bad_values)) for e in result.errors}
    assert failed == {("predicted_uplift", (1.5,))}
    [warning] = [w for w in result.warnings if w.table == "ml.ml_promotion_uplift"]
    assert (warning.column, warning.sample_bad_values) == ("propensity", [0.0])  # a target policy's may be 0


def test_a_table_that_cannot_be_read_is_an_error_and_the_others_still_run(make_world, tmp_path, monkeypatch):
    wh, raw = make_world()
    original = TableSource.row_count

    def row_count(self):
        if self.table == "raw.stores":
            raise OSError("disk on fire")
        return original(self)

    monkeypatch.setattr(TableSource, "row_count", row_count)
    result = run_checkpoint(wh, raw, tmp_path / "out", suites=[suite_for("raw.stores"), suite_for("raw.promotions")],
                            discover=False, build_docs=False, as_of=AS_OF)
    assert [(t.table, t.status) for t in result.tables] == [("raw.stores", "failed"), ("raw.promotions", "checked")]
    [error] = result.errors
    assert error.table == "raw.stores" and error.message == "OSError: disk on fire"
    assert "raw.stores" in result.message() and "disk on fire" in result.message()


@pytest.mark.slow
def test_a_legitimately_empty_table_is_empty_not_checked_never_a_type_error(make_world, tmp_path):
    """An orders-only shop has no experiments: ml_experiment_results has 0 rows (and, built from an empty
    frame, column types that do not match the suite's). Reported as "empty: not checked" with the reason,
    in summary.json and the Data Docs; the run passes."""
    def no_experiments(raw, warehouse):
        raw["experiments"] = raw["experiments"].iloc[0:0]
        raw["experiment_assignments"] = raw["experiment_assignments"].iloc[0:0]
        warehouse["ml.ml_experiment_results"] = pd.DataFrame(
            {c: pd.Series([], dtype="object") for c in warehouse["ml.ml_experiment_results"].columns})

    wh, raw = make_world(no_experiments)
    pd.DataFrame({"table_name": ["experiments", "experiment_assignments"], "status": ["empty", "converted"],
                  "row_count": [0, 0], "note": ["no experiments file in the input", "header only"]}
                 ).to_parquet(raw / "_load_report.parquet")
    out = tmp_path / "reports"
    result = run_checkpoint(wh, raw, out, as_of=AS_OF)
    assert result.success, result.message()
    tables = {t.table: t for t in result.tables}
    assert tables["ml.ml_experiment_results"].status == "empty"
    assert tables["ml.ml_experiment_results"].message.startswith("empty: not checked (0 rows in the warehouse")
    assert tables["raw.experiments"].message == ("empty: not checked (absent from the input: "
                                                 "no experiments file in the input)")
    assert tables["raw.experiment_assignments"].message == ("empty: not checked (the input file has no rows "
                                                            "(load report row_count 0))")
    assert not [r for r in result.results if r.table == "ml.ml_experiment_results" and r.status == "failed"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["tables_empty"] == 3
    assert "empty: not checked" in (out / "data_docs" / "index.html").read_text()
