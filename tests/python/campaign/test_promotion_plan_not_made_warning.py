"""The warn test tests/marts/uplift/promotion_plan_not_made.sql: one row per promotion with uplift scores when
ml_promotion_plan is empty (no gross margin rate to price the plan), none when there is a plan or no uplift.

The singular test's SQL is rendered (its config line dropped, its refs replaced by tables) and run in DuckDB."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from helpers import run_singular_test

ROOT = Path(__file__).resolve().parents[3]
TEST_SQL = ROOT / "tests/marts/uplift/promotion_plan_not_made.sql"


def _run(uplift: pd.DataFrame, plan: pd.DataFrame) -> pd.DataFrame:
    return run_singular_test(TEST_SQL, {"ml_customer_uplift": uplift, "ml_promotion_plan": plan})


UPLIFT = pd.DataFrame({"customer_id": ["a", "b", "a"], "promotion_id": ["bogo", "bogo", "email_10pct"],
                       "experiment_id": ["exp_a"] * 3})


def test_uplift_without_a_plan_warns_once_per_promotion_and_says_what_to_set():
    rows = _run(UPLIFT, pd.DataFrame({"plan_id": pd.Series(dtype=str)}))
    assert sorted(rows["promotion_id"]) == ["bogo", "email_10pct"]
    assert rows["problem"].str.contains("set margin_rate of ml_promotion_plan").all()


def test_a_plan_or_no_uplift_does_not_warn():
    assert _run(UPLIFT, pd.DataFrame({"plan_id": ["p1"]})).empty
    assert _run(UPLIFT.iloc[0:0], pd.DataFrame({"plan_id": pd.Series(dtype=str)})).empty
