"""retail_lift.tables.crosssell: the cross-sell tables from their relations and typed configs.

Fixed output schemas, the minimum pair count, owned items never recommended, rules beating popularity on a
planted pair; the same tables from DuckDB relations as from pandas; clear errors for bad settings, a missing
train snapshot and a model store.
"""

import duckdb
import numpy as np
import pandas as pd
import pytest

from retail_lift import frames
from retail_lift.crosssell import recommend
from retail_lift.tables import from_settings
from retail_lift.tables.crosssell import (
    CROSSSELL_EVALUATION_COLUMNS,
    RECOMMENDATION_COLUMNS,
    RULE_TABLE_COLUMNS,
    CrosssellEvaluationConfig,
    CrosssellRecommendationsConfig,
    CrosssellRulesConfig,
    ml_crosssell_evaluation,
    ml_crosssell_recommendations,
    ml_crosssell_rules,
)

SNAPSHOTS = pd.DataFrame({"snapshot_role": ["train", "score"],
                          "feature_cutoff_at": pd.to_datetime(["2026-02-15", "2026-03-17"])})


@pytest.fixture(scope="module")
def order_lines() -> pd.DataFrame:
    """Customers who buy product a later buy b (a strong pair); x and y are popular fillers."""
    rng = np.random.default_rng(5)
    rows, oid = [], 0
    for c in range(300):
        t0 = pd.Timestamp("2026-01-01") + pd.Timedelta(days=int(rng.integers(0, 40)))
        basket1 = ["a", "b"] if c % 2 == 0 else ["x", "y"]
        for item in basket1:
            rows.append((f"o{oid}", f"c{c}", t0, item))
        oid += 1
        t1 = pd.Timestamp("2026-03-01") + pd.Timedelta(days=int(rng.integers(0, 20)))
        later = ["c"] if c % 2 == 0 else ["x"]
        for item in later:
            rows.append((f"o{oid}", f"c{c}", t1, item))
        oid += 1
        if c % 2 == 0 and c < 100:  # a c-basket before the cutoff, so a -> c and b -> c exist
            rows.append((f"o{oid}", f"c{c}", t0, "a"))
            rows.append((f"o{oid}", f"c{c}", t0, "c"))
            oid += 1
    df = pd.DataFrame(rows, columns=["order_id", "customer_id", "ordered_at", "product_id"])
    df["category_id"] = df["product_id"].map({"a": "k1", "b": "k1", "c": "k2", "x": "k3", "y": "k3"})
    return df


def _rules(lines, **settings):
    return ml_crosssell_rules({"fct_customer_order_lines": lines}, CrosssellRulesConfig(**settings))


def _recommendations(lines, rules, **settings):
    return ml_crosssell_recommendations({"fct_customer_order_lines": lines, "ml_crosssell_rules": rules},
                                        CrosssellRecommendationsConfig(**settings))


def _evaluation(lines, snapshots=SNAPSHOTS, **settings):
    return ml_crosssell_evaluation({"fct_customer_order_lines": lines, "int_snapshot_dates": snapshots},
                                   CrosssellEvaluationConfig(**settings))


def test_rules_respect_the_minimum_pair_count(order_lines):
    rules = _rules(order_lines, min_pair_orders=10)
    assert set(zip(rules["antecedent_id"], rules["consequent_id"], strict=True)) >= {("a", "b"), ("b", "a")}
    assert (rules["pair_count"] >= 10).all() and (rules["lift"] >= 1).all()
    assert list(rules.columns) == list(RULE_TABLE_COLUMNS)
    assert _rules(order_lines, min_pair_orders=10_000).empty
    # the defaults are the build's: products, 0.01 % of the orders but at least 10, confidence 1 %, lift 1
    pd.testing.assert_frame_equal(ml_crosssell_rules({"fct_customer_order_lines": order_lines}), rules)


def test_recommendations_skip_owned_items(order_lines):
    rules = _rules(order_lines, min_pair_orders=10)
    recs = _recommendations(order_lines, rules, top_n=3)
    owned = set(zip(order_lines["customer_id"], order_lines["product_id"], strict=True))
    assert not any((c, i) in owned for c, i in zip(recs["customer_id"], recs["item_id"], strict=True))
    assert recs.groupby("customer_id")["rank"].max().le(3).all()
    assert list(recs.columns) == list(RECOMMENDATION_COLUMNS)
    assert _recommendations(order_lines, rules.iloc[:0]).empty


@pytest.mark.parametrize("score", ["max", "sum"])
def test_recommendations_score_as_the_family_does_on_the_string_ids(order_lines, score):
    early = order_lines[order_lines["ordered_at"] < "2026-02-15"]  # before anyone bought c after a and b
    rules = _rules(early, min_pair_orders=10)
    got = _recommendations(early, rules, score=score)
    ref = recommend(early[["customer_id", "product_id"]],
                    frames.as_frame(rules).rename(columns={"antecedent_id": "antecedent",
                                                           "consequent_id": "consequent"}),
                    n=5, score=score, max_votes=None)
    assert len(got) == len(ref) > 0
    assert got["item_id"].tolist() == ref["product_id"].tolist()
    np.testing.assert_allclose(got["score"].to_numpy(), ref["score"].to_numpy())


