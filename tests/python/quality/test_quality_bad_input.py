"""Each kind of bad input fails the expectation that is about it, named with sample bad values."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from quality_world import AS_OF

from retail_lift.quality import ERROR, WARNING, QualityError, run_checkpoint
from retail_lift.quality.suites import suite_for

pytestmark = pytest.mark.slow  # over ~10 s of fitting or simulation per module; make test-fast leaves it out


def _set(table, row, column, value):
    def edit(raw, wh):
        frames = wh if "." in table else raw
        frames[table].loc[row, column] = value
    return edit


def _duplicate(table, row):
    def edit(raw, wh):
        frames = wh if "." in table else raw
        frames[table] = pd.concat([frames[table], frames[table].iloc[[row]]], ignore_index=True)
    return edit


def _bad_sum(raw, wh):
    raw["decisions"].loc[0, "action_probabilities"] = json.dumps({"control": 0.1, "email_10pct": 0.8, "bogo": 0.0})


# (case, edit, table, expectation, column, a sample bad value)
CASES = [
    ("negative amount", _set("orders", 1, "amount", -5.0),
     "raw.orders", "expect_column_values_to_be_between", "amount", -5.0),
    ("event without visitor_id", _set("events", 2, "visitor_id", None),
     "raw.events", "expect_column_values_to_not_be_null", "visitor_id", None),
    ("propensity 0", _set("decisions", 1, "propensity", 0.0),
     "raw.decisions", "expect_column_values_to_be_between", "propensity", 0.0),
    ("probabilities not summing to 1", _bad_sum,
     "raw.decisions", "expect_column_values_to_be_between", "action_probabilities_sum", 0.9),
    ("action_probabilities not JSON", _set("decisions", 2, "action_probabilities", "control=0.1"),
     "raw.decisions", "expect_column_values_to_be_null", "action_probabilities_problem", "not JSON: control=0.1"),
    ("duplicate order_id", _duplicate("orders", 1),
     "raw.orders", "expect_column_values_to_be_unique", "order_id", "O2"),
    ("duplicate order line", _duplicate("order_lines", 0),
     "raw.order_lines", "expect_compound_columns_to_be_unique", "order_id, line_number",
     {"order_id": "O1", "line_number": 1}),
    ("orphan customer", _set("orders", 2, "customer_id", "C999"),
     "raw.orders", "expect_column_pair_values_to_be_equal", "customer_id", "C999"),
    ("implausible timestamp", _set("orders", 0, "ordered_at", pd.Timestamp("1969-12-31")),
     "raw.orders", "expect_column_values_to_be_between", "ordered_at", "1969-12-31T00:00:00"),
    ("future timestamp", _set("events", 0, "event_at", pd.Timestamp("2027-01-01")),
     "raw.events", "expect_column_values_to_be_between", "event_at", "2027-01-01T00:00:00"),
    ("unknown order channel", _set("orders", 0, "channel", "phone"),
     "raw.orders", "expect_column_values_to_be_in_set", "channel", "phone"),
    ("experiment ends before it starts", _set("experiments", 0, "ended_at", pd.Timestamp("2026-01-01")),
     "raw.experiments", "expect_column_pair_values_a_to_be_greater_than_b", "ended_at, started_at",
     ["2026-01-01T00:00:00", "2026-01-05T00:00:00"]),
    ("duplicate session_id", _duplicate("marts.fct_sessions", 0),
     "marts.fct_sessions", "expect_column_values_to_be_unique", "session_id", "s1"),
    ("a decision's arm probabilities not summing to 1",
     _set("marts.fct_decision_arm_probabilities", 4, "action_probability", 0.3),
     "marts.fct_decision_arm_probabilities", "expect_column_values_to_be_between", "action_probability", "D2"),
    ("a decision with no chosen arm", _set("marts.fct_decision_arm_probabilities", 8, "is_chosen", False),
     "marts.fct_decision_arm_probabilities", "expect_column_values_to_be_between", "is_chosen", "D3"),
    ("adjusted p-value below the raw one", _set("ml.ml_experiment_results", 0, "p_value_adjusted", 0.1),
     "ml.ml_experiment_results", "expect_column_pair_values_a_to_be_greater_than_b",
     "p_value_adjusted, p_value", [0.1, 0.4]),
    ("probability_alive above 1", _set("ml.ml_customer_lifetime_value", 0, "probability_alive", 1.5),
     "ml.ml_customer_lifetime_value", "expect_column_values_to_be_between", "probability_alive", 1.5),
    ("scored customer not in the LTV inputs", _set("ml.ml_customer_lifetime_value", 1, "customer_id", "C7"),
     "ml.ml_customer_lifetime_value", "expect_column_pair_values_to_be_equal", "customer_id", "C7"),
]


@pytest.mark.parametrize("edit,table,expectation,column,sample", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_fails_the_named_expectation(make_world, tmp_path, edit, table, expectation, column, sample):
    wh, raw = make_world(edit)
    result = run_checkpoint(wh, raw, tmp_path / "out", suites=[suite_for(table)], discover=False,
                            build_docs=False, as_of=AS_OF)
    assert not result.success
    [failure] = [r for r in result.errors if r.expectation == expectation and r.column == column]
    assert failure.table == table
    assert failure.severity == ERROR
    assert failure.unexpected_count >= 1
    assert sample in failure.sample_bad_values, failure.sample_bad_values
    text = result.message()
    for part in (table, column.split(",")[0], expectation):
        assert part in text
    assert json.dumps(sample).strip('"')[:10] in text


def test_every_case_passes_without_the_edit(make_world, tmp_path):
    wh, raw = make_world()
    tables = sorted({c[2] for c in CASES})
    result = run_checkpoint(wh, raw, tmp_path / "out", suites=[suite_for(t) for t in tables], discover=False,
                            build_docs=False, as_of=AS_OF)
    assert result.success, result.message()
    assert not result.warnings, [w.describe() for w in result.warnings]


def test_raise_on_error_names_table_column_expectation_and_values(make_world, tmp_path):
    wh, raw = make_world(_set("orders", 1, "amount", -5.0))
    with pytest.raises(QualityError) as info:
        run_checkpoint(wh, raw, tmp_path / "out", suites=[suite_for("raw.orders")], discover=False,
                       build_docs=False, as_of=AS_OF, raise_on_error=True)
    message = str(info.value)
    assert "raw.orders column amount: expect_column_values_to_be_between(min_value=0)" in message
    assert "failed on 1 of 3 rows; sample bad values: [-5.0]" in message
    assert info.value.result.errors[0].sample_rows == [{"amount": -5.0, "order_id": "O2"}]


def test_a_product_view_without_product_id_is_a_warning(make_world, tmp_path):
    """Kept by staging for sessions and funnels (left out of the product journeys): a warning, not an error."""
    wh, raw = make_world(_set("events", 2, "product_id", None))
    result = run_checkpoint(wh, raw, tmp_path / "out", suites=[suite_for("raw.events")], discover=False,
                            build_docs=False, as_of=AS_OF)
    assert result.success
    [warning] = result.warnings
    assert (warning.column, warning.severity, warning.unexpected_count) == ("product_id", WARNING, 1)


def test_a_warning_is_reported_but_does_not_fail(make_world, tmp_path):
    wh, raw = make_world(_set("events", 0, "device", "smartwatch"))
    result = run_checkpoint(wh, raw, tmp_path / "out", suites=[suite_for("raw.events")], discover=False,
                            build_docs=False, as_of=AS_OF)
    assert result.success
    [warning] = result.warnings
    assert (warning.column, warning.severity, warning.sample_bad_values) == ("device", WARNING, ["smartwatch"])


def test_any_event_name_is_accepted_and_an_unknown_one_is_a_warning(make_world, tmp_path):
    """Page events need no product_id; a name the seed event_roles does not know is kept (role other) and
    named in a warning."""
    def edit(raw, wh):
        raw["events"].loc[0, ["event_type", "product_id"]] = ["Home", None]  # a page event: no product needed
        raw["events"].loc[2, "event_type"] = "click"  # unknown name
        raw["events"].loc[18, "transaction_id"] = None  # a purchase without transaction_id: a warning

    wh, raw = make_world(edit)
    result = run_checkpoint(wh, raw, tmp_path / "out", suites=[suite_for("raw.events")], discover=False,
                            build_docs=False, as_of=AS_OF)
    assert result.success, result.message()
    found = {(w.column, w.severity): w.sample_bad_values for w in result.warnings}
    assert found == {("unknown_event_name", WARNING): ["click"], ("transaction_id", WARNING): [None]}, found


def test_text_that_does_not_parse_is_named_value_by_value(make_world, tmp_path):
    """A raw column landed as text (`prepare` keeps it so, for staging to quarantine) is checked as its
    contract type; each value that does not parse is an error, the column type a warning."""
    def edit(raw, wh):
        raw["orders"]["amount"] = raw["orders"]["amount"].astype(str)
        raw["orders"].loc[2, "amount"] = "12,50"

    wh, raw = make_world(edit, keep_types=("orders.amount",))
    result = run_checkpoint(wh, raw, tmp_path / "out", suites=[suite_for("raw.orders")], discover=False,
                            build_docs=False, as_of=AS_OF)
    [error] = result.errors
    assert (error.column, error.expectation, error.sample_bad_values) == (
        "amount__unparseable", "expect_column_values_to_be_null", ["12,50"])
    [warning] = [w for w in result.warnings if w.rule == "column_types"]
    assert warning.sample_bad_values == ["amount: VARCHAR, expected DOUBLE"]


def test_a_missing_column_fails_the_schema_and_skips_its_checks(make_world, tmp_path):
    def edit(raw, wh):
        wh["ml.ml_customer_lifetime_value"] = wh["ml.ml_customer_lifetime_value"].drop(columns="probability_alive")

    wh, raw = make_world(edit)
    result = run_checkpoint(wh, raw, tmp_path / "out", suites=[suite_for("ml.ml_customer_lifetime_value")],
                            discover=False, build_docs=False, as_of=AS_OF)
    [error] = result.errors
    assert (error.rule, error.column, error.sample_bad_values) == ("columns_present", "probability_alive",
                                                                   ["probability_alive"])
    skipped = [r for r in result.results if r.status == "skipped"]
    assert {r.column for r in skipped} == {"probability_alive"}
    assert all("not found" in r.message for r in skipped)


def test_raw_as_warnings_reports_raw_problems_without_failing(make_world, tmp_path):
    """Under make build, dirty raw rows are quarantined by staging: the raw check reports them as warnings."""
    wh, raw = make_world(_set("orders", 1, "amount", -5.0))
    result = run_checkpoint(wh, raw, tmp_path / "out", suites=[suite_for("raw.orders")], discover=False,
                            build_docs=False, as_of=AS_OF, raw_as_warnings=True)
    assert result.success
    [warning] = [r for r in result.warnings if r.column == "amount"]
    assert warning.severity == WARNING and -5.0 in warning.sample_bad_values
    # the same problem in a warehouse table is still an error
    wh, raw = make_world(_set("ml.ml_customer_lifetime_value", 0, "probability_alive", 1.5))
    result = run_checkpoint(wh, raw, tmp_path / "out2", suites=[suite_for("ml.ml_customer_lifetime_value")],
                            discover=False, build_docs=False, as_of=AS_OF, raw_as_warnings=True)
    assert not result.success


# ---------------------------------------------------------------- CLV: the not_null checks follow clv_status

_NOT_ESTIMABLE = ("purchase model: no repeat buyers: purchase model not estimable; spend model: no repeat buyers: "
                  "spend model not estimable; margin: no unit costs in the inputs (cost_of_goods): margin CLV not "
                  "estimable")
_OK_WITH_NOTE = ("purchase model: ok (1 customers first bought on the snapshot day, T = 0: scored from the "
                 "population alone); spend model: ok; margin: ok")


def _clv(status, **columns):
    def edit(raw, wh):
        clv = wh["ml.ml_customer_lifetime_value"]
        clv["clv_status"] = status
        for column, value in columns.items():
            clv[column] = pd.Series([value] * len(clv), dtype="float64")  # None: a typed NULL (DOUBLE)
    return edit


def _check_clv(make_world, tmp_path, edit):
    wh, raw = make_world(edit)
    return run_checkpoint(wh, raw, tmp_path / "out", suites=[suite_for("ml.ml_customer_lifetime_value")],
                          discover=False, build_docs=False, as_of=AS_OF)


def test_clv_not_estimable_purchase_model_may_leave_its_columns_null(make_world, tmp_path):
    """The CLV step's named status for degenerate data (no repeat buyers...): NULL columns are the design."""
    result = _check_clv(make_world, tmp_path, _clv(_NOT_ESTIMABLE, expected_purchases_365d=None,
                                                   probability_alive=None, expected_avg_spend=None,
                                                   clv_revenue_12m=None, clv_margin_12m=None, clv_12m=None))
    assert result.success, result.message()
    followed = [r for r in result.results if r.column in ("expected_purchases_365d", "probability_alive")
                and r.expectation in ("expect_column_values_to_not_be_null", "expect_column_values_to_be_null")]
    assert len(followed) == 4 and all(r.status == "passed" for r in followed)


