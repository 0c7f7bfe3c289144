"""Experiment-metric defaults measured on real data: the winsorisation percentile and the CUPED pre-period.

Data: the CDNOW master orders log (69,659 orders of 23,570 customers, 1997-01-01 to 1998-06-30) from the
`Lifetimes` 0.11.3 wheel (fetched like bench/byod_real_data.py: `pip download --no-deps` into the cache).
All customers made their first purchase in Q1 1997, so from April 1997 on every one of them is an existing
customer who can be "assigned".

Method (repeated random A/A splits of real customers, the outcome is what they really bought):
* assignment dates T in ASSIGNMENT_DATES; population = all 23,570 customers; each split assigns every customer
  to control or treatment with probability 1/2 (SPLITS splits per date, numpy seed fixed);
* outcome window [T, T + 14 days): revenue y (sum of order amounts), orders d, converted = orders > 0;
* pre-period [max(1997-01-01, T - P), T) for P in PRE_PERIODS: pre_revenue x, pre_orders e (the interface's
  "chosen from the data, up to a year": at T = 1997-07-01 only 181 days exist, so P = 365 is truncated);
* winsorisation: y is capped at a p-quantile of PRE-PERIOD data (never the outcome), for p in PERCENTILES,
  under three rules: the customers' revenue in the 14 days before T (the window's length) over ALL customers
  (zeros included, "all") or over those with a non-zero value ("buyers"), or the non-zero revenue over the
  whole (up to 365-day) pre-period ("buyers365");
* metrics and tests, computed with the package's own code (retail_lift.experiments.ratio / welch_from_moments):
  revenue_per_user (Welch on per-user revenue), average_order_value (ratio of sums, delta method) and
  conversion_rate, each with and without CUPED (covariate pre_revenue, pre_revenue/pre_orders, pre_orders);
* A/A: false-positive rate at alpha = 0.05 (two-sided) and the CI half-width relative to the metric's mean;
* power: the same splits with a known effect injected into the treated arm: every treated order's revenue
  multiplied by 1 + LIFT (before capping); power = share of splits significant in the right direction;
  the effect the capped metric really carries is reported as the realised relative lift.

    python bench/experiment_metrics_real.py [--cache /tmp/byod] [--splits 2000] [--out bench/results/...]

Prints and writes bench/results/experiment_metrics_real.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from byod_real_data import fetch  # noqa: E402

from retail_lift.experiments.frequentist import welch_from_moments  # noqa: E402
from retail_lift.experiments.ratio import ALL_SUMS, arm_moments, cuped_delta  # noqa: E402

ASSIGNMENT_DATES = ("1997-07-01", "1997-10-01", "1998-01-01", "1998-03-01", "1998-06-01")
WINDOW_DAYS = 14
PRE_PERIODS = (28, 90, 180, 365)
PERCENTILES = (0.95, 0.99, 0.999, None)
RULES = ("all", "buyers", "buyers365")
LIFT = 0.20
ALPHA = 0.05
DATA_START = pd.Timestamp("1997-01-01")


def load(cache: Path) -> pd.DataFrame:
    src = fetch("lifetimes==0.11.3", "lifetimes/datasets/CDNOW_master.txt", cache)
    raw = pd.read_csv(src, sep=r"\s+", skiprows=1, header=None, names=["customer_id", "date", "cds", "amount"],
                      dtype={"customer_id": str, "date": str})
    raw["date"] = pd.to_datetime(raw.date, format="%Y%m%d")
    raw["cust"] = raw.customer_id.astype("category").cat.codes
    return raw


def per_customer(orders: pd.DataFrame, n: int, lo: pd.Timestamp, hi: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    """Revenue and orders per customer in [lo, hi)."""
    w = orders[(orders.date >= lo) & (orders.date < hi)]
    rev = np.bincount(w.cust, weights=w.amount, minlength=n)
    cnt = np.bincount(w.cust, minlength=n).astype(float)
    return rev, cnt


def columns(y, d, x, e) -> np.ndarray:
    """Per-customer products whose sums are the interface-B statistics (order of ratio.ALL_SUMS)."""
    one = np.ones_like(y)
    return np.column_stack([one, y, y * y, d, d * d, y * d, x, x * x, x * y, e, e * e, x * e, y * e, d * e, d * x])


class Splits:
    """Random 50/50 assignments (one row per split) and the per-arm sums they give."""

    def __init__(self, n: int, splits: int, rng: np.random.Generator):
        self.a = (rng.random((splits, n)) < 0.5).astype(np.float32)

    def arms(self, cols_c: np.ndarray, cols_t: np.ndarray) -> tuple[dict, dict]:
        t = self.a @ cols_t.astype(np.float64)
        c = (1.0 - self.a) @ cols_c.astype(np.float64)
        return dict(zip(ALL_SUMS, c.T, strict=True)), dict(zip(ALL_SUMS, t.T, strict=True))


def test(sc: dict, st: dict, ratio: bool, use_cuped: bool) -> dict:
    """Per split: effect, se, p and the CUPED variance reduction (package code)."""
    mc, mt = arm_moments(**sc, ratio=ratio), arm_moments(**st, ratio=ratio)
    vr = np.full(mc.n.shape, np.nan)
    if use_cuped:
        cu = cuped_delta(mc, mt)
        est_c, est_t, var_c, var_t, vr = cu.adj_c, cu.adj_t, cu.adj_var_c, cu.adj_var_t, cu.variance_reduction
    else:
        est_c, est_t, var_c, var_t = mc.est, mt.est, mc.var, mt.var
    w = welch_from_moments(mc.n, est_c, var_c, mt.n, est_t, var_t, ALPHA, False)
    return {"effect": np.asarray(w.abs_effect), "se": np.asarray(w.abs_se), "p": np.asarray(w.p_value),
            "mean_c": np.asarray(mc.est), "vr": np.asarray(vr)}


def summarise(aa: dict, lift: dict | None) -> dict:
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a cap of 0 leaves no variance: nan, reported as such
        return _summarise(aa, lift)


def _summarise(aa: dict, lift: dict | None) -> dict:
    ok = np.isfinite(aa["p"])
    n = int(ok.sum())
    fpr = float(np.mean(aa["p"][ok] < ALPHA))
    out = {"splits": n, "false_positive_rate": round(fpr, 4),
           "fpr_mc_se": round(float(np.sqrt(fpr * (1 - fpr) / max(n, 1))), 4),
           "ci_half_width_rel": round(float(np.nanmean(1.96 * aa["se"] / np.abs(aa["mean_c"]))), 4),
           "metric_mean": round(float(np.nanmean(aa["mean_c"])), 4)}
    if np.isfinite(aa["vr"]).any():
        out["cuped_variance_reduction"] = round(float(np.nanmean(aa["vr"])), 4)
    if lift is not None:
        okl = np.isfinite(lift["p"])
        out["power"] = round(float(np.mean((lift["p"][okl] < ALPHA) & (lift["effect"][okl] > 0))), 4)
        out["realised_rel_lift"] = round(float(np.nanmean(lift["effect"] / lift["mean_c"])), 4)
    return out


def cdnow_population(orders: pd.DataFrame, n: int, day: str) -> dict:
    """Every CDNOW customer assigned at midnight of ``day``: per-customer measures."""
    t0 = pd.Timestamp(day)
    y, d = per_customer(orders, n, t0, t0 + pd.Timedelta(days=WINDOW_DAYS))
    cap_src, _ = per_customer(orders, n, max(DATA_START, t0 - pd.Timedelta(days=WINDOW_DAYS)), t0)
    pre = {p: per_customer(orders, n, max(DATA_START, t0 - pd.Timedelta(days=p)), t0) for p in PRE_PERIODS}
    avail = {p: int((t0 - max(DATA_START, t0 - pd.Timedelta(days=p))).days) for p in PRE_PERIODS}
    return {"assigned_at": day, "y": y, "d": d, "cap_src": cap_src, "pre": pre, "available": avail}


def sim_population(raw: Path, experiment_id: str) -> dict:
    """The real exposures of one experiment of a simulated world (raw/ folder): per exposure, orders in
    (assigned_at, assigned_at + attribution] and in the pre-periods [assigned_at - P, assigned_at)."""
    ex = pd.read_parquet(raw / "experiment_assignments.parquet")
    ex = ex[ex.experiment_id == experiment_id].reset_index(drop=True)
    orders = pd.read_parquet(raw / "orders.parquet", columns=["customer_id", "ordered_at", "amount"])
    start = orders.ordered_at.min().normalize()
    ex["i"] = np.arange(len(ex))
    j = ex[["i", "customer_id", "assigned_at"]].merge(orders, on="customer_id")
    lag = (j.ordered_at - j.assigned_at) / pd.Timedelta(days=1)
    n = len(ex)

    def agg(mask):
        w = j[mask]
        return np.bincount(w.i, weights=w.amount, minlength=n), np.bincount(w.i, minlength=n).astype(float)

    y, d = agg((lag > 0) & (lag <= WINDOW_DAYS))
    cap_src, _ = agg((lag <= 0) & (lag > -WINDOW_DAYS))
    pre = {p: agg((lag <= 0) & (lag > -p)) for p in PRE_PERIODS}
    first = ex.assigned_at.min()
    avail = {p: int(min(p, (first - start) / pd.Timedelta(days=1))) for p in PRE_PERIODS}
    return {"assigned_at": f"{experiment_id} ({first.date()} to {ex.assigned_at.max().date()})", "y": y, "d": d,
            "cap_src": cap_src, "pre": pre, "available": avail}


def run_population(pop: dict, splits: int, seed: int) -> dict:
    y, d, cap_src, pre = pop["y"], pop["d"], pop["cap_src"], pop["pre"]
    n = len(y)
    conv = (d > 0).astype(float)
    rng = np.random.default_rng(seed)
    sp = Splits(n, splits, rng)
    res = {"assigned_at": pop["assigned_at"], "customers": n, "conversion": round(float(conv.mean()), 4),
           "revenue_per_user": round(float(y.mean()), 4), "pre_period_days_available": pop["available"],
           "winsorisation": {}, "cuped": {}}
    zero = np.zeros(n)
    _, e_def = pre[365]
    # winsorisation: revenue_per_user and average_order_value, no covariate (the cap alone)
    for rule in RULES:
        src = {"all": cap_src, "buyers": cap_src[cap_src > 0], "buyers365": pre[365][0][pre[365][0] > 0]}[rule]
        for pct in PERCENTILES:
            if pct is None and rule != "all":
                continue
            cap = float(np.quantile(src, pct)) if pct is not None and src.size else np.inf
            key = "none" if pct is None else f"{rule}:{pct}"
            yc, yt = np.minimum(y, cap), np.minimum(y * (1 + LIFT), cap)
            entry = {"cap": None if not np.isfinite(cap) else round(cap, 2),
                     "share_of_buyers_capped": round(float(np.mean(y[y > 0] > cap)), 4) if (y > 0).any() else 0.0}
            for metric, dd, ratio in (("revenue_per_user", np.ones(n), False), ("average_order_value", d, True)):
                ee = e_def if ratio else np.ones(n)
                aa = test(*sp.arms(columns(yc, dd, zero, ee), columns(yc, dd, zero, ee)), ratio, False)
                li = test(*sp.arms(columns(yc, dd, zero, ee), columns(yt, dd, zero, ee)), ratio, False)
                entry[metric] = summarise(aa, li)
            res["winsorisation"][key] = entry
    # CUPED pre-period: revenue_per_user (capped at the seed's default), AOV (same cap), conversion
    cap = float(np.quantile(cap_src[cap_src > 0], 0.99)) if (cap_src > 0).any() else np.inf
    yc, yt = np.minimum(y, cap), np.minimum(y * (1 + LIFT), cap)
    for p in (None, *PRE_PERIODS):
        x, e = pre[p] if p else (zero, zero)
        entry = {}
        for metric, (vc, vt), dd, xx, ee, ratio in (
                ("revenue_per_user", (yc, yt), np.ones(n), x, np.ones(n), False),
                ("average_order_value", (yc, yt), d, x, e, True),
                ("conversion_rate", (conv, conv), np.ones(n), e, np.ones(n), False)):
            if p is None:
                xx = zero
                ee = np.ones(n) if not ratio else np.ones(n)
            aa = test(*sp.arms(columns(vc, dd, xx, ee), columns(vc, dd, xx, ee)), ratio, p is not None)
            li = test(*sp.arms(columns(vc, dd, xx, ee), columns(vt, dd, xx, ee)), ratio, p is not None)
            entry[metric] = summarise(aa, li if metric != "conversion_rate" else None)
        res["cuped"]["none" if p is None else str(p)] = entry
    return res


def pooled(dates: list[dict], section: str, key: str, metric: str, field: str) -> float:
    vals = [d[section][key][metric].get(field) for d in dates if key in d[section]]
    vals = [v for v in vals if v is not None]
    return round(float(np.mean(vals)), 4) if vals else float("nan")


def report(out: dict) -> str:
    dates = out["dates"]
    lines = [f"# Experiment metric defaults on real data (CDNOW, {out['customers']:,} customers)", "",
             f"`{out.get('command', 'python bench/experiment_metrics_real.py')}` ({out['seconds']} s). "
             f"{out['splits']:,} random 50/50 A/A splits of all customers at each of {len(dates)} assignment dates "
             f"({', '.join(d['assigned_at'] for d in dates)}); outcome = their real orders in the "
             f"{WINDOW_DAYS} days after; power with every treated order's revenue x {1 + LIFT:g}. Means over the "
             f"dates (per-date values in the JSON). Method: the module docstring.", ""]
    lines += tables(dates, out["splits"])
    lines += ["", "## Reading", "", *out.get("reading", [])]
    sim = out.get("simulated")
    if sim:
        lines += ["", f"# The same on the simulated default world ({sim['world']})", "",
                  f"Each experiment's real exposures (assigned_at per customer, {WINDOW_DAYS}-day window after it, "
                  f"pre-periods before it), re-split at random {out['splits']:,} times (the labels are random, so "
                  "this is an A/A test whatever the true effects); the world's data start limits the pre-period "
                  "(days available in brackets).", ""]
        lines += tables(sim["dates"], out["splits"])
        lines += ["", "## Reading (simulated world)", "", *sim.get("reading", [])]
    return "\n".join(lines) + "\n"


def tables(dates: list[dict], splits: int) -> list[str]:
    lines = [f"FPR Monte Carlo s.e. per date about {np.sqrt(0.05 * 0.95 / splits):.3f}, pooled about "
             f"{np.sqrt(0.05 * 0.95 / splits / len(dates)):.3f}.", "",
             "Share converting in 14 days: " + ", ".join(f"{d['assigned_at']} {d['conversion']:.1%}" for d in dates),
             "", "## Winsorisation of revenue (cap = percentile of the 14 days before assignment)", "",
             "| cap rule | cap ($, mean) | buyers capped | RPU FPR | RPU CI ±rel | RPU power | RPU realised lift "
             "| AOV FPR | AOV CI ±rel | AOV power |", "|---|---|---|---|---|---|---|---|---|---|"]
    for key in dates[0]["winsorisation"]:
        caps = [d["winsorisation"][key]["cap"] for d in dates]
        cap_txt = "none" if caps[0] is None else f"{np.mean(caps):.1f}"
        capped = np.mean([d["winsorisation"][key]["share_of_buyers_capped"] for d in dates])
        g = lambda m, f, k=key: pooled(dates, "winsorisation", k, m, f)  # noqa: E731
        lines.append(f"| {key} | {cap_txt} | {capped:.1%} | {g('revenue_per_user', 'false_positive_rate'):.3f} | "
                     f"{g('revenue_per_user', 'ci_half_width_rel'):.3f} | {g('revenue_per_user', 'power'):.3f} | "
                     f"{g('revenue_per_user', 'realised_rel_lift'):+.3f} | "
                     f"{g('average_order_value', 'false_positive_rate'):.3f} | "
                     f"{g('average_order_value', 'ci_half_width_rel'):.3f} | {g('average_order_value', 'power'):.3f} |")
    lines += ["", "## CUPED pre-period (revenue capped at the buyers' 0.99 percentile)", "",
              "| pre-period days | RPU variance reduction | RPU FPR | RPU power | AOV variance reduction | AOV FPR | "
              "AOV power | conversion variance reduction | conversion FPR |", "|---|---|---|---|---|---|---|---|---|"]
    for key in dates[0]["cuped"]:
        g = lambda m, f, k=key: pooled(dates, "cuped", k, m, f)  # noqa: E731
        vr = lambda m, k=key, g=g: "—" if k == "none" else f"{g(m, 'cuped_variance_reduction'):.3f}"  # noqa: E731
        lines.append(f"| {key} | {vr('revenue_per_user')} | {g('revenue_per_user', 'false_positive_rate'):.3f} | "
                     f"{g('revenue_per_user', 'power'):.3f} | {vr('average_order_value')} | "
                     f"{g('average_order_value', 'false_positive_rate'):.3f} | "
                     f"{g('average_order_value', 'power'):.3f} | {vr('conversion_rate')} | "
                     f"{g('conversion_rate', 'false_positive_rate'):.3f} |")
    lines += ["", "Per date, CUPED variance reduction of revenue per user by pre-period "
              "(days available in brackets):", ""]
    for d in dates:
        vr = {p: d["cuped"][str(p)]["revenue_per_user"]["cuped_variance_reduction"] for p in PRE_PERIODS}
        lines.append(f"- {d['assigned_at']}: " + ", ".join(
            f"{p} d [{d['pre_period_days_available'].get(p, d['pre_period_days_available'].get(str(p)))}]: {vr[p]:.3f}"
            for p in PRE_PERIODS))
    return lines


def reading(out: dict) -> list[str]:
    """The conclusions, computed from the numbers (pooled over the dates)."""
    dates = out["dates"]
    if not any("all:0.95" in d["winsorisation"] for d in dates):
        return []
    se = float(np.sqrt(0.05 * 0.95 / out["splits"] / len(dates)))
    rows = []
    for key in dates[0]["winsorisation"]:
        g = lambda m, f, k=key: pooled(dates, "winsorisation", k, m, f)  # noqa: E731
        rows.append((key, g("revenue_per_user", "false_positive_rate"), g("revenue_per_user", "power"),
                     g("average_order_value", "power")))
    valid = [r for r in rows if np.isfinite(r[1]) and r[1] <= ALPHA + 3 * se]
    best = max(valid, key=lambda r: r[2])
    none = next(r for r in rows if r[0] == "none")
    cup = {k: pooled(dates, "cuped", k, "revenue_per_user", "cuped_variance_reduction") for k in map(str, PRE_PERIODS)}
    best_p = max(cup, key=cup.get)
    conv = [d["conversion"] for d in dates]
    caps = {k: float(np.mean([np.inf if d["winsorisation"][k]["cap"] is None else d["winsorisation"][k]["cap"]
                              for d in dates])) for k in dates[0]["winsorisation"]}
    capped = {k: float(np.mean([d["winsorisation"][k]["share_of_buyers_capped"] for d in dates]))
              for k in dates[0]["winsorisation"]}
    lifts = {k: pooled(dates, "winsorisation", k, "revenue_per_user", "realised_rel_lift")
             for k in dates[0]["winsorisation"]}
    power = {r[0]: r[2] for r in rows}
    return [
        f"- Winsorisation: the highest revenue-per-user power with a false-positive rate within 3 Monte Carlo s.e. "
        f"of {ALPHA} is `{best[0]}` (power {best[2]:.3f}, FPR {best[1]:.3f}); no cap: power {none[2]:.3f}, "
        f"FPR {none[1]:.3f}.",
        f"- Cap rule at 0.99, over ALL customers (zeros included) vs over the BUYERS (non-zero pre-period values), "
        f"with {min(conv):.1%}-{max(conv):.1%} converting in 14 days: cap ${caps['all:0.99']:.0f} vs "
        f"${caps['buyers:0.99']:.0f}, buyers capped {capped['all:0.99']:.1%} vs {capped['buyers:0.99']:.1%}, "
        f"realised relative lift {lifts['all:0.99']:+.3f} vs {lifts['buyers:0.99']:+.3f} of the true {LIFT:+.2f} "
        f"(no cap {lifts['none']:+.3f}), power {power['all:0.99']:.3f} vs {power['buyers:0.99']:.3f}. The 'all' rule "
        f"at 0.95 gives a mean cap of ${caps['all:0.95']:.2f} ({capped['all:0.95']:.0%} of buyers capped). The "
        f"percentile of the whole pre-period's revenue (buyers365, 0.99) is a cap of "
        f"${caps['buyers365:0.99']:.0f} on a "
        f"{WINDOW_DAYS}-day outcome ({capped['buyers365:0.99']:.1%} of buyers capped, power "
        f"{power['buyers365:0.99']:.3f}).",
        "- CUPED pre-period: revenue-per-user variance reduction by days "
        + ", ".join(f"{k}: {v:.3f}" for k, v in cup.items())
        + f"; the largest is {best_p} days (ties: the shorter); 28 days gives {cup['28'] / cup[best_p]:.0%} of it.",
    ]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/byod"))
    ap.add_argument("--splits", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "experiment_metrics_real.md")
    ap.add_argument("--report-only", action="store_true", help="re-write the .md from the .json")
    ap.add_argument("--sim-raw", type=Path, default=None,
                    help="raw/ folder of a simulated world (retail-lift generate --preset default): run the same on "
                         "its experiments' exposures")
    args = ap.parse_args(argv)
    if args.report_only:
        out = json.loads(args.out.with_suffix(".json").read_text())
        out["reading"] = reading(out)
        if out.get("simulated"):
            out["simulated"]["reading"] = reading({**out, "dates": out["simulated"]["dates"]})
        args.out.with_suffix(".json").write_text(json.dumps(out, indent=1, default=str))
        args.out.write_text(report(out))
        print(report(out))
        return out
    t = time.perf_counter()
    orders = load(args.cache)
    n = int(orders.cust.max()) + 1
    dates = [run_population(cdnow_population(orders, n, day), args.splits, args.seed + i)
             for i, day in enumerate(ASSIGNMENT_DATES)]
    out = {"data": "CDNOW_master.txt (lifetimes 0.11.3)", "orders": len(orders), "customers": n,
           "splits": args.splits, "window_days": WINDOW_DAYS, "lift": LIFT, "alpha": ALPHA, "dates": dates,
           "command": "python bench/experiment_metrics_real.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "seconds": round(time.perf_counter() - t, 1)}
    out["reading"] = reading(out)
    if args.sim_raw:
        exps = pd.read_parquet(args.sim_raw / "experiments.parquet").experiment_id.tolist()
        sdates = [run_population(sim_population(args.sim_raw, e), args.splits, args.seed + 100 + i)
                  for i, e in enumerate(exps)]
        out["simulated"] = {"world": str(args.sim_raw), "dates": sdates}
        out["simulated"]["reading"] = reading({**out, "dates": sdates})
        out["seconds"] = round(time.perf_counter() - t, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report(out))
    args.out.with_suffix(".json").write_text(json.dumps(out, indent=1, default=str))
    print(report(out))
    return out


if __name__ == "__main__":
    main()
