"""The engine-independent table fingerprint used by the cross-engine test (no Spark needed)."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa

from retail_lift.spark.compare import fingerprint, row_differences


def test_row_and_column_order_do_not_matter_duplicates_do():
    a = pa.table({"id": [1, 2, 3], "name": ["x", "y", None]})
    b = pa.table({"name": [None, "x", "y"], "id": [3, 1, 2]})
    assert fingerprint(a) == fingerprint(b)
    c = pa.table({"id": [1, 2, 3, 3], "name": ["x", "y", None, None]})
    assert fingerprint(c).checksum != fingerprint(a).checksum
    assert fingerprint(c).rows == 4


def test_float_noise_and_number_types_are_normalised_real_differences_are_not():
    a = pa.table({"v": [0.1 + 0.2, 1.0, float("nan")], "n": pa.array([1, 2, 3], pa.int32())})
    b = pa.table({"v": [0.3, 1.0, None], "n": pa.array([1, 2, 3], pa.int64())})
    assert fingerprint(a) == fingerprint(b)
    d = pa.table({"v": [decimal.Decimal("0.3"), decimal.Decimal("1"), None], "n": [1, 2, 3]})
    assert fingerprint(d) == fingerprint(b)
    e = pa.table({"v": [0.3001, 1.0, None], "n": [1, 2, 3]})
    assert fingerprint(e) != fingerprint(b)
    assert any("0.3001" in line for line in row_differences(b, e))


def test_timestamps_compare_as_naive_utc():
    naive = pa.table({"at": pa.array([dt.datetime(2026, 1, 5, 10, 0, 0, 123000)], pa.timestamp("us"))})
    aware = pa.table({"at": pa.array([dt.datetime(2026, 1, 5, 11, 0, 0, 123000,
                                                   tzinfo=dt.timezone(dt.timedelta(hours=1)))],
                                     pa.timestamp("us", tz="+01:00"))})
    assert fingerprint(naive) == fingerprint(aware)
    later = pa.table({"at": pa.array([dt.datetime(2026, 1, 5, 10, 0, 1)], pa.timestamp("us"))})
    assert fingerprint(later) != fingerprint(naive)


def test_excluded_columns_are_left_out():
    a = pa.table({"id": [1], "built_at": ["a"]})
    b = pa.table({"id": [1], "built_at": ["b"]})
    assert fingerprint(a) != fingerprint(b)
    assert fingerprint(a, exclude=("built_at",)) == fingerprint(b, exclude=("built_at",))
