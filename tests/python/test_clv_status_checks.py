"""The CLV table's checks on expected_purchases_365d / probability_alive follow clv_status.

The tables `retail_lift.clv.lifetime_value_table` really writes (a fitted model, the boundary and snapshot-day
notes, and each degenerate case whose purchase model is not estimable) are run through the dbt test
`clv_purchase_columns_follow_the_status` (its expression read from the yml, evaluated in DuckDB) and through the
quality step's purchase_model_status (retail_lift.quality.derived.clv_columns): values present exactly when
the purchase model is "ok". The same tables with one value removed, or one value added next to a "not
estimable" status, fail.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml
from clv_summaries import no_dropout_summary, summary

from retail_lift import clv
from retail_lift.quality.derived import clv_columns

pytestmark = pytest.mark.slow  # over ~10 s of fitting or simulation per module; make test-fast leaves it out

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
PURCHASE_COLUMNS = ["expected_purchases_365d", "probability_alive"]


def _expression() -> str:
    models = yaml.safe_load((ROOT / "python_models/ml/customers/_customers__models.yml").read_text())["models"]
    model = next(m for m in models if m["name"] == "ml_customer_lifetime_value")
    [test] = [t["expression_is_true"] for t in model["data_tests"]
              if t["expression_is_true"]["name"] == "clv_purchase_columns_follow_the_status"]
    return test["arguments"]["expression"]


def _dbt_failures(scores: pd.DataFrame) -> int:
    """Rows the dbt test returns (dbt_utils expression_is_true: rows where the expression is not true)."""
    with duckdb.connect() as con:
        con.register("clv", scores)
        return con.execute(f"select count(*) from clv where not ({_expression()})").fetchall()[0][0]


_summary = summary


def _days() -> pd.DataFrame:
    from retail_lift.evaluation.clv import calibration_holdout_summary

    return calibration_holdout_summary(pd.read_csv(DATA / "cdnow_sample_orders.csv"), "1998-06-30", "1998-07-01")


def _no_dropout() -> pd.DataFrame:
    return no_dropout_summary()


CASES = {
    "fitted": (lambda: _days(), "ok"),
    "fitted, customers first seen on the snapshot day": (
        lambda: pd.concat([_days(), _summary([0, 0], [0, 0], [0, 0], [0.0, 0.0])], ignore_index=True), "ok"),
    "no dropout: the NBD boundary": (_no_dropout, "ok"),
    "no repeat buyers": (lambda: _summary([0] * 20, [0] * 20, list(range(5, 25)), [0.0] * 20), "not estimable"),
    "a single purchase day": (lambda: _summary([0] * 12, [0] * 12, [30] * 12, [0.0] * 12), "not estimable"),
    "every first purchase on the snapshot day": (lambda: _summary([0] * 12, [0] * 12, [0] * 12, [0.0] * 12),
                                                 "not estimable"),
    "too few customers": (lambda: _summary([1, 0, 0], [3, 0, 0], [10, 10, 10], [5.0, 0.0, 0.0]), "not estimable"),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    make, expected = CASES[request.param]
    scores, _ = clv.lifetime_value_table(make())
    return request.param, scores, expected


def test_the_written_table_passes_and_its_status_is_read(case):
    name, scores, expected = case
    assert (clv_columns(scores)["purchase_model_status"] == expected).all(), scores["clv_status"].iloc[0]
    present = scores[PURCHASE_COLUMNS].notna().all(axis=None)
    absent = scores[PURCHASE_COLUMNS].isna().all(axis=None)
    assert present if expected == "ok" else absent, name
    assert _dbt_failures(scores) == 0, name


def test_a_missing_or_an_unexplained_value_fails(case):
    name, scores, expected = case
    broken = scores.copy()
    if expected == "ok":
        broken.loc[broken.index[0], "probability_alive"] = np.nan   # NULL although the model is ok
    else:
        broken.loc[broken.index[0], "expected_purchases_365d"] = 1.0  # a value although not estimable
    assert _dbt_failures(broken) == 1, name
