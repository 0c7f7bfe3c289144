"""Landing a user's folder: derivation of absent tables, clear errors, nothing lost in silence."""

from __future__ import annotations

import duckdb
import pytest
from click.testing import CliRunner

from retail_lift.adapters import RawDataError, convert_retailrocket, prepare_raw
from retail_lift.cli import main
from retail_lift.contract import TABLES

ORDERS_CSV = """order_id,customer_id,ordered_at,amount
o1,c1,2026-03-01 10:00:00,20.5
o2,c1,2026-03-05 11:00:00,31.0
o3,c2,2026-03-02 09:30:00,12.0
o4,c3,2026-03-09 18:00:00,7.25
"""


def _report(out):
    return {r[0]: r[1:] for r in duckdb.sql(
        f"select table_name, status, row_count, rejected_lines from read_parquet('{out}/_load_report.parquet')"
    ).fetchall()}



def test_the_load_report_has_a_copy_that_spark_reads(tmp_path):
    """Spark skips files named _*: the Spark target registers the load report from spark/load_report.parquet."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "orders.csv").write_text(ORDERS_CSV)
    out = tmp_path / "raw"
    prepare_raw(src, out, log=lambda *_: None)
    hidden, visible = out / "_load_report.parquet", out / "spark" / "load_report.parquet"
    assert not visible.name.startswith(("_", "."))
    assert visible.read_bytes() == hidden.read_bytes()
    assert _report(out)["orders"] == ("converted", 4, 0)
    # a second prepare of another folder into the same place replaces the copy too
    (src / "orders.csv").write_text(ORDERS_CSV.rsplit("\n", 2)[0] + "\n")
    prepare_raw(src, out, log=lambda *_: None)
    assert visible.read_bytes() == hidden.read_bytes()
    rows = duckdb.sql(f"select row_count from read_parquet('{visible}') where table_name = 'orders'").fetchall()
    assert rows == [(3,)]

def test_orders_only_folder_derives_customers_and_writes_the_rest_empty(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "orders.csv").write_text(ORDERS_CSV)
    out = tmp_path / "raw"
    prepare_raw(src, out, log=lambda *_: None)
    rep = _report(out)
    assert rep["orders"] == ("converted", 4, 0)
    assert rep["customers"] == ("derived", 3, 0)
    assert rep["events"] == ("empty", 0, 0)
    assert rep["decisions"] == ("empty", 0, 0)
    for name, table in TABLES.items():
        cols = [r[0] for r in duckdb.sql(f"describe select * from read_parquet('{out}/{name}.parquet')").fetchall()]
        assert cols == table.column_names
    assert (tmp_path / "truth" / "truth_exposures.parquet").exists()


def test_missing_required_column_names_file_and_column(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "orders.csv").write_text("order_id,customer_id,ordered_at\no1,c1,2026-03-01\n")
    with pytest.raises(RawDataError) as e:
        prepare_raw(src, tmp_path / "raw", log=lambda *_: None)
    msg = str(e.value)
    assert "orders.csv" in msg and "amount" in msg and "found columns: order_id, customer_id, ordered_at" in msg


def test_empty_file_and_folder_without_events_or_orders(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    with pytest.raises(RawDataError, match="holds neither events nor orders"):
        prepare_raw(src, tmp_path / "raw", log=lambda *_: None)
    (src / "orders.csv").write_text("")
    with pytest.raises(RawDataError, match=r"orders\.csv: the file is empty"):
        prepare_raw(src, tmp_path / "raw", log=lambda *_: None)
    with pytest.raises(RawDataError, match="no such folder"):
        prepare_raw(tmp_path / "nope", tmp_path / "raw", log=lambda *_: None)


def test_malformed_csv_lines_are_kept_and_counted(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "orders.csv").write_text(ORDERS_CSV + "o5,c4,2026-03-10 10:00:00,5.0,EXTRA,FIELDS\no6,c5,2026-03-11,9\n")
    out = tmp_path / "raw"
    prepare_raw(src, out, log=lambda *_: None)
    status, rows, rejected = _report(out)["orders"]
    assert (rows, rejected) == (5, 1)
    lines = duckdb.sql(f"select table_name, line, csv_line from read_parquet('{out}/_rejected_lines.parquet')"
                       ).fetchall()
    assert lines == [("orders", 6, "o5,c4,2026-03-10 10:00:00,5.0,EXTRA,FIELDS")]


def test_cli_reports_errors_without_a_traceback(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "events.csv").write_text("visitor_id,event_type\n1,view\n")
    result = CliRunner().invoke(main, ["prepare", "--data", str(src), "--out", str(tmp_path / "raw")])
    assert result.exit_code == 2
    assert "events.csv" in result.output and "event_at" in result.output
    assert "Traceback" not in result.output


def test_retailrocket_events_with_an_extra_column(tmp_path):
    rr = tmp_path / "rr"
    rr.mkdir()
    (rr / "events.csv").write_text(
        "timestamp,visitorid,event,itemid,transactionid,extra\n"
        "1433221332117,257597,view,355908,,x\n"
        "1433224214164,992329,addtocart,248676,,x\n"
        "1433224300000,992329,transaction,248676,4000,x\n"
        "not-a-time,1,view,2,,x\n")
    (rr / "category_tree.csv").write_text("categoryid,parentid\n1016,213\n213,\n")
    (rr / "item_properties_part1.csv").write_text(
        "timestamp,itemid,property,value\n1,248676,categoryid,1016\n2,248676,categoryid,213\n1,355908,790,n1\n")
    out = tmp_path / "land"
    counts = convert_retailrocket(rr / "events.csv", out, log=lambda *_: None)
    assert counts == {"events": 4, "categories": 2, "products": 1}
    rows = duckdb.sql(f"select event_at, visitor_id, event_type, product_id, transaction_id "
                      f"from read_parquet('{out}/events.parquet') order by visitor_id, event_at").fetchall()
    assert rows[0] == ("not-a-time", "1", "view", "2", None)  # kept as text for staging to quarantine
    assert ("2015-06-02 05:02:12.117000", "257597", "view", "355908", None) in rows
    assert duckdb.sql(f"select category_id from read_parquet('{out}/products.parquet')").fetchall() == [("213",)]


def test_retailrocket_missing_column(tmp_path):
    f = tmp_path / "events.csv"
    f.write_text("timestamp,visitorid,itemid\n1,2,3\n")
    with pytest.raises(RawDataError, match=r"events\.csv: missing RetailRocket column\(s\) event"):
        convert_retailrocket(f, tmp_path / "out", log=lambda *_: None)
