"""Where a classifier fit's memory and time go, and what the training-row cap costs in quality (issue 23).

Usage::

    python bench/classifier_memory.py WAREHOUSE.duckdb [--classifier purchase_propensity ...]
        [--max-train-rows 1000000 500000 ...] [--model-kinds logistic xgboost catboost] [--out bench/results]
        [--name classifier_memory_large] [--registry WAREHOUSE_DIR/models]

Each (classifier, ``max_train_rows``) setting runs in a fresh process (so that its peak is its own): the
classifier's table function (:mod:`retail_lift.tables.predict`, its default config but the cap, and the model
kinds when given; no model store, so it trains) over the warehouse's feature mart, opened read-only. The
process's RSS is sampled every 0.25 s and matched with the phases of the fit (the Arrow read and conversion,
each model kind's fit, the scoring in blocks, the stacking), so the peak is given per phase. The quality is the
chosen model's metrics on the out-of-time ``test`` snapshot (on which nothing is chosen) and on the
``validation`` snapshot, as ``ml_classifier_metrics`` reports them. Results: ``OUT/NAME.{json,md}``.

``--registry``: score instead, as a score-only build does: the classifier's folder of that registry is copied to a
temporary registry (the original is never written) and its champion scores, with ``registry_on_mismatch: fail``
so that nothing trains silently; the cap does not apply (nothing trains) and the quality is the champion's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

CLASSIFIERS = {  # classifier -> (table function, its relation)
    "purchase_propensity": ("ml_purchase_propensity_fit", "fct_customer_features"),
    "category_propensity": ("ml_category_propensity_fit", "fct_customer_category_features"),
    "returning_customer": ("ml_returning_customer_fit", "fct_customer_features"),
    "facebook_acquisition": ("ml_facebook_acquisition_fit", "fct_customer_features"),
}
CONFIGS = {"purchase_propensity": "PurchasePropensityFitConfig", "category_propensity": "CategoryPropensityFitConfig",
           "returning_customer": "ReturningCustomerFitConfig", "facebook_acquisition": "FacebookAcquisitionFitConfig"}
#: the fit's phases whose peak is reported: (module, function)
PHASES = [("retail_lift.predict.fit_table", "_arrow_rows_to_pandas"),
          ("retail_lift.predict.fit_table", "train_compare_score"),
          ("retail_lift.predict.train", "_fit_one"),
          ("retail_lift.predict.train", "_predict_in_blocks"),
          ("retail_lift.predict.train", "_finish"),
          ("retail_lift.predict.fit_table", "_stack")]
METRICS = ("n", "roc_auc", "pr_auc", "log_loss", "brier")
GIB = 1024 ** 3


def _status_bytes(key: str) -> int:
    """A size line of /proc/self/status (``VmRSS``: now, ``VmHWM``: the peak), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) * 1024
    return 0


def _rss() -> int:
    return _status_bytes("VmRSS")


def _hwm() -> int:
    return _status_bytes("VmHWM")


def child(warehouse: str, classifier: str, max_train_rows: int | None, model_kinds: list[str] | None,
          registry: str | None = None) -> dict:
    """One fit (or, with ``registry``, one scoring) in this process: its wall time, peak RSS, peak per phase and
    the chosen model's metrics."""
    import importlib
    import shutil
    import tempfile

    import duckdb

    from retail_lift.tables import predict as TP

    samples: list[tuple[float, int]] = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            samples.append((time.perf_counter(), _rss()))
            stop.wait(0.25)

    phases: list[tuple[str, float, float]] = []
    for module, name in PHASES:
        mod = importlib.import_module(module)
        inner = getattr(mod, name)

        def wrapped(*a, _inner=inner, _name=name, **k):
            t0 = time.perf_counter()
            try:
                return _inner(*a, **k)
            finally:
                phases.append((_name, t0, time.perf_counter()))
        setattr(mod, name, wrapped)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    fn_name, relation = CLASSIFIERS[classifier]
    overrides = {"max_train_rows": max_train_rows}
    if model_kinds:
        overrides["model_kinds"] = tuple(model_kinds)
    store = None
    if registry:
        from retail_lift.registry.store import ModelRegistry
        root = Path(tempfile.mkdtemp(prefix="classifier_memory_"))
        shutil.copytree(Path(registry) / fn_name, root / fn_name)
        store = ModelRegistry(root)
        overrides["registry_on_mismatch"] = "fail"
    config = getattr(TP, CONFIGS[classifier])(**overrides)
    con = duckdb.connect(warehouse, read_only=True)
    rss_before = _rss()
    t0 = time.perf_counter()
    fit = getattr(TP, fn_name)({relation: con.table(f"marts.{relation}")}, config, store=store)
    wall = time.perf_counter() - t0
    stop.set()
    thread.join()
    con.close()
    peak_by_phase: dict[str, dict] = {}
    for name, a, b in phases:  # every call counts; the peak only from samples taken while it ran
        during = [r for t, r in samples if a <= t <= b]
        row = peak_by_phase.setdefault(name, {"calls": 0, "seconds": 0.0, "peak_rss_gib": None})
        row["calls"] += 1
        row["seconds"] = round(row["seconds"] + (b - a), 1)
        if during:
            row["peak_rss_gib"] = round(max(row["peak_rss_gib"] or 0.0, max(during) / GIB), 2)
    if registry:
        shutil.rmtree(root)
    run = fit[fit["record_type"] == "run"].iloc[0]
    chosen = fit[(fit["record_type"] == "metric") & fit["is_chosen_model"].fillna(False).astype(bool)]
    quality = {split: {m: (None if v is None else round(float(v), 4)) for m, v in
                       chosen[chosen["split"] == split].set_index("metric")["value"].reindex(METRICS).items()}
               for split in ("validation", "test")}
    return {"classifier": classifier, "max_train_rows": max_train_rows, "model_kinds": list(config.model_kinds),
            "wall_s": round(wall, 1), "peak_rss_gib": round(_hwm() / GIB, 2),
            "rss_before_gib": round(rss_before / GIB, 2),
            "status": run["status"], "chosen_model": run.get("model"), "message": run.get("message"),
            "registry_action": run.get("registry_action"), "scored_rows": int((fit["record_type"] == "score").sum()),
            "phases": peak_by_phase, "quality": quality}


