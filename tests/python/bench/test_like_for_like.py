"""The like-for-like references of the benchmark (bench/duckdb_reference.py, pandas_reference.py,
polars_reference.py) on a small raw folder with every kind of dirty row the cleaning must handle:
the three give the same sessions, funnel and RFM, and those are the values worked out by hand here.
The fair floor's tables (duckdb_reference.py --tables) have the grain of the SQL layer's tables.
(The references against the marts of the tiny build: test_bench_code.py.)"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"
T0 = datetime(2026, 3, 2, 10, 0, 0)


def _load_run_bench():
    spec = importlib.util.spec_from_file_location("run_bench_lfl", BENCH / "run_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ev(minutes: float, visitor, kind, product="p1", txn=None, device="mobile"):
    return {"event_at": None if minutes is None else T0 + timedelta(minutes=minutes), "visitor_id": visitor,
            "event_type": kind, "product_id": product, "transaction_id": txn, "device": device}


def dirty_raw(folder: Path) -> Path:
    """Events and orders with duplicates, blank and padded text, unknown types, missing fields and
    implausible times; sessions cut at 30 minutes; carts and purchases inside and outside their windows."""
    day = 24 * 60
    events = [
        # visitor a: session 1 = 4 events (a view twice at the same instant with different devices, a cart
        # 10 min after it, a view exactly 30 min after the cart: the same session)
        _ev(0, "a", "view"), _ev(0, "a", "view", device="desktop"), _ev(10, "a", "addtocart"),
        _ev(40, "a", "view", product="p2"),                          # exactly 30 min later: same session
        _ev(40, "a", "view", product="p2"),                          # exact duplicate: dropped
        _ev(70.5, "a", "transaction", txn="t1"),                     # 30.5 min later: session 2
        _ev(10 + 10 * day, "a", "transaction", product="p1", txn="t2"),  # 10 days after the cart: stitched
        # visitor b: padded and upper-case text, a cart 24 h + 1 min after the view (not stitched)
        _ev(0, " b ", " VIEW ", product=" p3 "), _ev(day + 1, "b", "addtocart", product="p3"),
        _ev(day + 2, "b", "view", product="p3"), _ev(day + 3, "b", "addtocart", product="p3"),  # stitched
        _ev(day + 3 + 10 * day + 1, "b", "transaction", product="p3", txn="t3"),  # 10 days + 1 min: not
        # dirty rows, all dropped
        _ev(5, "", "view"), _ev(5, None, "view"), _ev(5, "c", "view", product="  "), _ev(5, "c", "wishlist"),
        _ev(5, "c", None), _ev(5, "c", "transaction", txn=" "), _ev(None, "c", "view"),
        _ev(-60 * 24 * 365 * 60, "c", "view"),  # 1966: before 1970
        _ev(60 * 24 * 365 * 5, "c", "view"),    # five years from now... after the run: implausible
        # visitor d: one clean view
        _ev(3, "d", "view", product="p9"),
    ]
    ev = pd.DataFrame(events)
    ev["event_at"] = pd.to_datetime(ev["event_at"]).astype("datetime64[us]")
    orders = pd.DataFrame([
        # o1 twice: the earlier copy is kept (amount 10), the later one dropped
        ("o1", "c1", T0 + timedelta(days=1), 10.0, None, "online"),
        ("o1", "c1", T0 + timedelta(days=2), 99.0, None, "online"),
        ("o2", "c1", T0 + timedelta(days=3), 5.5, 1.0, " STORE "),
        ("o3", "c2", T0, 7.0, None, None),
        ("o4", "c2", T0, -1.0, None, "online"),                # negative amount
        ("o5", "c2", T0, float("nan"), None, "online"),        # not a number
        ("o6", "c2", T0, float("inf"), None, "online"),        # not finite
        ("o7", "c2", T0, 2_000_000.0, None, "online"),         # absurd
        ("o8", "c2", T0, 1.0, -1.0, "online"),                 # negative discount
        ("o9", "c2", T0, 1.0, None, "phone"),                  # unknown channel
        ("o10", None, T0, 1.0, None, "online"),                # no customer
        (" ", "c2", T0, 1.0, None, "online"),                  # no order id
        ("o11", "c3", T0 + timedelta(days=3650), 1.0, None, "online"),  # in ten years: implausible
        ("o12", "c3", T0 - timedelta(days=2), 4.0, None, "online"),
    ], columns=["order_id", "customer_id", "ordered_at", "amount", "discount_amount", "channel"])
    orders["ordered_at"] = orders["ordered_at"].astype("datetime64[us]")
    folder.mkdir(parents=True, exist_ok=True)
    ev.to_parquet(folder / "events.parquet", index=False)
    orders.to_parquet(folder / "orders.parquet", index=False)
    return folder


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """Each reference run as make bench runs it: its own process."""
    base = tmp_path_factory.mktemp("lfl")
    raw = dirty_raw(base / "raw")
    engines = ["pandas", "duckdb"] + (["polars"] if importlib.util.find_spec("polars") else [])
    for e in engines:
        subprocess.run([sys.executable, str(BENCH / f"{e}_reference.py"), "--raw", str(raw), "--out", str(base / e)],
                       check=True, capture_output=True, text=True)
    subprocess.run([sys.executable, str(BENCH / "duckdb_reference.py"), "--raw", str(raw), "--out",
                    str(base / "floor"), "--tables", str(base / "floor" / "floor.duckdb")], check=True)
    return base, engines


def test_the_references_agree_with_each_other(outputs):
    base, engines = outputs
    if "polars" not in engines:
        pytest.skip("polars not installed (optional bench group: pip install -e '.[bench]')")
    rb = _load_run_bench()
    frames = {e: rb._frames(base / e) for e in engines}
    for other in engines[1:]:
        checks = rb.compare_outputs(frames["pandas"], frames[other], ("pandas", other))
        assert all(c["equal"] for c in checks.values()), (other, checks)


@pytest.mark.parametrize("engine", ["pandas", "duckdb", "polars", "floor"])
def test_each_reference_gives_the_values_worked_out_by_hand(outputs, engine):
    base, engines = outputs
    if engine == "polars" and "polars" not in engines:
        pytest.skip("polars not installed (optional bench group: pip install -e '.[bench]')")
    ref = json.loads((base / engine / "reference.json").read_text())
    # clean events: a 6 (one exact duplicate dropped), b 5, d 1
    assert ref["events_clean"] == 12
    sessions = pd.read_parquet(base / engine / "sessions.parquet")
    got = sorted((str(r.visitor_id), pd.Timestamp(r.session_started_at), int(r.events)) for r in sessions.itertuples())
    ts = pd.Timestamp(T0)
    day = pd.Timedelta(days=1)
    assert got == [
        ("a", ts, 4),                                            # 0, 0 (two devices), 10, 40 (exactly 30 min)
        ("a", ts + pd.Timedelta(minutes=70.5), 1),
        ("a", ts + pd.Timedelta(minutes=10) + 10 * day, 1),
        ("b", ts, 1),
        ("b", ts + day + pd.Timedelta(minutes=1), 3),
        ("b", ts + 11 * day + pd.Timedelta(minutes=4), 1),
        ("d", ts + pd.Timedelta(minutes=3), 1),
    ]
    # viewed pairs a-p1, a-p2, b-p3, d-p9; carted a-p1 (10 min) and b-p3 (the second cart, 1 min after a view);
    # purchased a-p1 (t1, and t2 exactly 10 days after the cart); b-p3's purchase is 10 days + 1 min after its
    # stitched cart: not stitched
    assert ref["funnel_overall"] == {"journeys_viewed": 4, "journeys_carted": 2, "journeys_purchased": 1,
                                     "visitors_viewed": 3, "visitors_carted": 2, "visitors_purchased": 1}
    rfm = pd.read_parquet(base / engine / "rfm.parquet").sort_values("customer_id")
    assert rfm["customer_id"].astype(str).tolist() == ["c1", "c2", "c3"]
    assert rfm["frequency"].astype(int).tolist() == [2, 1, 1]
    assert rfm["monetary"].astype(float).tolist() == pytest.approx([15.5, 7.0, 4.0])
    # snapshot: the last day of clean data (b's last event, 11 days after T0)
    snapshot = (ts + 11 * day + pd.Timedelta(minutes=4)).normalize()
    expected = [(snapshot - (ts + 3 * day).normalize()).days, (snapshot - ts.normalize()).days,
                (snapshot - (ts - 2 * day).normalize()).days]
    assert rfm["recency_days"].astype(int).tolist() == expected


def test_the_fair_floor_writes_the_layers_tables_at_their_grain(outputs):
    base, _ = outputs
    ref = json.loads((base / "floor" / "reference.json").read_text())
    con = duckdb.connect(str(base / "floor" / "floor.duckdb"), read_only=True)
    try:
        counts = {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in ref["tables"]}
        # every clean event with its session number: the session numbers of visitor a are 1, 2, 3
        a = con.execute("select visitor_session_number, count(*) from events_sessionized where visitor_id = 'a' "
                        "group by 1 order by 1").fetchall()
        journeys = con.execute("select count(*), count(*) filter (where is_carted), "
                               "count(*) filter (where is_purchased) from journeys").fetchone()
    finally:
        con.close()
    assert counts == ref["tables"] == {"events": 12, "events_sessionized": 12, "sessions": 7, "journeys": 4,
                                       "funnel": 1, "orders": 4, "rfm": 3}
    assert a == [(1, 4), (2, 1), (3, 1)]
    assert journeys == (4, 2, 1)
    assert ref["timings"]["checkpoint_s"] >= 0 and ref["tables_file_bytes"] > 0


def test_a_raw_folder_without_the_files_is_a_clear_error(tmp_path):
    for engine in ("duckdb", "pandas", "polars"):
        if engine == "polars" and not importlib.util.find_spec("polars"):
            continue
        proc = subprocess.run([sys.executable, str(BENCH / f"{engine}_reference.py"), "--raw", str(tmp_path),
                               "--out", str(tmp_path / "out")], capture_output=True, text=True)
        assert proc.returncode != 0
        assert "events.parquet" in proc.stderr, (engine, proc.stderr[-500:])
