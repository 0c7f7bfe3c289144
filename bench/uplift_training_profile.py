"""Where ``ml_uplift_run``'s training time goes: the phases of :func:`retail_lift.uplift.pipeline.fit_score_uplift`
per experiment, with the settings of the warehouse model (``bench/uplift_default.py``: its yml config).

The inputs are the four relations ``ml_uplift_run`` reads, taken from a built warehouse (``--warehouse``, opened
read-only) or from a folder of Parquet files of the same names (``--tables``). ``--sample`` keeps that share of
each experiment's exposures (a seeded draw per experiment; 1 = all). The placebo is timed with ``--placebo``
shuffles (default 3) and its cost extrapolated linearly to the configured ``n_placebo`` (each shuffle refits the
kept learner in every cross-fitting fold: the same work every time, so the per-shuffle time is the measure).

Phases, timed by wrapping the pipeline's private steps (wall and CPU seconds of this process):

* ``out_of_fold``: per cross-fitting fold and arm, the inner cross-validated selection among the candidates and
  the chosen learner's fit (the nested selection);
* ``final_fit``: the kept learner refitted on all of an experiment's exposures;
* ``placebo``: ``--placebo`` shuffles (``per_shuffle`` = its time / shuffles);
* ``scoring``: scoring every customer with the fitted learners and building the tables.

Run: ``python bench/uplift_training_profile.py --warehouse warehouse/retail_lift.duckdb --out
bench/results/uplift_training_profile_<preset>.md``. The load average is written next to the times.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from uplift_default import RUN_CONFIG, default_settings  # noqa: E402

TABLES = ("fct_uplift_training_exposures", "fct_uplift_scoring_customers", "fct_experiment_srm",
          "stg_shop__promotions")


def load_tables(warehouse: str | None, tables: str | None) -> dict[str, pd.DataFrame]:
    """The four relations as pandas frames, from a warehouse file (read-only) or a folder of Parquet files."""
    out = {}
    if warehouse:
        with duckdb.connect(warehouse, read_only=True) as con:
            for name in TABLES:
                found = con.execute("select table_schema from information_schema.tables where table_name = ?",
                                    [name]).fetchall()
                if not found:
                    raise SystemExit(f"{warehouse}: no table {name} (build the warehouse first)")
                out[name] = con.sql(f'select * from "{found[0][0]}"."{name}"').arrow().read_all().to_pandas()
    else:
        for name in TABLES:
            path = Path(tables) / f"{name}.parquet"
            if not path.exists():
                raise SystemExit(f"{path}: missing")
            out[name] = pd.read_parquet(path)
    return out


def sample_exposures(training: pd.DataFrame, share: float, seed: int = 0) -> pd.DataFrame:
    """``share`` of each experiment's exposures (all when share >= 1), seeded."""
    if share >= 1:
        return training
    return training.groupby("experiment_id").sample(frac=share, random_state=seed).reset_index(drop=True)


class Timer:
    """Wall and CPU seconds per phase (and per experiment), by wrapping module functions."""

    def __init__(self):
        self.wall = defaultdict(float)
        self.cpu = defaultdict(float)
        self.calls = defaultdict(int)
        self.experiment = None

    @contextmanager
    def phase(self, name: str):
        w, c = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            key = (self.experiment, name)
            self.wall[key] += time.perf_counter() - w
            self.cpu[key] += time.process_time() - c
            self.calls[key] += 1

    def wrap(self, module, attr: str, name: str, sets_experiment: bool = False, all_experiments: bool = False):
        original = getattr(module, attr)

        def wrapped(*args, **kwargs):
            if sets_experiment:
                self.experiment = args[1]
            if all_experiments:
                self.experiment = None
            with self.phase(name):
                return original(*args, **kwargs)

        setattr(module, attr, wrapped)
        return original


def profile(frames: dict[str, pd.DataFrame], settings: dict, placebo: int) -> tuple[Timer, dict, pd.DataFrame]:
    from retail_lift.tables.uplift import promotions_by_id
    from retail_lift.uplift import pipeline

    timer = Timer()
    timer.wrap(pipeline, "_fit_experiment", "experiment_total", sets_experiment=True)
    timer.wrap(pipeline, "_out_of_fold", "out_of_fold")
    timer.wrap(pipeline, "_final_learners", "final_fit")
    timer.wrap(pipeline, "_placebo", "placebo")
    original_scored = timer.wrap(pipeline, "_scored_result", "scoring", all_experiments=True)
    run = dict(settings, n_placebo=placebo)
    w, c = time.perf_counter(), time.process_time()
    timer.experiment = None
    result = pipeline.fit_score_uplift(frames["fct_uplift_training_exposures"], frames["fct_uplift_scoring_customers"],
                                       srm=frames["fct_experiment_srm"],
                                       promotions=promotions_by_id(frames["stg_shop__promotions"]), **run)
    total = {"wall": time.perf_counter() - w, "cpu": time.process_time() - c}
    pipeline._scored_result = original_scored
    m = result.metrics
    chosen = (m[m["is_selected_learner"].fillna(False).astype(bool) & (m["metric_name"] == "qini_auc")]
              [["experiment_id", "promotion_id", "learner", "base_learner", "metric_value"]]
              .rename(columns={"metric_value": "qini_auc"}))
    agree = m[m["metric_name"] == "selection_agreement"][["experiment_id", "promotion_id", "metric_value"]]
    chosen = chosen.merge(agree.rename(columns={"metric_value": "selection_agreement"}),
                          on=["experiment_id", "promotion_id"], how="left")
    return timer, total, chosen


