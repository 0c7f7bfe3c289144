"""The model registry's retraining defaults against real and simulated orders: how much does a champion lose
as it ages, and does the drift rule (a feature's PSI above 0.2) fire when it should?

The registry (docs/operations.md, Model registry) retrains a model when its champion is older than
`max_model_age_days` (default 30) or when a feature's population stability index between the champion's
training rows and the rows scored now crosses 0.2. This script measures both rules on

* **CDNOW master** (real: 69,659 purchases of 23,570 customers of the online music shop CDNOW, 1997-1998,
  `lifetimes/datasets/CDNOW_master.txt` of the `Lifetimes` 0.11.3 wheel, fetched with pip download), and
* **a simulated world** (`--world`: a `retail-lift generate` folder; its raw orders),

with two of the project's model families, refitted at every monthly snapshot `c0` and then kept as champion:

* **purchase classifier**: a logistic regression (the classifiers' `logistic` kind: standardised, log1p of
  counts and money) on RFM features (repeat purchases, days since the last, days since the first, mean order
  value, orders in the last 90 days); label: an order in the next 30 days. The champion is trained at `c0` on
  the snapshot 30 days earlier (its labels are known at `c0`); at `c0 + age` it scores the customers then and
  is compared (ROC AUC, mean predicted / actual rate) with a model refitted at `c0 + age` the same way;
* **CLV purchase model**: BG/NBD (`retail_lift.clv.fit_bgnbd`, days) fitted at `c0`; at `c0 + age` its
  expected purchases in the next 90 days against those of a refit at `c0 + age` and the actual purchases
  (total predicted / actual, mean absolute error per customer).

For each age it also records each feature's PSI (`retail_lift.predict.drift.population_stability_index`)
between the champion's training rows and the rows at `c0 + age`, and how often one is above 0.2.

    python bench/registry_age_drift.py [--world /tmp/world] [--cache /tmp/byod] \
        [--out bench/results/registry_age_drift.md]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from byod_real_data import fetch  # noqa: E402 - the wheel fetcher of the real-data benchmark

from retail_lift.clv import expected_purchases, fit_bgnbd  # noqa: E402
from retail_lift.predict.drift import population_stability_index  # noqa: E402

AGES = (0, 7, 14, 30, 60, 90, 120, 180)
LABEL_DAYS = 30
CLV_HORIZON = 90
PSI_THRESHOLD = 0.2
FEATURES = ["frequency", "recency_days", "tenure_days", "monetary", "orders_90d"]
#: the CLV model's inputs (frequency, recency, T, monetary_value of the warehouse's fct_customer_ltv_inputs)
CLV_COLUMNS = ["frequency", "bg_recency", "tenure_days", "monetary"]
#: time-invariant alternatives: repeat purchases per day of tenure, and the age-free monetary value
CLV_RATE_COLUMNS = ["repeat_rate", "monetary"]


def cdnow(cache: Path) -> pd.DataFrame:
    path = fetch("Lifetimes==0.11.3", "lifetimes/datasets/CDNOW_master.txt", cache)
    df = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
    return pd.DataFrame({"customer_id": df["customer_id"], "day": pd.to_datetime(df["date"], format="%Y%m%d"),
                         "amount": df["dollar_value"].astype(float)})


def simulated(world: Path) -> pd.DataFrame:
    src = str(world / "raw" / "orders.parquet").replace("'", "''")
    df = duckdb.sql(f"select customer_id, cast(ordered_at as date) as day, amount from read_parquet('{src}') "
                    "where customer_id is not null and ordered_at is not null and amount is not null").df()
    df["day"] = pd.to_datetime(df["day"])
    return df


def daily(orders: pd.DataFrame) -> pd.DataFrame:
    """One transaction per customer and day (as lifetimes and the warehouse's CLV inputs count them)."""
    return orders.groupby(["customer_id", "day"], as_index=False)["amount"].sum()


def snapshot(tx: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """RFM features of every customer with a transaction on or before ``at``."""
    past = tx[tx["day"] <= at]
    g = past.groupby("customer_id")
    first, last = g["day"].min(), g["day"].max()
    f = pd.DataFrame({
        "frequency": g.size() - 1,
        "recency_days": (at - last).dt.days,
        "tenure_days": (at - first).dt.days,
        "monetary": g["amount"].mean(),
        "orders_90d": past[past["day"] > at - pd.Timedelta(days=90)].groupby("customer_id").size(),
        "bg_recency": (last - first).dt.days,
    })
    f["repeat_rate"] = f["frequency"] / f["tenure_days"].where(f["tenure_days"] > 0)
    f["orders_90d"] = f["orders_90d"].fillna(0)
    return f


def label(tx: pd.DataFrame, at: pd.Timestamp, days: int) -> pd.Series:
    """Transactions per customer in (at, at + days]."""
    window = tx[(tx["day"] > at) & (tx["day"] <= at + pd.Timedelta(days=days))]
    return window.groupby("customer_id").size()


def _x(f: pd.DataFrame) -> np.ndarray:
    return np.log1p(f[FEATURES].to_numpy(dtype=float))


def train_classifier(tx: pd.DataFrame, at: pd.Timestamp):
    """Trained at ``at``: features of the snapshot LABEL_DAYS earlier, labels in the window ending at ``at``."""
    f = snapshot(tx, at - pd.Timedelta(days=LABEL_DAYS))
    y = label(tx, at - pd.Timedelta(days=LABEL_DAYS), LABEL_DAYS).reindex(f.index, fill_value=0) > 0
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(_x(f), y.to_numpy())
    return model, f


def psi_row(reference: pd.DataFrame, now: pd.DataFrame, columns: list[str]) -> dict[str, float]:
    return {c: population_stability_index(reference[c], now[c]) for c in columns}


def measure(tx: pd.DataFrame, name: str, history_days: int = 90, clv_horizon: int = CLV_HORIZON) -> dict:
    start, end = tx["day"].min(), tx["day"].max()
    # champions from history_days of history on; the largest age must still have its label / CLV window
    first_c0 = start + pd.Timedelta(days=history_days + LABEL_DAYS)
    c0s = list(pd.date_range(first_c0, end - pd.Timedelta(days=max(clv_horizon, LABEL_DAYS)), freq="30D"))
    rows = []
    for c0 in c0s:
        champion, champion_rows = train_classifier(tx, c0)
        s0 = snapshot(tx, c0)
        bg0 = fit_bgnbd(s0["frequency"], s0["bg_recency"], s0["tenure_days"])
        for age in AGES:
            at = c0 + pd.Timedelta(days=age)
            if at + pd.Timedelta(days=max(clv_horizon, LABEL_DAYS)) > end:
                break
            now = snapshot(tx, at)
            y = label(tx, at, LABEL_DAYS).reindex(now.index, fill_value=0) > 0
            refit, _ = train_classifier(tx, at)
            p_champion = champion.predict_proba(_x(now))[:, 1]
            p_refit = refit.predict_proba(_x(now))[:, 1]
            actual = label(tx, at, clv_horizon).reindex(now.index, fill_value=0).to_numpy(dtype=float)
            bg = fit_bgnbd(now["frequency"], now["bg_recency"], now["tenure_days"])
            e_champion = expected_purchases(bg0, clv_horizon, now["frequency"], now["bg_recency"], now["tenure_days"])
            e_refit = expected_purchases(bg, clv_horizon, now["frequency"], now["bg_recency"], now["tenure_days"])
            psi = psi_row(champion_rows, now, FEATURES)
            clv_psi = psi_row(s0, now, CLV_COLUMNS)
            rate_psi = psi_row(s0, now, CLV_RATE_COLUMNS)
            rows.append({
                "data": name, "c0": str(c0.date()), "age_days": age, "customers": len(now),
                "positive_rate": float(y.mean()),
                "auc_champion": float(roc_auc_score(y, p_champion)), "auc_refit": float(roc_auc_score(y, p_refit)),
                "calibration_champion": float(p_champion.mean() / y.mean()),
                "calibration_refit": float(p_refit.mean() / y.mean()),
                "clv_total_ratio_champion": float(e_champion.sum() / actual.sum()),
                "clv_total_ratio_refit": float(e_refit.sum() / actual.sum()),
                "clv_mae_champion": float(np.abs(e_champion - actual).mean()),
                "clv_mae_refit": float(np.abs(e_refit - actual).mean()),
                **{f"psi_{k}": v for k, v in psi.items()},
                "psi_max": max(psi.values()), "psi_max_feature": max(psi, key=psi.get),
                **{f"clv_psi_{k}": v for k, v in clv_psi.items()},
                "clv_psi_max": max(clv_psi.values()), "clv_psi_max_feature": max(clv_psi, key=clv_psi.get),
                **{f"rate_psi_{k}": v for k, v in rate_psi.items()}, "rate_psi_max": max(rate_psi.values()),
            })
    return {"data": name, "first_day": str(start.date()), "last_day": str(end.date()),
            "customers": int(tx["customer_id"].nunique()), "transactions": len(tx), "champions": len(c0s),
            "history_days": history_days, "clv_horizon_days": clv_horizon, "rows": rows}


def summary(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["auc_loss"] = df["auc_refit"] - df["auc_champion"]
    df["drift_fires"] = df["psi_max"] > PSI_THRESHOLD
    df["clv_drift_fires"] = df["clv_psi_max"] > PSI_THRESHOLD
    df["rate_drift_fires"] = df["rate_psi_max"] > PSI_THRESHOLD
    return df.groupby(["data", "age_days"]).agg(
        champions=("c0", "size"), auc_champion=("auc_champion", "mean"), auc_refit=("auc_refit", "mean"),
        auc_loss=("auc_loss", "mean"), auc_loss_max=("auc_loss", "max"),
        calibration_champion=("calibration_champion", "mean"), calibration_refit=("calibration_refit", "mean"),
        clv_ratio_champion=("clv_total_ratio_champion", "mean"), clv_ratio_refit=("clv_total_ratio_refit", "mean"),
        clv_mae_champion=("clv_mae_champion", "mean"), clv_mae_refit=("clv_mae_refit", "mean"),
        psi_max=("psi_max", "mean"), drift_fires_share=("drift_fires", "mean"),
        clv_psi_max=("clv_psi_max", "mean"), clv_drift_fires_share=("clv_drift_fires", "mean"),
        clv_psi_feature=("clv_psi_max_feature", lambda s: s.mode().iloc[0]),
        rate_psi_max=("rate_psi_max", "mean"), rate_drift_fires_share=("rate_drift_fires", "mean"),
    ).reset_index()


def markdown(results: list[dict], table: pd.DataFrame, seconds: float) -> str:
    L = ["# The registry's retraining defaults on real and simulated orders", "",
         f"`python bench/registry_age_drift.py` ({seconds:.0f} s). What it measures: the module docstring of "
         "`bench/registry_age_drift.py`. Per age of the champion, means over the monthly champions (`c0`): "
         "ROC AUC of the 30-day purchase classifier kept since `c0` vs refitted now, its mean predicted / actual "
         "rate, the BG/NBD expected purchases in 90 days (total / actual, mean absolute error per customer), and the "
         "largest feature PSI against the champion's training rows with the share of champions for which it is "
         f"above {PSI_THRESHOLD} (classifier: its training snapshot, {LABEL_DAYS} days before `c0`; CLV: the "
         "snapshot at `c0` it was fitted on, with the feature most often largest; last two columns: the CLV's "
         "time-invariant inputs, repeat purchases per day of tenure and mean order value).", ""]
    for r in results:
        L.append(f"- **{r['data']}**: {r['first_day']} to {r['last_day']}, {r['customers']:,} customers, "
                 f"{r['transactions']:,} customer-days with an order, {r['champions']} monthly champions "
                 f"({r['history_days']} days of history before the first; CLV horizon {r['clv_horizon_days']} days).")
    L += ["", "| data | age (days) | champions | AUC kept | AUC refit | AUC lost (mean / max) | calib. kept | "
          "calib. refit | CLV total kept | CLV total refit | CLV MAE kept | CLV MAE refit | max PSI | PSI > 0.2 | "
          "CLV max PSI (feature) | CLV PSI > 0.2 | rate, monetary max PSI | > 0.2 |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for _, t in table.iterrows():
        L.append(f"| {t['data']} | {t['age_days']} | {t['champions']} | {t['auc_champion']:.4f} | "
                 f"{t['auc_refit']:.4f} | {t['auc_loss']:+.4f} / {t['auc_loss_max']:+.4f} | "
                 f"{t['calibration_champion']:.3f} | {t['calibration_refit']:.3f} | {t['clv_ratio_champion']:.3f} | "
                 f"{t['clv_ratio_refit']:.3f} | {t['clv_mae_champion']:.3f} | {t['clv_mae_refit']:.3f} | "
                 f"{t['psi_max']:.3f} | {t['drift_fires_share']:.0%} | {t['clv_psi_max']:.3f} "
                 f"({t['clv_psi_feature']}) | {t['clv_drift_fires_share']:.0%} | {t['rate_psi_max']:.3f} | "
                 f"{t['rate_drift_fires_share']:.0%} |")
    return "\n".join(L) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--world", type=Path, help="a generated world folder (raw/orders.parquet)")
    p.add_argument("--cache", type=Path, default=Path("/tmp/byod"))
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "registry_age_drift.md")
    args = p.parse_args(argv)
    started = time.perf_counter()
    results = [measure(daily(cdnow(args.cache)), "CDNOW (real)")]
    if args.world:
        # the simulated worlds span about six months: 60 days of history, a 30-day CLV horizon
        meta = args.world / "world.json"
        preset = json.loads(meta.read_text()).get("preset") if meta.exists() else args.world.name
        preset = preset.get("name", "?") if isinstance(preset, dict) else preset
        results.append(measure(daily(simulated(args.world)), f"simulated ({preset})", history_days=60,
                               clv_horizon=LABEL_DAYS))
    table = summary([r for res in results for r in res["rows"]])
    seconds = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(markdown(results, table, seconds))
    args.out.with_suffix(".json").write_text(json.dumps({"results": results, "seconds": round(seconds, 1)},
                                                        indent=2, default=str))
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
