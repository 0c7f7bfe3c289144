"""An incremental build after appending events equals a full refresh."""

from __future__ import annotations

import duckdb
import pytest
from helpers import run_dbt, write_first_load

from retail_lift.adapters import prepare_raw

pytestmark = pytest.mark.dbt

INCREMENTAL_MODELS = ["intermediate.int_events_sessionized", "marts.fct_sessions"]


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


def _run_sql(workdir, model):
    """The SQL dbt ran for a model in the last invocation."""
    return next((workdir / "target" / "run").rglob(f"{model}.sql")).read_text().lower()


# with late registrations, the incremental run of fct_sessions rewrites (nearly) every day, as sessions of
# registering visitors gain their customer_id; without, only the last days and those of sessions late events change
@pytest.mark.parametrize("late_registrations", [True, False], ids=["late_registrations", "events_only"])
def test_incremental_after_append_equals_full_refresh(tiny_world, tmp_path, late_registrations):
    # day 1: the log 10 days before its end, some of the last day's events held back (they arrive late)
    first = tmp_path / "first"
    write_first_load(tiny_world, first, late_registrations)
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
    for model in ("int_events_sessionized", "fct_sessions"):
        # incremental by day (macro incremental_by_day): delete+insert of the days the run selects
        assert "delete from" in _run_sql(inc, model), f"{model} was not built incrementally"
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
