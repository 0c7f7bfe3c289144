"""The uplift run with a model store: train once, score every call (retail_lift.tables.uplift, uplift.champion).

The marts are a synthetic one-arm experiment (tests/python/synthetic_uplift.py), and a second experiment for the
experiment-change trigger; the learner is forced and the placebo short, so a training takes about a second."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from synthetic_uplift import one_arm_world

import retail_lift.uplift.champion as champion
from retail_lift.registry import CHAMPION, ModelMismatchError, ModelRegistry
from retail_lift.tables.uplift import REGISTRY_COLUMNS, UpliftRunConfig, ml_uplift_run
from retail_lift.uplift.features import FEATURES
from retail_lift.uplift.pipeline import fit_score_uplift, score_uplift

NAME = "ml_uplift_run"
FAST = {"learner": "t", "base_learner": "logistic", "n_folds": 3, "n_placebo": 3, "n_threads": 1}
CONFIG = UpliftRunConfig(**FAST)
REASON_COLUMNS = ["registry_action", "registry_reason"]


def _marts(n: int = 900, seed: int = 3, second: bool = False) -> dict:
    training, _, _ = one_arm_world(hidden=False, n=n, seed=seed)
    if second:  # a second experiment, on other customers, with its own arm
        other, _, _ = one_arm_world(hidden=False, n=n, seed=seed + 1)
        other["exposure_id"] = "x" + other["exposure_id"]
        other["customer_id"] = "x" + other["customer_id"]
        other["experiment_id"] = "exp2"
        other["variant"] = other["variant"].replace({"arm": "arm2"})
        training = pd.concat([training, other], ignore_index=True)
    scoring = training[["customer_id", *FEATURES]].copy()
    promotions = pd.DataFrame({"promotion_id": ["arm", "arm2"], "discount_rate": [0.1, 0.2],
                               "contact_cost": [0.02, 0.05], "launched_at": pd.NaT})
    return {"fct_uplift_training_exposures": training, "fct_uplift_scoring_customers": scoring,
            "fct_experiment_srm": pd.DataFrame(columns=["experiment_id", "observed_users", "planned_share"]),
            "stg_shop__promotions": promotions}


@pytest.fixture(scope="module")
def marts() -> dict:
    return _marts()


def _relations(marts: dict) -> dict:
    con = duckdb.connect()
    out = {}
    for name, frame in marts.items():
        con.register(f"{name}_frame", frame)
        out[name] = con.table(f"{name}_frame")
    return out


def _run(marts, store, config=CONFIG) -> pd.DataFrame:
    return ml_uplift_run(marts, config, store=store).to_pandas()


def _registry(table: pd.DataFrame) -> tuple:
    """The run's (registry_action, registry_reason, model_version): the same on every row."""
    values = table[["registry_action", "registry_reason", "model_version"]].drop_duplicates()
    assert len(values) == 1
    return tuple(values.iloc[0])


