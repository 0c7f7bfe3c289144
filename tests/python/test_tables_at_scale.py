"""The memory-bounded paths of retail_lift.tables.crosssell / crosssell / predict (large shops) give
the same tables as the straightforward ones: cross-sell on integer-coded ids, recommendations and the popularity
baseline in customer blocks, classifier fits read from Arrow / a DuckDB relation, scoring in row blocks, typed
all-missing columns."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from retail_lift import frames
from retail_lift.crosssell import coded as XC
from retail_lift.crosssell import rules as X
from retail_lift.predict import train as T
from retail_lift.tables import crosssell as TC

pytestmark = pytest.mark.slow  # over ~10 s of fitting or simulation per module; make test-fast leaves it out

# ----------------------------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lines() -> pd.DataFrame:
    """Order lines with themed baskets (so there are rules), some products outside the catalogue, shuffled."""
    rng = np.random.default_rng(11)
    n_orders, n_cust, n_prod = 3000, 400, 60
    order_cust = rng.integers(0, n_cust, n_orders)
    t = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 120 * 86400, n_orders), unit="s")
    sizes = rng.integers(1, 6, n_orders)
    oi = np.repeat(np.arange(n_orders), sizes)
    theme = rng.integers(0, n_prod, n_orders)
    prod = (theme[oi] + rng.integers(-2, 3, len(oi))) % n_prod
    df = pd.DataFrame({"order_id": [f"o{i:05d}" for i in oi], "customer_id": [f"c{c:04d}" for c in order_cust[oi]],
                       "product_id": [f"p{p:03d}" for p in prod], "ordered_at": t[oi]})
    df["category_id"] = pd.Series([None if p % 13 == 0 else f"k{p // 6:02d}" for p in prod], dtype=object)
    df["top_level_category_id"] = df["category_id"].str[:2]
    return df.sample(frac=1.0, random_state=1).reset_index(drop=True)


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    """A customer x category feature mart (train with labels, score without), rows shuffled."""
    rng = np.random.default_rng(4)
    rows = []
    for role in ("train", "score"):
        for cat in ("k1", "k2", "k3"):
            n = 300
            views = rng.poisson(2.0, n)
            spend = np.where(rng.random(n) < 0.3, np.nan, rng.gamma(2.0, 20.0, n))
            p = 1 / (1 + np.exp(-(-2.0 + 0.7 * views + (cat == "k2"))))
            rows.append(pd.DataFrame({
                "customer_id": [f"C{i:04d}" for i in range(n)], "top_level_category_id": cat, "snapshot_role": role,
                "feature_date": pd.Timestamp("2026-03-01").date(), "views": views, "spend": spend,
                "segment": rng.choice(["a", "b", None], n),
                "purchased_category_next_30d": (rng.random(n) < p) if role == "train" else np.full(n, None),
                "spend_next_30d": rng.random(n) if role == "train" else np.full(n, np.nan),
            }))
    return pd.concat(rows, ignore_index=True).sample(frac=1.0, random_state=2).reset_index(drop=True)


def _arrow(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df, preserve_index=False)


# ----------------------------------------------------------------------------------------------
# cross-sell
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("score", ["max", "sum"])
def test_recommendations_in_customer_blocks_equal_one_pass(lines, score):
    rules = X.association_rules(lines, min_support=0.002, min_confidence=0.01, item_column="product_id")
    owned = lines[["customer_id", "product_id"]]
    whole = X.recommend(owned, rules, n=4, score=score, max_votes=None)
    assert len(whole) > 500
    r = rules.assign(vote=1.0)
    for max_votes, n_blocks in ((3_000, 10), (30_000, 2)):  # (at least) many blocks, a few blocks
        assert len(list(X._customer_blocks(owned.drop_duplicates(), r, "customer_id", "product_id", max_votes))) \
            >= n_blocks
        pd.testing.assert_frame_equal(X.recommend(owned, rules, n=4, score=score, max_votes=max_votes), whole)


def _snapshots(cutoff: str) -> pd.DataFrame:
    """int_snapshot_dates with the train snapshot's feature cutoff (what ml_crosssell_evaluation reads)."""
    return pd.DataFrame({"snapshot_role": ["train", "score"],
                         "feature_cutoff_at": [pd.Timestamp(cutoff), pd.Timestamp(cutoff) + pd.Timedelta(days=30)]})


def _rules(lines, **settings) -> pd.DataFrame:
    return TC.ml_crosssell_rules({"fct_customer_order_lines": lines}, TC.CrosssellRulesConfig(**settings))


def _recommendations(lines, rules, **settings) -> pd.DataFrame:
    return TC.ml_crosssell_recommendations({"fct_customer_order_lines": lines, "ml_crosssell_rules": rules},
                                           TC.CrosssellRecommendationsConfig(**settings))


def _evaluation(lines, cutoff, **settings) -> pd.DataFrame:
    return TC.ml_crosssell_evaluation({"fct_customer_order_lines": lines, "int_snapshot_dates": _snapshots(cutoff)},
                                      TC.CrosssellEvaluationConfig(**settings))


def test_popularity_baseline_in_customer_blocks_equals_one_pass(lines):
    coded, _ = XC.coded_lines(lines, ("order_id", "customer_id", "product_id"), required=("order_id", "customer_id"))
    customers = pd.Index(coded["customer_id"].unique()[:150])
    whole = XC.popularity_recommendations(coded, customers, "product_id", 5, block_rows=10**9)
    assert whole.groupby("customer_id")["rank"].max().eq(5).all()
    for block_rows in (1, 33, 600):
        pd.testing.assert_frame_equal(XC.popularity_recommendations(coded, customers, "product_id", 5,
                                                                    block_rows=block_rows), whole)


