"""Loaders for analytics exports (GA4, Snowplow, Segment): loader -> prepare_raw -> the landed tables, exactly."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from retail_lift.adapters import RawDataError, load_ga4, load_segment, load_snowplow, prepare_raw
from retail_lift.cli import main
from retail_lift.contract import PRODUCT_ROLES, event_roles

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _us(t: datetime) -> int:
    return int(t.timestamp() * 1_000_000)


def _write_ndjson(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _land(folder: Path, tmp_path: Path) -> Path:
    out = tmp_path / "raw"
    prepare_raw(folder, out, log=lambda *_: None)
    return out


def _rows(out: Path, table: str, cols: str, order: str) -> list[tuple]:
    return duckdb.sql(f"select {cols} from read_parquet('{out}/{table}.parquet') order by {order}").fetchall()


def _staged_events(out: Path) -> list[tuple]:
    """The landed events as staging types them: (UTC time, visitor, name, product, transaction, device)."""
    return duckdb.sql(f"""
        select try_cast(event_at as timestamp) as t, visitor_id, event_type, product_id, transaction_id, device
        from read_parquet('{out}/events.parquet') order by t, visitor_id, event_type, product_id""").fetchall()


def _roles_ok(out: Path, names: set[str]) -> None:
    """Every event name is in the seed, and every product-role event has a product id (staging would quarantine)."""
    roles = event_roles()
    assert {n.strip().lower() for n in names} <= set(roles), {n for n in names if n.lower() not in roles}
    landed = {r[0] for r in duckdb.sql(f"select distinct event_type from read_parquet('{out}/events.parquet')"
                                       ).fetchall()}
    assert landed == names
    product_names = [n for n, r in roles.items() if r in PRODUCT_ROLES]
    missing = duckdb.sql(f"select count(*) from read_parquet('{out}/events.parquet') "
                         f"where lower(event_type) in {tuple(product_names)} and product_id is null").fetchall()
    assert missing == [(0,)]


def _t(minutes: float, days: int = 0) -> datetime:
    return (T0 + timedelta(days=days, minutes=minutes)).replace(tzinfo=None)


# --- GA4 -------------------------------------------------------------------------------------------------------

def _item(pid, price, qty=1, cat="c1", name=None):
    it = {"item_id": pid, "item_name": name or f"name {pid}", "item_category": cat, "price": price,
          "quantity": str(qty)}
    return it


def ga4_rows() -> list[dict]:
    """Three visitors, 22 GA4 events (every e-commerce name), a purchase with 2 items, missing optional fields."""
    rows = []

    def ev(minutes, name, visitor, device="desktop", items=(), user=None, tx=None, revenue=None, days=0):
        r = {"event_timestamp": str(_us(T0 + timedelta(days=days, minutes=minutes))), "event_name": name,
             "user_pseudo_id": visitor, "items": list(items),
             "event_params": [{"key": "page_location", "value": {"string_value": "https://shop/x"}}]}
        if device is not None:
            r["device"] = {"category": device, "operating_system": "Linux"}
        if user:
            r["user_id"] = user
        if tx or revenue is not None:
            r["ecommerce"] = {"transaction_id": tx, "purchase_revenue": revenue, "total_item_quantity": "3"}
        rows.append(r)

    p1, p2, p3 = _item("p1", 15.0), _item("p2", 15.0, 2, "c2"), _item("p3", 8.5, cat=None)
    # v1: a full funnel, logs in at payment, buys p1 + 2 x p2 (two items) and refunds five days later
    ev(0, "page_view", "v1")
    ev(1, "view_item", "v1", items=[p1])
    ev(2, "add_to_cart", "v1", items=[p1])
    ev(3, "view_item", "v1", items=[p2])
    ev(4, "add_to_cart", "v1", items=[p2])
    ev(5, "view_cart", "v1", items=[p1, p2])
    ev(6, "begin_checkout", "v1", items=[p1, p2])
    ev(7, "add_payment_info", "v1", user="u1")
    ev(8.5, "purchase", "v1", items=[p1, p2], user="u1", tx="T1", revenue=45.0)
    ev(0, "refund", "v1", user="u1", tx="T1", days=5)
    # v2: mobile, browses and adds p3; one page view without a device (optional field missing)
    ev(10, "page_view", "v2", device="mobile")
    ev(11, "view_item", "v2", device="mobile", items=[p3])
    ev(12, "add_to_cart", "v2", device="mobile", items=[p3])
    ev(30, "page_view", "v2", device=None)
    # v3: tablet, buys anonymously; purchase_revenue missing (amount from the items), a purchase without id
    ev(20, "page_view", "v3", device="tablet")
    ev(21, "view_item", "v3", device="tablet", items=[p2])
    ev(22, "add_to_cart", "v3", device="tablet", items=[_item("p2", 15.0, 1, "c2")])
    ev(23, "begin_checkout", "v3", device="tablet", items=[_item("p2", 15.0, 1, "c2")])
    ev(24, "add_payment_info", "v3", device="tablet")
    ev(25, "purchase", "v3", device="tablet", items=[_item("p2", 14.0, 3, "c2")], tx="T2")
    ev(26, "purchase", "v3", device="tablet", tx="(not set)", revenue=9.0)
    ev(27, "view_item", "v3", device="smart tv", items=[p1])
    return rows


def _write_ga4_parquet(json_file: Path, target: Path) -> None:
    """The same rows with BigQuery's types (INT64 micros, FLOAT64 prices) and extra columns, as Parquet."""
    cols = ("{'event_timestamp': 'BIGINT', 'event_name': 'VARCHAR', 'user_pseudo_id': 'VARCHAR', "
            "'user_id': 'VARCHAR', 'device': 'STRUCT(category VARCHAR, operating_system VARCHAR)', "
            "'ecommerce': 'STRUCT(transaction_id VARCHAR, purchase_revenue DOUBLE, total_item_quantity BIGINT)', "
            "'items': 'STRUCT(item_id VARCHAR, item_name VARCHAR, item_category VARCHAR, price DOUBLE, "
            "quantity BIGINT)[]', 'event_params': 'STRUCT(key VARCHAR, value STRUCT(string_value VARCHAR))[]'}")
    duckdb.sql(f"copy (select * from read_json('{json_file}', format='newline_delimited', columns={cols})) "
               f"to '{target}' (format parquet)")


