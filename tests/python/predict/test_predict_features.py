"""Feature matrices: typing, one-hot and native encodings, deterministic order, the leakage guard."""

import datetime
import decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from retail_lift.predict import (
    LABEL_COLUMNS,
    check_no_leakage,
    derive_label,
    feature_matrix,
    infer_feature_spec,
)


@pytest.fixture
def mart() -> pd.DataFrame:
    """Five customers of a 'train' snapshot with every kind of column."""
    return pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e"],
        "snapshot_role": "train",
        "feature_date": datetime.date(2024, 6, 1),
        "region": ["north", "south", None, "north", "east"],
        "follows_page": [True, False, True, False, True],
        "heard_of_shop": pd.array([True, None, False, True, None], dtype="boolean"),
        "recency_days": [3.0, np.nan, 10.0, 1.0, 7.0],
        "frequency": [1, 0, 2, 5, 0],
        "first_order_at": pd.to_datetime(["2024-01-01"] * 5),
        "always_missing": [np.nan] * 5,
        "purchased_next_30d": [1, 0, 0, 1, 0],
        "revenue_next_30d": [10.0, 0, 0, 20.0, 0],
    })


def test_types_encoding_and_order(mart):
    fm = feature_matrix(mart, "purchased_next_30d")
    assert fm.numeric_columns == ["frequency", "recency_days"]  # sorted by name
    assert fm.boolean_columns == ["follows_page", "heard_of_shop"]
    assert fm.categorical_columns == ["region"]
    assert fm.feature_columns == ["frequency", "recency_days", "follows_page", "heard_of_shop",
                                  "region=east", "region=north", "region=south"]
    expected = np.array([
        [1, 3, 1, 1, 0, 1, 0],
        [0, np.nan, 0, np.nan, 0, 0, 1],
        [2, 10, 1, 0, 0, 0, 0],  # missing region: all zeros
        [5, 1, 0, 1, 0, 1, 0],
        [0, 7, 1, np.nan, 1, 0, 0],
    ])
    np.testing.assert_array_equal(fm.X.to_numpy(), expected)  # NaN kept (equal_nan by default)
    np.testing.assert_array_equal(fm.y, [1, 0, 0, 1, 0])
    assert fm.spec.dropped == {
        "customer_id": "id", "snapshot_role": "id", "feature_date": "id", "first_order_at": "temporal",
        "always_missing": "empty", "purchased_next_30d": "label", "revenue_next_30d": "label",
    }


def test_column_order_does_not_depend_on_input_order(mart):
    shuffled = mart[list(reversed(mart.columns))]
    a, b = feature_matrix(mart), feature_matrix(shuffled)
    assert a.feature_columns == b.feature_columns
    pd.testing.assert_frame_equal(a.X, b.X)


def test_native_encoding_for_catboost(mart):
    fm = feature_matrix(mart, encoding="native")
    assert fm.feature_columns == ["frequency", "recency_days", "follows_page", "heard_of_shop", "region"]
    assert fm.X["region"].tolist() == ["north", "south", "__missing__", "north", "east"]
    score = mart.assign(region=["west", "north", None, "east", "south"])
    assert fm.spec.encode(score, "native")["region"].tolist() == ["__other__", "north", "__missing__", "east",
                                                                  "south"]


def test_spec_learned_on_train_encodes_score_rows(mart):
    fm = feature_matrix(mart, "purchased_next_30d")
    score = mart.drop(columns=["purchased_next_30d", "revenue_next_30d"]).assign(
        region=["west", "west", "south", None, "north"], snapshot_role="score")
    X = feature_matrix(score, spec=fm.spec).X
    assert list(X.columns) == fm.feature_columns
    np.testing.assert_array_equal(X[["region=east", "region=north", "region=south"]].to_numpy(),
                                  [[0, 0, 0], [0, 0, 0], [0, 0, 1], [0, 0, 0], [0, 1, 0]])  # unseen: zeros
    with pytest.raises(ValueError, match=r"lacks feature column\(s\) \['recency_days'\]"):
        fm.spec.encode(score.drop(columns=["recency_days"]))


def test_max_categories_keeps_the_most_frequent_levels():
    df = pd.DataFrame({"customer_id": range(7), "channel": ["b", "b", "b", "a", "a", "c", "c"]})
    spec = infer_feature_spec(df, max_categories=2)
    # b (3) first, then a tie of a (2) and c (2) broken by value: a; output sorted
    assert spec.categorical == {"channel": ("a", "b")}
    assert spec.feature_names() == ["channel=a", "channel=b"]


