"""The customer segments with a model store: ml_customer_segments_fit fits the scaler and k-means and chooses k
once, registers them, and later calls assign the buyers with the champion (retail_lift.segments_champion)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import retail_lift.segments as segments
from retail_lift.registry import ModelMismatchError, ModelRegistry
from retail_lift.segments import SegmentModel
from retail_lift.segments_champion import SEGMENTS_MODEL
from retail_lift.tables.segments import CustomerSegmentsFitConfig, ml_customer_segments_fit

CONFIG = CustomerSegmentsFitConfig(k_range=(2, 4), sample_size=200, n_init=2)
RUN_COLUMNS = ["registry_action", "registry_reason"]


@pytest.fixture(scope="module")
def marts() -> tuple[pd.DataFrame, pd.DataFrame]:
    """dim_customer_rfm and fct_customer_features (score snapshot) of 300 buyers, a few without features."""
    rng = np.random.default_rng(11)
    n = 300
    ids = [f"C{i:04d}" for i in range(n)]
    orders = rng.poisson(1.5, n) + 1
    rfm = pd.DataFrame({"customer_id": ids, "recency_days": rng.exponential(40, n), "frequency": orders,
                        "monetary": orders * rng.gamma(4, 10, n)})
    features = pd.DataFrame({
        "customer_id": ids[:290], "snapshot_role": "score", "days_since_first_order": rng.uniform(5, 300, 290),
        "avg_order_value": rng.gamma(4, 10, 290), "sessions_all": rng.poisson(6, 290),
        "discounted_order_share": rng.uniform(0, 1, 290), "online_order_share": rng.uniform(0, 1, 290),
        "age_band": rng.choice(["18-24", "25-34", "45-54"], 290)})
    return rfm, features


def _fit(rfm, features, store, config=CONFIG) -> pd.DataFrame:
    return ml_customer_segments_fit({"dim_customer_rfm": rfm, "fct_customer_features": features}, config,
                                    store=store)


def _run(table) -> pd.Series:
    return table[table["record_type"] == "run"].iloc[0]


def _rows(table, kind) -> pd.DataFrame:
    return table[table["record_type"] == kind].reset_index(drop=True)


def _no_fit(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("a score-only call must not fit")

    monkeypatch.setattr(segments, "fit_segments", fail)


@pytest.fixture
def trained(marts, tmp_path):
    store = ModelRegistry(tmp_path / "models")
    return store, _fit(*marts, store)


def test_a_second_call_assigns_with_the_champion_and_gives_the_same_table(marts, tmp_path, monkeypatch):
    store = ModelRegistry(tmp_path / "models")
    first = _fit(*marts, store)
    run = _run(first)
    assert run["registry_action"] == "train" and run["registry_reason"] == "no registered champion"
    assert first["model_version"].eq(1).all() and first["trained_at"].notna().all()
    assert first.loc[first["record_type"] != "run", RUN_COLUMNS].isna().all().all()
    _no_fit(monkeypatch)
    second = _fit(*marts, store)
    third = _fit(*marts, store)
    assert _run(second)["registry_action"] == "score"
    assert _run(second)["registry_reason"].startswith("scored with champion version 1 (trained ")
    assert [v.version for v in store.versions(SEGMENTS_MODEL)] == [1]
    cols = [c for c in first.columns if c not in RUN_COLUMNS]
    pd.testing.assert_frame_equal(first[cols], second[cols])
    pd.testing.assert_frame_equal(second, third)


def test_the_champion_assigns_other_buyers_and_describes_them(marts, trained, monkeypatch):
    (rfm, features), (store, first) = marts, trained
    _no_fit(monkeypatch)
    part = rfm.iloc[::3].reset_index(drop=True)
    table = _fit(part, features, store)
    assign, before = _rows(table, "assignment"), _rows(first, "assignment").set_index("customer_id")
    assert len(assign) == len(part) and assign["model_version"].eq(1).all()
    # a buyer whose features did not change keeps their segment
    np.testing.assert_array_equal(assign["segment_id"], before.loc[assign["customer_id"], "segment_id"])
    prof, trained_prof = _rows(table, "profile"), _rows(first, "profile")
    assert prof["segment_name"].tolist() == trained_prof["segment_name"].tolist()
    assert prof["size"].sum() == len(part) and prof["share"].sum() == pytest.approx(1.0)
    sizes = assign["segment_id"].value_counts().reindex(prof["segment_id"], fill_value=0)
    assert prof["size"].tolist() == sizes.tolist()
    # the k choice is the training's
    pd.testing.assert_frame_equal(_rows(table, "k_score"), _rows(first, "k_score"))


def test_the_version_records_the_model_and_the_k_choice(trained):
    store, first = trained
    version = store.get_alias(SEGMENTS_MODEL)
    rec = version.record
    model = store.load_model(version)
    k = int(_run(first)["k"])
    assert isinstance(model, SegmentModel) and model.k == k
    assert model.names == _rows(first, "profile")["segment_name"].tolist()
    assert set(model.fill_values) == {"recency_days", "frequency", "monetary", "days_since_first_order",
                                      "avg_order_value", "sessions_all", "discounted_order_share",
                                      "online_order_share", "young_share"}
    assert rec["family"] == "segments" and rec["params"]["k_range"] == [2, 4] and rec["model_card"]["k"] == k
    assert {"k2.silhouette", "k4.inertia"} <= set(rec["metrics"]) and rec["training_data"]["rows"] == 300
    assert [d["column"] for d in rec["feature_spec"]][:4] == ["customer_id", "recency_days", "frequency", "monetary"]


def test_retrain_and_changed_settings_train_a_new_version(marts, trained):
    store, _ = trained
    run = _run(_fit(*marts, store, CustomerSegmentsFitConfig(k_range=(2, 4), sample_size=200, n_init=2,
                                                             retrain="true")))
    assert run["registry_action"] == "train" and run["registry_reason"].startswith("retrain requested")
    assert run["model_version"] == 2 and store.get_alias(SEGMENTS_MODEL).record["previous_champion"] == 1
    run = _run(_fit(*marts, store, CustomerSegmentsFitConfig(k_range=(2, 5), sample_size=200, n_init=2)))
    assert run["registry_action"] == "train" and run["model_version"] == 3
    assert run["registry_reason"] == "settings changed since version 2: k_range [2, 4] -> [2, 5]"


def test_an_old_champion_is_retrained(marts, trained):
    store, _ = trained
    record_file = store.get_alias(SEGMENTS_MODEL).path / "version.json"
    record = json.loads(record_file.read_text())
    record["trained_at"] = (pd.Timestamp(record["trained_at"]) - pd.Timedelta(days=31)).isoformat()
    record_file.write_text(json.dumps(record))
    run = _run(_fit(*marts, store))
    assert run["registry_action"] == "train" and "days old (max_model_age_days 30)" in run["registry_reason"]


def test_drift_of_the_clustering_features_retrains(marts, trained):
    (rfm, features), (store, _) = marts, trained
    richer = rfm.assign(monetary=rfm["monetary"] * 5)
    run = _run(_fit(richer, features, store))
    assert run["registry_action"] == "train"
    assert run["registry_reason"].startswith("feature drift since version 1: PSI above 0.2 for monetary ")


def test_a_changed_input_spec_retrains_or_stops_naming_the_columns(marts, trained):
    (rfm, features), (store, _) = marts, trained
    changed = rfm.assign(frequency=rfm["frequency"].astype(str))
    fail = CustomerSegmentsFitConfig(k_range=(2, 4), sample_size=200, n_init=2, registry_on_mismatch="fail")
    with pytest.raises(ModelMismatchError, match=r"ml_customer_segments_fit champion version 1 was trained on other "
                                                 r"features .*frequency: trained as numeric, now categorical"):
        _fit(changed, features, store, fail)
    run = _run(_fit(changed, features, store))
    assert run["registry_action"] == "train"
    assert run["registry_reason"] == ("feature spec changed since version 1: frequency: trained as numeric, "
                                      "now categorical")


@pytest.mark.parametrize("damage", ["corrupt", "delete"])
def test_a_corrupted_or_missing_model_file_retrains_or_stops(marts, trained, damage):
    store, _ = trained
    path = store.get_alias(SEGMENTS_MODEL).model_file
    if damage == "corrupt":
        path.write_bytes(b"not a pickle" + path.read_bytes()[12:])
    else:
        path.unlink()
    what = "corrupted" if damage == "corrupt" else "missing"
    fail = CustomerSegmentsFitConfig(k_range=(2, 4), sample_size=200, n_init=2, registry_on_mismatch="fail")
    with pytest.raises(ModelMismatchError, match=f"ml_customer_segments_fit champion version 1 cannot be used: .*"
                                                 f"model.pkl is {what}"):
        _fit(*marts, store, fail)
    run = _run(_fit(*marts, store))
    assert run["registry_action"] == "train" and f"model.pkl is {what}" in run["registry_reason"]
    assert run["model_version"] == 2


def test_too_few_buyers_register_nothing(marts, tmp_path):
    _, features = marts
    store = ModelRegistry(tmp_path / "models")
    rfm = pd.DataFrame({"customer_id": ["C0000", "C0001"], "recency_days": [1, 2], "frequency": [1, 2],
                        "monetary": [10.0, 20.0]})
    table = _fit(rfm, features, store)
    run = _run(table)
    assert run["status"] == "skipped" and run["registry_action"] == "train" and pd.isna(run["model_version"])
    assert store.versions(SEGMENTS_MODEL) == []
