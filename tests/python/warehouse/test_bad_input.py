"""A corrupted copy of the tiny world builds, with every bad row quarantined and counted; nothing is lost."""

from __future__ import annotations

import csv

import duckdb
import pytest
from click.testing import CliRunner
from helpers import build_folder

from retail_lift.cli import main

pytestmark = pytest.mark.dbt


def _to_csv(parquet, path, extra_rows=(), raw_lines=()):
    rel = duckdb.sql(f"select * from read_parquet('{parquet}')")
    cols = rel.columns
    rows = rel.fetchall()
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow(["" if v is None else v for v in r])
        for r in extra_rows:
            w.writerow([r.get(c, "") for c in cols])
    if raw_lines:
        with open(path, "a", encoding="utf-8") as f:
            for line in raw_lines:
                f.write(line + "\n")
    return cols, rows


@pytest.fixture(scope="module")
def corrupted_build(tiny_world, tmp_path_factory):
    raw = tiny_world / "raw"
    src = tmp_path_factory.mktemp("corrupt") / "in"
    src.mkdir()
    for f in raw.glob("*.parquet"):
        if f.stem not in ("events", "orders", "order_lines", "decisions"):
            (src / f.name).write_bytes(f.read_bytes())
    ev_cols, ev_rows = _to_csv(raw / "events.parquet", src / "events.csv")
    first = dict(zip(ev_cols, ["" if v is None else v for v in ev_rows[0]], strict=True))
    base = {"visitor_id": "V9999999", "product_id": "P000001", "device": "mobile", "event_type": "view",
            "event_at": "2026-02-01 10:00:00"}
    bad_events = [
        {**base, "event_at": "not-a-date"},                                  # unparseable_event_at
        {**base, "event_at": "2099-01-01 00:00:00"},                         # implausible (future)
        {**base, "event_at": "1969-12-31 23:59:59"},                         # implausible (before 1970)
        {**base, "event_type": ""},                                          # missing_event_type
        {**base, "event_type": "click"},                                     # any name: valid (role other)
        {**base, "event_type": "transaction"},                               # purchase without transaction_id: valid
        {**base, "event_type": "Home", "product_id": ""},                    # page event without product: valid
        {**base, "product_id": ""},                                          # product view without product: kept
        first,                                                               # duplicate_event
        {**base, "visitor_id": "v\u2603\u200b\u00e9", "event_at": "2026-02-02 10:00:00"},  # unicode: valid
    ]
    _to_csv(raw / "events.parquet", src / "events.csv", bad_events,
            raw_lines=["2026-02-03 10:00:00,V1,view,P1,,mobile,EXTRA,FIELDS"])  # unparseable line
    ord_cols, ord_rows = _to_csv(raw / "orders.parquet", src / "orders.csv")
    o = {"customer_id": "C0000001", "ordered_at": "2026-02-01 12:00:00", "amount": "10", "channel": "online"}
    bad_orders = [
        {**o, "order_id": "X1", "amount": "-5"},                             # negative_amount
        {**o, "order_id": "X2", "amount": "1e12"},                           # absurd_amount
        {**o, "order_id": "X3", "amount": "NaN"},                            # not_finite_amount
        {**o, "order_id": "X4", "amount": "ten"},                            # unparseable_amount
        {**o, "order_id": "X5", "customer_id": ""},                          # missing_customer_id
        dict(zip(ord_cols, ["" if v is None else v for v in ord_rows[0]], strict=True)),  # duplicate_order_id
    ]
    _to_csv(raw / "orders.parquet", src / "orders.csv", bad_orders)
    _to_csv(raw / "order_lines.parquet", src / "order_lines.csv",
            [{"order_id": "NO_SUCH_ORDER", "line_number": 1, "product_id": "P000001", "quantity": 1,
              "unit_price": 3.0, "discount_amount": 0}])                     # orphan_order_id
    d = {"customer_id": "C0000001", "decided_at": "2026-03-01 10:00:00", "policy_id": "p",
         "promotion_id": "control", "action_probabilities": '{"control":1.0}', "context": "{}"}
    _to_csv(raw / "decisions.parquet", src / "decisions.csv",
            [{**d, "decision_id": "DX1", "propensity": "0"},                 # propensity_out_of_range
             {**d, "decision_id": "DX2", "propensity": "nan"},               # not_finite_propensity
             {**d, "decision_id": "DX3", "propensity": "1.5"}])              # propensity_out_of_range
    db = build_folder(src, src.parent / "build", truth_dir=tiny_world / "truth")
    return db, len(ev_rows), len(ord_rows)


def _q(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_every_bad_row_is_quarantined_with_its_reason(corrupted_build):
    db, n_events, n_orders = corrupted_build
    summary = {(t, r): n for t, r, n in _q(db, "select source_table, dq_reason, quarantined_rows "
                                               "from marts.rpt_quarantine_summary")}
    assert summary == {
        ("events", "unparseable_event_at"): 1,
        ("events", "implausible_event_at"): 2,
        ("events", "missing_event_type"): 1,
        ("events", "duplicate_event"): 1,
        ("events", "unparseable_csv_line"): 1,
        ("orders", "negative_amount"): 1,
        ("orders", "absurd_amount"): 1,
        ("orders", "not_finite_amount"): 1,
        ("orders", "unparseable_amount"): 1,
        ("orders", "missing_customer_id"): 1,
        ("orders", "duplicate_order_id"): 1,
        ("order_lines", "orphan_order_id"): 1,
        ("decisions", "propensity_out_of_range"): 2,
        ("decisions", "not_finite_propensity"): 1,
    }


def test_nothing_is_lost(corrupted_build):
    db, n_events, n_orders = corrupted_build
    clean = _q(db, "select count(*) from staging.stg_shop__events")[0][0]
    quarantined = _q(db, "select count(*) from staging.stg_shop__quarantined_rows where source_table = 'events'")[0][0]
    # every original event plus the valid appended ones: an unknown name (role other), a purchase without
    # transaction_id, a page event without product, a product view without product, the unicode visitor's event
    assert clean == n_events + 5
    assert clean + quarantined == n_events + 10  # all 10 appended rows are accounted for
    roles = dict(_q(db, "select event_type, event_role from staging.stg_shop__events "
                        "where event_type in ('click', 'home', 'transaction') group by all"))
    assert roles == {"click": "other", "home": "page_view", "transaction": "purchase"}
    assert _q(db, "select count(*) from staging.stg_shop__orders")[0][0] == n_orders
    # the original value of a row that did not parse is kept
    raw_values = _q(db, "select raw_values from staging.stg_shop__quarantined_rows "
                        "where source_table = 'events' and dq_reason = 'unparseable_event_at'")
    assert len(raw_values) == 1 and raw_values[0][0].startswith("event_at=not-a-date; visitor_id=")
    lines = _q(db, "select 1 from staging.stg_shop__load_report where table_name = 'events' and rejected_lines = 1")
    assert lines == [(1,)]


def test_a_fatal_problem_stops_with_a_named_error(tiny_world, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    orders = tiny_world / "raw" / "orders.parquet"
    duckdb.sql(f"copy (select order_id, customer_id, amount from read_parquet('{orders}'))"
               f" to '{src / 'orders.csv'}' (header)")
    result = CliRunner().invoke(main, ["prepare", "--data", str(src), "--out", str(tmp_path / "raw")])
    assert result.exit_code == 2
    assert "orders.csv: missing required column(s) ordered_at for table 'orders'" in result.output
