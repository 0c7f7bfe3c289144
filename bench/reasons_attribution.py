"""What the reasons of the promotion plan cost (issue 24, item 3): feature contributions of the uplift learners.

A synthetic one-experiment world with the columns of ``fct_uplift_training_exposures`` (the arm works where the
customer follows the page and had an order in the last 90 days) is fitted by
:func:`retail_lift.uplift.pipeline.fit_score_uplift` with each (learner, outcome family) the warehouse can
choose: T or X, logistic or boosting (one split, no placebo: only the fitted learner matters here). Then, for
``--customers`` scoring customers (default 50,000):

- ``score_s``: :func:`~retail_lift.uplift.pipeline.score_uplift` (the scores the build writes), for scale;
- ``contributions_s``: :func:`~retail_lift.uplift.champion.uplift_contributions` of the arm (model matrix, the
  attribution method of the learner, one-hot columns added into their feature), and the largest error of
  ``contributions + baseline = predicted uplift`` against the scores;
- ``shap_package_s`` (T-learner, boosting): the ``shap`` package's ``TreeExplainer`` on the same two outcome
  models and customers, for comparison with the table method the contributions use;
- ``reasons_s``: :meth:`~retail_lift.uplift.champion.UpliftContributions.reasons` (``top_reasons``, k = 3);
- ``shap_import_s``: importing ``shap`` (paid once per process, timed apart);
- ``--xgboost``: XGBoost's own Tree SHAP of the classifiers' default ``XGBoostClassifier`` (300 trees, depth 4)
  on the same customers.

Everything runs on one thread (``threadpool_limits(1)``, ``n_threads=1``, ``n_jobs=1``); every timing has its
wall and process CPU time, and the load average before and after it (the machine is shared: a wall time taken
with a load above the cores is an upper bound). Writes ``bench/results/reasons_attribution.json`` / ``.md``.

Run: ``python bench/reasons_attribution.py [--customers 50000] [--exposures 40000] [--xgboost]
[--skip-shap-package] [--out bench/results/reasons_attribution]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from retail_lift.campaign.reasons import model_contributions
from retail_lift.uplift.champion import uplift_contributions
from retail_lift.uplift.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES, _feature_matrix
from retail_lift.uplift.pipeline import fit_score_uplift, score_uplift

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

LEVELS = {"age_band": ["18-24", "25-34", "35-44", "45-54", "55+"], "gender": ["f", "m", "x"],
          "region": ["north", "south", "east", "west"], "acquisition_channel": ["organic", "paid", "social", "email"],
          "device_preference": ["mobile", "desktop", "tablet"]}


def customers(n: int, seed: int, prefix: str) -> pd.DataFrame:
    """``n`` customers with the uplift model's feature columns (plausible marginals, no truth attached)."""
    rng = np.random.default_rng(seed)
    frame = {"customer_id": np.array([f"{prefix}{i:07d}" for i in range(n)])}
    frame.update({c: rng.choice(LEVELS[c], n) for c in CATEGORICAL_FEATURES})
    frame.update({c: rng.poisson(2, n).astype(float) for c in NUMERIC_FEATURES})
    for c in ("revenue_before", "revenue_30d", "revenue_90d"):
        frame[c] = np.round(rng.exponential(60.0, n) * (frame[c.replace("revenue", "orders")] > 0), 2)
    frame["tenure_days"] = rng.integers(0, 720, n).astype(float)
    frame["discounted_order_share"] = rng.random(n)
    frame["days_since_last_order"] = np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 300, n))
    frame["days_since_last_visit"] = rng.integers(0, 120, n).astype(float)
    frame["follows_page"] = rng.random(n) < 0.4
    frame["heard_of_shop"] = rng.random(n) < 0.5
    return pd.DataFrame(frame)


def training(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed + 1)
    frame = customers(n, seed, "t")
    works = frame["follows_page"].to_numpy() & (frame["orders_90d"].to_numpy() > 0)
    treated = rng.random(n) < 0.5
    base = 0.05 + 0.02 * (frame["days_since_last_visit"].to_numpy() < 30)
    y = rng.random(n) < base + treated * np.where(works, 0.08, 0.0)
    frame.insert(0, "exposure_id", frame["customer_id"].str.replace("t", "e"))
    frame.insert(1, "experiment_id", "exp")
    frame["variant"] = np.where(treated, "arm", "control")
    frame["is_control"] = ~treated
    frame["is_converted"] = y
    return frame


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def timed(fn):
    """``fn()``, with its wall time, its process CPU time (less inflated than the wall time when other jobs share
    the cores) and the load average before and after."""
    load0, t0, c0 = loadavg(), time.perf_counter(), time.process_time()
    out = fn()
    return out, {"wall_s": round(time.perf_counter() - t0, 3), "cpu_s": round(time.process_time() - c0, 3),
                 "loadavg": [load0, loadavg()]}


def _import_shap():
    import shap  # noqa: F401 - timed once: the first attribution of a boosted model in a process pays it

    return None


def _shap_package(model, score: pd.DataFrame):
    """The ``shap`` package's TreeExplainer on the T-learner's two boosted outcome models (what the table method
    replaces), on the same model matrix."""
    import shap

    _, _, learner = model.learners["exp"]["arm"]
    X = _feature_matrix(score, model.levels, model.extra_features)
    return [shap.TreeExplainer(m).shap_values(X) for m in (learner.models_["arm"], learner.control_model_)]


