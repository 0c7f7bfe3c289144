"""The CPU cost of ``evaluation.ml_eval_promotion_plan_vs_truth`` (issue 22): base revision against the working copy,
by phase, and whether the table is equal.

    .venv/bin/python bench/plan_evaluation_speed.py --base-rev a8a59a1 \
        --inputs tiny=WH_TINY.duckdb [--inputs default=WH_DEFAULT.duckdb] --out bench/results/plan_evaluation_speed

What the model runs: :func:`retail_lift.evaluation.plan.promotion_plan_vs_truth` with the defaults of
``EvalPromotionPlanVsTruthConfig`` (the model's yml states the same) on its seven inputs, read from a built
warehouse (read-only, closed after; written once to Parquet files in the work folder, the same files for both
versions). Each code version runs in its own process, one at a time: the base revision (``git archive`` into the
work folder, imported instead of the installed package, as ``bench/clv_fit_speed.py``) and the working copy.
The child measures its CPU seconds (``time.process_time``: every thread of the process, so the boosting's
OpenMP threads too) around the call, and per phase, exclusive of the phases called inside it:

* ``ceiling``: :func:`retail_lift.evaluation.uplift_limits.ceiling_uplift` (the 40 regressions);
* ``candidates``: the candidate tables (``candidate_table``, ``true_candidates``);
* ``solver``: :func:`retail_lift.campaign.allocation.allocate` (the 18 solves: 6 budgets x 3 tables);
* ``holdout``: :func:`retail_lift.evaluation.plan.holdout_coverage` (6 budgets x 200 re-drawn holdouts);
* ``values``: ``_value`` (the totals of the chosen pairs, merges);
* ``other``: the rest (reading the inputs, the plans' frames and reasons in the base, the baselines' ranking).

The parent compares the two tables: equal (``DataFrame.equals``), else the largest absolute difference of every
column. Writes ``OUT.json`` and ``OUT.md``. The machine is shared: the load average before and after each run is
recorded; CPU seconds are what the model needs of the machine.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clv_fit_speed import _head, comparison_parser, run_child  # noqa: E402
from generation_memory import _extract, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: the model's inputs (promotion_plan_vs_truth's names) and the warehouse tables they are read from
INPUTS = {"ml_customer_uplift": "ml.ml_customer_uplift", "dim_campaign_promotions": "marts.dim_campaign_promotions",
          "fct_customer_features": "marts.fct_customer_features", "ml_campaign_fatigue": "ml.ml_campaign_fatigue",
          "ml_purchase_propensity_scores": "ml.ml_purchase_propensity_scores",
          "fct_uplift_scoring_customers": "marts.fct_uplift_scoring_customers",
          "truth_customer_arms": "staging.stg_simulation__truth_customer_arms"}
PHASES = ("ceiling", "candidates", "solver", "holdout", "values", "other")

# the child: import retail_lift from a source tree (the base revision) or the installed working copy, time, run
_CHILD = r"""
import collections, importlib, pickle, sys, time
src, folder, out = sys.argv[1], sys.argv[2], sys.argv[3]
if src:
    # the working copy is installed in editable mode (a meta-path finder): drop it, import the base tree
    sys.meta_path[:] = [f for f in sys.meta_path if not type(f).__module__.startswith("__editable__")]
    sys.path.insert(0, src)
import pandas as pd
import retail_lift.evaluation.plan as ev
assert ev.__file__.startswith(src or ""), ev.__file__
names = %(names)r
relations = {k: pd.read_parquet(f"{folder}/{k}.parquet") for k in names}
spent, stack = collections.Counter(), []
def timed(phase, fun):
    def wrapper(*args, **kwargs):
        stack.append(0.0)
        start = time.process_time()
        try:
            return fun(*args, **kwargs)
        finally:
            elapsed = time.process_time() - start
            inner = stack.pop()
            spent[phase] += elapsed - inner
            if stack:
                stack[-1] += elapsed
    return wrapper
for module, name, phase in [("retail_lift.evaluation.uplift_limits", "ceiling_uplift", "ceiling"),
                            ("retail_lift.evaluation.plan", "candidate_table", "candidates"),
                            ("retail_lift.evaluation.plan", "true_candidates", "candidates"),
                            ("retail_lift.campaign.plan", "allocate", "solver"),
                            ("retail_lift.evaluation.plan", "holdout_coverage", "holdout"),
                            ("retail_lift.evaluation.plan", "_value", "values")]:
    m = importlib.import_module(module)
    setattr(m, name, timed(phase, getattr(m, name)))
start, wall = time.process_time(), time.time()
table = ev.promotion_plan_vs_truth(relations, ev.EvalPromotionPlanVsTruthConfig(), log=lambda line: None)
cpu, wall = time.process_time() - start, time.time() - wall
phases = dict(spent)
phases["other"] = cpu - sum(phases.values())
with open(out, "wb") as f:
    pickle.dump({"cpu_s": cpu, "wall_s": wall, "phases": phases, "table": table}, f)
