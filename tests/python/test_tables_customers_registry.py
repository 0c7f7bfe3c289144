"""The CLV tables with a model store: ml_customer_lifetime_value_params trains (fit + bootstrap) once and
registers the fitted state; later calls repeat its parameters and ml_customer_lifetime_value applies it
(retail_lift.clv_champion).

``inputs``: the CDNOW sample of tests/python/data (in weeks: any unit works)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import retail_lift.clv as clv
from retail_lift.clv_champion import CLV_MODEL
from retail_lift.predict.drift import population_stability_index
from retail_lift.registry import CHAMPION, ModelMismatchError, ModelRegistry
from retail_lift.tables.customers import (
    CustomerLifetimeValueConfig,
    CustomerLifetimeValueParamsConfig,
    ml_customer_lifetime_value,
    ml_customer_lifetime_value_params,
)

DATA = Path(__file__).parent / "data"
PARAMS = CustomerLifetimeValueParamsConfig(n_bootstrap=3)
SCORES = CustomerLifetimeValueConfig()
REGISTRY_COLUMNS = ["registry_action", "registry_reason"]


@pytest.fixture(scope="module")
def inputs() -> pd.DataFrame:
    df = pd.read_csv(DATA / "cdnow_customers_summary.csv")
    df.columns = ["customer_id", "frequency", "recency", "T", "monetary_value"]
    return df.sample(frac=1.0, random_state=4).reset_index(drop=True)


def _build(inputs, store, params=PARAMS, scores=SCORES):
    """One build of the two CLV models, in dbt's order (the parameters first: they train)."""
    relations = {"fct_customer_ltv_inputs": inputs}
    p = ml_customer_lifetime_value_params(relations, params, store=store)
    s = ml_customer_lifetime_value(relations, scores, store=store)
    return p, s


