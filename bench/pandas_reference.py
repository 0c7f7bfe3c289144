"""Pandas reference for the benchmark: sessions, the overall funnel and RFM frequency/monetary,
computed the way a notebook would (read the Parquet files, clean, sort, groupby, merge_asof).

It applies the same data-contract cleaning as staging (trim, empty text as NULL, required fields,
known event types, exact duplicates / duplicate order ids dropped, implausible times dropped), the
same 30-minute session rule and the same view -> cart (24 h) -> purchase (10 days) stitching as
fct_product_journeys, so its numbers must equal the marts. run_bench.py runs it in its own process
(so its peak RSS is its own) and compares the outputs with the warehouse.

    python bench/pandas_reference.py --raw RAW_FOLDER --out OUT_FOLDER
writes OUT/sessions.parquet, OUT/rfm.parquet and OUT/reference.json (funnel totals, timings).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

SESSION_TIMEOUT = pd.Timedelta(minutes=30)
VIEW_TO_CART = pd.Timedelta(hours=24)
CART_TO_PURCHASE = pd.Timedelta(days=10)
MIN_PLAUSIBLE = pd.Timestamp("1970-01-01")  # the staging default (var min_plausible_at null)
MAX_ORDER_AMOUNT = 1_000_000
EVENT_RANK = {"view": 1, "addtocart": 2, "transaction": 3}


def clean_text(s: pd.Series) -> pd.Series:
    s = s.astype("string").str.strip()
    return s.mask(s == "")


def plausible(ts: pd.Series, now: pd.Timestamp) -> pd.Series:
    return ts.notna() & (ts >= MIN_PLAUSIBLE) & (ts <= now + pd.Timedelta(days=1))


def load_events(raw: Path, now: pd.Timestamp) -> pd.DataFrame:
    ev = pd.read_parquet(raw / "events.parquet")
    for col in ["visitor_id", "product_id", "transaction_id", "event_type", "device"]:
        ev[col] = clean_text(ev[col])
    ev["event_type"] = ev["event_type"].str.lower()
    ev["device"] = ev["device"].str.lower()
    ev["event_at"] = pd.to_datetime(ev["event_at"])
    keys = ["visitor_id", "event_at", "event_type", "product_id", "transaction_id", "device"]
    duplicate = ev.duplicated(subset=keys, keep="first")
    ok = (plausible(ev["event_at"], now) & ev["visitor_id"].notna() & ev["product_id"].notna()
          & ev["event_type"].isin(list(EVENT_RANK))
          & ~((ev["event_type"] == "transaction") & ev["transaction_id"].isna())
          & ~duplicate)
    return ev.loc[ok, ["visitor_id", "product_id", "event_type", "event_at"]].reset_index(drop=True)


def load_orders(raw: Path, now: pd.Timestamp) -> pd.DataFrame:
    od = pd.read_parquet(raw / "orders.parquet")
    for col in ["order_id", "customer_id", "channel"]:
        od[col] = clean_text(od[col])
    od["channel"] = od["channel"].str.lower()
    od["ordered_at"] = pd.to_datetime(od["ordered_at"])
    od = od.sort_values(["order_id", "ordered_at", "amount", "customer_id"], na_position="last", kind="stable")
    first_copy = ~od.duplicated(subset=["order_id"], keep="first") | od["order_id"].isna()
    amount, discount = od["amount"].astype(float), od["discount_amount"].astype(float)
    ok = (od["order_id"].notna() & od["customer_id"].notna() & plausible(od["ordered_at"], now)
          & np.isfinite(amount) & (amount >= 0) & (amount <= MAX_ORDER_AMOUNT)
          & (discount.isna() | (np.isfinite(discount) & (discount >= 0)))
          & (od["channel"].isna() | od["channel"].isin(["online", "store"]))
          & first_copy)
    return od.loc[ok, ["order_id", "customer_id", "ordered_at", "amount"]]


def sessionize(ev: pd.DataFrame) -> pd.DataFrame:
    ev = ev.assign(rank=ev["event_type"].map(EVENT_RANK)).sort_values(
        ["visitor_id", "event_at", "rank"], kind="stable")
    new_visitor = ev["visitor_id"].ne(ev["visitor_id"].shift())
    gap = ev["event_at"].diff()
    starts = (new_visitor | (gap > SESSION_TIMEOUT)).to_numpy(dtype=bool, na_value=True)
    ev["session_number"] = np.cumsum(starts)
    sessions = ev.groupby("session_number").agg(
        visitor_id=("visitor_id", "first"), session_started_at=("event_at", "min"), events=("event_at", "size"))
    return sessions.reset_index(drop=True)


def funnel(ev: pd.DataFrame) -> dict:
    keys = ["visitor_id", "product_id"]
    views = ev.loc[ev["event_type"] == "view", keys + ["event_at"]].rename(columns={"event_at": "viewed_at"})
    carts = ev.loc[ev["event_type"] == "addtocart", keys + ["event_at"]].rename(columns={"event_at": "carted_at"})
    buys = ev.loc[ev["event_type"] == "transaction", keys + ["event_at"]].rename(columns={"event_at": "bought_at"})
    # each cart: the latest view of the same visitor x product at or before it, within 24 hours
    stitched_carts = pd.merge_asof(carts.sort_values("carted_at"), views.sort_values("viewed_at"),
                                   left_on="carted_at", right_on="viewed_at", by=keys,
                                   tolerance=VIEW_TO_CART, direction="backward").dropna(subset=["viewed_at"])
    # each purchase: the latest stitched cart at or before it, within 10 days
    stitched_buys = pd.merge_asof(buys.sort_values("bought_at"),
                                  stitched_carts[keys + ["carted_at"]].sort_values("carted_at"),
                                  left_on="bought_at", right_on="carted_at", by=keys,
                                  tolerance=CART_TO_PURCHASE, direction="backward").dropna(subset=["carted_at"])
    journeys = views[keys].drop_duplicates()
    carted = stitched_carts[keys].drop_duplicates()
    bought = stitched_buys[keys].drop_duplicates()
    return {
        "journeys_viewed": int(len(journeys)),
        "journeys_carted": int(len(carted)),
        "journeys_purchased": int(len(bought)),
        "visitors_viewed": int(journeys["visitor_id"].nunique()),
        "visitors_carted": int(carted["visitor_id"].nunique()),
        "visitors_purchased": int(bought["visitor_id"].nunique()),
    }


def rfm(orders: pd.DataFrame, ev: pd.DataFrame) -> pd.DataFrame:
    snapshot = max(ev["event_at"].max().normalize(), orders["ordered_at"].max().normalize())
    scoped = orders[orders["ordered_at"].dt.normalize() <= snapshot]
    out = scoped.groupby("customer_id").agg(frequency=("order_id", "size"), monetary=("amount", "sum"),
                                            last_order_at=("ordered_at", "max")).reset_index()
    out["recency_days"] = (snapshot - out["last_order_at"].dt.normalize()).dt.days
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    for name in ("events.parquet", "orders.parquet"):
        if not (args.raw / name).exists():
            parser.error(f"--raw {args.raw}: {name} not found (a folder landed by retail-lift prepare)")
    args.out.mkdir(parents=True, exist_ok=True)
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
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
    sessions.to_parquet(args.out / "sessions.parquet", index=False)
    rfm_table.to_parquet(args.out / "rfm.parquet", index=False)
    (args.out / "reference.json").write_text(json.dumps({
        "engine": "pandas", "version": pd.__version__,
        "events_clean": int(len(ev)), "orders_clean": int(len(orders)), "sessions": int(len(sessions)),
        "funnel_overall": funnel_totals, "rfm_customers": int(len(rfm_table)), "timings": timings,
    }, indent=2))


if __name__ == "__main__":
    main()
