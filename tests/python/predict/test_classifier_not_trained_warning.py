"""The warn test tests/marts/predict/classifier_not_trained_no_positive_or_negative_labels.sql and the model
card's run status say, in words, why a classifier has no model.

The singular test's SQL is rendered (its config line dropped, its ref replaced by a table) and run in DuckDB on
run rows of each status; the card's Training run section is built on the same rows.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd

from retail_lift.reports.model_cards import _STATUS_IN_WORDS

ROOT = Path(__file__).resolve().parents[3]
TEST_SQL = ROOT / "tests/marts/predict/classifier_not_trained_no_positive_or_negative_labels.sql"

RUNS = pd.DataFrame({
    "classifier": ["purchase_propensity", "category_propensity", "returning_customer", "facebook_acquisition"],
    "status": ["no_positive_labels", "trained", "no_negative_labels", "skipped"],
    "train_rows": [400, 5000, 300, 12],
    "train_positives": [0, 900, 300, 2],
    "message": ["purchase_propensity not trained: no positive labels in snapshot 'train' (400 labelled rows)",
                "trained", "returning_customer not trained: no negative labels in snapshot 'train' (300 labelled rows)",
                "facebook_acquisition skipped: 12 labelled train rows with 2 positive and 10 negative; ..."],
})


def _rendered() -> str:
    sql = TEST_SQL.read_text()
    assert "config(severity='warn')" in sql
    sql = re.sub(r"\{\{\s*config\([^}]*\)\s*\}\}", "", sql)
    return re.sub(r"\{\{\s*ref\('ml_classifier_runs'\)\s*\}\}", "runs_table", sql)


def test_the_warn_test_returns_one_row_per_one_class_classifier_with_the_problem_in_words():
    with duckdb.connect() as con:
        con.register("runs_table", RUNS)
        out = con.execute(_rendered()).df().set_index("classifier")
    assert sorted(out.index) == ["purchase_propensity", "returning_customer"]  # trained and skipped: no warning
    no_pos = out.loc["purchase_propensity", "problem"]
    assert no_pos.startswith("purchase_propensity has no model and no scores: its train snapshot has no positive")
    assert "label_window_days" in no_pos
    assert "every labelled row of its train snapshot is positive" in out.loc["returning_customer", "problem"]
    assert out.loc["purchase_propensity", "message"].endswith("(400 labelled rows)")


def test_the_warn_test_is_silent_when_every_classifier_is_trained():
    with duckdb.connect() as con:
        con.register("runs_table", RUNS.assign(status="trained"))
        assert con.execute(_rendered()).df().empty


def test_the_card_says_what_each_status_means():
    with duckdb.connect() as con:
        con.register("runs_table", RUNS)
        words = dict(con.execute(f"select status, {_STATUS_IN_WORDS} from runs_table").fetchall())
    assert words["no_positive_labels"].startswith("not trained, no model and no scores: the train snapshot has no "
                                                  "positive label")
    assert "everybody did it" in words["no_negative_labels"]
    assert "fewer than 10 labelled rows of a class" in words["skipped"]
    assert words["trained"].startswith("trained")
