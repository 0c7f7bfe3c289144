"""dbt builds with the model registry: the shared tiny build trained and registered the classifiers, the CLV
parameters, the segments, the cross-sell rules and the bandit models; a second build of the same data scores with
those champions (no training), republishes the bandit tables (no candidate fitted, no off-policy evaluation rerun),
and gives the same tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from helpers import run_dbt

from retail_lift.registry import ModelRegistry
from retail_lift.tables import REGISTERED_MODELS

pytestmark = pytest.mark.dbt

#: the bandit models on the registry (their tables: registry_action train / reuse on every row)
BANDIT_MODELS = [m for m in REGISTERED_MODELS if m.startswith("ml_bandit_")]
#: the fit tables, the bandit tables and the tables selected from them
TABLES = [*REGISTERED_MODELS, "ml_classifier_runs", "ml_purchase_propensity_scores", "ml_category_propensity_scores",
          "ml_returning_customer_scores", "ml_facebook_acquisition_scores", "ml_classifier_metrics",
          "ml_classifier_feature_drift", "ml_classifier_feature_importance", "ml_purchase_propensity_fairness",
          "ml_customer_lifetime_value", "ml_customer_segments", "ml_customer_segment_profiles",
          "ml_customer_segment_k_scores", "ml_crosssell_recommendations", "ml_bandit_policy",
          "ml_customer_uplift", "ml_uplift_holdout_predictions", "ml_uplift_metrics", "ml_uplift_segments",
          "ml_uplift_incremental_roi"]


def _copy(build: Path, to: Path) -> Path:
    to.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(build / "warehouse.duckdb", to / "warehouse.duckdb")
    if (build / "models").is_dir():
        shutil.copytree(build / "models", to / "models")
    return to


def _rows(db: Path, table: str, drop=()) -> list:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cols = [c for (c,) in con.execute(
            "select column_name from duckdb_columns() where schema_name = 'ml' and table_name = ? "
            "order by column_index", [table]).fetchall() if c not in drop]
        select = ", ".join(f'"{c}"' for c in cols)
        return con.execute(f"select {select} from ml.{table} order by all").fetchall()
    finally:
        con.close()


def _runs(db: Path) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {r[0]: r[1:] for r in con.execute(
            "select classifier, status, registry_action, registry_reason, model_version from ml.ml_classifier_runs"
        ).fetchall()}
    finally:
        con.close()


def _family_actions(db: Path) -> dict:
    """The registry action of the CLV parameters, the segments and the cross-sell rules (distinct, one each)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for table, where in (("ml_customer_lifetime_value_params", "true"),
                             ("ml_customer_segments_fit", "record_type = 'run'"), ("ml_crosssell_rules", "true")):
            actions = con.execute(f"select distinct registry_action from ml.{table} where {where}").fetchall()
            if actions:  # no cross-sell rule mined on a tiny world: no row to say it
                assert len(actions) == 1, (table, actions)
                out[table] = actions[0][0]
        return out
    finally:
        con.close()


def _bandit_actions(db: Path) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {m: con.execute(f"select list(distinct registry_action), list(distinct registry_reason), "
                               f"list(distinct model_version) from ml.{m}").fetchone() for m in BANDIT_MODELS}
    finally:
        con.close()


def _score_only(build: Path, work: Path, *extra: str) -> Path:
    """Every registered model and what is built on it, but the truth evaluation (as the daily path: it keeps
    nothing in the registry and none of TABLES reads it)."""
    selection = [f"{m}+" for m in REGISTERED_MODELS]
    run_dbt(["build", "--select", *selection, "--exclude", "source:simulation+", *extra], build / "raw",
            build / "truth", work)
    return work / "warehouse.duckdb"


def test_a_second_build_scores_with_the_registered_champions(tiny_warehouse, tmp_path):
    build = tiny_warehouse.parent
    store = ModelRegistry.beside(tiny_warehouse)
    first = _runs(tiny_warehouse)
    trained = {c for c, (status, *_rest) in first.items() if status == "trained"}
    assert trained, "the tiny world trains at least one classifier"
    for status, action, reason, version in first.values():
        assert action == "train" and reason == "no registered champion"
        assert (version is not None) == (status == "trained")
    champions = {m: store.get_alias(m) for m in REGISTERED_MODELS}
    for model, (actions, reasons, versions) in _bandit_actions(tiny_warehouse).items():
        assert (actions, reasons, versions) == (["train"], ["no registered champion"], [1]), model
    second_db = _score_only(build, _copy(build, tmp_path / "second"))
    second = _runs(second_db)
    for model, (actions, reasons, versions) in _bandit_actions(second_db).items():
        assert actions == ["reuse"] and versions == [1], model
        assert reasons[0].startswith("reused version 1 (trained ") and "no new decisions (ledger of " in reasons[0]
    for classifier, (_status, action, reason, version) in second.items():
        if classifier in trained:
            assert action == "score" and reason.startswith(f"scored with champion version {version} ")
        else:  # nothing registered (skipped): it is tried again
            assert action == "train" and reason == "no registered champion" and version is None
    # the other families scored with their champions too
    for model, action in _family_actions(second_db).items():
        assert action == "score", model
    # no new version was registered, and the tables are the first build's but for the run rows' registry columns
    copy = ModelRegistry.beside(second_db)
    for model, champ in champions.items():
        assert [v.version for v in copy.versions(model)] == ([champ.version] if champ else [])
    for table in TABLES:
        drop = ("registry_action", "registry_reason")
        assert _rows(tiny_warehouse, table, drop) == _rows(second_db, table, drop), table
    # a third build of the same data and registry: identical tables, every column
    third_db = _score_only(build, _copy(tmp_path / "second", tmp_path / "third"))
    for table in TABLES:
        assert _rows(second_db, table) == _rows(third_db, table), table


def test_the_retrain_var_trains_a_new_version(tiny_warehouse, tmp_path):
    build = tiny_warehouse.parent
    work = _copy(build, tmp_path / "retrain")
    run_dbt(["run", "--select", "ml_purchase_propensity_fit", "--vars", "{retrain: true}"],
            build / "raw", build / "truth", work)
    con = duckdb.connect(str(work / "warehouse.duckdb"), read_only=True)
    try:
        action, reason, versions = con.execute(
            "select registry_action, registry_reason, list(distinct model_version) from ml.ml_purchase_propensity_fit "
            "where record_type = 'run' group by all").fetchone()
    finally:
        con.close()
    before = ModelRegistry.beside(tiny_warehouse).get_alias("ml_purchase_propensity_fit")
    after = ModelRegistry.beside(work / "warehouse.duckdb").get_alias("ml_purchase_propensity_fit")
    if before is None:  # not trainable on this world
        pytest.skip("the tiny world's purchase propensity was skipped")
    assert action == "train" and reason.startswith("retrain requested")
    assert versions == [before.version + 1] and after.version == before.version + 1
    assert after.record["previous_champion"] == before.version
