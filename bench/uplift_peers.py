"""The project's default uplift model against causalml's learners, per arm, on the same features and folds.

Issue 21 item 4: on the default and large simulated worlds the project's default learner must reach at least
the best peer's Qini on every arm. The peers are causalml's X, R and DR meta-learners with a boosted base
model and its uplift random forest (``bench/peers/run_peers.py``). They run in their own venv
(``bench/peers/.venv``, made from ``bench/peers/requirements.txt`` when missing), since causalml's pins
conflict with the project's dbt pins; data goes there and back as Parquet.

Steps:

1. read ``marts.fct_uplift_training_exposures`` (and the SRM and promotions tables) from the warehouse,
   read-only, closed before any fit;
2. refit the project's default (:mod:`uplift_default`: ``fit_score_uplift`` with the settings of
   ``ml_uplift_run``) and keep its out-of-fold predictions and their fold numbers;
3. export per arm the same rows (the arm's exposures and its control's), the project's fold of each row, the
   treatment, the outcome and the project's model matrix (:func:`retail_lift.uplift.features.build_features`)
   to Parquet (:func:`export_arms`);
4. run every peer in the peer venv, fold by fold (fitted on the other folds, as the project's learner);
5. score everyone with :mod:`retail_lift.uplift.metrics` on the same rows (:func:`metric_table`): out-of-fold
   Qini AUC, its ratio to the oracle Qini of the true effects and the true-gain ratio (the truth is known in
   the simulated world), and a paired bootstrap interval of the default's Qini minus the best peer's.

The peers' boosting models use the project's own boosting settings
(:func:`retail_lift.uplift.base.default_classifier`), so both sides have the same base model.

    .venv/bin/python bench/uplift_peers.py --warehouse /tmp/x/dw.duckdb --truth /tmp/x/truth \\
        --out bench/results/uplift_peers_default.json --label "default world, seed 42"
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

# one OpenMP / BLAS thread unless told otherwise: on a shared 2-core machine the boosting's threads spin
# against the other jobs (the default world's ceiling took 466 s with the default threads, 36 s with one)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from uplift_default import default_settings, run_default  # noqa: E402

PEER_DIR = Path(__file__).resolve().parent / "peers"
PEERS = ("x_learner", "r_learner", "dr_learner", "uplift_random_forest")
DEFAULT = "project_default"
#: the uplift random forest's settings (causalml's defaults are 10 trees of depth 5)
URF_SETTINGS = {"n_estimators": 50, "max_depth": 6, "min_samples_leaf": 100, "min_samples_treatment": 25,
                "n_reg": 100, "evaluationFunction": "KL", "max_features": 10, "n_jobs": 1}

METRIC_COLUMNS = ["experiment_id", "promotion_id", "learner", "n_treated", "n_control", "qini_auc",
                  "qini_oracle_ratio", "true_gain_ratio"]


def hgb_settings() -> dict:
    """The project's boosting settings (``default_classifier``'s, without the seed), for the peers' base models."""
    from retail_lift.uplift import default_classifier

    params = default_classifier().get_params()
    keys = ("learning_rate", "max_iter", "max_depth", "min_samples_leaf", "l2_regularization", "early_stopping",
            "max_leaf_nodes", "max_bins")
    return {k: params[k] for k in keys if k in params}


