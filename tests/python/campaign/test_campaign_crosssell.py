"""Cross-sell: hand-computed support / confidence / lift ("bread -> butter"), recommendations, evaluation.

Five orders:

    o1 bread butter          bread  in o1 o2 o3      n = 3   support 3/5
    o2 bread butter jam      butter in o1 o2 o4      n = 3   support 3/5
    o3 bread                 jam    in o2            n = 1
    o4 milk butter           milk   in o4 o5         n = 2
    o5 milk

bread -> butter: n(bread, butter) = 2 (o1, o2): support 2/5 = 0.4, confidence 2/3,
lift = (2/3) / (3/5) = 10/9.   jam -> bread: support 1/5, confidence 1/1, lift 1 / (3/5) = 5/3.
milk -> butter: support 1/5, confidence 1/2, lift (1/2) / (3/5) = 5/6.
"""

import numpy as np
import pandas as pd
import pytest

from retail_lift.crosssell import RULE_COLUMNS, association_rules, evaluate_recommendations, recommend, time_holdout

LINES = pd.DataFrame({
    "order_id": ["o1", "o1", "o2", "o2", "o2", "o3", "o4", "o4", "o5", "o1"],
    "line_number": [1, 2, 1, 2, 3, 1, 1, 2, 1, 3],
    "product_id": ["bread", "butter", "bread", "butter", "jam", "bread", "milk", "butter", "milk", "bread"],
})  # the last line repeats bread in o1: counted once


def rule(rules, a, b):
    row = rules[(rules["antecedent"] == a) & (rules["consequent"] == b)]
    assert len(row) == 1, (a, b)
    return row.iloc[0]


def test_bread_butter_by_hand():
    rules = association_rules(LINES, min_support=0.0, min_confidence=0.0)
    assert list(rules.columns) == RULE_COLUMNS
    assert rules.attrs["n_orders"] == 5 and rules.attrs["item_column"] == "product_id"
    r = rule(rules, "bread", "butter")
    assert (r["pair_count"], r["antecedent_count"], r["consequent_count"]) == (2, 3, 3)
    assert r["support"] == pytest.approx(0.4)
    assert r["confidence"] == pytest.approx(2 / 3)
    assert r["lift"] == pytest.approx(10 / 9)
    r = rule(rules, "butter", "bread")  # the reverse rule: same support and lift, confidence 2/3 too
    assert (r["support"], r["confidence"], r["lift"]) == pytest.approx((0.4, 2 / 3, 10 / 9))
    r = rule(rules, "jam", "bread")
    assert (r["support"], r["confidence"], r["lift"]) == pytest.approx((0.2, 1.0, 5 / 3))
    r = rule(rules, "milk", "butter")
    assert (r["support"], r["confidence"], r["lift"]) == pytest.approx((0.2, 0.5, 5 / 6))
    # every co-occurring ordered pair, nothing else: {bread,butter,jam} in o2 gives 6, (milk,butter) 2
    assert len(rules) == 8
    # sorted by lift (desc): the jam rules (5/3) first, milk<->butter (5/6) last
    assert rules["lift"].is_monotonic_decreasing
    assert rules.iloc[0][["antecedent", "consequent"]].tolist() == ["jam", "bread"]


def test_thresholds_and_max_items():
    rules = association_rules(LINES, min_support=0.3, min_confidence=0.0)
    pairs = sorted(zip(rules["antecedent"], rules["consequent"], strict=True))
    assert pairs == [("bread", "butter"), ("butter", "bread")]
    rules = association_rules(LINES, min_support=0.0, min_confidence=0.6)
    # confidence >= 0.6: bread<->butter (2/3), jam->bread, jam->butter (1)
    assert sorted(zip(rules["antecedent"], rules["consequent"], strict=True)) == [
        ("bread", "butter"), ("butter", "bread"), ("jam", "bread"), ("jam", "butter")]
    rules = association_rules(LINES, min_support=0.0, min_confidence=0.0, min_lift=1.0)
    assert not ((rules["antecedent"] == "milk") | (rules["consequent"] == "milk")).any()
    # max_items=2 drops o2 (3 items) from every count: N = 4, bread in o1 o3, butter in o1 o4, pair in o1
    rules = association_rules(LINES, min_support=0.0, min_confidence=0.0, max_items=2)
    assert rules.attrs["n_orders"] == 4 and rules.attrs["n_orders_dropped"] == 1
    r = rule(rules, "bread", "butter")
    assert (r["pair_count"], r["support"], r["confidence"], r["lift"]) == pytest.approx((1, 0.25, 0.5, 1.0))
    assert "jam" not in set(rules["antecedent"])


