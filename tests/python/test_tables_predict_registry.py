"""The classifiers with a model store: train once, score every call (retail_lift.tables.predict + retail_lift.registry).

``features`` is the synthetic fct_customer_features of tests/python/conftest.py (train and score snapshots)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import retail_lift.predict.fit_table as fit_table
from retail_lift.registry import CHAMPION, ModelMismatchError, ModelRegistry
from retail_lift.tables.predict import (
    FacebookAcquisitionFitConfig,
    PurchasePropensityFitConfig,
    ReturningCustomerFitConfig,
    ml_facebook_acquisition_fit,
    ml_purchase_propensity_fit,
    ml_returning_customer_fit,
)

NAME = "ml_purchase_propensity_fit"
CONFIG = PurchasePropensityFitConfig(model_kinds=("logistic", "xgboost"))
REGISTRY_COLUMNS = ["registry_action", "registry_reason"]


def _fit(features, store, config=CONFIG, arrow=False):
    """``arrow``: False (pandas), True (an Arrow table) or "relation" (a DuckDB relation, as dbt hands it over)."""
    data = pa.Table.from_pandas(features, preserve_index=False) if arrow else features
    if arrow == "relation":
        import duckdb

        con = duckdb.connect()
        con.register("features_view", data)
        try:
            return ml_purchase_propensity_fit({"fct_customer_features": con.sql("select * from features_view")},
                                              config, store=store)
        finally:
            con.close()
    return ml_purchase_propensity_fit({"fct_customer_features": data}, config, store=store)


def _run(table) -> pd.Series:
    return table[table["record_type"] == "run"].iloc[0]


def _no_fit(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("a score-only call must not fit")

    monkeypatch.setattr(fit_table, "train_compare_score", fail)


def _sorted(table):
    keys = ["record_type", "model", "customer_id", "split", "metric", "feature"]
    return table.sort_values(keys).reset_index(drop=True)


@pytest.fixture
def trained(features, tmp_path):
    store = ModelRegistry(tmp_path / "models")
    first = _fit(features, store)
    return store, first


@pytest.mark.parametrize("arrow", [False, True, "relation"])
def test_a_second_call_scores_with_the_champion_without_fitting(features, tmp_path, monkeypatch, arrow):
    store = ModelRegistry(tmp_path / "models")
    first = _fit(features, store, arrow=arrow)
    run = _run(first)
    assert run["registry_action"] == "train" and run["registry_reason"] == "no registered champion"
    assert run["model_version"] == 1 and first["model_version"].eq(1).all() and first["trained_at"].notna().all()
    _no_fit(monkeypatch)
    second = _fit(features, store, arrow=arrow)
    third = _fit(features, store, arrow=arrow)
    assert _run(second)["registry_action"] == "score"
    assert _run(second)["registry_reason"].startswith("scored with champion version 1 (trained ")
    assert [v.version for v in store.versions(NAME)] == [1]
    # two score-only calls of the same data and registry: identical tables
    pd.testing.assert_frame_equal(second, third)
    # and the score-only table is the training's, but for the run row's registry columns
    cols = [c for c in first.columns if c not in REGISTRY_COLUMNS]
    pd.testing.assert_frame_equal(_sorted(first)[cols], _sorted(second)[cols])
    scores = second[second["record_type"] == "score"]
    assert len(scores) == 400 and scores["model_version"].eq(1).all()
    assert (scores["trained_at"] == store.get_alias(NAME).trained_at).all()


def test_a_score_only_call_reads_only_the_score_rows_of_a_relation(features, tmp_path, monkeypatch):
    """A relation (what dbt hands over) is read whole only when the registry says train: a score-only call reads
    its score rows alone (the whole feature mart of a large shop never sits in memory to score), with the same
    table as from pandas."""
    import duckdb

    store = ModelRegistry(tmp_path / "models")
    _fit(features, store)
    con = duckdb.connect()
    con.register("features_view", pa.Table.from_pandas(features, preserve_index=False))
    rel = con.sql("select * from features_view")

    class ScoreRowsOnly:  # a relation whose whole-table read fails the test
        columns = rel.columns

        def filter(self, condition):
            # SQL that DuckDB and Spark share (retail-lift score hands Spark tables over with the same filter):
            # Spark reads a double-quoted name as a string, so the column must be bare
            assert condition == "snapshot_role = 'score'", condition
            return rel.filter(condition)

        def to_arrow_table(self):
            raise AssertionError("a score-only call read the whole feature mart")

    _no_fit(monkeypatch)
    scored = _fit(ScoreRowsOnly(), store)
    con.close()
    assert _run(scored)["registry_action"] == "score"
    pd.testing.assert_frame_equal(scored, _fit(features, store))


def test_a_filter_that_reads_no_score_rows_stops_the_score_only_call(features, tmp_path, monkeypatch):
    """An engine that reads the score-rows filter differently (Spark once read a quoted column name as a string)
    returns no rows: the call counts the roles itself and stops, naming the condition and the count, instead of
    scoring nobody; a feature relation that truly has no score rows still scores none."""
    import duckdb

    store = ModelRegistry(tmp_path / "models")
    _fit(features, store)
    con = duckdb.connect()
    con.register("features_view", pa.Table.from_pandas(features, preserve_index=False))
    rel = con.sql("select * from features_view")

    class MisreadFilter:
        columns = rel.columns

        def filter(self, condition):
            return rel.limit(0)

        def select(self, *cols):
            return rel.select(*cols)

        def to_arrow_table(self):
            raise AssertionError("a score-only call read the whole feature mart")

    _no_fit(monkeypatch)
    n_score = int((features["snapshot_role"] == "score").sum())
    with pytest.raises(RuntimeError, match=rf"filter \"snapshot_role = 'score'\" read no rows .* {n_score} of its "
                                           rf"{len(features)} rows have snapshot_role = 'score'"):
        _fit(MisreadFilter(), store)
    none_to_score = con.sql("select * from features_view where snapshot_role <> 'score'")
    scored = _fit(none_to_score, store)
    con.close()
    assert _run(scored)["registry_action"] == "score" and _run(scored)["score_rows"] == 0
    assert (scored["record_type"] == "score").sum() == 0


def test_a_first_training_reads_no_score_rows_for_the_decision(features, tmp_path):
    """Without a champion (or with retrain) the registry's decision compares nothing with the score rows: they are
    not read for it (a large shop's first training build does not hold them twice); the table is the pandas one."""
    import duckdb

    con = duckdb.connect()
    con.register("features_view", pa.Table.from_pandas(features, preserve_index=False))
    rel = con.sql("select * from features_view")

    class NoFilteredRead:  # a relation whose filtered (score rows) read fails the test
        columns = rel.columns

        def filter(self, condition):
            raise AssertionError("the decision read the score rows without a champion")

        def limit(self, n):
            return rel.limit(n)

        def to_arrow_table(self):
            return rel.to_arrow_table()

    store, reference = ModelRegistry(tmp_path / "a"), ModelRegistry(tmp_path / "b")
    first = _fit(NoFilteredRead(), store)
    assert _run(first)["registry_action"] == "train"
    retrained = _fit(NoFilteredRead(), store, config=PurchasePropensityFitConfig(model_kinds=("logistic", "xgboost"),
                                                                                 retrain=True))
    con.close()
    assert _run(retrained)["registry_action"] == "train" and _run(retrained)["model_version"] == 2
    cols = [c for c in first.columns if c != "trained_at"]
    pd.testing.assert_frame_equal(first[cols], _fit(features, reference)[cols])


def test_the_version_records_the_training(trained):
    store, first = trained
    rec = store.get_alias(NAME, CHAMPION).record
    assert rec["kind"] == _run(first)["model"] and rec["label"] == "purchased_next_30d"
    assert rec["params"]["model_kinds"] == ["logistic", "xgboost"] and rec["params"]["cv"] == 3
    assert {"logistic.holdout.roc_auc", "xgboost.holdout.log_loss"} <= set(rec["metrics"])
    assert [d["column"] for d in rec["feature_spec"]][:3] == ["customer_id", "snapshot_role", "feature_date"]
    assert "sessions_30d" in rec["model_features"] and "acquisition_channel=facebook" in rec["encoded_features"]
    assert rec["training_data"]["rows"] == 400 and len(rec["training_data"]["sha256"]) == 64
    assert rec["code_version"]["package_version"] and rec["model_card"]["compared_models"] == ["logistic", "xgboost"]
    assert rec["training_reason"] == "no registered champion"


def test_retrain_registers_a_new_champion(features, trained):
    store, _ = trained
    again = _fit(features, store, config=PurchasePropensityFitConfig(model_kinds=("logistic", "xgboost"),
                                                                      retrain="true"))
    run = _run(again)
    assert run["registry_action"] == "train" and run["registry_reason"].startswith("retrain requested")
    assert run["model_version"] == 2 and store.get_alias(NAME).version == 2
    assert store.get_alias(NAME).record["previous_champion"] == 1


def test_an_old_champion_is_retrained(features, trained):
    store, _ = trained
    record_file = store.get_alias(NAME).path / "version.json"
    record = json.loads(record_file.read_text())
    record["trained_at"] = (pd.Timestamp(record["trained_at"]) - pd.Timedelta(days=45)).isoformat()
    record_file.write_text(json.dumps(record))
    run = _run(_fit(features, store))
    assert run["registry_action"] == "train" and "days old (max_model_age_days 30)" in run["registry_reason"]
    # a longer limit keeps scoring with the same old champion
    store.set_alias(NAME, CHAMPION, 1)
    lenient = PurchasePropensityFitConfig(model_kinds=("logistic", "xgboost"), max_model_age_days=60)
    assert _run(_fit(features, store, config=lenient))["registry_action"] == "score"


def test_feature_drift_crossing_the_threshold_retrains(features, trained, monkeypatch):
    store, _ = trained
    shifted = features.copy()
    score = shifted["snapshot_role"] == "score"
    shifted.loc[score, "sessions_30d"] = shifted.loc[score, "sessions_30d"] + 20
    run = _run(_fit(shifted, store))
    assert run["registry_action"] == "train"
    assert "feature drift since version 1: PSI above 0.2 for sessions_30d" in run["registry_reason"]
    # the feature drifted already when version 2 was trained: the next call scores
    _no_fit(monkeypatch)
    again = _run(_fit(shifted, store))
    assert again["registry_action"] == "score" and again["model_version"] == 2


def test_a_changed_feature_spec_retrains_or_stops_naming_the_columns(features, trained):
    store, _ = trained
    changed = features.assign(sessions_30d=features["sessions_30d"].astype(str)).drop(columns=["gender"])
    fail = PurchasePropensityFitConfig(model_kinds=("logistic", "xgboost"), registry_on_mismatch="fail")
    with pytest.raises(ModelMismatchError, match=r"ml_purchase_propensity_fit champion version 1 was trained on "
                                                 r"other features .*gender: missing .*sessions_30d: trained as "
                                                 r"numeric, now categorical"):
        _fit(changed, store, config=fail)
    assert [v.version for v in store.versions(NAME)] == [1]  # nothing scored, nothing registered
    run = _run(_fit(features.drop(columns=["gender"]), store))
    assert run["registry_action"] == "train"
    assert run["registry_reason"] == "feature spec changed since version 1: gender: missing (trained as categorical)"


@pytest.mark.parametrize("damage", ["corrupt", "delete"])
def test_a_corrupted_or_missing_model_file_retrains_or_stops(features, trained, damage):
    store, _ = trained
    path = store.get_alias(NAME).model_file
    if damage == "corrupt":
        path.write_bytes(b"not a pickle" + path.read_bytes()[12:])
    else:
        path.unlink()
    what = "corrupted" if damage == "corrupt" else "missing"
    fail = PurchasePropensityFitConfig(model_kinds=("logistic", "xgboost"), registry_on_mismatch="fail")
    with pytest.raises(ModelMismatchError, match=f"ml_purchase_propensity_fit champion version 1 cannot be used: .*"
                                                 f"model.pkl is {what}"):
        _fit(features, store, config=fail)
    run = _run(_fit(features, store))
    assert run["registry_action"] == "train" and f"model.pkl is {what}" in run["registry_reason"]
    assert run["model_version"] == 2


def test_the_other_classifiers_score_from_the_registry(features, tmp_path, monkeypatch):
    store = ModelRegistry(tmp_path / "models")
    calls = [(ml_returning_customer_fit, ReturningCustomerFitConfig()),
             (ml_facebook_acquisition_fit, FacebookAcquisitionFitConfig())]
    firsts = [f({"fct_customer_features": pa.Table.from_pandas(features, preserve_index=False)}, c, store=store)
              for f, c in calls]
    _no_fit(monkeypatch)
    for (f, c), first in zip(calls, firsts, strict=True):
        again = f({"fct_customer_features": pa.Table.from_pandas(features, preserve_index=False)}, c, store=store)
        assert _run(again)["registry_action"] == "score"
        a, b = first[first["record_type"] == "score"], again[again["record_type"] == "score"]
        np.testing.assert_array_equal(a["probability"].to_numpy(), b["probability"].to_numpy())
    assert store.names() == ["ml_facebook_acquisition_fit", "ml_returning_customer_fit"]


def test_without_a_store_every_call_trains(features):
    table = _fit(features, None)
    run = _run(table)
    assert run["registry_action"] == "train" and run["registry_reason"] == "no model store: trained in this build"
    assert table["model_version"].isna().all()
    with pytest.raises(TypeError, match="store must be a retail_lift.registry.ModelRegistry"):
        _fit(features, "models/")


@pytest.mark.parametrize(("key", "value", "message"), [
    ("retrain", "maybe", "retrain must be true or false"),
    ("max_model_age_days", 0, "max_model_age_days"),
    ("registry_on_mismatch", "ignore", "registry_on_mismatch must be one of"),
    ("registry_alias", "prod", "registry_alias must be one of"),
])
def test_registry_settings_are_checked(key, value, message):
    with pytest.raises(ValueError, match=message):
        PurchasePropensityFitConfig(**{key: value})
    assert PurchasePropensityFitConfig(retrain="True").retrain is True
    assert PurchasePropensityFitConfig(max_model_age_days="7").max_model_age_days == 7


def test_model_store_is_beside_the_warehouse_file_and_leaves_the_connection_usable(tmp_path):
    import duckdb

    from retail_lift.tables import model_store

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    store = model_store(con)
    assert store.root == (tmp_path / "models").resolve()
    assert con.execute("select 1").fetchall() == [(1,)]  # no unfinished result left on dbt's connection
    assert con.sql("select 2").to_arrow_table().num_rows == 1
    assert model_store(duckdb.connect()) is None  # in memory: no registry, every build trains


def test_model_store_of_a_spark_session_and_the_override(tmp_path, monkeypatch):
    from retail_lift.tables import model_store

    class Conf:
        def get(self, key, default=None):
            return f"file:{tmp_path}/spark/tables" if key == "spark.sql.warehouse.dir" else default

    class SparkLike:
        conf = Conf()

    assert model_store(SparkLike()).root == (tmp_path / "spark" / "models").resolve()
    monkeypatch.setenv("RETAIL_LIFT_MODEL_REGISTRY", str(tmp_path / "shared"))
    assert model_store(SparkLike()).root == tmp_path / "shared"