def test_id_codes_sort_like_the_ids():
    s = pd.Series(["b", "a", None, "c", "a", "ä", "B"], dtype=object)
    codes, uniques = XC.id_codes(s)
    assert list(uniques) == sorted({"a", "b", "c", "ä", "B"})
    assert codes[2] == -1 and list(uniques[codes[[0, 1, 3, 5, 6]]]) == ["b", "a", "c", "ä", "B"]
    a_codes, a_uniques = XC.id_codes(pa.chunked_array([pa.array(s.tolist()[:3]), pa.array(s.tolist()[3:])]))
    assert list(a_uniques) == list(uniques) and (a_codes == codes).all()


def test_rules_on_codes_equal_rules_on_the_string_ids(lines):
    for level, item in (("product", "product_id"), ("category", "category_id")):
        got = _rules(lines, item_level=level, min_pair_orders=5, min_support=0.0)
        sub = lines[lines[item].notna()]
        ref = X.association_rules(sub, min_support=XC.support_threshold(sub["order_id"].nunique(), 0.0, 5),
                                  min_confidence=0.01, min_lift=1.0, item_column=item)
        assert len(got) == len(ref) > 0
        assert got["antecedent_id"].tolist() == ref["antecedent"].tolist()
        assert got["consequent_id"].tolist() == ref["consequent"].tolist()
        np.testing.assert_array_equal(got["lift"].to_numpy(), ref["lift"].to_numpy())


def test_recommendations_on_codes_equal_recommendations_on_the_string_ids(lines):
    rules = _rules(lines, min_pair_orders=5, min_support=0.0)
    got = _recommendations(lines, rules, top_n=3)
    ref = X.recommend(lines[["customer_id", "product_id"]],
                      frames.as_frame(rules)
                      .rename(columns={"antecedent_id": "antecedent", "consequent_id": "consequent"})
                      .astype({"antecedent": object, "consequent": object}), n=3, max_votes=None)
    assert len(got) == len(ref) > 0
    assert got["customer_id"].tolist() == ref["customer_id"].tolist()
    assert got["item_id"].tolist() == ref["product_id"].tolist()
    assert got["because_item_id"].tolist() == ref["because_item"].tolist()
    np.testing.assert_array_equal(got["score"].to_numpy(), ref["score"].to_numpy())


def test_crosssell_tables_from_arrow_equal_those_from_pandas(lines):
    tab = _arrow(lines)
    levels = ("product", "category", "top_level_category")
    ev = _evaluation(lines, "2026-03-15", min_pair_orders=5, min_support=0.0, item_levels=levels)
    assert len(ev) == 3 * 2 * 4 and ev.loc[ev["item_level"] != "top_level_category", "n_customers"].gt(0).all()
    pd.testing.assert_frame_equal(_evaluation(tab, "2026-03-15", min_pair_orders=5, min_support=0.0,
                                              item_levels=levels), ev)
    rules = _rules(lines, item_level="category", min_pair_orders=5, min_support=0.0)
    pd.testing.assert_frame_equal(_rules(tab, item_level="category", min_pair_orders=5, min_support=0.0), rules)
    pd.testing.assert_frame_equal(_recommendations(tab, rules), _recommendations(lines, rules))


def test_crosssell_keys_must_not_be_missing(lines):
    bad = lines.assign(customer_id=lines["customer_id"].where(lines.index != 3, None))
    with pytest.raises(ValueError, match="customer_id"):
        _evaluation(bad, "2026-03-15")


# ----------------------------------------------------------------------------------------------
# classifiers (the fit tables from Arrow / a DuckDB relation: tests/python/test_tables_predict.py)
# ----------------------------------------------------------------------------------------------


def test_scoring_in_row_blocks_equals_one_block(features, monkeypatch):
    kw = dict(models=("logistic", "xgboost"), id_cols=("customer_id", "top_level_category_id"),
              id_features=("top_level_category_id",), exclude=("spend_next_30d",), cv=2,
              model_params={"xgboost": {"n_estimators": 15}})
    whole = T.train_compare_score(features, "purchased_category_next_30d", **kw)
    monkeypatch.setattr(T, "SCORE_BLOCK_ROWS", 7)
    blocks = T.train_compare_score(features, "purchased_category_next_30d", **kw)
    pd.testing.assert_frame_equal(blocks.scores, whole.scores)
    assert len(whole.scores) == 900


@pytest.mark.parametrize("kind", ["str", "float", "int", "bool", "ts"])
def test_all_missing_columns_are_typed_like_a_column_of_none(kind):
    old = frames.typed_frame(pd.DataFrame({"x": pd.Series([None] * 5, dtype=object)}), {"x": kind})
    new = frames.typed_frame(pd.DataFrame(index=range(5)), {"x": kind})
    pd.testing.assert_frame_equal(new, old)
    assert new["x"].isna().all()


def test_as_01_vectorised_equals_the_object_path():
    for s in (pd.Series([True, False, None], dtype="boolean"), pd.Series([0.0, 2.0, np.nan]),
              pd.Series([1, 0, 3]), pd.Series([True, False, True])):
        expected = s.astype(object).map(lambda v: np.nan if pd.isna(v) else float(bool(v))).astype(float)
        pd.testing.assert_series_equal(frames.as_01(s), expected)
