"""The CPU cost of the CLV fit (issue 22): base revision against the working copy, and whether the tables are equal.

    .venv/bin/python bench/clv_fit_speed.py --base-rev 3451e22 \
        --inputs tiny=WH_TINY.duckdb --inputs default=WH_DEFAULT.duckdb --out bench/results/clv_fit_speed

What ``ml_customer_lifetime_value_params`` runs: ``retail_lift.clv.fit_lifetime_value`` with its config's
defaults (``n_bootstrap`` 100, ``ci_level`` 0.95, ``penalizer`` 0, ``discount_rate`` 0.01) and ``random_state``
0 (``--random-states 0,1,2`` adds other bootstrap seeds). Every input (``NAME=PATH``: a warehouse, read-only,
whose ``marts.fct_customer_ltv_inputs`` is read, or a Parquet file of that table; the CDNOW summary of
tests/python/data is always added) is fitted by each code version in its own process, one at a time: the base
revision (``git archive`` into the work folder, imported instead of the installed package) and the working copy.
Each child measures its CPU seconds (``time.process_time`` around the call) and counts the optimiser runs
(L-BFGS-B fits; Nelder-Mead fallbacks, converged or stopped at their iteration cap; function evaluations).
The parent compares the two versions' scores and parameter tables: equal frames, else the largest relative
difference of every numeric column and the rows whose ``bootstrap_samples`` or status differ.

Writes ``OUT.json`` and ``OUT.md``. The machine is shared: the load average before and after each run is
recorded; CPU seconds are what the fit needs of one core.
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generation_memory import _extract, _loadavg, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CDNOW = ROOT / "tests" / "python" / "data" / "cdnow_customers_summary.csv"

# the child: import retail_lift from a source tree (the base revision) or the installed working copy, fit, count
_CHILD = r"""
import collections, pickle, sys, time
src, inputs, random_state, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
if src:
    # the working copy is installed in editable mode (a meta-path finder): drop it, import the base tree
    sys.meta_path[:] = [f for f in sys.meta_path if not type(f).__module__.startswith("__editable__")]
    sys.path.insert(0, src)
import pandas as pd
import retail_lift.clv as clv
assert clv.__file__.startswith(src or ""), clv.__file__
df = pd.read_parquet(inputs)
runs = []
minimize = clv.minimize
def counted(fun, x0, *args, **kwargs):
    res = minimize(fun, x0, *args, **kwargs)
    runs.append({"method": kwargs.get("method"), "success": bool(res.success), "message": str(res.message),
                 "nit": int(getattr(res, "nit", -1)), "nfev": int(res.nfev)})
    return res
clv.minimize = counted
start = time.process_time()
scores, params, _state = clv.fit_lifetime_value(df, n_bootstrap=100, ci_level=0.95, penalizer=0.0,
                                                discount_rate=0.01, random_state=random_state)
cpu = time.process_time() - start
with open(out, "wb") as f:
    pickle.dump({"cpu_s": cpu, "runs": runs, "scores": scores, "params": params}, f)
