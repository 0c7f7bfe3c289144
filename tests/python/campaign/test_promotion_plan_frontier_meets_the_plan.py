"""The warn test tests/marts/campaign/test_promotion_plan_frontier_meets_the_plan.sql: no row when the frontier's
point at the plan's budget has the plan's customers and margin per promotion; a row per promotion that differs,
and rows (with the count) when the frontier marks no point or several as the plan's.

The singular test's SQL is rendered (its config line dropped, its refs replaced by tables) and run in DuckDB."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from helpers import run_singular_test

ROOT = Path(__file__).resolve().parents[3]
TEST_SQL = ROOT / "tests/marts/campaign/test_promotion_plan_frontier_meets_the_plan.sql"


def _run(frontier: pd.DataFrame, plan: pd.DataFrame) -> pd.DataFrame:
    return run_singular_test(TEST_SQL, {"ml_promotion_plan_frontier": frontier, "ml_promotion_plan": plan})


PLAN = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "promotion_id": ["bogo", "bogo", "email_10pct", None],
                     "expected_incremental_margin": [1.5, 2.0, 0.25, None]})


def _frontier(at_plan: dict, plan_points=(1,)) -> pd.DataFrame:
    rows = []
    for point in (0, 1, 2):
        for q in ("bogo", "email_10pct", "banner"):
            n, margin = at_plan.get(q, (0, 0.0)) if point == 1 else (point, point * 1.0)
            rows.append({"point": point, "is_plan_budget": point in plan_points, "promotion_id": q,
                         "planned_customers": n, "expected_incremental_margin": margin})
    return pd.DataFrame(rows)


def test_the_plan_point_equal_to_the_plan_passes():
    assert _run(_frontier({"bogo": (2, 3.5), "email_10pct": (1, 0.25)}), PLAN).empty
    empty = _frontier({}).iloc[0:0]
    assert _run(empty, PLAN.iloc[0:0]).empty  # no uplift: no plan and no frontier


def test_a_promotion_that_differs_is_one_row():
    rows = _run(_frontier({"bogo": (2, 3.5), "email_10pct": (2, 0.75)}), PLAN)
    assert rows["promotion_id"].tolist() == ["email_10pct"]
    assert (rows["frontier_customers"].iloc[0], rows["plan_customers"].iloc[0]) == (2, 1)
    rows = _run(_frontier({"bogo": (2, 3.4), "email_10pct": (1, 0.25)}), PLAN)  # the margin alone differs
    assert rows["promotion_id"].tolist() == ["bogo"]


def test_no_plan_point_or_two_is_flagged():
    two = _run(_frontier({"bogo": (2, 3.5), "email_10pct": (1, 0.25)}, plan_points=(1, 2)), PLAN)
    assert len(two) and (two["plan_points"] == 2).all()
    none = _run(_frontier({"bogo": (2, 3.5), "email_10pct": (1, 0.25)}, plan_points=()), PLAN)
    assert sorted(none["promotion_id"]) == ["bogo", "email_10pct"] and (none["plan_points"] == 0).all()
