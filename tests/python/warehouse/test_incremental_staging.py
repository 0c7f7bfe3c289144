"""The incremental staging of events equals a full refresh, late copies and late events of old days included.

base_shop__events rewrites the days from incremental_first_day on, the undated day (rows without a plausible
event_at) and every earlier day whose raw row count changed. A copy of an event of a day long before the
lookback, appended with the next load, must still be quarantined as a duplicate_event (as a full refresh does),
and a late event of such a day must still be loaded. Both builds here select only +stg_shop__quarantined_rows and
stg_shop__events (every base model and seed; no marts), so the full reference build is cheap.
"""

from __future__ import annotations

import shutil

import duckdb
import pytest
from helpers import run_dbt, write_first_load

from retail_lift.adapters import prepare_raw

pytestmark = pytest.mark.dbt

SELECT = ["build", "--indirect-selection", "cautious", "-s", "+stg_shop__quarantined_rows", "stg_shop__events"]
TABLES = ["staging.base_shop__events", "staging.stg_shop__quarantined_rows", "staging.stg_shop__events"]
N_COPIES = 3  # copies of events of the log's first day, appended with the second load


def _differences(db_a, db_b, table):
    with duckdb.connect() as con:
        con.execute(f"attach '{db_a}' as a (read_only)")
        con.execute(f"attach '{db_b}' as b (read_only)")
        n_a = con.execute(f"select count(*) from a.{table}").fetchall()[0][0]
        diff = con.execute(f"""select count(*) from (
                                   (select * from a.{table} except all select * from b.{table})
                                   union all
                                   (select * from b.{table} except all select * from a.{table}))""").fetchall()[0][0]
    return n_a, diff


def _reasons(db):
    with duckdb.connect(str(db), read_only=True) as con:
        return dict(con.execute("select coalesce(dq_reason, 'clean'), count(*) from staging.base_shop__events "
                                "group by 1").fetchall())


def _second_load(world, folder):
    """The whole log, plus N_COPIES copies of events of its first day (late duplicates of an old day), a late
    event of that day that was not in the log, an event without event_at and one in the year 2999."""
    folder.mkdir(parents=True)
    for f in (world / "raw").glob("*.parquet"):
        shutil.copy(f, folder / f.name)
    events = world / "raw" / "events.parquet"
    with duckdb.connect() as con:
        log = f"read_parquet('{events}')"
        con.execute(f"""copy (
            select * from {log}
            union all
            (select * from {log} where cast(event_at as date) = (select min(cast(event_at as date)) from {log})
             order by event_at, visitor_id limit {N_COPIES})
            union all
            (select event_at + interval 1 second, visitor_id, event_type, product_id, transaction_id, device
             from {log} where cast(event_at as date) = (select min(cast(event_at as date)) from {log})
             order by event_at desc, visitor_id limit 1)
            union all
            (select cast(null as timestamp), visitor_id, event_type, product_id, transaction_id, device
             from {log} order by event_at, visitor_id limit 1)
            union all
            (select timestamp '2999-01-01 00:00:00', visitor_id, event_type, product_id, transaction_id, device
             from {log} order by event_at, visitor_id limit 1)
        ) to '{folder / 'events.parquet'}' (format parquet)""")


def test_incremental_staging_after_late_copies_equals_full_refresh(tiny_world, tmp_path):
    first = tmp_path / "first"
    write_first_load(tiny_world, first, late_registrations=False)
    inc = tmp_path / "inc"
    inc.mkdir()
    prepare_raw(first, inc / "raw", truth_dir=tiny_world / "truth", truth_out=inc / "truth", log=lambda *_: None)
    run_dbt(SELECT, inc / "raw", inc / "truth", inc)
    before = _reasons(inc / "warehouse.duckdb")

    second = tmp_path / "second"
    _second_load(tiny_world, second)
    prepare_raw(second, inc / "raw", truth_dir=tiny_world / "truth", truth_out=inc / "truth", log=lambda *_: None)
    run_dbt(SELECT, inc / "raw", inc / "truth", inc)
    run_sql = next((inc / "target" / "run").rglob("base_shop__events.sql")).read_text().lower()
    assert "delete from" in run_sql, "base_shop__events was not built incrementally"

    full = tmp_path / "full"
    full.mkdir()
    prepare_raw(second, full / "raw", truth_dir=tiny_world / "truth", truth_out=full / "truth", log=lambda *_: None)
    run_dbt(SELECT, full / "raw", full / "truth", full)
    run_sql = next((full / "target" / "run").rglob("base_shop__events.sql")).read_text().lower()
    assert "delete from" not in run_sql, "the reference build was not a full build"

    for table in TABLES:
        n, diff = _differences(inc / "warehouse.duckdb", full / "warehouse.duckdb", table)
        assert n > 0 and diff == 0, f"{table}: {diff} rows differ between incremental and full refresh"
    after = _reasons(inc / "warehouse.duckdb")
    # the late copies of the first day's events are caught, though that day is long before the lookback
    assert after.get("duplicate_event", 0) == before.get("duplicate_event", 0) + N_COPIES
    assert after.get("missing_event_at", 0) == before.get("missing_event_at", 0) + 1
    assert after.get("implausible_event_at", 0) == before.get("implausible_event_at", 0) + 1
    assert after["clean"] > before["clean"]