def test_time_holdout_evaluation_beats_popularity_on_a_planted_pair(order_lines):
    ev = _evaluation(order_lines, item_levels=["product"], top_ns=[1, 3], min_pair_orders=10)
    assert list(ev.columns) == list(CROSSSELL_EVALUATION_COLUMNS)
    assert (ev["cutoff_at"] == pd.Timestamp("2026-02-15")).all()  # the train snapshot's cutoff
    e = ev.set_index(["method", "n"])
    # the a/b buyers without c get c recommended and buy it after the cutoff
    assert e.loc[("association_rules", 1), "precision_at_n"] > 0.5
    assert e.loc[("association_rules", 1), "precision_at_n"] > e.loc[("popularity", 1), "precision_at_n"]
    assert e.loc[("popularity", 1), "n_rules"] is pd.NA or pd.isna(e.loc[("popularity", 1), "n_rules"])


def test_the_tables_read_duckdb_relations_like_pandas(order_lines):
    con = duckdb.connect()
    lines = order_lines.assign(top_level_category_id=order_lines["category_id"].str[:1])
    con.register("lines_frame", lines)
    con.register("snapshots_frame", SNAPSHOTS)
    rel = con.table("lines_frame")
    rules = _rules(rel, min_pair_orders=10)
    pd.testing.assert_frame_equal(rules, _rules(lines, min_pair_orders=10))
    con.register("rules_frame", rules)
    pd.testing.assert_frame_equal(
        ml_crosssell_recommendations({"fct_customer_order_lines": rel, "ml_crosssell_rules": con.table("rules_frame")}),
        _recommendations(lines, rules))
    pd.testing.assert_frame_equal(_evaluation(rel, con.table("snapshots_frame"), min_pair_orders=10),
                                  _evaluation(lines, min_pair_orders=10))


def test_the_evaluation_needs_a_train_snapshot(order_lines):
    with pytest.raises(ValueError, match="ml_crosssell_evaluation: int_snapshot_dates has no row with "
                                         r"snapshot_role = 'train' \(roles: \['score'\]\)"):
        _evaluation(order_lines, SNAPSHOTS[SNAPSHOTS["snapshot_role"] == "score"])


def test_the_rules_and_their_evaluation_share_the_mining_defaults():
    mining = ("min_support", "min_pair_orders", "min_confidence", "min_lift")
    rules, evaluation = CrosssellRulesConfig(), CrosssellEvaluationConfig()
    assert [getattr(rules, k) for k in mining] == [getattr(evaluation, k) for k in mining] == [0.0001, 10, 0.01, 1.0]


def test_settings_from_dbt_take_the_defaults_and_convert():
    config = from_settings(CrosssellEvaluationConfig, "ml_crosssell_evaluation", item_levels=["category"],
                           top_ns=[2, 4.0], min_support=None, min_lift=1)
    assert config == CrosssellEvaluationConfig(item_levels=("category",), top_ns=(2, 4))
    assert isinstance(config.min_lift, float) and isinstance(config.top_ns[1], int)
    with pytest.raises(ValueError, match=r"ml_crosssell_rules: unknown config key\(s\) \['top_n'\]"):
        from_settings(CrosssellRulesConfig, "ml_crosssell_rules", top_n=3)


@pytest.mark.parametrize(("config", "settings", "message"), [
    (CrosssellRulesConfig, {"item_level": "brand"}, "ml_crosssell_rules: item_level must be one of"),
    (CrosssellRulesConfig, {"min_support": 1.5}, "ml_crosssell_rules: min_support must be a number >= 0 and <= 1"),
    (CrosssellRulesConfig, {"min_pair_orders": 2.5}, "ml_crosssell_rules: min_pair_orders must be an integer"),
    (CrosssellRulesConfig, {"min_lift": True}, "ml_crosssell_rules: min_lift must be a number"),
    (CrosssellRulesConfig, {"min_confidence": "0.1"}, "ml_crosssell_rules: min_confidence must be a number"),
    (CrosssellRecommendationsConfig, {"top_n": 0}, "ml_crosssell_recommendations: top_n must be an integer >= 1"),
    (CrosssellRecommendationsConfig, {"score": "mean"}, "ml_crosssell_recommendations: score must be one of"),
    (CrosssellEvaluationConfig, {"item_levels": "product"}, "ml_crosssell_evaluation: item_levels must be a"),
    (CrosssellEvaluationConfig, {"item_levels": ["product", "sku"]}, "ml_crosssell_evaluation: item_levels must"),
    (CrosssellEvaluationConfig, {"top_ns": []}, "ml_crosssell_evaluation: top_ns must be a non-empty list"),
    (CrosssellEvaluationConfig, {"top_ns": [1, 0]}, "ml_crosssell_evaluation: top_ns must be an integer >= 1"),
    (CrosssellEvaluationConfig, {"min_lift": -1}, "ml_crosssell_evaluation: min_lift must be a number >= 0"),
])
def test_bad_settings_name_the_model_and_the_key(config, settings, message):
    with pytest.raises(ValueError, match=message):
        config(**settings)


def test_a_store_must_be_a_model_registry(order_lines):
    with pytest.raises(TypeError, match="ml_crosssell_rules: store must be a retail_lift.registry.ModelRegistry"):
        ml_crosssell_rules({"fct_customer_order_lines": order_lines}, store=object())
