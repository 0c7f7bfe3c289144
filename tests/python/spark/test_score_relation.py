"""The Spark runner's stand-in for a DuckDB relation answers what the package asks of a relation.

Runs without Spark: a small fake stands in for the Spark DataFrame (its columns and select).
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from retail_lift.spark import score
from retail_lift.uplift.features import input_frame


class _FakeSparkFrame:
    def __init__(self, table: pa.Table):
        self.table = table
        self.selected: list[list[str]] = []

    @property
    def columns(self) -> list[str]:
        return list(self.table.column_names)

    def select(self, *names: str) -> _FakeSparkFrame:
        missing = [n for n in names if n not in self.table.column_names]
        if missing:  # Spark raises AnalysisException on an unknown column
            raise KeyError(missing)
        out = _FakeSparkFrame(self.table.select(list(names)))
        self.selected.append(list(names))
        return out


@pytest.fixture
def relation(monkeypatch):
    monkeypatch.setattr(score, "spark_to_arrow", lambda df: df.table)
    frame = _FakeSparkFrame(
        pa.table({"customer_id": ["c1", "c2"], "weird \"name": [1, 2], "device_preference": ["m", "d"]})
    )
    return score._Relation(frame), frame


def test_columns_and_duckdb_quoted_select(relation):
    rel, frame = relation
    assert rel.columns == ["customer_id", 'weird "name', "device_preference"]
    picked = rel.select('"customer_id"', '"weird ""name"', "device_preference")
    assert frame.selected == [["customer_id", 'weird "name', "device_preference"]]
    assert picked.to_arrow_table().column_names == ["customer_id", 'weird "name', "device_preference"]


def test_the_uplift_input_reader_reads_only_the_columns_it_needs_from_a_spark_relation(relation):
    rel, frame = relation
    df = input_frame(rel, "scoring", required=["customer_id"], optional=["device_preference", "absent"])
    assert list(df.columns) == ["customer_id", "device_preference"]
    assert frame.selected == [["customer_id", "device_preference"]]
    assert df["device_preference"].dtype.name == "category"
    assert df["customer_id"].tolist() == ["c1", "c2"]


def test_project_reads_duckdb_quoted_names_as_columns_not_string_literals():
    # Spark SQL reads "gender" as the string 'gender': quoted names must become `gender`
    assert score._spark_identifier('"gender"') == "`gender`"
    assert score._spark_identifier('"a ""b"""') == '`a "b"`'
    assert score._spark_identifier('"odd`name"') == "`odd``name`"
    assert score._spark_identifier("record_type") == "record_type"
    assert score._spark_identifier("amount * 2 as doubled") == "amount * 2 as doubled"
    assert score._spark_identifier("'a' || 'b'") == "'a' || 'b'"