GA4_EVENTS = 25  # one row per item: 22 events, of which 3 (view_cart, begin_checkout, purchase of v1) have 2


def _check_ga4(out: Path) -> None:
    ev = _staged_events(out)
    assert len(ev) == GA4_EVENTS
    assert ev[:3] == [(_t(0), "v1", "page_view", None, None, "desktop"),
                      (_t(1), "v1", "view_item", "p1", None, "desktop"),
                      (_t(2), "v1", "add_to_cart", "p1", None, "desktop")]
    # the purchase with two items: two event rows at 09:08:30 UTC
    assert [e for e in ev if e[2] == "purchase" and e[1] == "v1"] == [
        (_t(8.5), "v1", "purchase", "p1", "T1", "desktop"), (_t(8.5), "v1", "purchase", "p2", "T1", "desktop")]
    assert (_t(0, days=5), "v1", "refund", None, "T1", "desktop") in ev
    assert (_t(30), "v2", "page_view", None, None, None) in ev  # no device
    assert (_t(26), "v3", "purchase", None, None, "tablet") in ev  # '(not set)' is no transaction id
    assert (_t(27), "v3", "view_item", "p1", None, None) in ev  # smart tv is not a contract device
    assert _rows(out, "orders", "order_id, customer_id, ordered_at, amount, channel", "order_id") == [
        ("T1", "u1", "2026-03-02 09:08:30", "45.0", "online"),
        ("T2", "v3", "2026-03-02 09:25:00", "42.0", "online")]  # 3 x 14.0, no purchase_revenue
    assert _rows(out, "order_lines", "order_id, line_number, product_id, quantity, unit_price",
                 "order_id, line_number") == [("T1", 1, "p1", "1", "15.0"), ("T1", 2, "p2", "2", "15.0"),
                                              ("T2", 1, "p2", "3", "14.0")]
    assert _rows(out, "customers", "customer_id, visitor_id", "customer_id") == [("u1", "v1"), ("v3", "v3")]
    assert _rows(out, "products", "product_id, category_id, product_name, price", "product_id") == [
        ("p1", "c1", "name p1", "15.0"), ("p2", "c2", "name p2", "14.0"), ("p3", None, "name p3", "8.5")]
    assert _rows(out, "categories", "category_id", "1") == [("c1",), ("c2",)]


