"""An incremental build after appending events equals a full refresh."""

from __future__ import annotations

import shutil

import duckdb
import pytest
from helpers import run_dbt

from retail_lift.adapters import prepare_raw

pytestmark = pytest.mark.dbt

INCREMENTAL_MODELS = ["intermediate.int_events_sessionized", "marts.fct_sessions"]


def _split_world(world, folder, keep_sql, customers_sql):
    folder.mkdir(parents=True)
    for f in (world / "raw").glob("*.parquet"):
        shutil.copy(f, folder / f.name)
    duckdb.sql(f"copy (select * from read_parquet('{world / 'raw' / 'events.parquet'}') where {keep_sql}) "
               f"to '{folder / 'events.parquet'}' (format parquet)")
    # customers who register later are not known yet: their earlier sessions gain a customer_id later
    duckdb.sql(f"copy (select * from read_parquet('{world / 'raw' / 'customers.parquet'}') where {customers_sql}) "
               f"to '{folder / 'customers.parquet'}' (format parquet)")


def _differences(db_a, db_b, table):
    con = duckdb.connect()
    try:
        con.execute(f"attach '{db_a}' as a (read_only)")
        con.execute(f"attach '{db_b}' as b (read_only)")
        n_a = con.execute(f"select count(*) from a.{table}").fetchall()[0][0]
        diff = con.execute(f"""select count(*) from (
                                   (select * from a.{table} except all select * from b.{table})
                                   union all
                                   (select * from b.{table} except all select * from a.{table}))""").fetchall()[0][0]
        return n_a, diff
    finally:
        con.close()


def test_incremental_after_append_equals_full_refresh(tiny_world, tmp_path):
    end = duckdb.sql(f"select max(event_at) from read_parquet('{tiny_world / 'raw' / 'events.parquet'}')"
                     ).fetchall()[0][0]
    cutoff = f"timestamp '{end}' - interval 10 day"
    late = f"timestamp '{end}' - interval 11 day"
    # day 1: events up to the cutoff, except those of the last day before it for every 5th visitor
    # (they arrive late, with the appended data)
    first = tmp_path / "first"
    _split_world(tiny_world, first, f"event_at < {cutoff} and not (event_at >= {late} "
                                    f"and hash(visitor_id) % 5 = 0)", "hash(customer_id) % 7 <> 0")
    inc, full = tmp_path / "inc", tmp_path / "full"
    for w in (inc, full):
        w.mkdir()
    prepare_raw(first, inc / "raw", truth_dir=tiny_world / "truth", truth_out=inc / "truth", log=lambda *_: None)
    run_dbt(["build", "--indirect-selection", "cautious", "-s", "+fct_sessions"], inc / "raw", inc / "truth", inc)
    before = duckdb.connect(str(inc / "warehouse.duckdb"), read_only=True)
    n_before = before.execute("select count(*) from intermediate.int_events_sessionized").fetchall()[0][0]
    before.close()
    # day 2: the whole log (appended days and late events) -> incremental run
    prepare_raw(tiny_world / "raw", inc / "raw", truth_dir=tiny_world / "truth", truth_out=inc / "truth",
                log=lambda *_: None)
    run_dbt(["build", "--indirect-selection", "cautious", "-s", "+fct_sessions"], inc / "raw", inc / "truth", inc)
    # reference: a full refresh on the whole log
    prepare_raw(tiny_world / "raw", full / "raw", truth_dir=tiny_world / "truth", truth_out=full / "truth",
                log=lambda *_: None)
    run_dbt(["build", "--indirect-selection", "cautious", "-s", "+fct_sessions", "--full-refresh"],
            full / "raw", full / "truth", full)
    for table in INCREMENTAL_MODELS:
        n, diff = _differences(inc / "warehouse.duckdb", full / "warehouse.duckdb", table)
        assert n > 0 and diff == 0, f"{table}: {diff} rows differ between incremental and full refresh"
    after = duckdb.connect(str(inc / "warehouse.duckdb"), read_only=True)
    n_after = after.execute("select count(*) from intermediate.int_events_sessionized").fetchall()[0][0]
    after.close()
    assert n_after > n_before
