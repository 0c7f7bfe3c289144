"""dbt builds of the uplift run with the model registry: the shared tiny build trained and registered ml_uplift_run;
a build of the same data scores with that champion (tests/python/warehouse/test_registry_build.py compares the
tables of such a build); the retrain var trains a new version; a corrupted model file or another feature spec
stops a build with ``registry_on_mismatch: fail``, naming the model and what differs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from helpers import run_dbt

from retail_lift.registry import ModelRegistry

pytestmark = pytest.mark.dbt

NAME = "ml_uplift_run"


def _copy(build: Path, to: Path) -> Path:
    to.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(build / "warehouse.duckdb", to / "warehouse.duckdb")
    shutil.copytree(build / "models", to / "models")
    return to


def _registry_columns(db: Path) -> list:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("select distinct registry_action, registry_reason, model_version from ml.ml_uplift_run"
                           ).fetchall()
    finally:
        con.close()


def _run(build: Path, work: Path, *extra: str, check: bool = True):
    return run_dbt(["run", "--select", NAME, *extra], build / "raw", build / "truth", work, check=check)


def test_the_shared_build_registered_the_uplift_learners(tiny_warehouse):
    champion = ModelRegistry.beside(tiny_warehouse).get_alias(NAME)
    assert champion is not None and champion.version == 1
    assert _registry_columns(tiny_warehouse) == [("train", "no registered champion", 1)]
    rec = champion.record
    assert rec["model_card"]["experiments_modelled"] and rec["experiments"]
    assert any(k.endswith(".qini_auc") for k in rec["metrics"])
    con = duckdb.connect(str(tiny_warehouse), read_only=True)
    try:
        for table in ("ml_customer_uplift", "ml_uplift_metrics", "ml_uplift_holdout_predictions"):
            versions = con.execute(f"select list(distinct model_version), count(trained_at) = count(*) "
                                   f"from ml.{table}").fetchone()
            assert versions == ([1], True), table
    finally:
        con.close()


def test_the_retrain_var_trains_a_new_uplift_version(tiny_warehouse, tmp_path):
    build = tiny_warehouse.parent
    work = _copy(build, tmp_path / "retrain")
    _run(build, work, "--vars", "{retrain: true}")
    [(action, reason, version)] = _registry_columns(work / "warehouse.duckdb")
    assert action == "train" and reason.startswith("retrain requested") and version == 2
    after = ModelRegistry.beside(work / "warehouse.duckdb").get_alias(NAME)
    assert after.version == 2 and after.record["previous_champion"] == 1


def test_a_corrupted_model_file_stops_a_build_that_must_not_retrain(tiny_warehouse, tmp_path):
    build = tiny_warehouse.parent
    work = _copy(build, tmp_path / "corrupt")
    model = ModelRegistry.beside(work / "warehouse.duckdb").get_alias(NAME).model_file
    model.write_bytes(b"not a pickle" + model.read_bytes()[12:])
    proc = _run(build, work, "--vars", "{registry_on_mismatch: fail}", check=False)
    assert proc.returncode != 0
    assert "ml_uplift_run champion version 1 cannot be used" in proc.stdout and "is corrupted" in proc.stdout
    assert [v.version for v in ModelRegistry.beside(work / "warehouse.duckdb").versions(NAME)] == [1]


def test_another_feature_spec_stops_a_build_naming_the_model_and_the_columns(tiny_warehouse, tmp_path):
    build = tiny_warehouse.parent
    work = _copy(build, tmp_path / "spec")
    record_file = ModelRegistry.beside(work / "warehouse.duckdb").get_alias(NAME).path / "version.json"
    record = json.loads(record_file.read_text())
    spec = record["feature_spec"]
    tenure = next(d for d in spec if d["column"] == "tenure_days")
    tenure["kind"] = "categorical"  # as if the champion had been trained on tenure_days as text
    record["feature_spec"] = [d for d in spec if d["column"] != "region"] + [{"column": "loyalty_tier",
                                                                              "kind": "categorical",
                                                                              "dtype": "category"}]
    record_file.write_text(json.dumps(record))
    proc = _run(build, work, "--vars", "{registry_on_mismatch: fail}", check=False)
    assert proc.returncode != 0
    out = " ".join(proc.stdout.split())
    assert "ml_uplift_run champion version 1 was trained on other features than the current ones" in out
    assert "loyalty_tier: missing (trained as categorical)" in out and "region: new column (categorical)" in out
    assert "tenure_days: trained as categorical, now numeric" in out