@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
def test_ga4_export_lands_exactly(tmp_path, fmt):
    src = _write_ndjson(tmp_path / "export" / "events_20260302.json", ga4_rows())
    if fmt == "parquet":
        pq = tmp_path / "export_pq" / "events_20260302.parquet"
        pq.parent.mkdir()
        _write_ga4_parquet(src, pq)
        src = pq
    report = load_ga4(src.parent, tmp_path / "folder", log=lambda *_: None)
    assert report.tables == {"events": GA4_EVENTS, "orders": 2, "order_lines": 3, "customers": 2, "products": 3}
    assert any("1 order(s) without ecommerce.purchase_revenue" in n for n in report.notes)
    out = _land(tmp_path / "folder", tmp_path)
    _check_ga4(out)
    _roles_ok(out, {"page_view", "view_item", "add_to_cart", "view_cart", "begin_checkout", "add_payment_info",
                    "purchase", "refund"})
    rep = dict(duckdb.sql(f"select table_name, status from read_parquet('{out}/_load_report.parquet')").fetchall())
    assert rep["events"] == rep["orders"] == rep["order_lines"] == "converted"


def test_ga4_split_over_files_and_a_glob(tmp_path):
    rows = ga4_rows()
    _write_ndjson(tmp_path / "export" / "events_20260302.json", rows[:10])
    _write_ndjson(tmp_path / "export" / "events_20260303.jsonl", rows[10:])
    (tmp_path / "export" / "README.txt").write_text("not an export file")
    report = load_ga4(str(tmp_path / "export" / "events_*"), tmp_path / "folder", log=lambda *_: None)
    assert len(report.files) == 2 and report.tables["events"] == GA4_EVENTS
    _check_ga4(_land(tmp_path / "folder", tmp_path))


