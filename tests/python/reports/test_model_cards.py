"""Model cards (retail_lift.reports.model_cards): one per dbt Python model, embedded by its yml description, with
the numbers of the model's metrics tables in the tiny warehouse; the committed placeholders stay in sync."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
import yaml

from retail_lift.reports.model_cards import (
    CARDS,
    PLACEHOLDER_PATH,
    PLACEHOLDER_TEXT,
    build_model_cards,
    format_value,
    placeholder_text,
    write_model_cards,
)
from retail_lift.warehouse import read_only

ROOT = Path(__file__).resolve().parents[3]
BLOCK = re.compile(r"\{% docs model_card_(\w+) %\}\n(.*?)\n\{% enddocs %\}", re.S)


def _python_models() -> set[str]:
    return {p.stem for p in (ROOT / "python_models").rglob("*.py")}


def test_every_python_model_has_a_card_embedded_in_its_description():
    assert {c.model for c in CARDS} == _python_models(), (
        "add a Card to retail_lift/reports/model_cards.py for each new dbt Python model, run "
        "`retail-lift docs-assets --placeholders`, and end its yml description with {{ doc('model_card_<model>') }}")
    described = {}
    for yml in (ROOT / "python_models").rglob("_*models.yml"):
        for model in yaml.safe_load(yml.read_text()).get("models", []):
            described[model["name"]] = model.get("description", "")
    for name in _python_models():
        assert f"{{{{ doc('model_card_{name}') }}}}" in described.get(name, ""), name


def test_committed_placeholders_are_current_and_neutral():
    text = PLACEHOLDER_PATH.read_text()
    assert text == placeholder_text(), "run `retail-lift docs-assets --placeholders`"
    blocks = dict(BLOCK.findall(text))
    assert set(blocks) == {c.model for c in CARDS}
    assert all(PLACEHOLDER_TEXT in body and not re.search(r"\d\.\d", body) for body in blocks.values())


#: per card, a query for one value the card must show (as the card formats it)
MEASURED = {
    "ml_purchase_propensity_fit": "select value from ml.ml_purchase_propensity_fit where record_type = 'metric' "
                                  "and split in ('test', 'holdout') and metric = 'roc_auc' and is_chosen_model",
    "ml_returning_customer_fit": "select train_rows from ml.ml_returning_customer_fit where record_type = 'run'",
    "ml_predict_oracle_comparison": "select auc_ratio from evaluation.ml_predict_oracle_comparison "
                                    "where classifier = 'purchase_propensity' and is_chosen_model",
    "ml_uplift_run": "select metric_value from ml.ml_uplift_metrics where metric_name = 'qini_auc' "
                     "order by experiment_id, promotion_id, is_selected_learner desc, learner limit 1",
    "ml_eval_uplift_vs_truth": "select qini_oracle_ratio from evaluation.ml_eval_uplift_vs_truth "
                               "order by experiment_id, promotion_id limit 1",
    "ml_bandit_policy_evaluation": "select value from ml.ml_bandit_policy_evaluation "
                                   "where estimator = 'dr' and is_champion",
    "ml_experiment_results": "select relative_lift from ml.ml_experiment_results "
                             "order by experiment_id, metric_name, variant limit 1",
    "ml_customer_lifetime_value": "select count(*) from ml.ml_customer_lifetime_value",
    "ml_campaign_target_list": "select count(*) from ml.ml_campaign_target_list where status = 'selected'",
    "ml_customer_segments_fit": "select silhouette from ml.ml_customer_segments_fit where record_type = 'run'",
    "ml_crosssell_evaluation": "select precision_at_n from ml.ml_crosssell_evaluation "
                               "order by item_level, method, n limit 1",
}


@pytest.mark.dbt
def test_cards_show_the_measured_numbers(tiny_warehouse, tmp_path):
    path = write_model_cards(tiny_warehouse, tmp_path / "model_cards" / "_model_cards.md",
                             chart_names={"calibration", "qini_curves", "bandit_arm_mix", "ab_lift", "rfm_segments"})
    text = path.read_text()
    blocks = dict(BLOCK.findall(text))
    assert set(blocks) == {c.model for c in CARDS}
    assert PLACEHOLDER_TEXT not in text and "{{" not in text
    with read_only(tiny_warehouse) as con:
        for model, sql in MEASURED.items():
            rows = con.execute(sql).fetchall()
            assert rows and rows[0][0] is not None, f"{model}: no value in the tiny warehouse ({sql})"
            assert format_value(rows[0][0]) in blocks[model], (model, format_value(rows[0][0]))
        train_cutoff = con.execute("select feature_date from intermediate.int_snapshot_dates "
                                   "where snapshot_role = 'train'").fetchall()[0][0]
    assert f"**{format_value(train_cutoff)}**" in blocks["ml_purchase_propensity_fit"]
    assert "![calibration](docs/assets/charts/calibration.png)" in blocks["ml_purchase_propensity_fit"]
    assert "![qini_curves](docs/assets/charts/qini_curves.png)" in blocks["ml_uplift_run"]
    assert "Not in this warehouse" not in text and "Could not be read" not in text
    # the run status in words, and the fairness gaps with their intervals (issue 21)
    assert "| what_it_means |" in blocks["ml_purchase_propensity_fit"]
    assert "**Gaps with bootstrap intervals**" in blocks["ml_purchase_propensity_fairness"]
    assert "| ci_lower | ci_upper |" in blocks["ml_purchase_propensity_fairness"]


@pytest.mark.dbt
def test_cards_of_a_partial_warehouse_say_what_is_missing(tiny_warehouse, tmp_path):
    partial = tmp_path / "partial.duckdb"
    con = duckdb.connect(str(partial))
    try:
        con.execute(f"attach '{tiny_warehouse}' as tiny (read_only)")
        con.execute("create schema ml")
        con.execute("create table ml.ml_customer_lifetime_value as select * from tiny.ml.ml_customer_lifetime_value")
        con.execute("detach tiny")
    finally:
        con.close()
    cards = build_model_cards(partial, chart_names=set())
    assert set(cards) == {c.model for c in CARDS}
    assert "_Not in this warehouse: `ml.ml_purchase_propensity_fit` was not built._" in cards[
        "ml_purchase_propensity_fit"]
    assert "_No oracle tables in this warehouse (real data has no ground truth)._" in cards["ml_uplift_run"]
    assert "Chart `calibration` was not drawn" in cards["ml_purchase_propensity_fit"]
    with read_only(partial) as con:
        customers = con.execute("select count(*) from ml.ml_customer_lifetime_value").fetchall()[0][0]
    assert f"| {format_value(customers)} |" in cards["ml_customer_lifetime_value"]


def test_format_value_keeps_template_syntax_and_tables_intact():
    assert format_value(None) == "–" and format_value(float("nan")) == "–"
    assert format_value(True) == "yes" and format_value(12345) == "12,345" and format_value(3.0) == "3"
    assert format_value(0.123456) == "0.1235" and format_value(123456.7) == "123,457"
    assert format_value("a|b {{ x }}") == "a\\|b &#123;&#123; x &#125;&#125;"