def report(args, frames, settings, timer: Timer, total: dict, chosen: pd.DataFrame, load: tuple) -> str:
    n_placebo = int(settings.get("n_placebo", 0) or 0)
    training = frames["fct_uplift_training_exposures"]
    lines = [f"# ml_uplift_run training profile ({args.label})", "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `bench/uplift_training_profile.py` "
             f"({'warehouse ' + args.warehouse if args.warehouse else 'tables ' + args.tables}; sample share "
             f"{args.sample}). Load average before / after (1, 5, 15 min): {load[0]} / {load[1]}. "
             f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}.", "",
             f"Exposures: {len(training):,} in {training['experiment_id'].nunique()} experiments; customers scored: "
             f"{len(frames['fct_uplift_scoring_customers']):,}. Settings (the yml's): "
             + ", ".join(f"{k}={v}" for k, v in sorted(settings.items())) + f"; placebo timed with {args.placebo} "
             f"shuffles, extrapolated to {n_placebo}.", "",
             "| experiment | phase | calls | wall s | CPU s |", "|---|---|---:|---:|---:|"]
    for (exp, phase), wall in sorted(timer.wall.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        lines.append(f"| {exp or '(all)'} | {phase} | {timer.calls[(exp, phase)]} | {wall:.1f} | "
                     f"{timer.cpu[(exp, phase)]:.1f} |")
    phases = sum(v for (e, p), v in timer.wall.items() if p in ("experiment_total", "scoring"))
    lines += ["", f"Whole `fit_score_uplift` with {args.placebo} placebo shuffles: {total['wall']:.1f} s wall, "
              f"{total['cpu']:.1f} s CPU; outside the phases above (reading the inputs, the model matrix): "
              f"{total['wall'] - phases:.1f} s wall.", ""]
    placebo_wall = sum(v for (e, p), v in timer.wall.items() if p == "placebo")
    if args.placebo > 0:
        per = placebo_wall / args.placebo
        projected = total["wall"] - placebo_wall + per * n_placebo
        lines += [f"Placebo: {per:.1f} s wall per shuffle (all arms); at the configured {n_placebo} shuffles "
                  f"{per * n_placebo:.0f} s, so the training as configured takes about {projected:.0f} s wall "
                  f"({100 * per * n_placebo / projected:.0f} % of it placebo).", ""]
    lines += ["Kept learner per arm (out-of-fold Qini, share of folds that chose it):", "",
              "| experiment | arm | learner | base learner | qini_auc | selection agreement |",
              "|---|---|---|---|---:|---:|"]
    for r in chosen.itertuples(index=False):
        lines.append(f"| {r.experiment_id} | {r.promotion_id} | {r.learner} | {r.base_learner} | {r.qini_auc:.4f} | "
                     f"{r.selection_agreement:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--warehouse", help="a built warehouse file (opened read-only)")
    src.add_argument("--tables", help="a folder with <table>.parquet of the four relations")
    ap.add_argument("--sample", type=float, default=1.0, help="share of each experiment's exposures kept")
    ap.add_argument("--placebo", type=int, default=3, help="placebo shuffles timed (extrapolated to n_placebo)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a setting, e.g. base_learner=logistic (repeatable; values as YAML)")
    ap.add_argument("--label", default="large")
    ap.add_argument("--out", help="write the markdown report here (else stdout)")
    args = ap.parse_args(argv)
    import yaml

    overrides = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}
    # the yml's settings as the warehouse runs them (bench/uplift_default.py turns the placebo off: put it back)
    models = yaml.safe_load(RUN_CONFIG.read_text())["models"]
    configured = next(m for m in models if m.get("name") == "ml_uplift_run").get("config") or {}
    settings = default_settings(overrides={"n_threads": int(os.environ.get("OMP_NUM_THREADS", "1")),
                                           "n_placebo": int(configured.get("n_placebo", 100)), **overrides})
    frames = load_tables(args.warehouse, args.tables)
    frames["fct_uplift_training_exposures"] = sample_exposures(frames["fct_uplift_training_exposures"], args.sample)
    before = os.getloadavg()
    timer, total, chosen = profile(frames, settings, args.placebo)
    after = os.getloadavg()
    load = (" ".join(f"{x:.1f}" for x in before), " ".join(f"{x:.1f}" for x in after))
    text = report(args, frames, settings, timer, total, chosen, load)
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