"""


def _inputs_file(name: str, path: Path, work: Path) -> Path:
    """The LTV inputs as a Parquet file (a warehouse is read read-only and closed)."""
    if path.suffix == ".parquet":
        return path
    out = work / f"{name}_fct_customer_ltv_inputs.parquet"
    if path.suffix == ".csv":
        df = pd.read_csv(path)
        df.columns = ["customer_id", "frequency", "recency", "T", "monetary_value"]
        df.to_parquet(out)
        return out
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute(f"copy (select * from marts.fct_customer_ltv_inputs) to '{out}' (format parquet)")
    finally:
        con.close()
    return out


def run_child(code: str, argv: list[str], out: Path, what: str) -> tuple[dict, float, float]:
    """Run ``code`` in its own Python process with ``argv``; the dict it pickled to ``out`` and the load average
    before and after. A failed child stops the bench with ``what`` and its error."""
    load0 = _loadavg()
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=ROOT)
    load1 = _loadavg()
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed:\n{proc.stderr[-4000:]}")
    with open(out, "rb") as f:
        return pickle.load(f), load0, load1


def _run(src: str, inputs: Path, random_state: int, out: Path) -> dict:
    result, load0, load1 = run_child(_CHILD, [src, str(inputs), str(random_state), str(out)], out,
                                     f"the CLV fit of {inputs} ({src or 'working copy'})")
    runs = result["runs"]
    lbfgsb = [r for r in runs if r["method"] == "L-BFGS-B"]
    nm = [r for r in runs if r["method"] == "Nelder-Mead"]
    result["summary"] = {
        "cpu_s": round(result["cpu_s"], 2), "load_before": load0, "load_after": load1,
        "fits": len(lbfgsb), "lbfgsb_evaluations": sum(r["nfev"] for r in lbfgsb),
        "lbfgsb_unconverged": sum(not r["success"] for r in lbfgsb),
        "lbfgsb_messages": dict(sorted({r["message"]: sum(s["message"] == r["message"] for s in lbfgsb)
                                        for r in lbfgsb}.items())),
        "nelder_mead": len(nm), "nelder_mead_converged": sum(r["success"] for r in nm),
        "nelder_mead_most_iterations_converged": max((r["nit"] for r in nm if r["success"]), default=None),
        "nelder_mead_evaluations": sum(r["nfev"] for r in nm)}
    return result


def _largest_relative(a: pd.Series, b: pd.Series) -> float:
    """The largest |a - b| / |a| (0 where both are NaN or equal, inf where only one is NaN)."""
    u, v = a.to_numpy(float), b.to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(u == v, 0.0, np.abs(u - v) / np.abs(u))
    d[np.isnan(u) & np.isnan(v)] = 0.0
    d[np.isnan(u) ^ np.isnan(v)] = np.inf
    return float(np.max(d)) if d.size else 0.0


def compare(base: dict, branch: dict) -> dict:
    """Equal frames, or the largest relative difference of every numeric column and the rows that differ."""
    p0, p1 = base["params"], branch["params"]
    s0, s1 = base["scores"], branch["scores"]
    out = {"params_equal": bool(p0.equals(p1)), "scores_equal": bool(s0.equals(s1))}
    out["params_largest_relative_difference"] = {c: _largest_relative(p0[c], p1[c])
                                                 for c in ("value", "ci_low", "ci_high")}
    out["scores_largest_relative_difference"] = {c: _largest_relative(s0[c], s1[c])
                                                 for c in s0.columns if s0[c].dtype.kind == "f"}
    out["bootstrap_samples_changed"] = [
        {"model": p0.model[i], "parameter": p0.parameter[i], "base": int(p0.bootstrap_samples[i]),
         "branch": int(p1.bootstrap_samples[i])}
        for i in range(len(p0)) if p0.bootstrap_samples[i] != p1.bootstrap_samples[i]]
    out["statuses_equal"] = bool((p0.status == p1.status).all() and (s0.clv_status == s1.clv_status).all())
    return out


def comparison_parser(description: str, name: str) -> argparse.ArgumentParser:
    """The arguments of a bench of a base revision against the working copy: ``--base-rev``, ``--work`` (default
    ``/tmp/retail_lift_bench/NAME``), ``--out`` (default ``bench/results/NAME``) and ``--note``."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--base-rev", required=True, help="git revision of the code to compare with")
    ap.add_argument("--work", type=Path, default=Path("/tmp/retail_lift_bench") / name)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / name)
    ap.add_argument("--note", default="", help="what else the machine was doing")
    return ap


