"""The model registry (retail_lift.registry): versions, aliases, checksums, lineage, and the training decision."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pandas as pd
import pytest

from retail_lift.registry import (
    CHALLENGER,
    CHAMPION,
    ModelFileError,
    ModelMismatchError,
    ModelRegistry,
    feature_spec_of,
    spec_differences,
    training_decision,
)


def _register(store, name="m", model=None, alias=CHAMPION, **record):
    return store.register(name, model if model is not None else {"w": 1}, record={"metrics": {"auc": 0.7}, **record},
                          artifacts={"rows": pd.DataFrame({"a": [1, 2]})}, alias=alias)


def test_versions_aliases_lineage_and_artifacts(tmp_path):
    store = ModelRegistry(tmp_path / "models")
    assert store.get_alias("m") is None and store.versions("m") == []
    v1 = _register(store, model={"w": 1})
    v2 = _register(store, model={"w": 2})
    assert [v.version for v in store.versions("m")] == [1, 2]
    assert store.get_alias("m", CHAMPION).version == 2
    assert v2.record["previous_champion"] == 1 and v1.record["previous_champion"] is None
    assert store.load_model(v2) == {"w": 2} and store.load_model(v1) == {"w": 1}
    pd.testing.assert_frame_equal(store.load_artifact(v1, "rows"), pd.DataFrame({"a": [1, 2]}))
    rec = v2.record
    assert rec["metrics"] == {"auc": 0.7} and rec["code_version"]["package_version"] == "0.1.0"
    assert len(rec["model_sha256"]) == 64 and pd.Timestamp(rec["trained_at"]) == v2.trained_at
    # a challenger does not score until promoted
    v3 = _register(store, model={"w": 3}, alias=CHALLENGER)
    assert store.aliases("m") == {CHAMPION: 2, CHALLENGER: 3}
    assert store.promote("m").version == v3.version
    assert store.aliases("m") == {CHAMPION: 3, CHALLENGER: None}
    with pytest.raises(KeyError, match="no challenger"):
        store.promote("m")
    assert ModelRegistry.beside(tmp_path / "w" / "warehouse.duckdb").root == (tmp_path / "w" / "models").resolve()


def test_concurrent_registrations_get_distinct_versions(tmp_path):
    store = ModelRegistry(tmp_path)
    out, errors = [], []

    def work(i):
        try:
            out.append(_register(store, model={"i": i}, alias=None).version)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and sorted(out) == list(range(1, 9))
    assert {store.load_model(v)["i"] for v in store.versions("m")} == set(range(8))


def test_a_corrupted_or_missing_model_file_is_an_error_naming_it(tmp_path):
    store = ModelRegistry(tmp_path)
    v = _register(store)
    v.model_file.write_bytes(v.model_file.read_bytes()[:-3] + b"xyz")
    with pytest.raises(ModelFileError, match=r"m version 1: model file .*model.pkl is corrupted"):
        store.load_model(v)
    v.model_file.unlink()
    with pytest.raises(ModelFileError, match=r"m version 1: model file .*model.pkl is missing"):
        store.load_model(v)
    with pytest.raises(ValueError, match="registered model name"):
        store.versions("../etc")


def test_feature_spec_kinds_and_differences():
    frame = pd.DataFrame({"a": [1, 2], "b": [1.5, None], "c": ["x", "y"], "d": [True, None],
                          "e": pd.to_datetime(["2026-01-01", "2026-01-02"])})
    spec = feature_spec_of(frame)
    assert [(d["column"], d["kind"]) for d in spec] == [("a", "numeric"), ("b", "numeric"), ("c", "categorical"),
                                                        ("d", "boolean"), ("e", "datetime")]
    assert spec_differences(spec, spec) == []
    other = feature_spec_of(frame.drop(columns=["b"]).assign(c=[1, 2], f=[0.1, 0.2]))
    assert spec_differences(spec, other) == ["b: missing (trained as numeric)", "f: new column (numeric)",
                                             "c: trained as categorical, now numeric"]
    assert spec_differences(spec, feature_spec_of(frame[["b", "a", "c", "d", "e"]]))[0].startswith("column order")


def test_training_decision_reasons_in_order(tmp_path):
    store = ModelRegistry(tmp_path)
    champ = _register(store)
    now = champ.trained_at + timedelta(days=1)
    assert training_decision("m", champion=None).reason == "no registered champion"
    assert training_decision("m", champion=champ, retrain=True).reason.startswith("retrain requested")
    assert "model file unusable: boom" in training_decision("m", champion=champ, model_error="boom").reason
    assert "feature spec changed since version 1: x: missing" in training_decision(
        "m", champion=champ, spec_diff=["x: missing"]).reason
    old = training_decision("m", champion=champ, now=champ.trained_at + timedelta(days=31))
    assert old.trains and "31.0 days old (max_model_age_days 30)" in old.reason
    assert not training_decision("m", champion=champ, now=champ.trained_at + timedelta(days=29)).trains
    drifted = training_decision("m", champion=champ, now=now, drift={"a": 0.5, "b": 0.1, "c": 0.9},
                                drift_at_training={"a": 0.05, "c": 0.8})
    assert drifted.trains and drifted.reason.endswith("PSI above 0.2 for a 0.500")  # c drifted already at training
    kept = training_decision("m", champion=champ, now=now, drift={"a": 0.15}, drift_at_training={"a": 0.0})
    assert kept.action == "score" and kept.reason.startswith("scored with champion version 1")
    with pytest.raises(ModelMismatchError, match=r"m champion version 1 was trained on other features .*x: missing"):
        training_decision("m", champion=champ, spec_diff=["x: missing"], on_mismatch="fail")
    with pytest.raises(ModelMismatchError, match="m champion version 1 cannot be used: boom"):
        training_decision("m", champion=champ, model_error="boom", on_mismatch="fail")
    with pytest.raises(ValueError, match="max_model_age_days must be a number > 0"):
        training_decision("m", champion=champ, max_model_age_days=0)


def test_the_record_is_json(tmp_path):
    store = ModelRegistry(tmp_path)
    v = _register(store, params={"cv": 3})
    data = json.loads((v.path / "version.json").read_text())
    assert data["version"] == 1 and data["params"] == {"cv": 3} and data["artifacts"] == ["rows"]


def test_retail_lift_train_runs_only_the_fit_models_with_retrain(tmp_path, monkeypatch):
    import subprocess

    from click.testing import CliRunner

    from retail_lift.cli import main

    warehouse = tmp_path / "w.duckdb"
    warehouse.touch()
    store = ModelRegistry.beside(warehouse)
    calls = []
    real_run = subprocess.run

    def fake_run(cmd, env=None, **kwargs):
        if not str(cmd[0]).endswith("dbt"):  # git, for the code version of a registration
            return real_run(cmd, env=env, **kwargs)
        calls.append((cmd, env["RETAIL_LIFT_WAREHOUSE"]))
        _register(store, name="ml_returning_customer_fit",
                  alias=CHALLENGER if "registry_alias: challenger" in " ".join(cmd) else CHAMPION)
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    runner = CliRunner()
    out = runner.invoke(main, ["train", "--warehouse", str(warehouse), "--model", "ml_returning_customer_fit"])
    assert out.exit_code == 0, out.output
    cmd, env_warehouse = calls[0]
    assert cmd[2:5] == ["run", "--select", "ml_returning_customer_fit"] and "{retrain: true}" in cmd
    assert env_warehouse == str(warehouse.resolve())
    assert "ml_returning_customer_fit: champion version 1, challenger None" in out.output
    out = runner.invoke(main, ["train", "--warehouse", str(warehouse), "--model", "ml_returning_customer_fit",
                               "--challenger"])
    assert "{retrain: true, registry_alias: challenger}" in calls[1][0]
    assert "ml_returning_customer_fit: champion version 1, challenger 2" in out.output
    bad = runner.invoke(main, ["train", "--warehouse", str(warehouse), "--model", "ml_uplift_run"])
    assert bad.exit_code == 2 and "do not train" in bad.output
    missing = runner.invoke(main, ["train", "--warehouse", str(tmp_path / "none.duckdb")])
    assert missing.exit_code == 1 and "run make build first" in missing.output
