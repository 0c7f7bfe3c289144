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


# --- the formats users send: each case on a three-row orders.csv -----------------------------------------------

HEADER = "order_id,customer_id,ordered_at,amount\n"


def _land_orders(tmp_path, text: str | bytes, **options):
    src = tmp_path / "in"
    src.mkdir(exist_ok=True)
    f = src / "orders.csv"
    if isinstance(text, bytes):
        f.write_bytes(text)
    else:
        f.write_text(text)
    out = tmp_path / "raw"
    reports = prepare_raw(src, out, log=lambda *_: None, **options)
    rows = duckdb.sql(f"select order_id, customer_id, ordered_at, amount from read_parquet('{out}/orders.parquet') "
                      f"order by order_id").fetchall()
    return rows, {r.table_name: r for r in reports}["orders"]


def _staged_times(rows):
    """What staging makes of the landed text: try_cast(... as timestamp), as base_shop__orders does."""
    return [duckdb.sql(f"select try_cast('{r[2]}' as timestamp)").fetchall()[0][0] if r[2] is not None else None
            for r in rows]


def test_times_with_an_offset_or_z_land_as_utc(tmp_path):
    rows, rep = _land_orders(tmp_path, HEADER + "o1,c1,2024-01-05T10:00:00+02:00,20.5\n"
                                                "o2,c1,2024-01-05T10:00:00Z,31.0\n"
                                                "o3,c2,2024-01-05 10:00:00,12.0\n")
    assert [r[2] for r in rows] == ["2024-01-05 08:00:00", "2024-01-05 10:00:00", "2024-01-05 10:00:00"]
    assert [t.isoformat() for t in _staged_times(rows)] == [
        "2024-01-05T08:00:00", "2024-01-05T10:00:00", "2024-01-05T10:00:00"]
    assert "ordered_at: 2 value(s) with a UTC offset converted to UTC" in rep.note
    # fractions, +hhmm and negative offsets; a value that does not parse stays as it was
    rows, _ = _land_orders(tmp_path, HEADER + "o1,c1,2024-01-05T23:30:00.25-0130,1\n"
                                              "o2,c1,not a time+02:00,1\n"
                                              "o3,c2,2024-02-30T10:00:00+02:00,1\n")
    assert [r[2] for r in rows] == ["2024-01-06 01:00:00.250000", "not a time+02:00", "2024-02-30T10:00:00+02:00"]