"""


def _inputs_folder(name: str, warehouse: Path, work: Path) -> Path:
    """The model's inputs as Parquet files (the warehouse read-only, closed after)."""
    import duckdb

    folder = work / f"{name}_inputs"
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for key, table in INPUTS.items():
            con.execute(f"copy (select * from {table}) to '{folder / key}.parquet' (format parquet)")
    finally:
        con.close()
    return folder


def _run(src: str, folder: Path, out: Path) -> dict:
    result, load0, load1 = run_child(_CHILD % {"names": list(INPUTS)}, [src, str(folder), str(out)], out,
                                     f"the evaluation of {folder} ({src or 'working copy'})")
    result["summary"] = {"cpu_s": round(result["cpu_s"], 2), "wall_s": round(result["wall_s"], 1),
                         "phases": {p: round(result["phases"].get(p, 0.0), 2) for p in PHASES},
                         "load_before": load0, "load_after": load1}
    return result


def compare(base: pd.DataFrame, branch: pd.DataFrame) -> dict:
    """Equal tables, or the largest absolute difference of every column (``differs`` for text and flags)."""
    out = {"equal": bool(base.equals(branch)), "rows": [len(base), len(branch)], "largest_difference": {}}
    if out["equal"] or list(base.columns) != list(branch.columns) or len(base) != len(branch):
        return out
    for c in base.columns:
        a, b = base[c], branch[c]
        if a.dtype.kind in "fiu" or str(a.dtype) in ("Int64", "Float64"):
            u, v = a.to_numpy(float, na_value=np.nan), b.to_numpy(float, na_value=np.nan)
            d = np.where((u == v) | (np.isnan(u) & np.isnan(v)), 0.0, np.abs(u - v))
            out["largest_difference"][c] = float(np.nanmax(np.where(np.isnan(d), np.inf, d))) if len(d) else 0.0
        else:
            same = a.astype(object).where(a.notna(), None).tolist() == b.astype(object).where(b.notna(), None).tolist()
            out["largest_difference"][c] = "equal" if same else "differs"
    return out


def main(argv=None) -> int:
    ap = comparison_parser(__doc__.split("\n")[0], "plan_evaluation_speed")
    ap.add_argument("--inputs", action="append", default=[], metavar="NAME=WAREHOUSE", required=True,
                    help="a built warehouse (.duckdb) of a simulated world, read-only")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    base_src = str(_extract(args.base_rev, args.work))
    rows = []
    for name, path in (item.split("=", 1) for item in args.inputs):
        folder = _inputs_folder(name, Path(path), args.work)
        customers = len(pd.read_parquet(folder / "fct_uplift_scoring_customers.parquet", columns=["customer_id"]))
        print(f"{name}: base ...", flush=True)
        base = _run(base_src, folder, args.work / f"{name}_base.pkl")
        print(f"{name}: working copy ...", flush=True)
        branch = _run("", folder, args.work / f"{name}_branch.pkl")
        rows.append({"inputs": name, "customers": customers, "base": base["summary"], "branch": branch["summary"],
                     "equality": compare(base["table"], branch["table"])})
        print(json.dumps(rows[-1], default=str), flush=True)
    result = {"base_rev": args.base_rev, "branch_rev": _head(), "note": args.note, "rows": rows}
    write_results(result, args.out, _markdown(result))
    print(f"wrote {args.out.with_suffix('.md')}")
    return 0


def _markdown(r: dict) -> str:
    lines = [
        "# The CPU cost of ml_eval_promotion_plan_vs_truth: base against working copy (issue 22)", "",
        f"`python bench/plan_evaluation_speed.py --base-rev {r['base_rev']}` (working copy {r['branch_rev']}): "
        "`retail_lift.evaluation.plan.promotion_plan_vs_truth` with the model's defaults on the inputs of a built "
        "warehouse, each code version in its own process, one at a time. CPU seconds of the call (`process_time`, "
        "every thread), by phase (exclusive); wall seconds; load average before → after each run."
        + (f" {r['note']}" if r["note"] else ""), "",
        "| inputs | scoring customers | version | CPU (s) | " + " | ".join(PHASES) + " | wall (s) | load |",
        "|---|---|---|---|" + "---|" * len(PHASES) + "---|---|"]
    for row in r["rows"]:
        for version in ("base", "branch"):
            s = row[version]
            lines.append(f"| {row['inputs']} | {row['customers']:,} | {version} | {s['cpu_s']:.1f} | "
                         + " | ".join(f"{s['phases'][p]:.1f}" for p in PHASES)
                         + f" | {s['wall_s']:.1f} | {s['load_before']:.1f} → {s['load_after']:.1f} |")
        b, w = row["base"]["cpu_s"], row["branch"]["cpu_s"]
        lines.append(f"| {row['inputs']} | | base / branch | {b / max(w, 1e-9):.1f}× | | | | | | | | |")
    lines += ["", "## Equality of the table", "", "| inputs | rows | equal | largest difference per column |",
              "|---|---|---|---|"]
    for row in r["rows"]:
        e = row["equality"]
        diff = "; ".join(f"{c} {v}" for c, v in e["largest_difference"].items()) or "none"
        lines.append(f"| {row['inputs']} | {e['rows'][0]} / {e['rows'][1]} | {e['equal']} | {diff} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
