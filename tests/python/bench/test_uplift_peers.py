"""bench/uplift_peers.py and bench/uplift_default.py: the pure parts of the driver (the default's settings, the
Parquet export / import of the arms and their folds, the metric table). No causalml and no network: the peer
venv is a bench dependency, and the peer script's output is written here by hand."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from synthetic_uplift import one_arm_world

from retail_lift.uplift.features import build_features
from retail_lift.uplift.pipeline import fit_score_uplift

BENCH = Path(__file__).resolve().parents[3] / "bench"


def _load(name: str):
    return _load_path(name, BENCH / f"{name}.py")


def _load_path(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def peers():
    return _load("uplift_peers")


@pytest.fixture(scope="module")
def default():
    return _load("uplift_default")


@pytest.fixture(scope="module")
def world():
    training, truth, _ = one_arm_world(hidden=False, n=3000)
    holdout = fit_score_uplift(training, training.drop_duplicates("customer_id").head(10), learner="t",
                               base_learner="logistic", n_folds=3, n_placebo=0, n_threads=1).holdout_predictions
    return training, truth, holdout


def test_the_default_is_ml_uplift_runs_config_with_the_bench_overrides(default, tmp_path):
    settings = default.default_settings()
    config = next(m for m in yaml.safe_load(default.RUN_CONFIG.read_text())["models"]
                  if m["name"] == "ml_uplift_run")["config"]
    assert settings["learner"] == config["learner"] and settings["base_learner"] == config["base_learner"]
    assert settings["n_folds"] == config["n_folds"] and settings["random_state"] == config["random_state"]
    assert settings["n_placebo"] == 0 and settings["n_threads"] == 1
    assert "tags" not in settings and isinstance(settings["k_fractions"], tuple)
    # a config of its own: null folds is the single split, unknown keys are left out
    path = tmp_path / "m.yml"
    path.write_text(yaml.safe_dump({"models": [{"name": "ml_uplift_run", "config": {
        "n_folds": None, "learner": "t", "not_a_parameter": 1}}]}))
    assert default.default_settings(path, overrides={"n_threads": 2}) == {
        "n_folds": None, "learner": "t", "n_placebo": 0, "n_threads": 2}
    path.write_text(yaml.safe_dump({"models": [{"name": "other", "config": {}}]}))
    with pytest.raises(ValueError, match="no model named ml_uplift_run"):
        default.default_settings(path)


def test_run_default_returns_out_of_fold_predictions_of_every_exposure(default, world):
    training, _, _ = world
    holdout = default.run_default(training, settings={"learner": "t", "base_learner": "logistic", "n_folds": 3,
                                                      "n_placebo": 0, "n_threads": 1})
    assert len(holdout) == len(training) and set(holdout["fold"]) == {0, 1, 2}
    assert holdout["predicted_uplift"].notna().all()


def test_export_writes_the_default_rows_folds_and_features_and_import_reads_them_back(peers, world, tmp_path):
    training, _, holdout = world
    manifest = peers.export_arms(training, holdout, tmp_path / "in")
    (arm,) = manifest["arms"]
    assert arm == {"experiment_id": "exp", "promotion_id": "arm", "file": "exp__arm.parquet", "rows": 3000}
    assert manifest["peers"] == list(peers.PEERS) and manifest["hgb"]["max_depth"] == 3
    assert json.loads((tmp_path / "in" / "manifest.json").read_text()) == manifest
    frame = pd.read_parquet(tmp_path / "in" / arm["file"])
    # the same rows and folds as the default's, the treatment and outcome of each, the project's features
    expected = holdout.set_index("exposure_id").loc[frame["exposure_id"]]
    assert (frame["fold"].to_numpy() == expected["fold"].astype(int).to_numpy()).all()
    assert (frame["treatment"].to_numpy() == expected["is_treated"].astype(int).to_numpy()).all()
    assert (frame["outcome"].to_numpy() == expected["is_converted"].astype(int).to_numpy()).all()
    X = build_features(training, training.head(1))[0].set_index(training["exposure_id"].to_numpy())
    assert manifest["features"] == list(X.columns)
    np.testing.assert_array_equal(frame[manifest["features"]].to_numpy(), X.loc[frame["exposure_id"]].to_numpy())

    # what run_peers.py writes: exposure_id, fold and a column per peer
    out = tmp_path / "out"
    out.mkdir()
    rng = np.random.default_rng(0)
    written = frame[["exposure_id", "fold"]].assign(**{p: rng.normal(size=len(frame)) for p in peers.PEERS})
    written.sample(frac=1.0, random_state=1).to_parquet(out / arm["file"])  # any row order
    back = peers.import_peers(out, manifest, holdout)
    assert len(back) == len(holdout) * len(peers.PEERS) and set(back["learner"]) == set(peers.PEERS)
    x = back[back["learner"] == "x_learner"].set_index("exposure_id")["predicted_uplift"]
    pd.testing.assert_series_equal(x.loc[written["exposure_id"]], written.set_index("exposure_id")["x_learner"],
                                   check_names=False)

    # a peer file whose folds are not the default's is refused, as is a missing prediction
    written.assign(fold=(written["fold"] + 1) % 3).to_parquet(out / arm["file"])
    with pytest.raises(ValueError, match="folds differ"):
        peers.import_peers(out, manifest, holdout)
    written.assign(r_learner=np.nan).to_parquet(out / arm["file"])
    with pytest.raises(ValueError, match="r_learner"):
        peers.import_peers(out, manifest, holdout)
    (out / arm["file"]).unlink()
    with pytest.raises(FileNotFoundError, match="exp / arm"):
        peers.import_peers(out, manifest, holdout)


def test_export_needs_the_cross_fitting_folds(peers, world, tmp_path):
    training, _, holdout = world
    with pytest.raises(ValueError, match="no fold number"):
        peers.export_arms(training, holdout.assign(fold=pd.array([None] * len(holdout), dtype="Int64")), tmp_path)
    with pytest.raises(ValueError, match="not in the training exposures"):
        peers.export_arms(training.iloc[10:], holdout, tmp_path)


def _peer_rows(holdout: pd.DataFrame, truth: pd.DataFrame, noise: dict, seed: int = 0) -> pd.DataFrame:
    tau = holdout.merge(truth, on=["exposure_id", "promotion_id"])["true_uplift"].to_numpy()
    rng = np.random.default_rng(seed)
    return pd.concat([holdout.assign(learner=p, predicted_uplift=tau + rng.normal(0, s, len(holdout)))
                      for p, s in noise.items()], ignore_index=True)


def test_the_metric_table_scores_everyone_alike_and_names_the_best_peer(peers, world):
    training, truth, holdout = world
    perfect = holdout.assign(predicted_uplift=holdout.merge(truth, on=["exposure_id", "promotion_id"])[
        "true_uplift"].to_numpy())
    others = _peer_rows(holdout, truth, {"x_learner": 0.1, "uplift_random_forest": 10.0})
    metrics, verdict = peers.metric_table(perfect, others, truth, n_bootstrap=50)
    assert list(metrics.columns[:len(peers.METRIC_COLUMNS)]) == peers.METRIC_COLUMNS
    assert set(metrics["learner"]) == {peers.DEFAULT, "x_learner", "uplift_random_forest"}
    own = metrics[metrics["learner"] == peers.DEFAULT].iloc[0]
    assert own["default_learner"] == "t" and own["true_gain_ratio"] == pytest.approx(1.0)
    assert own["n_treated"] + own["n_control"] == 3000
    by = metrics.set_index("learner")
    assert by.loc["x_learner", "true_gain_ratio"] > by.loc["uplift_random_forest", "true_gain_ratio"]
    (row,) = verdict.to_dict(orient="records")
    assert row["best_peer"] == "x_learner" and row["best_peer_gain_learner"] == "x_learner"
    assert row["meets_qini"] == (row["default_qini"] >= row["best_peer_qini"])
    assert row["meets_gain"] is True and row["qini_diff_ci_low"] <= row["qini_diff_ci_high"]

    # the default that ranks at random loses to the good peer
    noisy = perfect.assign(predicted_uplift=np.random.default_rng(3).normal(size=len(perfect)))
    _, verdict = peers.metric_table(noisy, others, truth, n_bootstrap=50)
    assert not verdict.iloc[0]["meets_qini"] and not verdict.iloc[0]["meets_gain"]
    assert verdict.iloc[0]["qini_diff_ci_high"] < 0

    # without the truth (real data) the Qini still compares, the ratios are NaN
    metrics, verdict = peers.metric_table(perfect, others, None, n_bootstrap=0)
    assert metrics["qini_oracle_ratio"].isna().all() and metrics["qini_auc"].notna().all()
    assert verdict.iloc[0]["meets_gain"] is None and np.isnan(verdict.iloc[0]["qini_diff_ci_low"])


def test_the_markdown_has_a_row_per_learner_and_a_verdict_per_arm(peers, world):
    _, truth, holdout = world
    others = _peer_rows(holdout, truth, {p: 0.2 for p in peers.PEERS})
    metrics, verdict = peers.metric_table(holdout, others, truth, n_bootstrap=20)
    meta = {"default_settings": {"learner": "t"}, "hgb": {}, "urf": {}, "n_folds": 3, "default_seconds": 1.0,
            "peer_seconds": 2.0, "causalml": "0.18.0"}
    md = peers.markdown("test world", metrics, verdict, meta)
    assert md.startswith("# Uplift: the project's default against causalml: test world")
    rows = [line for line in md.splitlines() if line.startswith("| arm | ")]
    # two headers, the default and the four peers, one verdict
    assert len(rows) == 2 + 5 + 1
    learners = [r.split(" | ")[2] for r in rows[1:6]]
    assert sorted(learners) == sorted(["default (t)", *peers.PEERS])
    assert rows[-1].endswith(("| yes |", "| NO |")) and "Qini met" in md


def test_an_existing_peer_venv_is_used_as_it_is(peers, tmp_path):
    exe = tmp_path / "venv" / "bin" / "python"
    exe.parent.mkdir(parents=True)
    exe.write_text("")
    assert peers.ensure_peer_venv(tmp_path / "venv", requirements=tmp_path / "absent.txt") == exe


def test_the_requirements_pin_causalml_and_every_package():
    lines = [ln for ln in (BENCH / "peers" / "requirements.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert "causalml==0.18.0" in lines and "pyarrow" in "".join(lines)
    assert all("==" in ln for ln in lines), [ln for ln in lines if "==" not in ln]


def test_collect_only_scores_the_arms_a_stopped_run_finished_and_lists_the_others(peers, world, tmp_path):
    training, truth, holdout = world
    two = pd.concat([holdout, holdout.assign(promotion_id="arm2")], ignore_index=True)
    work = tmp_path / "work"
    manifest = peers.export_arms(training, two, work / "in", arms=["arm2", "arm"])
    assert [a["promotion_id"] for a in manifest["arms"]] == ["arm2", "arm"]  # the order asked for
    with pytest.raises(ValueError, match="no out-of-fold predictions"):
        peers.export_arms(training, two, work / "other", arms=["arm3"])
    two.to_parquet(work / "default_holdout.parquet")
    (work / "default.json").write_text(json.dumps({"settings": {"learner": "t"}, "seconds": 1.5}))
    (work / "out").mkdir()
    frame = pd.read_parquet(work / "in" / "exp__arm2.parquet")
    # the run stopped in arm2 after two peers
    frame[["exposure_id", "fold"]].assign(r_learner=np.arange(len(frame), dtype=float),
                                          x_learner=-np.arange(len(frame), dtype=float)).to_parquet(
        work / "out" / "exp__arm2.parquet")
    (tmp_path / "truth").mkdir()
    pd.concat([truth, truth.assign(promotion_id="arm2")]).to_parquet(tmp_path / "truth" / "truth_exposures.parquet")
    out = tmp_path / "peers.json"
    assert peers.main(["--warehouse", "unused.duckdb", "--truth", str(tmp_path / "truth"), "--out", str(out),
                       "--work", str(work), "--collect-only", "--n-bootstrap", "10", "--label", "part"]) == 0
    result = json.loads(out.read_text())
    assert result["arms_not_measured"] == ["arm"] and result["default_seconds"] == 1.5
    assert result["peers_not_measured"] == {"arm2": ["dr_learner", "uplift_random_forest"]}
    assert {r["promotion_id"] for r in result["metrics"]} == {"arm2"}
    assert {r["learner"] for r in result["metrics"]} == {peers.DEFAULT, "r_learner", "x_learner"}
    md = out.with_suffix(".md").read_text()
    assert "Not measured (the peer run stopped before them): arm." in md
    assert "arm2: peers not measured (the peer run stopped before them): dr_learner, uplift_random_forest" in md
    # without --collect-only a missing peer is an error
    with pytest.raises(ValueError, match="dr_learner"):
        peers.import_peers(work / "out", {**manifest, "arms": manifest["arms"][:1]}, two)


def test_the_peer_script_predicts_each_fold_from_the_other_folds_and_saves_after_every_peer(monkeypatch):
    # run_peers.py runs in the peer venv; its fold loop is plain numpy / pandas (the fits are replaced here)
    run_peers = _load_path("run_peers", BENCH / "peers" / "run_peers.py")
    seen = []

    def fake_fit_predict(peer, X_train, t_train, y_train, X_test, **_):
        seen.append((peer, set(X_train[:, 0].astype(int)), set(X_test[:, 0].astype(int))))
        return np.full(len(X_test), float(len(X_train)))

    monkeypatch.setattr(run_peers, "fit_predict", fake_fit_predict)
    frame = pd.DataFrame({"exposure_id": [f"e{i}" for i in range(9)], "fold": [0, 1, 2] * 3,
                          "treatment": [0, 1] * 4 + [0], "outcome": [0, 0, 1] * 3, "f": np.arange(9.0)})
    saved = []
    out, seconds = run_peers.out_of_fold(frame, ["f"], ["x_learner", "r_learner"], hgb={}, urf={}, random_state=0,
                                         on_peer=lambda o, s: saved.append((list(o.columns), dict(s))))
    assert all(not (train & test) and len(train | test) == 9 for _, train, test in seen) and len(seen) == 6
    assert (out["x_learner"] == 6.0).all() and list(out["fold"]) == [0, 1, 2] * 3
    assert [cols for cols, _ in saved] == [["exposure_id", "fold", "x_learner"],
                                          ["exposure_id", "fold", "x_learner", "r_learner"]]
    assert set(seconds) == {"x_learner", "r_learner"}
    with pytest.raises(ValueError, match="lacks columns"):
        run_peers.out_of_fold(frame.drop(columns="fold"), ["f"], ["x_learner"], hgb={}, urf={}, random_state=0)