def test_category_column_is_detected_and_empty_input():
    cats = LINES.rename(columns={"product_id": "category_id"})
    rules = association_rules(cats, min_support=0.0, min_confidence=0.0)
    assert rules.attrs["item_column"] == "category_id"
    assert rule(rules, "bread", "butter")["lift"] == pytest.approx(10 / 9)
    empty = association_rules(LINES.head(0), min_support=0.1)
    assert empty.empty and list(empty.columns) == RULE_COLUMNS and empty.attrs["n_orders"] == 0
    assert association_rules(LINES, min_support=0.9).empty


OWNED = pd.DataFrame({"customer_id": ["a", "a", "b", "c"], "product_id": ["bread", "jam", "milk", "tea"]})


def test_recommend_by_hand():
    rules = association_rules(LINES, min_support=0.0, min_confidence=0.0)
    recs = recommend(OWNED, rules, n=2)
    # a owns bread and jam. Votes (confidence x lift): butter <- bread 2/3 * 10/9 = 20/27,
    # butter <- jam 1 * 5/3; bread and jam are owned. b owns milk: butter <- milk 1/2 * 5/6 = 5/12.
    # c's tea is in no rule: no row.
    assert recs[["customer_id", "product_id", "rank", "because_item", "n_rules"]].values.tolist() == [
        ["a", "butter", 1, "jam", 2], ["b", "butter", 1, "milk", 1]]
    assert recs["score"].tolist() == pytest.approx([5 / 3, 5 / 12])
    summed = recommend(OWNED, rules, n=2, score="sum")
    assert summed["score"].tolist() == pytest.approx([5 / 3 + 20 / 27, 5 / 12])


def test_recommend_keeps_owned_items_when_asked_ties_by_item_id():
    rules = association_rules(LINES, min_support=0.0, min_confidence=0.0)
    recs = recommend(OWNED[OWNED["customer_id"] == "a"], rules, n=3, exclude_owned=False)
    # bread <- jam: 1 * 5/3; butter <- jam 5/3 (tie: "bread" < "butter"); jam <- bread: 1/3 * 5/3 = 5/9
    assert recs["product_id"].tolist() == ["bread", "butter", "jam"]
    assert recs["rank"].tolist() == [1, 2, 3]
    assert recs["score"].tolist() == pytest.approx([5 / 3, 5 / 3, 5 / 9])
    assert recommend(OWNED, rules.head(0), n=2).empty


def test_evaluate_recommendations_by_hand():
    recs = pd.DataFrame({
        "customer_id": ["x", "x", "x", "y", "w"],
        "product_id": ["A", "B", "C", "A", "A"],
        "rank": [1, 2, 3, 1, 1],
    })
    holdout = pd.DataFrame({"customer_id": ["x", "x", "y", "z", "z"], "product_id": ["B", "D", "E", "A", "A"]})
    # evaluated: x, y, z (w bought nothing after the cutoff). n = 2: x's top 2 {A, B} hit B of {B, D};
    # y's {A} misses E; z got nothing.
    m = evaluate_recommendations(recs, holdout, n=2)
    assert m["n_customers"] == 3
    assert m["precision_at_n"] == pytest.approx((1 / 2 + 0 + 0) / 3)
    assert m["recall_at_n"] == pytest.approx((1 / 2 + 0 + 0) / 3)
    assert m["hit_rate_at_n"] == pytest.approx(1 / 3)
    assert m["coverage"] == pytest.approx(2 / 3)
    m = evaluate_recommendations(recs, holdout, n=1)  # x's top 1 is A: no hit anywhere
    assert (m["precision_at_n"], m["hit_rate_at_n"]) == (0.0, 0.0)
    m = evaluate_recommendations(recs.iloc[::-1], holdout, n=3)  # rank column, not row order, decides
    assert m["precision_at_n"] == pytest.approx((1 / 3) / 3)


def test_time_holdout_by_hand():
    purchases = pd.DataFrame({
        "order_id": ["1", "2", "3", "4", "5"],
        "customer_id": ["a", "a", "a", "b", "c"],
        "ordered_at": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-02-02", "2024-02-05", "2024-01-03"]),
        "product_id": ["bread", "butter", "bread", "jam", "milk"],
    })
    train, hold = time_holdout(purchases, "2024-02-01")
    assert train["order_id"].tolist() == ["1", "5"]
    # a bought butter (new) and bread (owned: dropped) after the cutoff; b is unknown before it
    assert hold.values.tolist() == [["a", "butter"]]
    _, hold = time_holdout(purchases, "2024-02-01", new_items_only=False, known_customers_only=False)
    assert sorted(map(tuple, hold.values.tolist())) == [("a", "bread"), ("a", "butter"), ("b", "jam")]


