"""retail_lift.evaluation.truth: "no truth" is all truth tables empty; the empty frames match the models' yml."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from retail_lift.evaluation.truth import EVALUATION_SCHEMAS, empty_evaluation, truth_is_absent

PROJECT = Path(__file__).resolve().parents[2]


def _declared_columns() -> dict[str, list[str]]:
    out = {}
    for path in (PROJECT / "python_models" / "evaluation").rglob("*.yml"):
        for m in yaml.safe_load(path.read_text()).get("models", []):
            out[m["name"]] = [c["name"] for c in m.get("columns", [])]
    return out


@pytest.mark.parametrize("model", sorted(EVALUATION_SCHEMAS))
def test_empty_frame_has_the_declared_columns(model):
    declared = _declared_columns()[model]
    frame = empty_evaluation(model)
    assert frame.empty and list(frame.columns) == declared


def test_every_python_evaluation_model_has_a_schema():
    assert set(_declared_columns()) == set(EVALUATION_SCHEMAS)


def test_truth_is_absent_only_when_every_truth_table_is_empty():
    con = duckdb.connect()
    empty = con.sql("select 1 as x where false")
    full = con.sql("select 1 as x")
    assert truth_is_absent(empty, empty, empty)
    assert not truth_is_absent(empty, full, empty)  # a partial truth is not "no truth": the evaluation runs
    assert truth_is_absent(pd.DataFrame({"x": []}))
    with pytest.raises(ValueError):
        truth_is_absent()


def test_empty_frame_lands_in_duckdb_with_the_built_types():
    con = duckdb.connect()
    frame = empty_evaluation("ml_predict_oracle_comparison")  # noqa: F841 (read by DuckDB)
    types = {r[0]: r[1] for r in con.execute("describe select * from frame").fetchall()}
    assert types["classifier"] == "VARCHAR" and types["n"] == "BIGINT"
    assert types["meets_target"] == "BOOLEAN" and types["auc_ratio"] == "DOUBLE"
