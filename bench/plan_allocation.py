"""The promotion plan's solver at scale (issue 24 item 1): 1M customers x 4-7 promotions within 60 s, gap <= 0.5 %.

    .venv/bin/python bench/plan_allocation.py --out bench/results/plan_allocation

For every case (customers x promotions x kind of problem) a child process builds the problem, runs
:func:`retail_lift.campaign.allocation.allocate` and then :func:`~retail_lift.campaign.allocation.greedy_allocation`
(the ratio rule it is compared with), checks that both plans hold every constraint (one promotion per customer,
budget, capacities, channel limits, only eligible pairs of positive value) and reports wall and CPU time, the child's
peak RSS (``ru_maxrss``: the inputs, two ``n x p`` float matrices, included), the plan's value, its gap to the
upper bound (a Lagrangian dual of the LP relaxation: no plan does better) and the greedy plan's value. One
case at a time, in the order given; one OpenMP / BLAS thread.

Kinds of problem (seeded, so every run solves the same ones):

* ``random``: value ~ N(1, 1.5) (a third of the pairs lose money and are never chosen), cost ~ U(0.2, 3);
  capacities 5-20 % of the customers per promotion, channel limits on email (25 %) and sms (12.5 %), a
  budget of a quarter of what giving every customer their cheapest promotion would cost;
* ``uplift``: shaped like the plan's inputs: per-customer uplift (a customer effect times a promotion
  effect plus noise, some negative), margin lognormal, discount rates 5-30 %, expected discount cost =
  purchase probability x rate x spend, contact cost by channel (email 0.05, sms 0.40, push 0.02); value =
  uplift x margin - expected discount, cost = expected discount + contact; 15 % of pairs ineligible
  (fatigue); capacities 5-20 %, channel limits; budget 2 % of the cost of contacting everyone with everything;
* ``grid``: ``random`` with values and costs rounded to 0.5 (many exact ties: a degenerate LP).

The machine is shared: the load average (1 min) before and after each case is recorded; times measured
with a load above the number of cores are upper bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

TARGET_SECONDS = 60.0
TARGET_GAP = 0.005
DEFAULT_CASES = ("100000x5:random", "100000x5:uplift", "1000000x4:random", "1000000x4:uplift",
                 "1000000x7:random", "1000000x7:uplift", "1000000x7:grid")
CHANNELS = ("email", "email", "sms", "push", "sms", "push", "email")


def problem(kind: str, n: int, p: int, seed: int = 0):
    """The value and cost matrices and the constraints of one case (module docstring)."""
    rng = np.random.default_rng(seed)
    channels = list(CHANNELS[:p])
    capacity = np.array([0.15, 0.15, 0.10, 0.20, 0.05, 0.08, 0.12])[:p] * n
    limits = {c: lim for c, lim in (("email", 0.25 * n), ("sms", 0.125 * n)) if c in channels}
    eligible = None
    if kind in ("random", "grid"):
        value = rng.normal(1.0, 1.5, size=(n, p))
        cost = rng.uniform(0.2, 3.0, size=(n, p))
        if kind == "grid":
            value, cost = np.round(value * 2) / 2, np.round(cost * 2) / 2
        budget = 0.25 * float(cost.min(axis=1).sum())
    elif kind == "uplift":
        uplift = np.clip(rng.normal(0.02, 0.04, (n, 1)) * rng.uniform(0.3, 1.5, (1, p))
                         + rng.normal(0, 0.01, (n, p)), -0.1, 0.3)
        margin = rng.lognormal(3.5, 0.6, (n, 1))
        rate = np.array([0.05, 0.10, 0.15, 0.20, 0.10, 0.25, 0.30])[:p]
        contact = np.array([{"email": 0.05, "sms": 0.40, "push": 0.02}[c] for c in channels])
        buys = np.clip(rng.beta(2, 8, (n, 1)) + uplift, 0, 1)
        discount = buys * rate[None, :] * margin * 2
        value = uplift * margin - discount
        cost = discount + contact[None, :]
        eligible = rng.random((n, p)) > 0.15
        budget = 0.02 * float(cost.sum() / p)
    else:
        raise SystemExit(f"unknown kind of problem {kind!r}: random, uplift or grid")
    return value, cost, {"budget": budget, "capacity": capacity, "channels": channels, "channel_limits": limits,
                         "eligible": eligible}


def feasible(plan, value, cost, args) -> bool:
    """Every constraint of the problem holds for ``plan`` and its totals are its pairs' sums."""
    on = np.flatnonzero(plan.choice >= 0)
    j = plan.choice[on]
    eligible = args["eligible"]
    spent = float(cost[on, j].sum())
    channels = np.array(args["channels"])[j]
    return bool((value[on, j] > 0).all() and (eligible is None or eligible[on, j].all())
                and spent <= args["budget"] + 1e-6
                and (np.bincount(j, minlength=value.shape[1]) <= args["capacity"]).all()
                and all((channels == c).sum() <= lim for c, lim in args["channel_limits"].items())
                and np.isclose(plan.value, value[on, j].sum()) and np.isclose(plan.cost, spent))


