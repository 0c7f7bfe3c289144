"""A small, hand-made, consistent world for the quality checks: raw Parquet files typed as in the
contract, and a DuckDB warehouse with the marts and scored tables the suites read.

The ``make_world`` fixture (conftest.py) writes it; its ``edit`` changes the pandas frames first (a
negative amount, a duplicate key...), so each test states exactly the bad input it is about.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pandas as pd

from retail_lift.contract import TABLES

AS_OF = dt.datetime(2026, 6, 1)
T = pd.Timestamp


def _probs(chosen: str) -> str:
    p = {"control": 0.1, "email_10pct": 0.1, "bogo": 0.1}
    p[chosen] = 0.8
    return json.dumps(p)


def good_raw() -> dict[str, pd.DataFrame]:
    """Eleven raw tables that pass every error- and warning-level check."""
    events = []
    for day in range(3):  # three days, so that small batches split them
        for i, visitor in enumerate(["V1", "V2", "V3"]):
            at = T("2026-01-05 09:00") + pd.Timedelta(days=day, minutes=10 * i)
            events.append((at, visitor, "view", "P1", None, "mobile"))
            events.append((at + pd.Timedelta(minutes=1), visitor, "addtocart", "P1", None, "mobile"))
    events.append((T("2026-01-05 10:00"), "V1", "transaction", "P1", "O1", "desktop"))
    return {
        "events": pd.DataFrame(events, columns=TABLES["events"].column_names),
        "orders": pd.DataFrame([
            ("O1", "C1", T("2026-01-05 10:00"), 20.0, 0.0, "online", None, None),
            ("O2", "C2", T("2026-01-06 11:00"), 35.5, 2.0, "store", "S1", None),
            ("O3", "C1", T("2026-01-07 12:00"), 18.0, 2.0, "online", None, "email_10pct"),
        ], columns=TABLES["orders"].column_names),
        "order_lines": pd.DataFrame([
            ("O1", 1, "P1", 2, 10.0, 0.0), ("O2", 1, "P2", 1, 37.5, 2.0),
            ("O3", 1, "P1", 1, 10.0, 1.0), ("O3", 2, "P2", 1, 10.0, 1.0),
        ], columns=TABLES["order_lines"].column_names),
        "customers": pd.DataFrame([
            (f"C{i}", f"V{i}", T("2025-06-01"), "25-34", "female", "north", "facebook", True, False, "mobile",
             f"c{i}@example.com", f"Customer {i}") for i in range(1, 5)
        ], columns=TABLES["customers"].column_names),
        "products": pd.DataFrame([
            ("P1", "cat_a", "Apples", 10.0, 6.0, T("2025-01-01")),
            ("P2", "cat_a", "Pears", 37.5, 20.0, T("2025-01-01")),
        ], columns=TABLES["products"].column_names),
        "categories": pd.DataFrame([("cat_top", None, "Top"), ("cat_a", "cat_top", "Fruit")],
                                   columns=TABLES["categories"].column_names),
        "stores": pd.DataFrame([("S1", "North store", "north", T("2015-03-01"))],
                               columns=TABLES["stores"].column_names),
        "promotions": pd.DataFrame([
            ("control", "No promotion", "none", 0.0, 0.0, T("2025-01-01")),
            ("email_10pct", "E-mail, 10 %", "email", 0.1, 0.05, T("2025-01-01")),
            ("bogo", "Buy one get one", "banner", 0.5, 0.01, T("2025-01-01")),
        ], columns=TABLES["promotions"].column_names),
        "experiments": pd.DataFrame([
            ("exp1", "E-mail test", T("2026-01-05"), T("2026-01-19"), "control", "control:1,email_10pct:1", 14,
             *[None] * 9),  # no registry overrides
        ], columns=TABLES["experiments"].column_names),
        "experiment_assignments": pd.DataFrame([
            ("exp1", "C1", "control", T("2026-01-05 08:00")), ("exp1", "C2", "email_10pct", T("2026-01-06 08:00")),
        ], columns=TABLES["experiment_assignments"].column_names),
        "decisions": pd.DataFrame([
            (f"D{i}", c, T("2026-01-05 12:00") + pd.Timedelta(days=i), "rules_v1", arm, 0.8, _probs(arm),
             json.dumps({"age_band": "25-34", "hour": 12}))
            for i, (c, arm) in enumerate([("C1", "email_10pct"), ("C2", "control"), ("C3", "bogo")], start=1)
        ], columns=TABLES["decisions"].column_names),
    }


def good_warehouse() -> dict[str, pd.DataFrame]:
    """The marts and scored tables, keyed by schema.table."""
    return {
        "marts.fct_sessions": pd.DataFrame({
            "session_id": ["s1", "s2", "s3"], "visitor_id": ["V1", "V2", "V3"], "customer_id": ["C1", "C2", None],
            "landing_product_id": ["P1", "P1", "P2"], "landing_category_id": ["cat_a"] * 3,
            "device": ["mobile", "desktop", "unknown"], "visitor_session_number": [1, 1, 1],
            "events": [3, 2, 1], "page_views": [0, 0, 0], "views": [1, 1, 1], "carts": [1, 1, 0],
            "purchases": [1, 0, 0],
            "distinct_products": [1, 1, 1], "duration_seconds": [60.0, 30.0, 0.0],
            "is_converted": [True, False, False], "is_first_session": [True, True, True],
            "session_started_at": [T("2026-01-05 09:00"), T("2026-01-06 09:10"), T("2026-01-07 09:20")],
            "session_ended_at": [T("2026-01-05 09:01"), T("2026-01-06 09:10:30"), T("2026-01-07 09:20")],
            "session_date": [dt.date(2026, 1, 5), dt.date(2026, 1, 6), dt.date(2026, 1, 7)],
        }),
        "marts.fct_customer_ltv_inputs": pd.DataFrame({
            "customer_id": ["C1", "C2"], "frequency": [1, 0], "recency": [2, 0], "T": [2, 1],
            "monetary_value": [18.0, 0.0], "total_amount": [38.0, 35.5], "cost_of_goods": [25.0, 20.0],
            "first_purchase_date": [dt.date(2026, 1, 5), dt.date(2026, 1, 6)],
            "last_purchase_date": [dt.date(2026, 1, 7), dt.date(2026, 1, 6)],
            "snapshot_date": [dt.date(2026, 1, 7)] * 2,
        }),
        "marts.fct_decision_ledger": pd.DataFrame({
            "decision_id": ["D1", "D2", "D3"], "customer_id": ["C1", "C2", "C3"],
            "promotion_id": ["email_10pct", "control", "bogo"], "propensity": [0.8, 0.8, 0.8],
            "decided_at": [T("2026-01-06 12:00"), T("2026-01-07 12:00"), T("2026-01-08 12:00")],
            "window_ends_at": [T("2026-01-20 12:00"), T("2026-01-21 12:00"), T("2026-01-22 12:00")],
            "first_order_at": [T("2026-01-07 12:00"), None, None], "is_pending": [False, False, False],
            "orders": [1, 0, 0], "revenue": [18.0, 0.0, 0.0], "hour": [12, 12, 12],
        }),
        "marts.fct_decision_arm_probabilities": pd.DataFrame({
            "decision_id": [d for d in ("D1", "D2", "D3") for _ in range(3)],
            "promotion_id": ["control", "email_10pct", "bogo"] * 3,
            "action_probability": [0.1, 0.8, 0.1, 0.8, 0.1, 0.1, 0.1, 0.1, 0.8],
            "is_chosen": [False, True, False, True, False, False, False, False, True],
            "decided_at": [T("2026-01-06 12:00")] * 3 + [T("2026-01-07 12:00")] * 3 + [T("2026-01-08 12:00")] * 3,
        }),
        "ml.ml_experiment_results": pd.DataFrame({
            "experiment_id": ["exp1", "exp1"], "variant": ["email_10pct", "email_10pct"],
            "metric_name": ["conversion_rate", "revenue_per_user"], "control_users": [1, 1], "variant_users": [1, 1],
            "effect": [0.1, 2.0], "effect_ci_low": [-0.2, -5.0], "effect_ci_high": [0.4, 9.0],
            "p_value": [0.4, 0.6], "p_value_adjusted": [0.8, 0.8], "prob_beat_control": [0.7, 0.6],
            "srm_p_value": [0.9, 0.9], "decision": ["keep running", "keep running"],
        }),
        "ml.ml_customer_lifetime_value": pd.DataFrame({
            "customer_id": ["C1", "C2"], "frequency": [1.0, 0.0], "recency": [2.0, 0.0], "T": [2.0, 1.0],
            "monetary_value": [18.0, 0.0], "expected_purchases_365d": [12.5, 3.1],
            "probability_alive": [0.95, 0.7], "expected_avg_spend": [19.0, 25.0],
            "clv_revenue_12m": [220.0, 70.0], "clv_margin_12m": [66.0, 21.0], "clv_12m": [220.0, 70.0],
            "clv_status": ["purchase model: ok; spend model: ok; margin: ok"] * 2,
        }),
    }


_DUCKDB_TYPES = {"marts.fct_decision_ledger": {"first_order_at": "timestamp", "orders": "integer",
                                               "hour": "integer"},
                 "marts.fct_sessions": {"visitor_session_number": "integer", "events": "bigint", "views": "hugeint",
                                        "carts": "hugeint", "purchases": "hugeint", "distinct_products": "bigint",
                                        "session_date": "date"},
                 "marts.fct_customer_ltv_inputs": {"frequency": "integer", "recency": "integer", "T": "integer",
                                                   "first_purchase_date": "date", "last_purchase_date": "date",
                                                   "snapshot_date": "date"}}


def write_world(root: Path, raw: dict[str, pd.DataFrame], warehouse: dict[str, pd.DataFrame],
                keep_types: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """Raw tables cast to the contract types (except the ``table.column`` in ``keep_types``), as Parquet
    files in root/raw; warehouse tables in root/warehouse.duckdb."""
    raw_dir, wh = root / "raw", root / "warehouse.duckdb"
    raw_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        for name, df in raw.items():
            con.register("frame", df)
            cols = ", ".join(
                f'"{c.name}"' if f"{name}.{c.name}" in keep_types or c.name not in df.columns
                else f'cast("{c.name}" as {c.type}) as "{c.name}"'
                for c in TABLES[name].columns if c.name in df.columns)
            con.execute(f"copy (select {cols} from frame) to '{raw_dir / (name + '.parquet')}' (format parquet)")
            con.unregister("frame")
    finally:
        con.close()
    con = duckdb.connect(str(wh))
    try:
        for table, df in warehouse.items():
            schema = table.split(".")[0]
            con.execute(f"create schema if not exists {schema}")
            con.register("frame", df)
            types = _DUCKDB_TYPES.get(table, {})
            cols = ", ".join(f'cast("{c}" as {types[c]}) as "{c}"' if c in types else f'"{c}"' for c in df.columns)
            con.execute(f"create or replace table {table} as select {cols} from frame")
            con.unregister("frame")
    finally:
        con.close()
    return wh, raw_dir
