"""The cross-sell rules with a model store: ml_crosssell_rules mines the rules once and registers them; later
calls repeat the champion's rules, and ml_crosssell_recommendations recommends with them
(retail_lift.crosssell_champion). Drift is the PSI of the item mix of the order lines."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import retail_lift.tables.crosssell as tables_crosssell
from retail_lift.crosssell_champion import CROSSSELL_MODEL, item_mix_psi
from retail_lift.registry import ModelMismatchError, ModelRegistry
from retail_lift.tables.crosssell import (
    CrosssellRulesConfig,
    ml_crosssell_recommendations,
    ml_crosssell_rules,
)

CONFIG = CrosssellRulesConfig(min_pair_orders=5)
REGISTRY_COLUMNS = ["registry_action", "registry_reason"]


@pytest.fixture(scope="module")
def order_lines() -> pd.DataFrame:
    """600 two-item orders of 300 customers: a with b, x with y (and a few a with c)."""
    rng = np.random.default_rng(2)
    rows = []
    for o in range(600):
        basket = ["a", "b"] if o % 2 == 0 else ["x", "y"]
        if o % 10 == 0:
            basket = ["a", "c"]
        for item in basket:
            rows.append((f"o{o:04d}", f"c{int(rng.integers(0, 300)):03d}", item))
    return pd.DataFrame(rows, columns=["order_id", "customer_id", "product_id"])


def _rules(lines, store, config=CONFIG, arrow=False) -> pd.DataFrame:
    data = pa.Table.from_pandas(lines, preserve_index=False) if arrow else lines
    return ml_crosssell_rules({"fct_customer_order_lines": data}, config, store=store)


def _no_mining(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("a score-only call must not mine")

    monkeypatch.setattr(tables_crosssell, "mine_rules", fail)


@pytest.fixture
def trained(order_lines, tmp_path):
    store = ModelRegistry(tmp_path / "models")
    return store, _rules(order_lines, store)


@pytest.mark.parametrize("arrow", [False, True])
def test_a_second_call_repeats_the_champions_rules(order_lines, tmp_path, monkeypatch, arrow):
    store = ModelRegistry(tmp_path / "models")
    first = _rules(order_lines, store, arrow=arrow)
    assert len(first) and first["registry_action"].eq("train").all() and first["model_version"].eq(1).all()
    assert first["registry_reason"].eq("no registered champion").all()
    plain = ml_crosssell_rules({"fct_customer_order_lines": order_lines}, CONFIG)
    _no_mining(monkeypatch)
    second = _rules(order_lines, store, arrow=arrow)
    third = _rules(order_lines, store, arrow=arrow)
    assert second["registry_action"].eq("score").all()
    assert second["registry_reason"].str.startswith("scored with champion version 1 (trained ").all()
    assert [v.version for v in store.versions(CROSSSELL_MODEL)] == [1]
    pd.testing.assert_frame_equal(first.drop(columns=REGISTRY_COLUMNS), second.drop(columns=REGISTRY_COLUMNS))
    pd.testing.assert_frame_equal(second, third)
    # the same rules as without a store
    cols = [c for c in plain.columns if c not in ("model_version", "trained_at", *REGISTRY_COLUMNS)]
    pd.testing.assert_frame_equal(plain[cols], first[cols])


def test_recommendations_carry_the_version_of_the_rules(order_lines, trained):
    _store, rules = trained
    recs = ml_crosssell_recommendations({"fct_customer_order_lines": order_lines, "ml_crosssell_rules": rules})
    assert len(recs) and recs["model_version"].eq(1).all()
    assert (recs["trained_at"] == rules["trained_at"].iloc[0]).all()
    plain = ml_crosssell_recommendations({"fct_customer_order_lines": order_lines,
                                          "ml_crosssell_rules": rules.drop(columns=["model_version", "trained_at"])})
    assert plain["model_version"].isna().all() and plain["trained_at"].isna().all()
    pd.testing.assert_frame_equal(plain.drop(columns=["model_version", "trained_at"]),
                                  recs.drop(columns=["model_version", "trained_at"]))


def test_the_version_records_the_mining(trained):
    store, rules = trained
    version = store.get_alias(CROSSSELL_MODEL)
    rec = version.record
    assert rec["family"] == "crosssell" and rec["params"]["min_pair_orders"] == 5
    assert rec["metrics"]["rules"] == len(rules) and rec["metrics"]["orders"] == 600
    assert [(d["column"], d["kind"]) for d in rec["feature_spec"]] == [("order_id", "categorical"),
                                                                       ("product_id", "categorical")]
    mix = store.load_artifact(version, "drift_reference")
    assert mix.set_index("item_id")["lines"].to_dict() == {"a": 300, "b": 240, "c": 60, "x": 300, "y": 300}


def test_retrain_and_changed_settings_mine_again(order_lines, trained):
    store, _ = trained
    again = _rules(order_lines, store, CrosssellRulesConfig(min_pair_orders=5, retrain=True))
    assert again["registry_action"].eq("train").all() and again["model_version"].eq(2).all()
    other = _rules(order_lines, store, CrosssellRulesConfig(min_pair_orders=100))
    assert other["registry_reason"].eq("settings changed since version 2: min_pair_orders 5 -> 100").all()
    assert other["model_version"].eq(3).all() and set(other["antecedent_id"]) <= {"a", "b", "x", "y"}


def test_an_old_champion_is_mined_again(order_lines, trained):
    store, _ = trained
    record_file = store.get_alias(CROSSSELL_MODEL).path / "version.json"
    record = json.loads(record_file.read_text())
    record["trained_at"] = (pd.Timestamp(record["trained_at"]) - pd.Timedelta(days=40)).isoformat()
    record_file.write_text(json.dumps(record))
    again = _rules(order_lines, store)
    assert again["registry_action"].eq("train").all()
    assert again["registry_reason"].str.contains("days old \\(max_model_age_days 30\\)").all()


def test_a_new_item_mix_mines_again_and_more_of_the_same_does_not(order_lines, trained):
    store, _ = trained
    doubled = pd.concat([order_lines, order_lines.assign(order_id=order_lines["order_id"] + "b")])
    assert _rules(doubled, store)["registry_action"].eq("score").all()
    launch = pd.DataFrame({"order_id": [f"n{i:03d}" for i in range(300) for _ in (0, 1)],
                           "customer_id": "c001", "product_id": ["z", "a"] * 300})
    shifted = _rules(pd.concat([order_lines, launch]), store)
    assert shifted["registry_action"].eq("train").all()
    assert shifted["registry_reason"].str.startswith("feature drift since version 1: PSI above 0.2 for "
                                                     "product_id ").all()
    assert {"z"} <= set(shifted["antecedent_id"])


def test_item_mix_psi():
    mix = pd.DataFrame({"item_id": ["a", "b"], "lines": [50, 50]})
    assert item_mix_psi(mix, mix.assign(lines=[100, 100])) == 0.0
    assert item_mix_psi(mix, pd.DataFrame({"item_id": ["a", "c"], "lines": [50, 50]})) > 1
    assert np.isnan(item_mix_psi(mix, mix.iloc[:0]))


def test_a_changed_input_spec_mines_again_or_stops_naming_the_columns(order_lines, trained):
    store, _ = trained
    numbered = order_lines.assign(product_id=order_lines["product_id"].map({"a": 1, "b": 2, "c": 3, "x": 4, "y": 5}))
    fail = CrosssellRulesConfig(min_pair_orders=5, registry_on_mismatch="fail")
    with pytest.raises(ModelMismatchError, match=r"ml_crosssell_rules champion version 1 was trained on other "
                                                 r"features .*product_id: trained as categorical, now numeric"):
        _rules(numbered, store, fail)
    again = _rules(numbered, store)
    assert again["registry_action"].eq("train").all() and again["model_version"].eq(2).all()


@pytest.mark.parametrize("damage", ["corrupt", "delete"])
def test_a_corrupted_or_missing_model_file_mines_again_or_stops(order_lines, trained, damage):
    store, _ = trained
    path = store.get_alias(CROSSSELL_MODEL).model_file
    if damage == "corrupt":
        path.write_bytes(b"not a pickle" + path.read_bytes()[12:])
    else:
        path.unlink()
    what = "corrupted" if damage == "corrupt" else "missing"
    with pytest.raises(ModelMismatchError, match=f"ml_crosssell_rules champion version 1 cannot be used: .*"
                                                 f"model.pkl is {what}"):
        _rules(order_lines, store, CrosssellRulesConfig(min_pair_orders=5, registry_on_mismatch="fail"))
    again = _rules(order_lines, store)
    assert again["registry_action"].eq("train").all() and again["registry_reason"].str.contains(what).all()
    assert again["model_version"].eq(2).all()