def run_case(case: str) -> dict:
    """One case in this process (the child): build, solve, check, measure."""
    from retail_lift.campaign.allocation import allocate, greedy_allocation  # noqa: PLC0415 - the child's import

    size, kind = case.split(":")
    n, p = (int(x) for x in size.split("x"))
    t0 = time.perf_counter()
    value, cost, args = problem(kind, n, p)
    built = time.perf_counter() - t0
    rss_inputs = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0, c0 = time.perf_counter(), time.process_time()
    plan = allocate(value, cost, **args)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    rss_plan = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0, c0 = time.perf_counter(), time.process_time()
    greedy = greedy_allocation(value, cost, **args)
    greedy_seconds, greedy_cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    return {"case": case, "customers": n, "promotions": p, "kind": kind,
            "candidate_pairs": int(((value > 0) & (cost <= args["budget"])
                                    & (True if args["eligible"] is None else args["eligible"])).sum()),
            "build_seconds": round(built, 2), "seconds": round(seconds, 2), "cpu_seconds": round(cpu_seconds, 2),
            "method": plan.method,
            "value": plan.value, "upper_bound": plan.upper_bound, "gap": plan.gap, "cost": plan.cost,
            "budget": args["budget"], "planned_customers": int((plan.choice >= 0).sum()),
            "feasible": feasible(plan, value, cost, args),
            "peak_rss_mib_inputs": round(rss_inputs), "peak_rss_mib": round(rss_plan),
            "greedy_seconds": round(greedy_seconds, 2), "greedy_cpu_seconds": round(greedy_cpu_seconds, 2),
            "greedy_value": greedy.value, "greedy_gap": greedy.gap,
            "greedy_feasible": feasible(greedy, value, cost, args),
            "value_vs_greedy": plan.value / greedy.value if greedy.value else None,
            "meets_target": bool(seconds <= TARGET_SECONDS and plan.gap <= TARGET_GAP)}


def _loadavg() -> float:
    return os.getloadavg()[0]


def markdown(report: dict) -> str:
    lines = [f"# Promotion plan solver at scale ({report['started']} UTC)", "",
             f"`python bench/plan_allocation.py` on {report['platform']}, {report['cpus']} CPUs, one thread; "
             f"target: {TARGET_SECONDS:.0f} s and a gap of at most {TARGET_GAP:.1%} at 1M customers x 4-7 "
             "promotions. Time: `allocate` alone (the inputs are built before), wall and the process's CPU time "
             "(one thread: on a loaded machine the wall time waits for the CPU, the CPU time does not); peak RSS: "
             "the case's process, inputs included. Load: 1-minute load average before / after the case (2 cores: "
             "above 2 the wall times are inflated).", "",
             "| customers | promotions | kind | pairs | method | wall (s) | CPU (s) | peak RSS (MiB) | gap | value | "
             "greedy value | vs greedy | greedy wall / CPU (s) | feasible | load before / after | target |",
             "|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|"]
    for r in report["runs"]:
        lines.append(
            f"| {r['customers']:,} | {r['promotions']} | {r['kind']} | {r['candidate_pairs']:,} | {r['method']} | "
            f"{r['seconds']:.1f} | {r['cpu_seconds']:.1f} | {r['peak_rss_mib']:,} | {r['gap']:.1e} | "
            f"{r['value']:,.0f} | {r['greedy_value']:,.0f} | {r['value_vs_greedy']:.4f} | "
            f"{r['greedy_seconds']:.1f} / {r['greedy_cpu_seconds']:.1f} | "
            f"{'yes' if r['feasible'] and r['greedy_feasible'] else 'NO'} | "
            f"{r['load_before']:.2f} / {r['load_after']:.2f} | {'met' if r['meets_target'] else 'missed'} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default=",".join(DEFAULT_CASES),
                        help="comma-separated NxP:kind (kind: random, uplift, grid)")
    parser.add_argument("--out", default="bench/results/plan_allocation", help="writes OUT.json and OUT.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_case(args.child)))
        return 0
    report = {"started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"), "platform": platform.platform(),
              "cpus": os.cpu_count(), "target_seconds": TARGET_SECONDS, "target_gap": TARGET_GAP, "runs": []}
    for case in args.cases.split(","):
        load_before = _loadavg()
        out = subprocess.run([sys.executable, __file__, "--child", case], check=True, capture_output=True,
                             text=True)
        run = json.loads(out.stdout.strip().splitlines()[-1])
        run.update(load_before=load_before, load_after=_loadavg())
        report["runs"].append(run)
        out = Path(args.out)  # written after every case: a long run keeps what it measured
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
        out.with_suffix(".md").write_text(markdown(report))
        print(f"{case}: {run['seconds']} s (CPU {run['cpu_seconds']} s), gap {run['gap']:.1e}, "
              f"vs greedy {run['value_vs_greedy']:.4f}, peak {run['peak_rss_mib']} MiB, "
              f"load {load_before:.2f} -> {run['load_after']:.2f}", flush=True)
    return 0 if all(r["feasible"] and r["greedy_feasible"] for r in report["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