def test_ga4_missing_required_field_names_the_file_and_field(tmp_path):
    rows = ga4_rows()
    _write_ndjson(tmp_path / "a" / "events_1.json", rows[:5])
    _write_ndjson(tmp_path / "a" / "events_2.json", [{k: v for k, v in r.items() if k != "user_pseudo_id"}
                                                     for r in rows[5:]])
    with pytest.raises(RawDataError) as e:
        load_ga4(tmp_path / "a", tmp_path / "out", log=lambda *_: None)
    assert "events_2.json: missing required field 'user_pseudo_id'" in str(e.value)
    assert "events_1.json" not in str(e.value)
    # Parquet without the column, through the command line: exit code 2 and the message, no traceback
    duckdb.sql(f"copy (select 'page_view' as event_name, 1772442000000000 as event_timestamp) "
               f"to '{tmp_path / 'b.parquet'}' (format parquet)")
    result = CliRunner().invoke(main, ["load-ga4", "--input", str(tmp_path / "b.parquet"),
                                       "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "b.parquet: missing required field 'user_pseudo_id'" in result.output and "Traceback" not in result.output
    # a file that is not JSON, and a path that does not exist
    (tmp_path / "c.json").write_text('{"event_name": "x"}\n{oops\n')
    with pytest.raises(RawDataError, match=r"c\.json.*cannot be read as newline-delimited JSON"):
        load_ga4(tmp_path / "c.json", tmp_path / "out", log=lambda *_: None)
    with pytest.raises(RawDataError, match="no such file or folder"):
        load_ga4(tmp_path / "nope.json", tmp_path / "out", log=lambda *_: None)


def test_cli_load_ga4_then_prepare(tmp_path):
    src = _write_ndjson(tmp_path / "export" / "events.ndjson", ga4_rows())
    result = CliRunner().invoke(main, ["load-ga4", "--input", str(src), "--out", str(tmp_path / "folder")])
    assert result.exit_code == 0, result.output
    assert f"events       {GA4_EVENTS:>10,} rows" in result.output
    result = CliRunner().invoke(main, ["prepare", "--data", str(tmp_path / "folder"), "--out", str(tmp_path / "raw")])
    assert result.exit_code == 0, result.output
    _check_ga4(tmp_path / "raw")


# --- Snowplow --------------------------------------------------------------------------------------------------

def snowplow_rows() -> list[dict]:
    rows = []

    def ev(eid, tstamp, name, visitor, session, mobile=None, user=None, collector=None, **extra):
        r = {"event_id": eid, "event_name": name, "domain_userid": visitor, "domain_sessionid": session,
             "collector_tstamp": collector or tstamp, "page_urlpath": "/shop", "app_id": "web"}
        if tstamp is not None:
            r["derived_tstamp"] = tstamp
        if mobile is not None:
            r["dvce_ismobile"] = mobile
        if user:
            r["user_id"] = user
        r.update(extra)
        rows.append(r)

    def cart(kind, sku, price):
        return {f"unstruct_event_com_snowplowanalytics_snowplow_{kind}_1":
                {"sku": sku, "unit_price": price, "quantity": 1, "currency": "EUR"}}

    ev("e01", "2026-03-02T11:00:00+02:00", "page_view", "d1", "s1", False)          # offset: 09:00 UTC
    ev("e02", "2026-03-02 09:01:00.000", "add_to_cart", "d1", "s1", False, **cart("add_to_cart", "p1", 15))
    ev("e03", "2026-03-02T09:02:00Z", "add_to_cart", "d1", "s1", False, **cart("add_to_cart", "p2", 15))
    ev("e04", "2026-03-02 09:03:00", "remove_from_cart", "d1", "s1", False, **cart("remove_from_cart", "p2", 15))
    ev("e05", "2026-03-02 09:05:00", "transaction", "d1", "s1", False, "u1", tr_orderid="T1", tr_total="45.00")
    ev("e06", "2026-03-02 09:05:00", "transaction_item", "d1", "s1", False, "u1", ti_orderid="T1", ti_sku="p1",
       ti_name="name p1", ti_category="c1", ti_price="15.00", ti_quantity="1")
    ev("e07", "2026-03-02 09:05:00", "transaction_item", "d1", "s1", False, "u1", ti_orderid="T1", ti_sku="p2",
       ti_name="name p2", ti_category="c2", ti_price="15.00", ti_quantity="2")
    ev("e07", "2026-03-02 09:05:00", "transaction_item", "d1", "s1", False, "u1", ti_orderid="T1", ti_sku="p2",
       ti_name="name p2", ti_category="c2", ti_price="15.00", ti_quantity="2")  # delivered twice
    ev("e08", "2026-03-02 10:00:00", "page_view", "d2", "s2", True)
    ev("e09", None, "page_view", "d2", "s2", True, collector="2026-03-02 10:01:00")  # no derived_tstamp
    ev("e10", "2026-03-02 10:02:00", "add_to_cart", "d2", "s2", **cart("add_to_cart", "p3", 8.5))  # no device
    ev("e11", "2026-03-02 12:00:00", "page_view", "d3", "s3", True)
    ev("e12", "2026-03-02 12:01:00", "transaction", "d3", "s3", True, tr_orderid="T2", tr_total="14")
    ev("e13", "2026-03-02 12:01:00", "transaction_item", "d3", "s3", True, ti_orderid="T2", ti_sku="p2",
       ti_price="14", ti_quantity="1")
    return rows


def test_snowplow_export_lands_exactly(tmp_path):
    src = _write_ndjson(tmp_path / "sp" / "part-0001.json", snowplow_rows())
    report = load_snowplow(src, tmp_path / "folder", log=lambda *_: None)
    assert report.tables == {"events": 12, "orders": 2, "order_lines": 3, "customers": 2, "products": 3}
    assert any("2 transaction event(s) became orders" in n for n in report.notes)
    assert any("domain_sessionid not carried (3 Snowplow sessions)" in n for n in report.notes)
    out = _land(tmp_path / "folder", tmp_path)
    ev = _staged_events(out)
    assert len(ev) == 12 and not [e for e in ev if e[2] == "transaction"]
    assert ev[:3] == [(_t(0), "d1", "page_view", None, None, "desktop"),
                      (_t(1), "d1", "add_to_cart", "p1", None, "desktop"),
                      (_t(2), "d1", "add_to_cart", "p2", None, "desktop")]
    assert (_t(61), "d2", "page_view", None, None, "mobile") in ev  # collector_tstamp used
    assert (_t(62), "d2", "add_to_cart", "p3", None, None) in ev
    assert [e for e in ev if e[2] == "transaction_item"] == [
        (_t(5), "d1", "transaction_item", "p1", "T1", "desktop"),
        (_t(5), "d1", "transaction_item", "p2", "T1", "desktop"),
        (_t(5), "d1", "transaction_item", "p2", "T1", "desktop"),  # the copy: staging quarantines it
        (_t(181), "d3", "transaction_item", "p2", "T2", "mobile")]
    assert _rows(out, "orders", "order_id, customer_id, ordered_at, amount", "order_id") == [
        ("T1", "u1", "2026-03-02 09:05:00", "45.00"), ("T2", "d3", "2026-03-02 12:01:00", "14")]
    assert _rows(out, "order_lines", "order_id, line_number, product_id, quantity, unit_price",
                 "order_id, line_number") == [("T1", 1, "p1", "1", "15.00"), ("T1", 2, "p2", "2", "15.00"),
                                              ("T2", 1, "p2", "1", "14")]
    assert _rows(out, "customers", "customer_id, visitor_id", "customer_id") == [("d3", "d3"), ("u1", "d1")]
    assert _rows(out, "products", "product_id, category_id, price", "product_id") == [
        ("p1", "c1", "15.00"), ("p2", "c2", "14"), ("p3", None, None)]
    _roles_ok(out, {"page_view", "add_to_cart", "remove_from_cart", "transaction_item"})


def test_snowplow_missing_timestamps_is_an_error(tmp_path):
    rows = [{k: v for k, v in r.items() if k not in ("derived_tstamp", "collector_tstamp")} for r in snowplow_rows()]
    src = _write_ndjson(tmp_path / "sp.json", rows)
    with pytest.raises(RawDataError, match=r"sp\.json: missing required field 'derived_tstamp or collector_tstamp'"):
        load_snowplow(src, tmp_path / "out", log=lambda *_: None)


# --- Segment ---------------------------------------------------------------------------------------------------

def segment_rows() -> list[dict]:
    rows = []

    def call(type_, ts, anon, event=None, user=None, device=None, **props):
        r = {"type": type_, "timestamp": ts, "anonymousId": anon, "messageId": f"m{len(rows)}",
             "context": {"library": {"name": "analytics.js"}}, "properties": props}
        if event:
            r["event"] = event
        if user:
            r["userId"] = user
        if device:
            r["context"]["device"] = {"type": device}
        rows.append(r)

    two = [{"product_id": "p1", "sku": "P-1", "price": 15, "quantity": 1, "category": "c1", "name": "name p1"},
           {"product_id": "p2", "sku": "P-2", "price": 15, "quantity": 2, "category": "c2", "name": "name p2"}]
    call("page", "2026-03-02T11:00:00+02:00", "a1", device="desktop", path="/")
    call("track", "2026-03-02T09:01:00Z", "a1", "Product Viewed", device="desktop", product_id="p1", price=15,
         category="c1", name="name p1")
    call("track", "2026-03-02T09:02:00.000Z", "a1", "Product Added", device="desktop", product_id="p1", price=15)
    call("track", "2026-03-02T10:03:00+01:00", "a1", "Product Added", device="desktop", product_id="p2",
         quantity=2)
    call("track", "2026-03-02T09:04:00Z", "a1", "Cart Viewed", device="desktop", products=two)
    call("identify", "2026-03-02T09:04:30Z", "a1", user="u1")
    call("track", "2026-03-02T09:05:00Z", "a1", "Checkout Started", user="u1", device="desktop", products=two)
    call("track", "2026-03-02T09:06:00Z", "a1", "Payment Info Entered", user="u1", device="desktop")
    call("track", "2026-03-02T04:07:00-05:00", "a1", "Order Completed", user="u1", device="desktop",
         order_id="T1", total=49.5, revenue=45, products=two)
    call("page", "2026-03-02T10:00:00Z", "a2", device="ios")
    call("track", "2026-03-02T10:01:00Z", "a2", "Product Viewed", device="ios", product_id="p3", price="8.50")
    call("track", "2026-03-02T10:02:00Z", "a2", "Product Added", sku="p3")  # no context.device, sku only
    call("page", "2026-03-02T12:00:00Z", "a3", device="tablet")
    call("track", "2026-03-02T12:01:00Z", "a3", "Order Completed", device="tablet", order_id="T2",
         revenue="14", products=[{"product_id": "p2", "price": 14}])  # no quantity: 1
    return rows


def test_segment_export_lands_exactly(tmp_path):
    src = _write_ndjson(tmp_path / "seg" / "2026-03-02.jsonl", segment_rows())
    report = load_segment(src, tmp_path / "folder", log=lambda *_: None)
    assert report.tables == {"events": 16, "orders": 2, "order_lines": 3, "customers": 2, "products": 3}
    assert any("1 identify call(s)" in n for n in report.notes)
    out = _land(tmp_path / "folder", tmp_path)
    ev = _staged_events(out)
    assert len(ev) == 16
    assert ev[:4] == [(_t(0), "a1", "page", None, None, "desktop"),
                      (_t(1), "a1", "Product Viewed", "p1", None, "desktop"),
                      (_t(2), "a1", "Product Added", "p1", None, "desktop"),
                      (_t(3), "a1", "Product Added", "p2", None, "desktop")]  # +01:00
    assert [e for e in ev if e[2] == "Order Completed"] == [
        (_t(7), "a1", "Order Completed", "p1", "T1", "desktop"),  # 04:07-05:00 is 09:07 UTC
        (_t(7), "a1", "Order Completed", "p2", "T1", "desktop"),
        (_t(181), "a3", "Order Completed", "p2", "T2", "tablet")]
    assert (_t(61), "a2", "Product Viewed", "p3", None, "mobile") in ev
    assert (_t(62), "a2", "Product Added", "p3", None, None) in ev
    assert _rows(out, "orders", "order_id, customer_id, ordered_at, amount", "order_id") == [
        ("T1", "u1", "2026-03-02 09:07:00", "49.5"), ("T2", "a3", "2026-03-02 12:01:00", "14")]
    assert _rows(out, "order_lines", "order_id, line_number, product_id, quantity, unit_price",
                 "order_id, line_number") == [("T1", 1, "p1", "1", "15"), ("T1", 2, "p2", "2", "15"),
                                              ("T2", 1, "p2", "1", "14")]
    assert _rows(out, "customers", "customer_id, visitor_id", "customer_id") == [("a3", "a3"), ("u1", "a1")]
    assert _rows(out, "products", "product_id, category_id, product_name, price", "product_id") == [
        ("p1", "c1", "name p1", "15"), ("p2", "c2", "name p2", "14"), ("p3", None, None, "8.50")]
    _roles_ok(out, {"page", "Product Viewed", "Product Added", "Cart Viewed", "Checkout Started",
                    "Payment Info Entered", "Order Completed"})


def test_segment_track_calls_without_event_names(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "event"} for r in segment_rows()]
    src = _write_ndjson(tmp_path / "seg.jsonl", rows)
    with pytest.raises(RawDataError, match=r"seg\.jsonl: missing required field 'event'"):
        load_segment(src, tmp_path / "out", log=lambda *_: None)


@pytest.mark.parametrize("loader,rows", [(load_snowplow, snowplow_rows), (load_segment, segment_rows),
                                         (load_ga4, ga4_rows)])
def test_parquet_written_from_the_json_gives_the_same_tables(tmp_path, loader, rows):
    """Parquet with DuckDB's inferred types (TIMESTAMPTZ, BOOLEAN, JSON-typed mixed values, nested structs)."""
    j = _write_ndjson(tmp_path / "export.json", rows())
    pq = tmp_path / "export.parquet"
    duckdb.sql(f"copy (select * from read_json('{j}', format='newline_delimited')) to '{pq}' (format parquet)")
    types = {r[1] for r in duckdb.sql(f"describe select * from read_parquet('{pq}')").fetchall()}
    assert types - {"VARCHAR"}  # nested and typed columns, not only text
    from_json = loader(j, tmp_path / "j", log=lambda *_: None)
    from_parquet = loader(pq, tmp_path / "p", log=lambda *_: None)
    assert from_json.tables == from_parquet.tables
    for table in from_json.tables:
        a, b = (duckdb.sql(f"select * from read_parquet('{tmp_path}/{d}/{table}.parquet') order by all").fetchall()
                for d in ("j", "p"))
        assert a == b, table


def test_product_events_without_a_product_are_reported_and_inputs_can_repeat(tmp_path):
    rows = ga4_rows()
    a = _write_ndjson(tmp_path / "a.json", rows[:11])
    b = _write_ndjson(tmp_path / "b.json", rows[11:] + [
        {"event_timestamp": str(_us(T0)), "event_name": "view_item", "user_pseudo_id": "v9", "items": []}])
    result = CliRunner().invoke(main, ["load-ga4", "--input", str(a), "--input", str(b),
                                       "--out", str(tmp_path / "folder")])
    assert result.exit_code == 0, result.output
    assert "GA4: 2 file(s)" in result.output
    assert "1 product_view/add_to_cart event(s) without a product id" in result.output
    n = duckdb.sql(f"select count(*) from read_parquet('{tmp_path}/folder/events.parquet')").fetchall()
    assert n == [(GA4_EVENTS + 1,)]