def _xgboost(n: int) -> dict:
    from retail_lift.predict.classifiers import XGBoostClassifier

    X = np.random.default_rng(2).normal(size=(n, 60))
    y = (np.random.default_rng(3).random(n) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    model = XGBoostClassifier(n_jobs=1).fit(X, y)
    att, t = timed(lambda: model_contributions(model, X))
    return {"model": "XGBoostClassifier() (300 trees, depth 4), 60 columns", "rows": n, "contributions": t,
            "method": att.method,
            "max_abs_additivity_error": float(np.abs(att.contributions.sum(1) + att.baseline - att.prediction).max())}


def run(n_customers: int, n_exposures: int, with_xgboost: bool, shap_package: bool = True) -> dict:
    train, score = training(n_exposures, 0), customers(n_customers, 1, "c")
    _, import_t = timed(_import_shap)
    rows = []
    with threadpool_limits(limits=1):
        for learner in ("t", "x"):
            for family in ("logistic", "boosting"):
                result = fit_score_uplift(train, score.iloc[:10], learner=learner, base_learner=family, n_folds=None,
                                          n_placebo=0, n_threads=1)
                model = result.model
                scored, score_t = timed(lambda m=model, r=result: score_uplift(
                    m, score, metrics=r.metrics, holdout_predictions=r.holdout_predictions, n_threads=1))
                c, contrib_t = timed(lambda m=model: uplift_contributions(m, score, "arm"))
                text, reasons_t = timed(lambda c=c: c.reasons(k=3))
                u = scored.scores.set_index("customer_id").loc[c.customer_id, "predicted_uplift"].to_numpy()
                att = c.attribution
                strength = c.frame().abs().mean().sort_values(ascending=False)
                shap_t = None
                if shap_package and learner == "t" and family == "boosting":
                    _, shap_t = timed(lambda m=model: _shap_package(m, score))
                rows.append({
                    "learner": learner, "base_learner": family, "method": att.method, "customers": n_customers,
                    "score": score_t, "contributions": contrib_t, "reasons": reasons_t, "shap_package": shap_t,
                    "max_abs_additivity_error": float(np.abs(att.contributions.sum(1) + att.baseline - u).max()),
                    "top_features": list(strength.index[:3]),
                    "example_reasons": text.iloc[0],
                })
                print(json.dumps(rows[-1]), flush=True)
        xgb = _xgboost(n_customers) if with_xgboost else None
    return {"customers": n_customers, "exposures": n_exposures, "rows": rows, "xgboost": xgb, "shap_import": import_t,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def _t(t: dict) -> str:
    return f"{t['wall_s']:.2f} / {t['cpu_s']:.2f}"


def _load(*ts: dict) -> str:
    values = [v for t in ts for v in t["loadavg"]]
    return f"{min(values):.2f}–{max(values):.2f}"


def markdown(res: dict) -> str:
    lines = [
        "# Reasons: the cost of the feature contributions of the uplift learners",
        "",
        f"`bench/reasons_attribution.py`, {res['measured_at']}: {res['customers']:,} scoring customers, a learner "
        f"fitted on {res['exposures']:,} synthetic exposures, one thread. Times are wall / process CPU seconds, "
        "with the load average (1 min) around them: this machine has 2 cores shared with other jobs, so a wall "
        "time taken above a load of 2 is an upper bound (the CPU time is less inflated).",
        "",
        "| learner | outcome family | method | score (s) | contributions (s) | reasons k=3 (s) | load avg | "
        "max additivity error | strongest features |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        lines.append(f"| {r['learner']} | {r['base_learner']} | {r['method']} | {_t(r['score'])} | "
                     f"{_t(r['contributions'])} | {_t(r['reasons'])} | "
                     f"{_load(r['score'], r['contributions'], r['reasons'])} | "
                     f"{r['max_abs_additivity_error']:.1e} | {', '.join(r['top_features'])} |")
    for r in res["rows"]:
        if r.get("shap_package") is not None:
            lines += ["", f"The `shap` package's `TreeExplainer` on the same two boosted outcome models of the "
                      f"{r['learner'].upper()}-learner and customers (what the table method replaces): "
                      f"{_t(r['shap_package'])} s (load average {_load(r['shap_package'])}), against "
                      f"{_t(r['contributions'])} s for the contributions above (model matrix and grouping included)."]
    lines += ["", f"Importing `shap` (once per process, before the first boosted model): {_t(res['shap_import'])} s "
              f"(load average {_load(res['shap_import'])})."]
    x = res.get("xgboost")
    if x:
        lines += ["", f"XGBoost's Tree SHAP ({x['model']}): {x['rows']:,} rows in {_t(x['contributions'])} s "
                  f"(load average {_load(x['contributions'])}), additivity error {x['max_abs_additivity_error']:.1e}."]
    lines += ["", "Example (first customer, per learner):", ""]
    lines += [f"- {r['learner']}/{r['base_learner']}: {r['example_reasons']}" for r in res["rows"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=50_000)
    ap.add_argument("--exposures", type=int, default=40_000)
    ap.add_argument("--xgboost", action="store_true")
    ap.add_argument("--skip-shap-package", action="store_true", help="leave out the shap package's comparison")
    ap.add_argument("--out", type=Path, default=RESULTS / "reasons_attribution")
    args = ap.parse_args()
    res = run(args.customers, args.exposures, args.xgboost, shap_package=not args.skip_shap_package)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
