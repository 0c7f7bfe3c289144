"""Why the plan's holdout interval under-covers on small worlds: its coverage against the holdout's size.

``ml_eval_promotion_plan_vs_truth`` checks that the 90 % interval of ``ml_plan_vs_holdout`` (the experiment
engine's Welch interval, times the treated customers) covers the plan's true incremental margin in 90 ± 3 % of
re-drawn holdouts (:func:`retail_lift.evaluation.plan.holdout_coverage`). The outcome of a customer is an order or
none (a few per cent order), worth tens: a held-out group of a few customers often has no order at all, its
sample variance is then 0 and Welch's interval too narrow. This script measures the coverage of the same
function on synthetic plans of one promotion whose true probabilities and order values are known, for holdouts
of increasing size (the planned customers times the holdout share), with 400 re-drawn holdouts each.

    .venv/bin/python bench/plan_holdout_coverage.py [--draws 400] [--out bench/results/plan_holdout_coverage.md]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from retail_lift.evaluation.plan import holdout_coverage

MARGIN, DISCOUNT, CONTACT = 0.34, 0.10, 0.05


def synthetic_plan(n: int, seed: int = 0) -> pd.DataFrame:
    """n planned customers of one promotion: control probability 2-20 %, true uplift around 3 points, order values
    lognormal around 40 (the order of the simulated world's), the plan's economics with the truth."""
    rng = np.random.default_rng(seed)
    p0 = rng.uniform(0.02, 0.2, n)
    p1 = np.clip(p0 + rng.normal(0.03, 0.03, n), 0, 1)
    v = rng.lognormal(np.log(40), 0.5, n)
    value = (p1 - p0) * v * MARGIN - (CONTACT + p1 * v * DISCOUNT)
    return pd.DataFrame({"customer_id": [f"c{i:06d}" for i in range(n)], "promotion_id": "promo",
                         "predicted_treated_probability": p1, "predicted_control_probability": p0,
                         "avg_order_value": v, "discount_rate": DISCOUNT, "contact_cost": CONTACT,
                         "margin_rate": MARGIN, "expected_incremental_margin": value})


def load_text(before) -> str:
    """The load average (1/5/15 min) before and now, as the coverage benches write it."""
    return " / ".join(f"{x:.1f}" for x in before) + " before, " + " / ".join(
        f"{x:.1f}" for x in os.getloadavg()) + " after"


def markdown_table(table: pd.DataFrame) -> str:
    """``table`` as a markdown table (header, separator, one line per row)."""
    return ("| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns) + "\n"
            + "".join("| " + " | ".join(str(v) for v in r) + " |\n" for r in table.itertuples(index=False)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=400)
    ap.add_argument("--share", type=float, default=0.1)
    ap.add_argument("--out", type=Path, default=Path("bench/results/plan_holdout_coverage.md"))
    args = ap.parse_args()
    load_before = os.getloadavg()
    rows = []
    for planned in (50, 100, 200, 500, 1000, 3000, 10000):
        t = time.perf_counter()
        plan = synthetic_plan(planned)
        cov = holdout_coverage(plan, plan, holdout_share=args.share, alpha=0.1, draws=args.draws, random_state=0)
        by = cov["by_promotion"].iloc[0]
        rows.append({"planned": planned, "held_out": round(float(by["mean_holdout"]), 1),
                     "intervals": cov["intervals"], "coverage": round(cov["coverage"], 3),
                     "coverage_se": round(cov["coverage_se"], 3),
                     "mean_error_over_width": round(float(by["mean_error"] / by["mean_width"]), 3),
                     "seconds": round(time.perf_counter() - t, 1)})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    load = load_text(load_before)
    args.out.write_text(f"# Coverage of the plan's 90 % holdout interval by holdout size (holdout share "
                        f"{args.share}, {args.draws} re-drawn holdouts and outcomes each)\n\n"
                        f"Load average (1/5/15 min): {load}; the seconds are inflated by it.\n\n"
                        + markdown_table(table))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