def test_times_do_not_depend_on_the_machine_time_zone(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    rows, _ = _land_orders(tmp_path, HEADER + "o1,c1,2024-07-05T10:00:00+02:00,1\no2,c1,1720166400,1\n"
                                              "o3,c2,2024-07-05 10:00:00,1\n")
    assert [r[2] for r in rows] == ["2024-07-05 08:00:00", "2024-07-05 08:00:00", "2024-07-05 10:00:00"]


@pytest.mark.parametrize("unit,values", [
    ("seconds", ["1704448800", "1704452400", "1704535200"]),
    ("milliseconds", ["1704448800000", "1704452400123", "1704535200000"]),
    ("microseconds", ["1704448800000000", "1704452400123456", "1704535200000000"]),
])
def test_epoch_numbers_are_detected_per_column_and_converted(tmp_path, unit, values):
    text = HEADER + "".join(f"o{i + 1},c1,{v},10\n" for i, v in enumerate(values))
    rows, rep = _land_orders(tmp_path, text)
    frac = {"seconds": "", "milliseconds": ".123000", "microseconds": ".123456"}[unit]
    assert [r[2] for r in rows] == ["2024-01-05 10:00:00", f"2024-01-05 11:00:00{frac}", "2024-01-06 10:00:00"]
    assert f"ordered_at: 3 epoch value(s) in {unit} converted to UTC text" in rep.note


def test_epoch_conversion_leaves_other_values_untouched(tmp_path):
    # a column of milliseconds with one seconds value and one date: only the values of the column's unit convert
    rows, rep = _land_orders(tmp_path, HEADER + "o1,c1,1704448800000,1\no2,c1,1704448800,1\n"
                                                "o3,c2,2024-01-05 10:00:00,1\n")
    assert [r[2] for r in rows] == ["2024-01-05 10:00:00", "1704448800", "2024-01-05 10:00:00"]
    assert "1 epoch value(s) in milliseconds" in rep.note


def test_parquet_timestamptz_and_epoch_columns_land_as_utc(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    duckdb.sql(f"""copy (select * from (values
            ('o1', 'c1', timestamptz '2024-01-05 10:00:00+02:00', 1704448800000::bigint, 20.5),
            ('o2', 'c2', timestamptz '2024-01-05 10:00:00+00:00', 1704448800000::bigint, 12.0))
            as t(order_id, customer_id, ordered_at, ms, amount))
        to '{src}/orders.parquet' (format parquet)""")
    out = tmp_path / "raw"
    prepare_raw(src, out, log=lambda *_: None)
    got = duckdb.sql(f"select ordered_at from read_parquet('{out}/orders.parquet') order by order_id").fetchall()
    assert [g[0].isoformat() for g in got] == ["2024-01-05T08:00:00", "2024-01-05T10:00:00"]
    # an epoch column of Parquet integers
    duckdb.sql(f"""copy (select 'o1' as order_id, 'c1' as customer_id, 1704448800000::bigint as ordered_at,
                   1.5 as amount) to '{src}/orders.parquet' (format parquet)""")
    prepare_raw(src, out, log=lambda *_: None)
    got = duckdb.sql(f"select ordered_at from read_parquet('{out}/orders.parquet')").fetchall()
    assert got == [("2024-01-05 10:00:00",)]


SEMICOLON = ("order_id;customer_id;ordered_at;amount\n"
             "o1;c1;2024-01-05 10:00:00;20,5\no2;c1;2024-01-06 10:00:00;1.234,75\no3;c2;2024-01-07 10:00:00;12\n")


def test_semicolon_file_without_the_option_names_the_option(tmp_path):
    with pytest.raises(RawDataError) as e:
        _land_orders(tmp_path, SEMICOLON)
    msg = str(e.value)
    assert "orders.csv" in msg and "missing required column(s)" in msg
    assert "the header looks ';'-separated: use --delimiter ';'" in msg.lower()
    # and through the command line: exit code 2, one message, no traceback
    result = CliRunner().invoke(main, ["prepare", "--data", str(tmp_path / "in"), "--out", str(tmp_path / "raw")])
    assert result.exit_code == 2 and "use --delimiter ';'" in result.output and "Traceback" not in result.output


def test_semicolon_file_with_delimiter_and_decimal_comma(tmp_path):
    rows, rep = _land_orders(tmp_path, SEMICOLON, delimiter=";", decimal=",")
    assert rows == [("o1", "c1", "2024-01-05 10:00:00", "20.5"), ("o2", "c1", "2024-01-06 10:00:00", "1234.75"),
                    ("o3", "c2", "2024-01-07 10:00:00", "12")]
    assert [duckdb.sql(f"select try_cast('{r[3]}' as double)").fetchall()[0][0] for r in rows] == [20.5, 1234.75, 12.0]
    assert "decimal ','" in rep.note
    # the command line takes the same options
    result = CliRunner().invoke(main, ["prepare", "--data", str(tmp_path / "in"), "--out", str(tmp_path / "raw2"),
                                       "--delimiter", ";", "--decimal", ","])
    assert result.exit_code == 0, result.output
    got = duckdb.sql(f"select amount from read_parquet('{tmp_path}/raw2/orders.parquet') order by 1").fetchall()
    assert got == [("12",), ("1234.75",), ("20.5",)]


def test_without_decimal_comma_the_comma_value_stays_for_staging_to_quarantine(tmp_path):
    rows, _ = _land_orders(tmp_path, SEMICOLON, delimiter=";")
    assert [r[3] for r in rows] == ["20,5", "1.234,75", "12"]


def test_mixed_line_endings_are_read(tmp_path):
    text = (HEADER.replace("\n", "\r\n") + "o1,c1,2024-01-05 10:00:00,20.5\n"
            "o2,c1,2024-01-06 10:00:00,31.0\r\no3,c2,2024-01-07 10:00:00,12.0\n").encode()
    rows, rep = _land_orders(tmp_path, text)
    assert rows == [("o1", "c1", "2024-01-05 10:00:00", "20.5"), ("o2", "c1", "2024-01-06 10:00:00", "31.0"),
                    ("o3", "c2", "2024-01-07 10:00:00", "12.0")]
    assert (rep.status, rep.row_count, rep.rejected_lines) == ("converted", 3, 0)
    assert "mixed line endings" in rep.note


def test_header_only_file_is_zero_rows_not_an_error(tmp_path):
    rows, rep = _land_orders(tmp_path, HEADER)
    assert rows == []
    assert (rep.status, rep.row_count, rep.rejected_lines) == ("converted", 0, 0)
    assert "header only: 0 rows" in rep.note
    assert _report(tmp_path / "raw")["orders"] == ("converted", 0, 0)
