"""A/A false-decision rates: the current per-metric rule (`decide`) vs the new per-variant rule (`decide_variants`).

Simulated two-arm A/A experiments with daily looks (14 or 28) at baselines 1 %, 10 % and 30 %. Each experiment
gets the same users every day, so that both arms reach the fixed-horizon planned size (MDE 10 % relative,
alpha 0.05, power 0.8, declared before the data) at the last look. Conversions are Binomial draws per day,
cumulated. The same simulated experiments go through every rule (paired):

* current: `retail_lift.experiments.decide` on the fixed-horizon two-proportion test at each daily look, the
  first verdict other than "keep running" is the decision (the rule of `analyze_experiments`: a significant
  harmful p-value before the planned size stops with "do not ship"; at the planned size a significant win
  ships and anything else is "do not ship");
* new fixed / new sequential: `retail_lift.experiments.verdicts.decide_variants` at the last look (the end of
  the experiment, windows closed), primary metric conversion, no guardrails, `analysis_mode` fixed or
  sequential.

Under A/A the truth is "no effect": "ship" is a false ship. A false "do not ship" is a claim of harm; for the
current rule we report both its harm stops and all of its "do not ship" (which also covers "no significant
effect at the planned size", the new rule's "inconclusive"). Each rate comes with its Monte Carlo standard error.

    .venv/bin/python bench/experiment_decisions_aa.py --n 2000 --seed 0
"""
from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import numpy as np

from retail_lift.experiments import decide, sample_size_proportions, two_proportion_test
from retail_lift.experiments.registry import ExperimentSpec, MetricSpec
from retail_lift.experiments.verdicts import ArmLooks, ExperimentLooks, decide_variants
from retail_lift.montecarlo import mc_standard_error, write_json

ALPHA, POWER, MDE = 0.05, 0.8, 0.10
START = dt.date(2026, 1, 1)


def current_rule(ca, cb, users, planned) -> str:
    for k in range(len(users)):
        r = two_proportion_test(int(ca[k]), int(users[k]), int(cb[k]), int(users[k]), alpha=ALPHA)
        d = decide(r, planned_users_per_arm=planned, alpha=ALPHA, srm=False)
        if d.verdict != "keep running":
            return "do not ship (harm)" if d.verdict == "do not ship" and d.direction == "harmful" else d.verdict
    return "keep running"


def new_rule(ca, cb, users, mode: str, looks: int, baseline: float) -> str:
    spec = ExperimentSpec("aa", MetricSpec("conversion_rate", "primary", "proportion"), (), mde_relative=MDE,
                          alpha=ALPHA, power=POWER, analysis_mode=mode, max_duration_days=looks,
                          baseline=baseline)
    dates = tuple(START + dt.timedelta(days=i + 1) for i in range(looks))
    u = users.astype(float)
    data = ExperimentLooks("aa", "control", "control:1,treatment:1", dates,
                           {("control", "conversion_rate"): ArmLooks(u, ca.astype(float), ca.astype(float)),
                            ("treatment", "conversion_rate"): ArmLooks(u, cb.astype(float), cb.astype(float))},
                           {}, START, START + dt.timedelta(days=looks - 1), 1)
    (d,) = decide_variants(data, spec)
    return d.decision


def cell(baseline: float, looks: int, n: int, rng) -> dict:
    planned = sample_size_proportions(baseline, MDE, alpha=ALPHA, power=POWER)
    per_day = -(-planned // looks)
    users = per_day * np.arange(1, looks + 1)
    counts = {"current": {}, "new_fixed": {}, "new_sequential": {}}
    for _ in range(n):
        ca = np.cumsum(rng.binomial(per_day, baseline, looks))
        cb = np.cumsum(rng.binomial(per_day, baseline, looks))
        for name, v in (("current", current_rule(ca, cb, users, planned)),
                        ("new_fixed", new_rule(ca, cb, users, "fixed", looks, baseline)),
                        ("new_sequential", new_rule(ca, cb, users, "sequential", looks, baseline))):
            counts[name][v] = counts[name].get(v, 0) + 1
    out = {"baseline": baseline, "looks": looks, "n_experiments": n, "planned_users_per_arm": planned,
           "users_per_arm_per_day": int(per_day), "rules": {}}
    for name, c in counts.items():
        dns_harm = c.get("do not ship (harm)", 0) + (c.get("do not ship", 0) if name != "current" else 0)
        dns_all = dns_harm + (c.get("do not ship", 0) if name == "current" else 0)
        r = {"false_ship": c.get("ship", 0) / n, "false_do_not_ship": dns_harm / n,
             "do_not_ship_any": dns_all / n, "counts": dict(sorted(c.items()))}
        r["false_ship_se"] = mc_standard_error(r["false_ship"], n)
        r["false_do_not_ship_se"] = mc_standard_error(r["false_do_not_ship"], n)
        out["rules"][name] = r
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bench/results/experiment_decisions_aa")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    t0 = time.perf_counter()
    cells = [cell(b, k, a.n, rng) for k in (14, 28) for b in (0.01, 0.10, 0.30)]
    res = {"config": {"n_per_cell": a.n, "seed": a.seed, "alpha": ALPHA, "power": POWER, "mde_relative": MDE,
                      "nominal_one_sided": ALPHA / 2}, "cells": cells, "runtime_seconds": time.perf_counter() - t0}
    write_json(res, a.out + ".json")
    lines = ["# A/A false decisions: current rule vs the new per-variant rule", "",
             f"{a.n:,} simulated A/A experiments per cell (seed {a.seed}), alpha {ALPHA}, planned size from "
             f"MDE {MDE:.0%} relative and power {POWER} (reached at the last look). Rates ± Monte Carlo s.e. "
             f"Nominal: false ship and false \"do not ship\" each at most alpha/2 = {ALPHA / 2} (one side of a "
             f"two-sided test). Runtime {res['runtime_seconds']:.0f} s.", "",
             "| looks | baseline | planned/arm | rule | false ship | false do not ship (harm) | any do not ship |",
             "|---|---|---|---|---|---|---|"]
    for c in cells:
        for name, r in c["rules"].items():
            lines.append(f"| {c['looks']} | {c['baseline']:.0%} | {c['planned_users_per_arm']:,} | {name} | "
                         f"{r['false_ship']:.4f} ± {r['false_ship_se']:.4f} | "
                         f"{r['false_do_not_ship']:.4f} ± {r['false_do_not_ship_se']:.4f} | "
                         f"{r['do_not_ship_any']:.4f} |")
    lines += ["", "Current rule's \"any do not ship\" includes \"no significant effect at the planned size\" (the new "
              "rule calls that inconclusive).", ""]
    Path(a.out + ".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
