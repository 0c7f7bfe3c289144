"""Polars reference for the benchmark: the pandas reference's work (bench/pandas_reference.py) written
with polars (optional `bench` dependency group: pip install -e '.[bench]'): staging's cleaning of the
events and orders, 30-minute sessions, the overall view -> cart (24 h) -> purchase (10 days) funnel of the
product journeys (join_asof, as pandas' merge_asof), RFM frequency / monetary / recency. Same rules and
outputs as the pandas and DuckDB references; run_bench.py runs it in its own process and checks its
outputs equal to the others and to the marts.

    python bench/polars_reference.py --raw RAW_FOLDER --out OUT_FOLDER
writes OUT/sessions.parquet, OUT/rfm.parquet and OUT/reference.json (funnel totals, timings).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

try:
    import polars as pl
except ImportError:  # the optional bench group is not installed
    sys.exit("polars is not installed: pip install -c requirements.lock -e '.[bench]' (the optional bench group)")

SESSION_TIMEOUT = timedelta(minutes=30)
VIEW_TO_CART = timedelta(hours=24)
CART_TO_PURCHASE = timedelta(days=10)
MIN_PLAUSIBLE = datetime(1970, 1, 1)  # the staging default (var min_plausible_at null)
MAX_ORDER_AMOUNT = 1_000_000
EVENT_TYPES = ["view", "addtocart", "transaction"]
KEYS = ["visitor_id", "product_id"]


def clean_text(col: str) -> pl.Expr:
    s = pl.col(col).cast(pl.String).str.strip_chars()
    return pl.when(s == "").then(None).otherwise(s).alias(col)


def plausible(col: str, now: datetime) -> pl.Expr:
    c = pl.col(col)
    return c.is_not_null() & (c >= MIN_PLAUSIBLE) & (c <= now + timedelta(days=1))


def load_events(raw: Path, now: datetime) -> pl.DataFrame:
    ev = pl.scan_parquet(raw / "events.parquet").select(
        clean_text("visitor_id"), clean_text("product_id"), clean_text("transaction_id"),
        clean_text("event_type").str.to_lowercase(), clean_text("device").str.to_lowercase(),
        pl.col("event_at").cast(pl.Datetime("us")))
    ok = (plausible("event_at", now) & pl.col("visitor_id").is_not_null() & pl.col("product_id").is_not_null()
          & pl.col("event_type").is_in(EVENT_TYPES)
          & ~((pl.col("event_type") == "transaction") & pl.col("transaction_id").is_null()))
    # exact duplicates: one copy (every output column is a key, so which copy does not matter)
    keys = ["visitor_id", "event_at", "event_type", "product_id", "transaction_id", "device"]
    return ev.filter(ok).unique(subset=keys).select("visitor_id", "product_id", "event_type", "event_at").collect()


def load_orders(raw: Path, now: datetime) -> pl.DataFrame:
    od = pl.scan_parquet(raw / "orders.parquet").with_row_index("file_row").select(
        clean_text("order_id"), clean_text("customer_id"), clean_text("channel").str.to_lowercase(),
        pl.col("ordered_at").cast(pl.Datetime("us")), pl.col("amount").cast(pl.Float64),
        pl.col("discount_amount").cast(pl.Float64), "file_row")
    # the first copy of an order id by time, amount and customer (then file order), as staging ranks them
    od = od.sort(["order_id", "ordered_at", "amount", "customer_id", "file_row"], nulls_last=True)
    amount, discount = pl.col("amount"), pl.col("discount_amount")
    ok = (pl.col("order_id").is_not_null() & pl.col("customer_id").is_not_null() & plausible("ordered_at", now)
          & amount.is_finite() & (amount >= 0) & (amount <= MAX_ORDER_AMOUNT)
          & (discount.is_null() | (discount.is_finite() & (discount >= 0)))
          & (pl.col("channel").is_null() | pl.col("channel").is_in(["online", "store"]))
          & pl.col("order_id").is_first_distinct())
    return od.filter(ok).select("order_id", "customer_id", "ordered_at", "amount").collect()


def sessionize(ev: pl.DataFrame) -> pl.DataFrame:
    """Sessions cut on the distinct event times of a visitor (events at one instant share a session)."""
    instants = ev.lazy().group_by(["visitor_id", "event_at"]).agg(pl.len().alias("events")).sort(
        ["visitor_id", "event_at"])
    new_visitor = pl.col("visitor_id").ne_missing(pl.col("visitor_id").shift(1))
    gap = pl.col("event_at") - pl.col("event_at").shift(1)
    starts = (new_visitor | (gap > SESSION_TIMEOUT)).fill_null(True)
    return (instants.with_columns(starts.cum_sum().alias("session_number"))
            .group_by("session_number")
            .agg(pl.col("visitor_id").first(), pl.col("event_at").min().alias("session_started_at"),
                 pl.col("events").sum().cast(pl.Int64).alias("events"))
            .select("visitor_id", "session_started_at", "events").collect())


def funnel(ev: pl.DataFrame) -> dict:
    def of(kind: str, name: str) -> pl.DataFrame:
        return ev.filter(pl.col("event_type") == kind).select(*KEYS, pl.col("event_at").alias(name)).sort(name)

    views, carts, buys = of("view", "viewed_at"), of("addtocart", "carted_at"), of("transaction", "bought_at")
    # each cart: the latest view of the same visitor x product at or before it, within 24 hours (both sides
    # are sorted by time above; polars cannot check the order within the `by` groups, hence no check)
    stitched_carts = carts.join_asof(views, left_on="carted_at", right_on="viewed_at", by=KEYS,
                                     strategy="backward", tolerance=VIEW_TO_CART,
                                     check_sortedness=False).drop_nulls("viewed_at")
    # each purchase: the latest stitched cart at or before it, within 10 days
    stitched_buys = buys.join_asof(stitched_carts.select(*KEYS, "carted_at").sort("carted_at"),
                                   left_on="bought_at", right_on="carted_at", by=KEYS, strategy="backward",
                                   tolerance=CART_TO_PURCHASE, check_sortedness=False).drop_nulls("carted_at")
    journeys = views.select(KEYS).unique()
    carted = stitched_carts.select(KEYS).unique()
    bought = stitched_buys.select(KEYS).unique()
    return {
        "journeys_viewed": journeys.height,
        "journeys_carted": carted.height,
        "journeys_purchased": bought.height,
        "visitors_viewed": journeys["visitor_id"].n_unique(),
        "visitors_carted": carted["visitor_id"].n_unique(),
        "visitors_purchased": bought["visitor_id"].n_unique(),
    }


def rfm(orders: pl.DataFrame, ev: pl.DataFrame) -> pl.DataFrame:
    snapshot = max(ev["event_at"].max().date(), orders["ordered_at"].max().date())
    return (orders.lazy().filter(pl.col("ordered_at").dt.date() <= snapshot)
            .group_by("customer_id")
            .agg(pl.len().cast(pl.Int64).alias("frequency"), pl.col("amount").sum().alias("monetary"),
                 pl.col("ordered_at").max().alias("last_order_at"))
            .with_columns((pl.lit(snapshot) - pl.col("last_order_at").dt.date()).dt.total_days()
                          .cast(pl.Int64).alias("recency_days"))
            .collect())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    for name in ("events.parquet", "orders.parquet"):
        if not (args.raw / name).exists():
            parser.error(f"--raw {args.raw}: {name} not found (a folder landed by retail-lift prepare)")
    args.out.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).replace(tzinfo=None)
    timings = {}
    t0 = time.perf_counter()
    ev = load_events(args.raw, now)
    orders = load_orders(args.raw, now)
    timings["load_and_clean_s"] = time.perf_counter() - t0
    t = time.perf_counter()
    sessions = sessionize(ev)
    timings["sessions_s"] = time.perf_counter() - t
    t = time.perf_counter()
    funnel_totals = funnel(ev)
    timings["funnel_s"] = time.perf_counter() - t
    t = time.perf_counter()
    rfm_table = rfm(orders, ev)
    timings["rfm_s"] = time.perf_counter() - t
    timings["total_compute_s"] = time.perf_counter() - t0
    sessions.write_parquet(args.out / "sessions.parquet")
    rfm_table.write_parquet(args.out / "rfm.parquet")
    (args.out / "reference.json").write_text(json.dumps({
        "engine": "polars", "version": pl.__version__,
        "events_clean": ev.height, "orders_clean": orders.height, "sessions": sessions.height,
        "funnel_overall": funnel_totals, "rfm_customers": rfm_table.height, "timings": timings,
    }, indent=2))


if __name__ == "__main__":
    main()
