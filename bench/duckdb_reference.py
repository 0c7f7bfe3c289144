"""DuckDB reference for the benchmark: the pandas reference's work (bench/pandas_reference.py) as one
DuckDB SQL script, without dbt: staging's cleaning of the events and orders, 30-minute sessions, the
overall view -> cart (24 h) -> purchase (10 days) funnel of the product journeys, RFM frequency /
monetary / recency. Same rules, same outputs as the pandas and polars references, so the three are
compared like for like (run_bench.py runs each in its own process and checks the outputs equal to each
other and to the marts).

    python bench/duckdb_reference.py --raw RAW_FOLDER --out OUT_FOLDER
writes OUT/sessions.parquet, OUT/rfm.parquet and OUT/reference.json (funnel totals, timings).

    python bench/duckdb_reference.py --raw RAW_FOLDER --out OUT_FOLDER --tables OUT/floor.duckdb
is the fair floor: the same work, plus writing into a DuckDB file, as tables, what the dbt SQL layer
writes for it at the same grain (one row per clean event, per event with its session, per session, per
visitor x product journey, the overall funnel, per clean order, per RFM customer), with only the
columns the work needs (no quarantine, raw text or hashed keys). The time the SQL layer takes for the
same models is compared with this (run_bench.py, ``fair_floor``).

Minimal means: exact duplicates are removed with a DISTINCT on the six key columns (every output column
is one of them, so keeping "the first copy" and keeping one copy are the same); sessions are cut on the
distinct event times of a visitor (events at the same instant are always in one session), so the window
runs over fewer rows than events and needs no tie-break.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

SESSION_TIMEOUT_MINUTES = 30
VIEW_TO_CART_HOURS = 24
CART_TO_PURCHASE_DAYS = 10
MIN_PLAUSIBLE = "1970-01-01"  # the staging default (var min_plausible_at null)
MAX_ORDER_AMOUNT = 1_000_000
EVENT_TYPES = ("view", "addtocart", "transaction")


def _lit(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _clean(col: str) -> str:
    return f"nullif(trim(cast({col} as varchar)), '')"


def _plausible(col: str, now: str) -> str:
    return (f"({col} is not null and {col} >= timestamp '{MIN_PLAUSIBLE}' "
            f"and {col} <= timestamp '{now}' + interval 1 day)")


def events_sql(raw: Path, now: str) -> str:
    """The clean events: staging's text cleaning and checks, known event types, one copy of each."""
    return f"""
        select distinct visitor_id, product_id, event_type, event_at, transaction_id, device
        from (
            select {_clean('visitor_id')} as visitor_id, {_clean('product_id')} as product_id,
                   {_clean('transaction_id')} as transaction_id, lower({_clean('event_type')}) as event_type,
                   lower({_clean('device')}) as device, cast(event_at as timestamp) as event_at
            from read_parquet({_lit(raw / 'events.parquet')})
        )
        where {_plausible('event_at', now)} and visitor_id is not null and product_id is not null
            and event_type in {EVENT_TYPES}
            and not (event_type = 'transaction' and transaction_id is null)
    """


def orders_sql(raw: Path, now: str) -> str:
    """The clean orders: the first copy of an order id (by time, amount, customer, then file order)
    when it passes every check."""
    return f"""
        with typed as (
            select {_clean('order_id')} as order_id, {_clean('customer_id')} as customer_id,
                   lower({_clean('channel')}) as channel, cast(ordered_at as timestamp) as ordered_at,
                   cast(amount as double) as amount, cast(discount_amount as double) as discount_amount,
                   file_row_number
            from read_parquet({_lit(raw / 'orders.parquet')}, file_row_number = true)
        ),
        ranked as (
            select *, row_number() over (partition by order_id order by ordered_at nulls last,
                amount nulls last, customer_id nulls last, file_row_number) as copy_number
            from typed
        )
        select order_id, customer_id, ordered_at, amount
        from ranked
        where order_id is not null and customer_id is not null and {_plausible('ordered_at', now)}
            and isfinite(amount) and amount >= 0 and amount <= {MAX_ORDER_AMOUNT}
            and (discount_amount is null or (isfinite(discount_amount) and discount_amount >= 0))
            and (channel is null or channel in ('online', 'store'))
            and copy_number = 1
    """