def _no_fit(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("a score-only call must not fit")

    monkeypatch.setattr(champion, "fit_score_uplift", fail)


def _config(**settings) -> UpliftRunConfig:
    return UpliftRunConfig(**{**FAST, **settings})


@pytest.fixture
def trained(marts, tmp_path):
    store = ModelRegistry(tmp_path / "models")
    return store, _run(marts, store)


@pytest.mark.parametrize("duckdb_relations", [False, True])
def test_a_second_call_scores_with_the_champion_without_fitting(marts, tmp_path, monkeypatch, duckdb_relations):
    data = _relations(marts) if duckdb_relations else marts
    store = ModelRegistry(tmp_path / "models")
    first = _run(data, store)
    assert _registry(first) == ("train", "no registered champion", 1)
    assert first["trained_at"].notna().all() and (first["trained_at"] == store.get_alias(NAME).trained_at).all()
    _no_fit(monkeypatch)
    second = _run(data, store)
    third = _run(data, store)
    action, reason, version = _registry(second)
    assert action == "score" and version == 1 and reason.startswith("scored with champion version 1 (trained ")
    assert [v.version for v in store.versions(NAME)] == [1]
    # the score-only table is the training's, row for row, but for the reason columns; twice the same
    cols = [c for c in first.columns if c not in REASON_COLUMNS]
    pd.testing.assert_frame_equal(first[cols], second[cols])
    pd.testing.assert_frame_equal(second, third)
    assert set(first["table_name"]) == {"scores", "holdout_predictions", "metrics", "segments", "incremental_roi"}


def test_the_version_records_the_training(trained):
    store, first = trained
    version = store.get_alias(NAME, CHAMPION)
    rec = version.record
    assert rec["params"]["learner"] == "t" and rec["params"]["k_fractions"] == [0.1, 0.2, 0.3]
    assert {"exp.arm.qini_auc", "exp.arm.uplift_auc", "exp.arm.placebo_pass"} <= set(rec["metrics"])
    metrics = first[(first["table_name"] == "metrics") & (first["metric_name"] == "qini_auc")]
    assert rec["metrics"]["exp.arm.qini_auc"] == pytest.approx(float(metrics["metric_value"].iloc[0]))
    assert [d["column"] for d in rec["feature_spec"]] == FEATURES
    assert rec["training_data"]["rows"] == 900 and len(rec["training_data"]["sha256"]) == 64
    assert rec["experiments"] == {"exp": {"arm": False, "control": True}} and rec["srm_dropped"] == {}
    assert rec["model_card"]["scoring_arms"]["arm"]["learner"] == "t"
    assert rec["code_version"]["package_version"] and rec["training_reason"] == "no registered champion"
    assert sorted(rec["artifacts"]) == ["drift_reference", "holdout_predictions", "metrics"]
    assert len(store.load_artifact(version, "drift_reference")) == 900
    assert set(REGISTRY_COLUMNS) <= set(first.columns)


def test_retrain_registers_a_new_champion(marts, trained):
    store, _ = trained
    action, reason, version = _registry(_run(marts, store, _config(retrain="true")))
    assert action == "train" and reason.startswith("retrain requested") and version == 2
    assert store.get_alias(NAME).version == 2 and store.get_alias(NAME).record["previous_champion"] == 1


@pytest.mark.parametrize("damage", ["corrupt", "delete"])
def test_a_corrupted_or_missing_model_file_retrains_or_stops(marts, trained, damage):
    store, _ = trained
    path = store.get_alias(NAME).model_file
    if damage == "corrupt":
        path.write_bytes(b"not a pickle" + path.read_bytes()[12:])
    else:
        path.unlink()
    what = "corrupted" if damage == "corrupt" else "missing"
    with pytest.raises(ModelMismatchError, match=f"ml_uplift_run champion version 1 cannot be used: .*"
                                                 f"model.pkl is {what}"):
        _run(marts, store, _config(registry_on_mismatch="fail"))
    assert [v.version for v in store.versions(NAME)] == [1]
    action, reason, version = _registry(_run(marts, store))
    assert action == "train" and f"model.pkl is {what}" in reason and version == 2


def test_a_changed_feature_spec_retrains_or_stops_naming_the_columns(marts, trained):
    store, _ = trained
    scoring = marts["fct_uplift_scoring_customers"]
    changed = {**marts, "fct_uplift_scoring_customers": scoring.assign(tenure_days=scoring["tenure_days"].astype(str))
               .drop(columns=["gender"])}
    with pytest.raises(ModelMismatchError, match=r"ml_uplift_run champion version 1 was trained on other features "
                                                 r"than the current ones: gender: missing \(trained as categorical\); "
                                                 r"tenure_days: trained as numeric, now categorical"):
        _run(changed, store, _config(registry_on_mismatch="fail"))
    assert [v.version for v in store.versions(NAME)] == [1]  # nothing scored, nothing registered
    retyped = {**marts, "fct_uplift_scoring_customers": scoring.assign(tenure_days=scoring["tenure_days"].astype(str))}
    action, reason, version = _registry(_run(retyped, store))
    assert action == "train" and version == 2
    assert reason == "feature spec changed since version 1: tenure_days: trained as numeric, now categorical"


def test_an_experiment_added_or_removed_retrains(tmp_path, monkeypatch):
    store = ModelRegistry(tmp_path / "models")
    one, two = _marts(), _marts(second=True)
    _run(one, store)
    added = _run(two, store)
    assert _registry(added) == ("train", "experiments changed since version 1: experiment exp2 added", 2)
    scores = added[added["table_name"] == "scores"]
    assert set(scores["promotion_id"]) == {"arm", "arm2"} and len(scores) == 2 * 1800
    assert store.get_alias(NAME).record["model_card"]["experiments_modelled"] == ["exp", "exp2"]
    # the same experiments again: scored
    assert _registry(_run(two, store))[0] == "score"
    # exp2 gone from the training table (its customers still scored)
    gone = {**two, "fct_uplift_training_exposures": one["fct_uplift_training_exposures"]}
    assert _registry(_run(gone, store)) == ("train", "experiments changed since version 2: experiment exp2 removed", 3)


def test_a_setting_of_the_learners_retrains_a_scoring_setting_does_not(marts, trained, monkeypatch):
    store, first = trained
    action, reason, version = _registry(_run(marts, store, _config(n_placebo=4)))
    assert (action, version) == ("train", 2) and reason == "settings changed since version 1: n_placebo 3 -> 4"
    _no_fit(monkeypatch)
    scored = _run(marts, store, _config(n_placebo=4, margin_rate=0.5, uplift_threshold=0.02))
    assert _registry(scored)[0] == "score"
    roi = scored[scored["table_name"] == "incremental_roi"]
    assert set(roi["margin_rate"]) == {0.5}
    assert set(scored.loc[scored["table_name"] == "segments", "uplift_threshold"]) == {0.02}


def test_an_old_champion_is_retrained(marts, trained):
    store, _ = trained
    record_file = store.get_alias(NAME).path / "version.json"
    record = json.loads(record_file.read_text())
    record["trained_at"] = (pd.Timestamp(record["trained_at"]) - pd.Timedelta(days=45)).isoformat()
    record_file.write_text(json.dumps(record))
    action, reason, _ = _registry(_run(marts, store))
    assert action == "train" and "days old (max_model_age_days 30)" in reason
    store.set_alias(NAME, CHAMPION, 1)
    assert _registry(_run(marts, store, _config(max_model_age_days=60)))[0] == "score"


def test_feature_drift_crossing_the_threshold_retrains(marts, trained, monkeypatch):
    store, _ = trained
    scoring = marts["fct_uplift_scoring_customers"]
    shifted = {**marts, "fct_uplift_scoring_customers": scoring.assign(sessions_30d=scoring["sessions_30d"] + 20)}
    action, reason, version = _registry(_run(shifted, store))
    assert action == "train" and version == 2
    assert reason.startswith("feature drift since version 1: PSI above 0.2 for sessions_30d ")
    # it had drifted already when version 2 was trained: the next call scores
    _no_fit(monkeypatch)
    assert _registry(_run(shifted, store))[:1] == ("score",)


def test_score_uplift_is_the_training_s_scoring_and_takes_an_unseen_level(marts):
    training, scoring = marts["fct_uplift_training_exposures"], marts["fct_uplift_scoring_customers"]
    fitted = fit_score_uplift(training, scoring, **FAST)
    again = score_uplift(fitted.model, scoring, metrics=fitted.metrics,
                         holdout_predictions=fitted.holdout_predictions, n_threads=1)
    for name in fitted.TABLES:
        pd.testing.assert_frame_equal(getattr(fitted, name), getattr(again, name))
    # a region the model never saw is encoded as a NULL region (all its one-hot columns zero)
    unseen = scoring.assign(region=np.where(scoring["customer_id"] == "e00000", "zz", scoring["region"]))
    null = scoring.assign(region=np.where(scoring["customer_id"] == "e00000", None, scoring["region"]))
    kwargs = {"metrics": fitted.metrics, "holdout_predictions": fitted.holdout_predictions, "n_threads": 1}
    a, b = score_uplift(fitted.model, unseen, **kwargs).scores, score_uplift(fitted.model, null, **kwargs).scores
    pd.testing.assert_frame_equal(a, b)