def main(argv=None) -> int:
    ap = comparison_parser(__doc__.split("\n")[0], "clv_fit_speed")
    ap.add_argument("--inputs", action="append", default=[], metavar="NAME=PATH",
                    help="a warehouse (.duckdb) or a Parquet file of marts.fct_customer_ltv_inputs")
    ap.add_argument("--random-states", default="0", help="bootstrap seeds, comma-separated (default 0)")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    base_src = str(_extract(args.base_rev, args.work))
    named = [item.split("=", 1) for item in args.inputs] + [["cdnow", str(CDNOW)]]
    rows = []
    for name, path in named:
        inputs = _inputs_file(name, Path(path), args.work)
        customers = len(pd.read_parquet(inputs, columns=["customer_id"]))
        for random_state in (int(s) for s in args.random_states.split(",")):
            print(f"{name} (random_state {random_state}): base ...", flush=True)
            base = _run(base_src, inputs, random_state, args.work / f"{name}_{random_state}_base.pkl")
            print(f"{name} (random_state {random_state}): working copy ...", flush=True)
            branch = _run("", inputs, random_state, args.work / f"{name}_{random_state}_branch.pkl")
            rows.append({"inputs": name, "customers": customers, "random_state": random_state,
                         "base": base["summary"], "branch": branch["summary"], "equality": compare(base, branch)})
            print(json.dumps(rows[-1], default=str)[:2000], flush=True)
    result = {"base_rev": args.base_rev, "branch_rev": _head(), "note": args.note, "rows": rows}
    write_results(result, args.out, _markdown(result))
    print(f"wrote {args.out.with_suffix('.md')}")
    return 0


def _head() -> str:
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    return rev.stdout.strip() + (" + uncommitted changes" if dirty else "")


def _markdown(r: dict) -> str:
    lines = [
        "# The CLV fit's CPU cost: base against working copy (issue 22)", "",
        f"`python bench/clv_fit_speed.py --base-rev {r['base_rev']}` (working copy {r['branch_rev']}): "
        "`retail_lift.clv.fit_lifetime_value` with the config of `ml_customer_lifetime_value_params` (100 bootstrap "
        "refits), each code version in its own process, one at a time. CPU seconds of the call (one core); load "
        "average before → after each run." + (f" {r['note']}" if r["note"] else ""), "",
        "| inputs | customers | seed | CPU base (s) | CPU branch (s) | × | fits | L-BFGS-B unconverged | "
        "Nelder-Mead base: runs / converged / evaluations | branch | load base | load branch |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        b, w = row["base"], row["branch"]
        lines.append(
            f"| {row['inputs']} | {row['customers']:,} | {row['random_state']} | {b['cpu_s']:.2f} | {w['cpu_s']:.2f} | "
            f"{b['cpu_s'] / max(w['cpu_s'], 1e-9):.1f} | {b['fits']} / {w['fits']} | {b['lbfgsb_unconverged']} / "
            f"{w['lbfgsb_unconverged']} | {b['nelder_mead']} / {b['nelder_mead_converged']} / "
            f"{b['nelder_mead_evaluations']:,} | {w['nelder_mead']} / {w['nelder_mead_converged']} / "
            f"{w['nelder_mead_evaluations']:,} | {b['load_before']:.1f} → {b['load_after']:.1f} | "
            f"{w['load_before']:.1f} → {w['load_after']:.1f} |")
    lines += ["", "## Equality of the tables", "",
              "| inputs | seed | params equal | scores equal | largest relative difference (value / ci_low / ci_high) "
              "| "
              "scores: largest relative difference | bootstrap_samples changed | statuses equal |",
              "|---|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        e = row["equality"]
        p = e["params_largest_relative_difference"]
        s = max(e["scores_largest_relative_difference"].values(), default=0.0)
        changed = "; ".join(f"{c['model']}.{c['parameter']} {c['base']} → {c['branch']}"
                            for c in e["bootstrap_samples_changed"]) or "none"
        lines.append(f"| {row['inputs']} | {row['random_state']} | {e['params_equal']} | {e['scores_equal']} | "
                     f"{p['value']:.2g} / {p['ci_low']:.2g} / {p['ci_high']:.2g} | {s:.2g} | {changed} | "
                     f"{e['statuses_equal']} |")
    lines += ["", "L-BFGS-B's stopping messages (base → branch):", ""]
    for row in r["rows"]:
        lines.append(f"* {row['inputs']} (seed {row['random_state']}): {row['base']['lbfgsb_messages']} → "
                     f"{row['branch']['lbfgsb_messages']}; most Nelder-Mead iterations of a converged polish: "
                     f"{row['base']['nelder_mead_most_iterations_converged']} → "
                     f"{row['branch']['nelder_mead_most_iterations_converged']}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