def markdown(rows: list[dict], warehouse: str) -> str:
    lines = ["# Classifier fits: memory, time and the training-row cap", "",
             f"`python bench/classifier_memory.py {warehouse} ...` (each setting in its own process; action "
             "`no model store`: trained; `score`: the registered champion scored, as in a score-only build; "
             "metrics of the chosen model on the out-of-time snapshots).", "",
             "| classifier | max_train_rows | action | kinds | chosen | scored rows | wall s | peak GiB | test n "
             "| test AUC | test log loss | test Brier | val AUC |", "|---" * 13 + "|"]
    for r in rows:
        t, v = r["quality"]["test"], r["quality"]["validation"]
        action = "score" if r.get("registry_action") == "score" else "no model store"
        lines.append(f"| {r['classifier']} | {r['max_train_rows'] or 'none':,} | {action} | "
                     f"{', '.join(r['model_kinds'])} | {r['chosen_model']} | {r.get('scored_rows', 0):,} | "
                     f"{r['wall_s']:,} | {r['peak_rss_gib']} | {t['n'] or 0:,.0f} | {t['roc_auc']} | "
                     f"{t['log_loss']} | {t['brier']} | {v['roc_auc']} |")
    lines += ["", "Peak RSS per phase (GiB; seconds summed over its calls; - : no sample while it ran):", "",
              "| classifier | max_train_rows | " + " | ".join(n for _, n in PHASES) + " |",
              "|---|---|" + "---|" * len(PHASES)]
    for r in rows:
        cells = [f"{p['peak_rss_gib'] if p['peak_rss_gib'] is not None else '-'} ({p['seconds']} s, {p['calls']}×)"
                 if (p := r["phases"].get(n)) else "" for _, n in PHASES]
        lines.append(f"| {r['classifier']} | {r['max_train_rows'] or 'none':,} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("warehouse")
    p.add_argument("--classifier", nargs="+", default=list(CLASSIFIERS), choices=list(CLASSIFIERS))
    p.add_argument("--max-train-rows", nargs="+", type=int, default=[1_000_000])
    p.add_argument("--model-kinds", nargs="+", default=None)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    p.add_argument("--name", default="classifier_memory")
    p.add_argument("--registry", default=None,
                   help="score with this registry's champion (copied; never written) instead of training")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(child(a.warehouse, a.classifier[0], a.max_train_rows[0], a.model_kinds, a.registry),
                         default=str))
        return 0
    if not Path(a.warehouse).exists():
        p.error(f"no warehouse at {a.warehouse}")
    rows = []
    a.out.mkdir(parents=True, exist_ok=True)
    for classifier in a.classifier:
        for cap in a.max_train_rows:
            cmd = [sys.executable, __file__, a.warehouse, "--child", "--classifier", classifier,
                   "--max-train-rows", str(cap), *(["--model-kinds", *a.model_kinds] if a.model_kinds else []),
                   *(["--registry", a.registry] if a.registry else [])]
            out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
            if out.returncode != 0:
                print(out.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"{classifier} at max_train_rows={cap} failed (exit {out.returncode})")
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{classifier} cap {cap} ({row['registry_action']}): {row['wall_s']} s, "
                  f"peak {row['peak_rss_gib']} GiB, scored {row['scored_rows']:,}, "
                  f"chose {row['chosen_model']}, test {row['quality']['test']}", flush=True)
            rows.append(row)
            (a.out / f"{a.name}.json").write_text(json.dumps({"warehouse": a.warehouse, "rows": rows}, indent=2,
                                                             default=str))
            (a.out / f"{a.name}.md").write_text(markdown(rows, a.warehouse))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
