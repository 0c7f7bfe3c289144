"""The daily path's test scope: var daily_tests_from narrows the generic tests of the incremental models to their
days from it on (macros/daily_tests.sql, the project's get_where_subquery), and nothing else; for a model incremental
by key, to the rows whose latest event is from that day on."""

from __future__ import annotations

import pytest
from helpers import run_dbt

pytestmark = pytest.mark.dbt

TESTS = {
    # a generic test of an incremental model (day column event_date)
    "unique_int_events_sessionized_event_id": "event_date >= cast('2026-04-01' as date)",
    # one of a daily aggregate, incremental on activity_date
    "not_null_int_product_activity_daily_product_id": "activity_date >= cast('2026-04-01' as date)",
    # one of the product journeys, incremental by key (visitor, product): the rows whose latest event is from then on
    "not_null_fct_product_journeys_visitor_id": "last_event_at >= cast('2026-04-01' as date)",
}
VIEW_TEST = "product_events_have_a_product_id"  # a test with its own where, of a view: unchanged by the var


def _compiled(workdir, name):
    return next((workdir / "target" / "compiled").rglob(f"{name}.sql")).read_text().lower()


@pytest.mark.parametrize("first_day", [None, "2026-04-01"], ids=["whole_tables", "daily_scope"])
def test_daily_tests_from_scopes_the_tests_of_incremental_models(tiny_world, tmp_path, first_day):
    args = ["compile", "-s", *TESTS, VIEW_TEST]
    if first_day:
        args += ["--vars", f"{{daily_tests_from: '{first_day}'}}"]
    run_dbt(args, tiny_world / "raw", tiny_world / "truth", tmp_path)
    for name, condition in TESTS.items():
        sql = _compiled(tmp_path, name)
        assert (condition in sql) == bool(first_day), f"{name}: {sql}"
    view_sql = _compiled(tmp_path, VIEW_TEST)
    assert "event_role in ('product_view', 'add_to_cart')" in view_sql and ">= cast(" not in view_sql