@pytest.mark.parametrize("status", ["purchase model: ok; spend model: ok; margin: ok", _OK_WITH_NOTE])
@pytest.mark.parametrize("column", ["expected_purchases_365d", "probability_alive"])
def test_clv_ok_purchase_model_may_not_leave_its_columns_null(make_world, tmp_path, status, column):
    def edit(raw, wh):
        _clv(status)(raw, wh)
        wh["ml.ml_customer_lifetime_value"].loc[1, column] = None

    result = _check_clv(make_world, tmp_path, edit)
    assert not result.success
    [error] = [r for r in result.errors if r.column == column]
    assert error.expectation == "expect_column_values_to_not_be_null" and error.unexpected_count == 1
    assert {"customer_id": "C2", column: None} in [{k: row.get(k) for k in ("customer_id", column)}
                                                   for row in error.sample_rows]


def test_clv_not_estimable_purchase_model_with_a_value_is_an_error(make_world, tmp_path):
    """A value next to a "not estimable" status would be a silent fallback to a default."""
    result = _check_clv(make_world, tmp_path, _clv(_NOT_ESTIMABLE, probability_alive=None))
    assert not result.success
    [error] = result.errors
    assert (error.column, error.expectation, error.unexpected_count) == (
        "expected_purchases_365d", "expect_column_values_to_be_null", 2)


def test_clv_purchase_model_status_is_read_from_clv_status():
    from retail_lift.quality.derived import clv_columns

    frame = pd.DataFrame({"clv_status": [
        "purchase model: ok; spend model: ok; margin: ok", _OK_WITH_NOTE,
        "purchase model: ok at the boundary a -> 0: no dropout in the data; spend model: ok; margin: ok",
        _NOT_ESTIMABLE, "purchase model: okay?; spend model: ok", None]})
    assert clv_columns(frame)["purchase_model_status"].tolist() == [
        "ok", "ok", "ok", "not estimable", "not estimable", None]
