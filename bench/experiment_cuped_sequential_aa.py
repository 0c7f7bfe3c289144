"""The always-valid decision with CUPED and with a ratio primary metric, on simulated user-level experiments.

Each experiment: two arms, 300 users a day each for 28 days, every window closed at the next daily look.
Per user (heterogeneous, correlated before and after assignment): orders d ~ Poisson(lam), lam ~ Gamma;
revenue y = d x a user's typical order value (log-normal) x noise; the pre-period revenue x and orders e the
same way (4x the rate). The daily cumulative interface-B sums go through ExperimentLooks.from_frame and
decide_variants (sequential mode, MDE 10 %, no guardrail), with and without the covariate columns (CUPED, theta
re-estimated at each look), for revenue_per_user (mean) and average_order_value (ratio, delta method), under
A/A and under a 10 % lift of the treated revenue. Prints the decision counts per configuration.

    python bench/experiment_cuped_sequential_aa.py [experiments per configuration, default 1000]
"""

from __future__ import annotations

import datetime as dt
import sys
import time

import numpy as np
import pandas as pd

from retail_lift.experiments.ratio import ALL_SUMS
from retail_lift.experiments.registry import ExperimentSpec, MetricSpec
from retail_lift.experiments.verdicts import ExperimentLooks, decide_variants

START = dt.date(2026, 1, 1)


def one_experiment(rng, spec, metric, mtype, cuped, lift, days=28, per_day=300) -> str:
    rows = []
    for v in ("control", "b"):
        n = per_day * days
        lam = rng.gamma(0.7, 0.3 / 0.7, n)
        val = rng.lognormal(3.3, 0.6, n)
        d = rng.poisson(lam).astype(float)
        e = rng.poisson(lam * 4).astype(float)
        y = d * val * rng.lognormal(0, 0.3, n) * (1 + (lift if v == "b" else 0))
        x = e * val * rng.lognormal(0, 0.3, n)
        if mtype == "mean":
            d, e = np.ones(n), np.ones(n)
        cols = np.column_stack([np.ones(n), y, y * y, d, d * d, y * d, x, x * x, x * y, e, e * e, x * e, y * e,
                                d * e, d * x])
        cum = np.cumsum(cols.reshape(days, per_day, -1).sum(axis=1), axis=0)
        for k in range(days):
            rows.append({**dict(zip(ALL_SUMS, cum[k], strict=True)), "look_date": START + dt.timedelta(days=k + 1),
                         "variant": v, "metric_name": metric, "metric_type": mtype, "open_window_users": 0})
    f = pd.DataFrame(rows)
    if not cuped:
        f = f.drop(columns=["sum_x", "sumsq_x", "sum_xy"])
    data = ExperimentLooks.from_frame(f, experiment_id="e", control_variant="control", planned_split="control:1,b:1",
                                      started_at=START, ended_at=START + dt.timedelta(days=days - 1),
                                      attribution_days=0)
    (dec,) = decide_variants(data, spec)
    return dec.decision


def main(n: int) -> None:
    for mtype, metric in (("mean", "revenue_per_user"), ("ratio", "average_order_value")):
        spec = ExperimentSpec("e", MetricSpec(metric, "primary", mtype), (), mde_relative=0.1, max_duration_days=28)
        for cuped in (False, True):
            for lift in (0.0, 0.1):
                t = time.time()
                rng = np.random.default_rng(1 if lift else 0)
                out: dict[str, int] = {}
                for _ in range(n):
                    d = one_experiment(rng, spec, metric, mtype, cuped, lift)
                    out[d] = out.get(d, 0) + 1
                print(mtype, "cuped" if cuped else "plain", "lift", lift, out, f"{time.time() - t:.0f}s", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