def _no_fit(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("a score-only build must not fit")

    monkeypatch.setattr(clv, "_fit_purchase", fail)
    monkeypatch.setattr(clv, "_fit_spend", fail)
    monkeypatch.setattr(clv, "_bootstrap_draws", fail)


@pytest.fixture
def trained(inputs, tmp_path):
    store = ModelRegistry(tmp_path / "models")
    return store, _build(inputs, store)


def test_a_second_build_scores_with_the_champion_and_gives_the_same_tables(inputs, tmp_path, monkeypatch):
    store = ModelRegistry(tmp_path / "models")
    p1, s1 = _build(inputs, store)
    assert p1["registry_action"].eq("train").all() and p1["registry_reason"].eq("no registered champion").all()
    assert p1["model_version"].eq(1).all() and s1["model_version"].eq(1).all()
    assert p1["trained_at"].eq(store.get_alias(CLV_MODEL).trained_at).all()
    # the first build's scores are the champion's: the same as the fit without a store
    direct, params = clv.lifetime_value_table(inputs, n_bootstrap=3)
    pd.testing.assert_frame_equal(s1.drop(columns=["model_version", "trained_at"]), direct)
    pd.testing.assert_frame_equal(p1.drop(columns=["model_version", "trained_at", *REGISTRY_COLUMNS]), params)
    _no_fit(monkeypatch)
    p2, s2 = _build(inputs, store)
    p3, s3 = _build(inputs, store)
    assert p2["registry_action"].eq("score").all()
    assert p2["registry_reason"].str.startswith("scored with champion version 1 (trained ").all()
    assert [v.version for v in store.versions(CLV_MODEL)] == [1] and store.names() == [CLV_MODEL]
    pd.testing.assert_frame_equal(s1, s2)
    pd.testing.assert_frame_equal(p1.drop(columns=REGISTRY_COLUMNS), p2.drop(columns=REGISTRY_COLUMNS))
    pd.testing.assert_frame_equal(p2, p3)
    pd.testing.assert_frame_equal(s2, s3)


def test_the_champion_scores_other_customers_with_its_parameters(inputs, trained, monkeypatch):
    store, (p1, _s1) = trained
    _no_fit(monkeypatch)
    half = inputs.iloc[: len(inputs) // 2]
    scores = ml_customer_lifetime_value({"fct_customer_ltv_inputs": half}, store=store)
    values = p1.set_index(["model", "parameter"])["value"]
    bg = {k: values[("bg_nbd", k)] for k in ("r", "alpha", "a", "b")}
    h = half.sort_values("customer_id").reset_index(drop=True)
    expected = clv.expected_purchases(bg, 365.0, h["frequency"], h["recency"], h["T"])
    np.testing.assert_allclose(scores["expected_purchases_365d"].to_numpy(), expected, rtol=1e-12)
    assert scores["model_version"].eq(1).all() and len(scores) == len(half)


def test_the_version_records_the_training(trained):
    store, _ = trained
    rec = store.get_alias(CLV_MODEL).record
    assert rec["family"] == "clv" and rec["params"]["n_bootstrap"] == 3 and rec["params"]["penalizer"] == 0.0
    assert [d["column"] for d in rec["feature_spec"]] == ["customer_id", "frequency", "recency", "T",
                                                          "monetary_value"]
    assert rec["training_data"]["rows"] == 2357 and rec["model_card"]["bg_nbd_status"].startswith("ok")
    assert {"bg_nbd.r", "gamma_gamma.q", "clv.total_clv_revenue_12m"} <= set(rec["metrics"])
    assert sorted(rec["artifacts"]) == ["drift_reference", "params"]


def test_retrain_and_changed_settings_train_a_new_version(inputs, trained):
    store, _ = trained
    p, s = _build(inputs, store, params=CustomerLifetimeValueParamsConfig(n_bootstrap=3, retrain="true"))
    assert p["registry_action"].eq("train").all() and p["registry_reason"].str.startswith("retrain requested").all()
    assert p["model_version"].eq(2).all() and s["model_version"].eq(2).all()
    assert store.get_alias(CLV_MODEL).record["previous_champion"] == 1
    p, _ = _build(inputs, store, params=CustomerLifetimeValueParamsConfig(n_bootstrap=4))
    assert p["registry_action"].eq("train").all()
    assert p["registry_reason"].eq("settings changed since version 2: n_bootstrap 3 -> 4").all()
    assert p["model_version"].eq(3).all()


def test_an_old_champion_is_retrained(inputs, trained):
    store, _ = trained
    record_file = store.get_alias(CLV_MODEL).path / "version.json"
    record = json.loads(record_file.read_text())
    record["trained_at"] = (pd.Timestamp(record["trained_at"]) - pd.Timedelta(days=45)).isoformat()
    record_file.write_text(json.dumps(record))
    p, _ = _build(inputs, store)
    assert p["registry_action"].eq("train").all()
    assert p["registry_reason"].str.contains("days old \\(max_model_age_days 30\\)").all()


def test_time_passing_alone_is_not_drift(inputs, trained):
    """Two weeks later (the CDNOW summary is in weeks) every customer's T is 2 longer: T's PSI is far above 0.2,
    the repeat rate's is not, and the champion scores (bench/results/registry_age_drift.md: at 7-14 days a refit
    predicts no better)."""
    store, _ = trained
    later = inputs.assign(T=inputs["T"] + 2)
    assert population_stability_index(inputs["T"], later["T"]) > 0.2
    p, s = _build(inputs=later, store=store)
    assert p["registry_action"].eq("score").all()
    assert s["model_version"].eq(1).all()


def test_a_changed_purchase_rate_retrains(inputs, trained):
    store, _ = trained
    busier = inputs.assign(frequency=inputs["frequency"] * 3)
    p, s = _build(inputs=busier, store=store)
    assert p["registry_action"].eq("train").all()
    assert p["registry_reason"].str.startswith("feature drift since version 1: PSI above 0.2 for repeat_rate ").all()
    assert s["model_version"].eq(2).all()


def test_a_changed_input_spec_retrains_or_stops_naming_the_columns(inputs, trained):
    store, _ = trained
    costed = inputs.assign(total_amount=inputs["monetary_value"] * (inputs["frequency"] + 1),
                           cost_of_goods=inputs["monetary_value"] * (inputs["frequency"] + 1) * 0.6)
    fail = CustomerLifetimeValueParamsConfig(n_bootstrap=3, registry_on_mismatch="fail")
    with pytest.raises(ModelMismatchError, match=r"ml_customer_lifetime_value_params champion version 1 was "
                                                 r"trained on other features .*total_amount: new column"):
        ml_customer_lifetime_value_params({"fct_customer_ltv_inputs": costed}, fail, store=store)
    # the scores alone (their trainer not built first) stop too, naming the model that retrains
    with pytest.raises(ModelMismatchError, match=r"ml_customer_lifetime_value_params champion version 1 was "
                                                 r"trained on other inputs .*cost_of_goods: new column.*build "
                                                 r"ml_customer_lifetime_value_params first"):
        ml_customer_lifetime_value({"fct_customer_ltv_inputs": costed}, store=store)
    p, s = _build(costed, store)
    assert p["registry_action"].eq("train").all()
    assert p["registry_reason"].str.startswith("feature spec changed since version 1: total_amount: new column").all()
    assert s["model_version"].eq(2).all() and s["clv_margin_12m"].notna().any()


@pytest.mark.parametrize("damage", ["corrupt", "delete"])
def test_a_corrupted_or_missing_model_file_retrains_or_stops(inputs, trained, damage):
    store, _ = trained
    path = store.get_alias(CLV_MODEL).model_file
    if damage == "corrupt":
        path.write_bytes(b"not a pickle" + path.read_bytes()[12:])
    else:
        path.unlink()
    what = "corrupted" if damage == "corrupt" else "missing"
    fail = CustomerLifetimeValueParamsConfig(n_bootstrap=3, registry_on_mismatch="fail")
    with pytest.raises(ModelMismatchError, match=f"ml_customer_lifetime_value_params champion version 1 cannot be "
                                                 f"used: .*model.pkl is {what}"):
        ml_customer_lifetime_value_params({"fct_customer_ltv_inputs": inputs}, fail, store=store)
    with pytest.raises(ModelMismatchError, match=f"model.pkl is {what}.* \\(build ml_customer_lifetime_value_params"):
        ml_customer_lifetime_value({"fct_customer_ltv_inputs": inputs}, store=store)
    p, s = _build(inputs, store)
    assert p["registry_action"].eq("train").all() and p["registry_reason"].str.contains(f"model.pkl is {what}").all()
    assert p["model_version"].eq(2).all() and s["model_version"].eq(2).all()


def test_the_scores_need_the_champions_penalizer(inputs, trained):
    store, _ = trained
    with pytest.raises(ValueError, match="ml_customer_lifetime_value: penalizer 0.1 differs from the "
                                         "ml_customer_lifetime_value_params champion's"):
        ml_customer_lifetime_value({"fct_customer_ltv_inputs": inputs}, CustomerLifetimeValueConfig(penalizer=0.1),
                                   store=store)


def test_a_challenger_is_registered_but_not_scored_with(inputs, trained):
    store, _ = trained
    p, s = _build(inputs, store, params=CustomerLifetimeValueParamsConfig(n_bootstrap=3, retrain=True,
                                                                          registry_alias="challenger"))
    assert p["model_version"].eq(2).all() and store.get_alias(CLV_MODEL, CHAMPION).version == 1
    assert s["model_version"].eq(1).all()


def test_score_lifetime_value_needs_a_fitted_state(inputs):
    with pytest.raises(ValueError, match="the CLV state is missing bg, gg"):
        clv.score_lifetime_value(inputs, {"penalizer": 0.0})