def _file_name(experiment_id: str, promotion_id: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{experiment_id}__{promotion_id}")
    return f"{safe}.parquet"


def export_arms(training: pd.DataFrame, holdout: pd.DataFrame, folder: Path, *, peers=PEERS,
                hgb: dict | None = None, urf: dict | None = None, random_state: int = 0,
                arms: list[str] | None = None) -> dict:
    """Write one Parquet per arm of ``holdout`` (the default's out-of-fold rows) and ``manifest.json``.

    ``arms``: the promotion ids to export, in this order (the peer script runs them in the manifest's
    order); default every arm of ``holdout``, sorted. An arm not in ``holdout`` is an error.

    Each file has the rows of one arm's out-of-fold predictions (its exposures and its control's),
    ``exposure_id``, ``fold`` (the default's fold of the row), ``treatment`` (1 = the arm), ``outcome``
    (0/1) and the project's model matrix of the row's exposure. Returns the manifest.
    """
    from retail_lift.uplift.features import build_features

    missing = [c for c in ("exposure_id", "promotion_id", "experiment_id", "is_treated", "is_converted", "fold")
               if c not in holdout.columns]
    if missing:
        raise ValueError(f"holdout predictions lack columns {missing}")
    if holdout["fold"].isna().any():
        raise ValueError("holdout predictions have no fold number (the single-split mode): the peers need the "
                         "cross-fitting folds (n_folds >= 2)")
    rows = training[training["is_converted"].notna()].drop_duplicates("exposure_id").reset_index(drop=True)
    X = build_features(rows, rows.head(1))[0]
    features = list(X.columns)
    X.index = rows["exposure_id"].astype(str).to_numpy()
    folder.mkdir(parents=True, exist_ok=True)
    groups = list(holdout.groupby(["experiment_id", "promotion_id"], sort=True))
    if arms is not None:
        known = [str(a) for (_, a), _ in groups]
        unknown = [a for a in arms if a not in known]
        if unknown:
            raise ValueError(f"arms {unknown} have no out-of-fold predictions of the default (arms: {known})")
        groups = sorted([g for g in groups if str(g[0][1]) in arms], key=lambda g: list(arms).index(str(g[0][1])))
    arms = []
    for (exp_id, arm), g in groups:
        ids = g["exposure_id"].astype(str).to_numpy()
        absent = ~pd.Index(ids).isin(X.index)
        if absent.any():
            raise ValueError(f"{exp_id} / {arm}: {int(absent.sum())} exposures of the holdout predictions are not "
                             f"in the training exposures (first: {ids[absent][0]})")
        frame = pd.DataFrame({"exposure_id": ids, "fold": g["fold"].astype(int).to_numpy(),
                              "treatment": g["is_treated"].astype(bool).astype(int).to_numpy(),
                              "outcome": g["is_converted"].astype(bool).astype(int).to_numpy()})
        frame = pd.concat([frame, X.loc[ids].reset_index(drop=True)], axis=1)
        name = _file_name(str(exp_id), str(arm))
        frame.to_parquet(folder / name, index=False)
        arms.append({"experiment_id": str(exp_id), "promotion_id": str(arm), "file": name, "rows": len(frame)})
    manifest = {"arms": arms, "features": features, "peers": list(peers), "hgb": hgb or hgb_settings(),
                "urf": urf or URF_SETTINGS, "random_state": int(random_state)}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def import_peers(folder: Path, manifest: dict, holdout: pd.DataFrame, *, allow_missing: bool = False) -> pd.DataFrame:
    """The peers' out-of-fold predictions as rows shaped like ``holdout`` (one row per exposure, arm and peer).

    Every row of ``holdout`` must come back with the same fold and a finite prediction from every peer
    (an error names the arm and the peer otherwise). ``allow_missing``: an arm the peer script has not
    written yet (a run stopped part way), or a peer it has not reached in an arm, is left out instead of an
    error.
    """
    parts = []
    for arm in manifest["arms"]:
        path = folder / arm["file"]
        if not path.exists() and allow_missing:
            continue
        if not path.exists():
            raise FileNotFoundError(f"{path}: the peer script wrote no predictions for {arm['experiment_id']} / "
                                    f"{arm['promotion_id']}")
        pred = pd.read_parquet(path)
        g = holdout[(holdout["experiment_id"].astype(str) == arm["experiment_id"])
                    & (holdout["promotion_id"].astype(str) == arm["promotion_id"])]
        base = g.drop(columns=["predicted_uplift", "learner"], errors="ignore").assign(
            exposure_id=g["exposure_id"].astype(str)).reset_index(drop=True)
        merged = base.merge(pred.rename(columns={"fold": "_peer_fold"}), on="exposure_id", how="left",
                            validate="1:1")
        if merged["_peer_fold"].isna().any() or (merged["_peer_fold"] != merged["fold"].astype(int)).any():
            raise ValueError(f"{path}: the peers' rows or folds differ from the default's ({arm['experiment_id']} "
                             f"/ {arm['promotion_id']})")
        for peer in manifest["peers"]:
            if peer not in merged and allow_missing:
                continue
            if peer not in merged or not np.isfinite(merged[peer].to_numpy(float)).all():
                raise ValueError(f"{path}: no finite prediction of {peer} for every row")
            parts.append(base.assign(learner=peer, predicted_uplift=merged[peer].to_numpy(float)))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _qini_difference_interval(a: pd.DataFrame, b: pd.DataFrame, n_bootstrap: int, random_state: int):
    """90 % paired bootstrap interval of Qini(a) - Qini(b) over the same rows (same row order)."""
    from retail_lift.uplift.metrics import qini_auc_score

    if n_bootstrap <= 0:
        return float("nan"), float("nan")
    y = a["is_converted"].astype(float).to_numpy()
    t = a["is_treated"].astype(bool).astype(int).to_numpy()
    ua, ub = a["predicted_uplift"].to_numpy(float), b["predicted_uplift"].to_numpy(float)
    rng = np.random.default_rng(random_state)
    diffs = []
    for _ in range(n_bootstrap):
        i = rng.integers(0, len(y), len(y))
        if t[i].min() == t[i].max():
            continue
        diffs.append(qini_auc_score(y[i], ua[i], t[i]) - qini_auc_score(y[i], ub[i], t[i]))
    diffs = np.asarray([d for d in diffs if np.isfinite(d)])
    if not diffs.size:
        return float("nan"), float("nan")
    return float(np.quantile(diffs, 0.05)), float(np.quantile(diffs, 0.95))


def metric_table(holdout: pd.DataFrame, peers: pd.DataFrame, true_effects: pd.DataFrame | None = None, *,
                 n_bootstrap: int = 200, random_state: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per arm and learner the out-of-fold metrics, and per arm the default against the best peer.

    Args:
        holdout: the default's out-of-fold predictions (``holdout_predictions`` of ``fit_score_uplift``).
        peers: :func:`import_peers` (the same rows, ``learner`` = the peer).
        true_effects: ``exposure_id``, ``promotion_id``, ``true_uplift``; without it the oracle and gain
            ratios are NaN (real data).

    Returns:
        ``metrics`` (:data:`METRIC_COLUMNS`, the default's rows with ``learner`` = ``project_default`` and the
        learner the default chose in ``default_learner``), and ``verdict``: per arm ``default_qini``,
        ``best_peer``, ``best_peer_qini``, ``qini_diff_ci_low`` / ``_high`` (90 % paired bootstrap of the
        default's Qini minus the best peer's), ``default_gain``, ``best_peer_gain`` (the peer with the highest
        true-gain ratio) and ``meets_qini`` / ``meets_gain`` (default >= best peer).
    """
    from retail_lift.evaluation.uplift import evaluate_uplift_against_truth
    from retail_lift.uplift.metrics import qini_auc_score

    chosen = holdout.groupby(["experiment_id", "promotion_id"])["learner"].first() if "learner" in holdout else None
    everyone = pd.concat([holdout.assign(learner=DEFAULT), peers], ignore_index=True)
    everyone = everyone.assign(exposure_id=everyone["exposure_id"].astype(str))
    rows = []
    for learner, g in everyone.groupby("learner", sort=False):
        if true_effects is not None:
            ev = evaluate_uplift_against_truth(g, true_effects, n_bootstrap=0)
            ev = ev.rename(columns={"model_qini": "qini_auc"}).assign(learner=learner)
        else:
            ev = pd.DataFrame([{
                "experiment_id": e, "promotion_id": a, "learner": learner,
                "n_treated": int(s["is_treated"].astype(bool).sum()),
                "n_control": int((~s["is_treated"].astype(bool)).sum()),
                "qini_auc": qini_auc_score(s["is_converted"].astype(float), s["predicted_uplift"].astype(float),
                                           s["is_treated"].astype(bool).astype(int)),
                "qini_oracle_ratio": np.nan, "true_gain_ratio": np.nan,
            } for (e, a), s in g.groupby(["experiment_id", "promotion_id"], sort=True)])
        rows.append(ev[METRIC_COLUMNS])
    metrics = pd.concat(rows, ignore_index=True)
    metrics["default_learner"] = [chosen.get((e, a)) if chosen is not None and learner == DEFAULT else None
                                  for e, a, learner in metrics[["experiment_id", "promotion_id", "learner"]]
                                  .itertuples(index=False)]
    verdict = []
    for (exp_id, arm), m in metrics.groupby(["experiment_id", "promotion_id"], sort=True):
        own = m[m["learner"] == DEFAULT].iloc[0]
        others = m[m["learner"] != DEFAULT]
        best = others.loc[others["qini_auc"].idxmax()]
        best_gain = others.loc[others["true_gain_ratio"].idxmax()] if others["true_gain_ratio"].notna().any() \
            else None

        def rows_of(learner, exp_id=exp_id, arm=arm):
            s = everyone[(everyone["learner"] == learner) & (everyone["experiment_id"] == exp_id)
                         & (everyone["promotion_id"] == arm)]
            return s.sort_values("exposure_id", kind="mergesort").reset_index(drop=True)

        low, high = _qini_difference_interval(rows_of(DEFAULT), rows_of(best["learner"]), n_bootstrap, random_state)
        verdict.append({
            "experiment_id": exp_id, "promotion_id": arm, "default_learner": own["default_learner"],
            "default_qini": own["qini_auc"], "best_peer": best["learner"], "best_peer_qini": best["qini_auc"],
            "qini_diff_ci_low": low, "qini_diff_ci_high": high,
            "meets_qini": bool(own["qini_auc"] >= best["qini_auc"]),
            "default_gain": own["true_gain_ratio"],
            "best_peer_gain_learner": None if best_gain is None else best_gain["learner"],
            "best_peer_gain": np.nan if best_gain is None else best_gain["true_gain_ratio"],
            "meets_gain": None if best_gain is None else bool(own["true_gain_ratio"] >= best_gain["true_gain_ratio"]),
        })
    return metrics, pd.DataFrame(verdict)


def ensure_peer_venv(venv: Path, requirements: Path = PEER_DIR / "requirements.txt",
                     python: str = "python3.12") -> Path:
    """The peer venv's python; the venv is made from ``requirements`` when it has no python yet."""
    exe = venv / "bin" / "python"
    if exe.exists():
        return exe
    env = {**os.environ, "PYENV_VERSION": os.environ.get("PYENV_VERSION", "3.12.1")}
    print(f"making the peer venv {venv} ({python}, {requirements.name})", flush=True)
    subprocess.run([python, "-m", "venv", str(venv)], check=True, env=env)
    subprocess.run([str(exe), "-m", "pip", "install", "-q", "-r", str(requirements)], check=True, env=env)
    return exe


def markdown(label: str, metrics: pd.DataFrame, verdict: pd.DataFrame, meta: dict) -> str:
    lines = [f"# Uplift: the project's default against causalml{': ' + label if label else ''}", "",
             f"Project default: `fit_score_uplift` with the settings of `ml_uplift_run` ({meta['default_settings']}). "
             f"Peers: causalml {meta.get('causalml', '?')} X / R / DR learners (base models: HistGradientBoosting "
             f"with the project's boosting settings {meta['hgb']}) and UpliftRandomForestClassifier "
             f"({meta['urf']}). Everyone on the same rows, features and {meta['n_folds']} cross-fitting folds (the "
             "default's); Qini AUC out of fold (retail_lift.uplift.metrics), oracle = Qini of the true effects, "
             "gain = the same comparison on the true uplift (noise free). "
             f"Fit seconds: default {meta['default_seconds']:.0f}, peers {meta['peer_seconds']:.0f}.", "",
             "| arm | treated | learner | Qini AUC | Qini / oracle | true-gain ratio |",
             "|---|---:|---|---:|---:|---:|"]
    for r in metrics.sort_values(["experiment_id", "promotion_id"], kind="mergesort").to_dict(orient="records"):
        name = f"default ({r['default_learner']})" if r["learner"] == DEFAULT else r["learner"]
        lines.append(f"| {r['promotion_id']} | {r['n_treated']:,} | {name} | {r['qini_auc']:.4f} | "
                     f"{r['qini_oracle_ratio']:.2f} | {r['true_gain_ratio']:.2f} |")
    if meta.get("arms_not_measured"):
        lines += ["", f"Not measured (the peer run stopped before them): {', '.join(meta['arms_not_measured'])}."]
    for arm, missing in (meta.get("peers_not_measured") or {}).items():
        lines += ["", f"{arm}: peers not measured (the peer run stopped before them): {', '.join(missing)}; the "
                  "best peer is the best of those measured."]
    lines += ["", "Default against the best peer (target: default Qini >= best peer's; 90 % paired bootstrap "
              "interval of the difference):", "",
              "| arm | default Qini | best peer | its Qini | diff 90 % CI | Qini met | default gain | best peer gain "
              "| gain met |", "|---|---:|---|---:|---|---|---:|---:|---|"]
    for r in verdict.to_dict(orient="records"):
        lines.append(f"| {r['promotion_id']} | {r['default_qini']:.4f} | {r['best_peer']} | "
                     f"{r['best_peer_qini']:.4f} | [{r['qini_diff_ci_low']:+.4f}, {r['qini_diff_ci_high']:+.4f}] | "
                     f"{'yes' if r['meets_qini'] else 'NO'} | {r['default_gain']:.3f} | "
                     f"{r['best_peer_gain']:.3f} ({r['best_peer_gain_learner']}) | "
                     f"{'yes' if r['meets_gain'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--truth", type=Path, help="folder with truth_exposures.parquet (simulated worlds)")
    parser.add_argument("--out", type=Path, required=True, help="JSON file (a .md next to it)")
    parser.add_argument("--label", default="")
    parser.add_argument("--work", type=Path, help="scratch folder for the Parquet exchange (default: next to --out"
                        " under tmp/)")
    parser.add_argument("--peer-venv", type=Path, default=PEER_DIR / ".venv")
    parser.add_argument("--peers", nargs="+", default=list(PEERS), choices=list(PEERS))
    parser.add_argument("--n-bootstrap", type=int, default=200)
    parser.add_argument("--arms", nargs="+", help="promotion ids to compare, in this order (default: all)")
    parser.add_argument("--collect-only", action="store_true",
                        help="no fit and no peer run: score the default's predictions and the peers' arms already "
                        "in --work (a run stopped part way; the arms not there are listed as not measured)")
    args = parser.parse_args(argv)
    work = args.work or args.out.parent / "tmp" / args.out.stem
    if args.collect_only:
        return _write(args, work, **_collect(args, work))
    import duckdb

    con = duckdb.connect(str(args.warehouse), read_only=True)
    try:
        training = con.sql("select * from marts.fct_uplift_training_exposures").to_arrow_table().to_pandas()
        srm = con.sql("select * from marts.fct_experiment_srm").to_arrow_table().to_pandas()
        promotions = con.sql("select * from staging.stg_shop__promotions").to_arrow_table().to_pandas()
    finally:
        con.close()
    true_effects = (pd.read_parquet(args.truth / "truth_exposures.parquet",
                                    columns=["exposure_id", "promotion_id", "true_uplift"]) if args.truth else None)
    settings = default_settings()
    start = time.perf_counter()
    holdout = run_default(training, srm=srm, promotions=promotions, settings=settings)
    default_seconds = time.perf_counter() - start
    print(f"default fitted in {default_seconds:.0f} s ({settings})", flush=True)
    export_arms(training, holdout, work / "in", peers=args.peers,
                random_state=int(settings.get("random_state") or 0), arms=args.arms)
    del training
    holdout.to_parquet(work / "default_holdout.parquet", index=False)
    (work / "default.json").write_text(json.dumps({
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()},
        "seconds": round(default_seconds, 1)}, indent=2) + "\n")
    python = ensure_peer_venv(args.peer_venv)
    shutil.rmtree(work / "out", ignore_errors=True)  # no arm of an earlier run is read back
    start = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    subprocess.run([str(python), str(PEER_DIR / "run_peers.py"), "--in", str(work / "in"), "--out",
                    str(work / "out")], check=True, env=env)
    peer_seconds = time.perf_counter() - start
    (work / "out" / "wall.json").write_text(json.dumps({"peer_seconds": round(peer_seconds, 1)}) + "\n")
    return _write(args, work, **_collect(args, work, true_effects))


def _collect(args, work: Path, true_effects: pd.DataFrame | None = None) -> dict:
    """Metrics of the default's saved predictions and of the peers' arms found in ``work``."""
    if true_effects is None and args.truth:
        true_effects = pd.read_parquet(args.truth / "truth_exposures.parquet",
                                       columns=["exposure_id", "promotion_id", "true_uplift"])
    manifest = json.loads((work / "in" / "manifest.json").read_text())
    default = json.loads((work / "default.json").read_text())
    holdout = pd.read_parquet(work / "default_holdout.parquet")
    timings_path = work / "out" / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    wall_path = work / "out" / "wall.json"
    wall = json.loads(wall_path.read_text()) if wall_path.exists() else {}
    peers = import_peers(work / "out", manifest, holdout, allow_missing=True)
    done = [a for a in manifest["arms"] if (work / "out" / a["file"]).exists()]
    missing = [a["promotion_id"] for a in manifest["arms"] if a not in done]
    written = {a["promotion_id"]: set(pd.read_parquet(work / "out" / a["file"]).columns) for a in done}
    peers_missing = {arm: [p for p in manifest["peers"] if p not in cols] for arm, cols in written.items()}
    peers_missing = {arm: ps for arm, ps in peers_missing.items() if ps}
    if not done:
        raise FileNotFoundError(f"{work / 'out'}: the peer script has written no arm yet")
    measured = holdout[holdout["promotion_id"].astype(str).isin([a["promotion_id"] for a in done])]
    metrics, verdict = metric_table(measured, peers, true_effects, n_bootstrap=args.n_bootstrap)
    by_arm = timings.get("arms", {})
    meta = {"label": args.label, "warehouse": str(args.warehouse), "default_settings": default["settings"],
            "n_folds": int(holdout["fold"].nunique()), "hgb": manifest["hgb"], "urf": manifest["urf"],
            "causalml": timings.get("causalml"), "default_seconds": default["seconds"],
            "peer_seconds": wall.get("peer_seconds", float(sum(sum(v.values()) for v in by_arm.values()))),
            "peer_seconds_by_arm": by_arm, "arms_not_measured": missing, "peers_not_measured": peers_missing}
    return {"metrics": metrics, "verdict": verdict, "meta": meta}


def _write(args, work: Path, *, metrics: pd.DataFrame, verdict: pd.DataFrame, meta: dict) -> int:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**meta, "metrics": metrics.to_dict(orient="records"),
                                    "verdict": verdict.to_dict(orient="records")}, indent=2, default=str) + "\n")
    md = markdown(args.label, metrics, verdict, meta)
    args.out.with_suffix(".md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