def test_arrow_table_and_duckdb_style_types_give_the_same_matrix():
    table = pa.table({
        "customer_id": ["a", "b", "c"],
        "spend": pa.array([decimal.Decimal("1.50"), None, decimal.Decimal("2.25")], pa.decimal128(9, 2)),
        "follows_page": pa.array([True, None, False]),
        "gender": ["f", None, "m"],
        "signed_up": pa.array([datetime.date(2024, 1, 1)] * 3),
    })
    expected = pd.DataFrame({"spend": [1.5, np.nan, 2.25], "follows_page": [1.0, np.nan, 0.0],
                             "gender=f": [1.0, 0, 0], "gender=m": [0.0, 0, 1]})
    for data in (table, table.to_pandas(), table.to_pandas(types_mapper=pd.ArrowDtype)):
        fm = feature_matrix(data)
        pd.testing.assert_frame_equal(fm.X.reset_index(drop=True), expected, check_dtype=False)
        assert fm.spec.dropped["signed_up"] == "temporal"


def test_known_labels_are_dropped_and_unknown_outcome_columns_raise(mart):
    assert "purchased_next_30d" not in feature_matrix(mart).feature_columns  # even when not the label
    leaky = mart.assign(orders_next_30d=[1, 0, 0, 2, 0])
    with pytest.raises(ValueError, match=r"label leakage: feature column\(s\) 'orders_next_30d'"):
        feature_matrix(leaky, "purchased_next_30d")
    # declared as a label, or excluded, it is dropped
    ok = feature_matrix(leaky, "purchased_next_30d", label_cols=(*LABEL_COLUMNS, "orders_next_30d"))
    assert "orders_next_30d" not in ok.feature_columns
    ok = feature_matrix(leaky, "purchased_next_30d", exclude=("orders_next_30d",))
    assert ok.spec.dropped["orders_next_30d"] == "exclude"
    # a label that is not in label_cols is still never a feature
    custom = mart.assign(churned=[0, 1, 0, 0, 1])
    assert "churned" not in feature_matrix(custom, "churned").feature_columns


def test_check_no_leakage_directly():
    check_no_leakage(["frequency", "recency_days"], label="purchased_next_30d")
    with pytest.raises(ValueError, match="'returned' \\(a label column\\)"):
        check_no_leakage(["frequency", "returned"])
    with pytest.raises(ValueError, match="'Spend_NEXT_7d'"):
        check_no_leakage(["Spend_NEXT_7d"])  # case-insensitive
    with pytest.raises(ValueError, match="'y' \\(a label column\\)"):
        check_no_leakage(["y"], label="y", label_cols=())
    # a spec reused with a new label is checked too
    spec = infer_feature_spec(pd.DataFrame({"a": [1.0, 2.0], "b": [0, 1]}))
    with pytest.raises(ValueError, match="label leakage"):
        feature_matrix(pd.DataFrame({"a": [1.0, 2.0], "b": [0, 1]}), "b", spec=spec)


def test_input_errors_name_the_column(mart):
    with pytest.raises(ValueError, match=r"exclude names column\(s\) \['acquisition_chanel'\]"):
        feature_matrix(mart, exclude=("acquisition_chanel",))
    with pytest.raises(ValueError, match="label 'nope' is not a column"):
        feature_matrix(mart, "nope")
    with pytest.raises(ValueError, match="label 'returned' has 2 missing"):
        feature_matrix(mart.assign(returned=[1, None, 0, None, 1]), "returned")
    with pytest.raises(ValueError, match="encoding must be"):
        feature_matrix(mart, encoding="ordinal")
    with pytest.raises(ValueError, match="must be a pandas DataFrame or a pyarrow Table"):
        feature_matrix([[1, 2]])


def test_derive_label():
    df = pd.DataFrame({"acquisition_channel": ["facebook", "email", None, "facebook"]})
    out = derive_label(df, "acquisition_channel", "facebook", name="is_facebook")
    np.testing.assert_array_equal(out["is_facebook"], [1, 0, np.nan, 1])
    assert "is_facebook" not in df.columns  # the input is not modified
    assert "is_acquisition_channel_email" in derive_label(df, "acquisition_channel", "email").columns
    with pytest.raises(ValueError, match="column 'channel' is not in df"):
        derive_label(df, "channel", "facebook")