def test_time_holdout_rules_beat_popularity_on_planted_complements():
    """Planted complements (items 2i and 2i+1): half the customers buy both together before the cutoff,
    the other half buy 2i before it and 2i+1 after. Rules trained before the cutoff find the partner."""
    rng = np.random.default_rng(3)
    n_cust, n_pairs = 1200, 10
    noise = [f"n{j}" for j in range(4)]
    rows = []
    for c in range(n_cust):
        pair = rng.integers(n_pairs)
        teacher = c % 2 == 0
        for o in range(2):
            basket = {f"p{2 * pair}", str(rng.choice(noise))}
            if teacher:
                basket.add(f"p{2 * pair + 1}")
            rows += [(f"{c}-{o}", f"c{c}", "2024-01-10", item) for item in sorted(basket)]
        if not teacher:
            rows += [(f"{c}-h", f"c{c}", "2024-03-01", f"p{2 * pair + 1}"),
                     (f"{c}-h", f"c{c}", "2024-03-01", f"n{rng.integers(4, 8)}")]
    purchases = pd.DataFrame(rows, columns=["order_id", "customer_id", "ordered_at", "product_id"])
    train, hold = time_holdout(purchases, "2024-02-01")
    assert hold["customer_id"].nunique() == n_cust // 2
    rules = association_rules(train, min_support=0.005, min_confidence=0.05)
    recs = recommend(train, rules, n=1)
    m = evaluate_recommendations(recs, hold, n=1)
    # popularity baseline: everyone gets the most bought item of the training period they do not own
    counts = train.drop_duplicates(["order_id", "product_id"])["product_id"].value_counts()
    owned = train.groupby("customer_id")["product_id"].agg(set)
    base_recs = pd.DataFrame({"customer_id": owned.index,
                              "product_id": [next(i for i in counts.index if i not in s) for s in owned]})
    base = evaluate_recommendations(base_recs, hold, n=1)
    assert m["coverage"] == 1.0
    assert m["hit_rate_at_n"] == 1.0  # every learner is recommended exactly their partner item
    assert m["recall_at_n"] == pytest.approx(0.5)  # one of their two new items
    assert base["hit_rate_at_n"] < 0.2


def test_validation():
    with pytest.raises(ValueError, match="order_lines has no item column"):
        association_rules(LINES.drop(columns="product_id"))
    with pytest.raises(ValueError, match=r"min_support must lie in \[0.0, 1.0\]"):
        association_rules(LINES, min_support=1.5)
    bad = LINES.copy()
    bad.loc[2, "order_id"] = None
    with pytest.raises(ValueError, match=r"order_lines\['order_id'\] has 1 missing value\(s\); first at row 2"):
        association_rules(bad)
    with pytest.raises(ValueError, match="max_items must be a positive integer"):
        association_rules(LINES, max_items=0)
    rules = association_rules(LINES, min_support=0.0, min_confidence=0.0)
    with pytest.raises(ValueError, match=r"rules is missing column\(s\) 'lift'"):
        recommend(OWNED, rules.drop(columns="lift"))
    with pytest.raises(ValueError, match="score must be 'max' or 'sum'"):
        recommend(OWNED, rules, score="mean")
    with pytest.raises(ValueError, match="n must be a positive integer"):
        evaluate_recommendations(OWNED, OWNED, n=0)


def test_sparse_counts_match_a_brute_force_self_join():
    rng = np.random.default_rng(8)
    lines = pd.DataFrame({"order_id": rng.integers(0, 400, 3000).astype(str),
                          "product_id": ("p" + pd.Series(rng.zipf(1.6, 3000) % 40).astype(str))})
    rules = association_rules(lines, min_support=0.01, min_confidence=0.0)
    # brute force: distinct baskets, self-join on order, count orders per ordered pair
    b = lines.drop_duplicates()
    n = b["order_id"].nunique()
    item_n = b.groupby("product_id").size()
    pairs = b.merge(b, on="order_id", suffixes=("_a", "_b"))
    pairs = pairs[pairs["product_id_a"] != pairs["product_id_b"]]
    cnt = pairs.groupby(["product_id_a", "product_id_b"]).size().rename("pair_count").reset_index()
    cnt = cnt[cnt["pair_count"] >= 0.01 * n]
    n_a = item_n[cnt["product_id_a"]].to_numpy()
    n_b = item_n[cnt["product_id_b"]].to_numpy()
    cnt["lift"] = cnt["pair_count"] * n / (n_a * n_b)
    got = rules.set_index(["antecedent", "consequent"]).sort_index()
    want = cnt.set_index(["product_id_a", "product_id_b"]).sort_index()
    assert len(got) == len(want) > 20
    np.testing.assert_array_equal(got["pair_count"].to_numpy(), want["pair_count"].to_numpy())
    np.testing.assert_allclose(got["lift"].to_numpy(), want["lift"].to_numpy())
    assert list(got.index) == list(want.index)