# one row per visitor and distinct event time: the session cut runs on these
SESSION_STARTS_SQL = f"""
    with instants as (
        select visitor_id, event_at, count(*) as events
        from events
        group by visitor_id, event_at
    ),
    flagged as (
        select *, case when lag(event_at) over w is null
                         or event_at > lag(event_at) over w + interval {SESSION_TIMEOUT_MINUTES} minute
                       then 1 else 0 end as is_start
        from instants
        window w as (partition by visitor_id order by event_at)
    )
    select visitor_id, event_at, events,
           sum(is_start) over (partition by visitor_id order by event_at
                               rows between unbounded preceding and current row) as visitor_session_number
    from flagged
"""

SESSIONS_SQL = """
    select visitor_id, min(event_at) as session_started_at, cast(sum(events) as bigint) as events
    from session_instants
    group by visitor_id, visitor_session_number
"""

# each cart: the latest view of the same visitor x product at or before it, stitched within 24 hours;
# each purchase: the latest stitched cart at or before it, within 10 days (as pandas' merge_asof)
STITCHED_SQL = f"""
    create temp table stitched_carts as
    select c.visitor_id, c.product_id, c.event_at as carted_at
    from (select * from events where event_type = 'addtocart') as c
    asof join (select visitor_id, product_id, event_at from events where event_type = 'view') as v
        on c.visitor_id = v.visitor_id and c.product_id = v.product_id and c.event_at >= v.event_at
    where c.event_at <= v.event_at + interval {VIEW_TO_CART_HOURS} hour;

    create temp table stitched_purchases as
    select b.visitor_id, b.product_id, b.event_at as purchased_at
    from (select * from events where event_type = 'transaction') as b
    asof join stitched_carts as s
        on b.visitor_id = s.visitor_id and b.product_id = s.product_id and b.event_at >= s.carted_at
    where b.event_at <= s.carted_at + interval {CART_TO_PURCHASE_DAYS} day;
"""

JOURNEYS_SQL = """
    select v.visitor_id, v.product_id, c.product_id is not null as is_carted, p.product_id is not null as is_purchased
    from (select distinct visitor_id, product_id from events where event_type = 'view') as v
    left join (select distinct visitor_id, product_id from stitched_carts) as c
        on v.visitor_id = c.visitor_id and v.product_id = c.product_id
    left join (select distinct visitor_id, product_id from stitched_purchases) as p
        on v.visitor_id = p.visitor_id and v.product_id = p.product_id
"""

FUNNEL_SQL = """
    select
        count(*) as journeys_viewed,
        (select count(*) from (select distinct visitor_id, product_id from stitched_carts)) as journeys_carted,
        (select count(*) from (select distinct visitor_id, product_id from stitched_purchases)) as journeys_purchased,
        count(distinct visitor_id) as visitors_viewed,
        (select count(distinct visitor_id) from stitched_carts) as visitors_carted,
        (select count(distinct visitor_id) from stitched_purchases) as visitors_purchased
    from (select distinct visitor_id, product_id from events where event_type = 'view')
"""

RFM_SQL = """
    with snapshot as (
        select greatest((select max(cast(event_at as date)) from events),
                        (select max(cast(ordered_at as date)) from orders)) as snapshot_date
    )
    select customer_id, count(*) as frequency, sum(amount) as monetary, max(ordered_at) as last_order_at,
           cast(date_diff('day', max(cast(ordered_at as date)), any_value(snapshot_date)) as bigint) as recency_days
    from orders cross join snapshot
    where cast(ordered_at as date) <= snapshot_date
    group by customer_id
"""


def run(raw: Path, out: Path, tables: Path | None = None, threads: int | None = None) -> dict:
    """Compute the reference into ``out``; with ``tables`` also write the floor's tables to that DuckDB file."""
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S")
    if tables is not None and tables.exists():
        tables.unlink()
    con = duckdb.connect(str(tables) if tables is not None else ":memory:")
    con.execute("pragma disable_progress_bar")  # the bar is printed to stdout on long queries
    con.execute("set preserve_insertion_order = false")  # as profiles.yml sets it for the dbt SQL layer
    if threads:
        con.execute(f"set threads = {int(threads)}")
    # the floor persists its tables; the like-for-like run keeps everything in temporary tables
    kind = "table" if tables is not None else "temp table"
    timings: dict[str, float] = {}
    t0 = t = time.perf_counter()
    con.execute(f"create {kind} events as {events_sql(raw, now)}")
    con.execute(f"create {kind} orders as {orders_sql(raw, now)}")
    timings["load_and_clean_s"] = time.perf_counter() - t
    t = time.perf_counter()
    con.execute(f"create temp table session_instants as {SESSION_STARTS_SQL}")
    con.execute(f"create {kind} sessions as {SESSIONS_SQL}")
    if tables is not None:  # the SQL layer writes every event with its session (int_events_sessionized)
        con.execute("""
            create table events_sessionized as
            select e.visitor_id, e.product_id, e.event_type, e.event_at, e.transaction_id, e.device,
                   i.visitor_session_number
            from events as e
            inner join session_instants as i on e.visitor_id = i.visitor_id and e.event_at = i.event_at
        """)
    timings["sessions_s"] = time.perf_counter() - t
    t = time.perf_counter()
    con.execute(STITCHED_SQL)
    if tables is not None:  # one row per viewed visitor x product (fct_product_journeys)
        con.execute(f"create table journeys as {JOURNEYS_SQL}")
    funnel = con.execute(FUNNEL_SQL).fetchone()
    names = ["journeys_viewed", "journeys_carted", "journeys_purchased", "visitors_viewed", "visitors_carted",
             "visitors_purchased"]
    funnel_totals = {n: int(v) for n, v in zip(names, funnel, strict=True)}
    if tables is not None:
        con.execute(f"create table funnel as {FUNNEL_SQL}")
    timings["funnel_s"] = time.perf_counter() - t
    t = time.perf_counter()
    con.execute(f"create {kind} rfm as {RFM_SQL}")
    timings["rfm_s"] = time.perf_counter() - t
    if tables is not None:
        t = time.perf_counter()
        con.execute("checkpoint")  # the tables on disk, as a dbt model's transaction commits them
        timings["checkpoint_s"] = time.perf_counter() - t
    timings["total_compute_s"] = time.perf_counter() - t0
    con.execute(f"copy (select visitor_id, session_started_at, events from sessions) to "
                f"{_lit(out / 'sessions.parquet')} (format parquet)")
    con.execute(f"copy (select * from rfm) to {_lit(out / 'rfm.parquet')} (format parquet)")
    counts = {name: con.execute(f"select count(*) from {name}").fetchone()[0]
              for name in ("events", "orders", "sessions", "rfm")}
    ref = {"engine": "duckdb", "version": duckdb.__version__,
           "events_clean": counts["events"], "orders_clean": counts["orders"], "sessions": counts["sessions"],
           "funnel_overall": funnel_totals, "rfm_customers": counts["rfm"], "timings": timings}
    if tables is not None:
        ref["tables"] = {name: con.execute(f"select count(*) from {name}").fetchone()[0] for name in
                         ("events", "events_sessionized", "sessions", "journeys", "funnel", "orders", "rfm")}
        ref["tables_file"] = str(tables)
    con.close()
    if tables is not None:
        ref["tables_file_bytes"] = tables.stat().st_size
    (out / "reference.json").write_text(json.dumps(ref, indent=2))
    return ref


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tables", type=Path, default=None,
                        help="the fair floor: also write the tables the SQL layer writes for this work to this file")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: DuckDB's)")
    args = parser.parse_args()
    for name in ("events.parquet", "orders.parquet"):
        if not (args.raw / name).exists():
            parser.error(f"--raw {args.raw}: {name} not found (a folder landed by retail-lift prepare)")
    run(args.raw, args.out, args.tables, args.threads)


if __name__ == "__main__":
    main()
