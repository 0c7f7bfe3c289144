"""The exposures (models/_exposures.yml) list what each consumer outside dbt really reads."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import yaml

from retail_lift.api.app import LEDGER_TABLE
from retail_lift.bandit.publish import PUBLISHED_TABLE
from retail_lift.cli import export_campaign_targets
from retail_lift.quality.suites import SUITES
from retail_lift.reports.charts import CHART_TABLES
from retail_lift.reports.model_cards import tables_read

ROOT = Path(__file__).resolve().parents[3]
EXPOSURES = {e["name"]: e for e in yaml.safe_load((ROOT / "models" / "_exposures.yml").read_text())["exposures"]}


def _depends_on(name: str) -> set[str]:
    """ref('x') -> 'x', source('shop', 'y') -> 'shop.y'."""
    out = set()
    for item in EXPOSURES[name]["depends_on"]:
        if m := re.fullmatch(r"ref\('(\w+)'\)", item):
            out.add(m.group(1))
        elif m := re.fullmatch(r"source\('(\w+)', '(\w+)'\)", item):
            out.add(f"{m.group(1)}.{m.group(2)}")
        else:
            raise AssertionError(f"{name}: unexpected depends_on {item!r}")
    return out


def _names(tables) -> set[str]:
    return {t.split(".")[-1] for t in tables}


def test_every_exposure_is_documented_and_owned():
    assert set(EXPOSURES) == {"retail_lift_dashboard", "decision_api", "campaign_target_list_export",
                              "great_expectations_checks", "docs_site_charts_and_model_cards"}
    for name, exposure in EXPOSURES.items():
        assert exposure["type"] in {"dashboard", "application", "analysis", "ml", "notebook"}, name
        assert exposure["maturity"] in {"low", "medium", "high"}, name
        assert exposure["owner"].get("name") or exposure["owner"].get("email"), name
        assert len(exposure["description"]) > 100 and exposure.get("url"), name


def test_docs_exposure_lists_every_table_of_the_charts_and_model_cards():
    read = _names(tables_read()) | _names(t for tables in CHART_TABLES.values() for t in tables)
    assert read == _depends_on("docs_site_charts_and_model_cards")


def test_api_and_export_exposures_list_the_tables_the_code_reads():
    assert _names([PUBLISHED_TABLE, LEDGER_TABLE]) == _depends_on("decision_api")
    table = inspect.signature(export_campaign_targets).parameters["table"].default
    assert _names([table]) == _depends_on("campaign_target_list_export")


def test_quality_exposure_lists_every_checked_table():
    expected = set()
    for suite in SUITES:
        schema, table = suite.table.split(".")
        expected.add(f"shop.{table}" if schema == "raw" else table)
    assert expected == _depends_on("great_expectations_checks")


def test_dashboard_exposure_lists_every_table_the_dashboard_reads():
    code = "\n".join(p.read_text() for p in (ROOT / "retail_lift" / "dashboard").glob("*.py"))
    read = set(re.findall(r"\b(?:marts|ml|evaluation)\.((?:fct|dim|rpt|ml)_\w+)", code))
    assert read, "no table names found in retail_lift/dashboard"
    assert read <= _depends_on("retail_lift_dashboard"), sorted(read - _depends_on("retail_lift_dashboard"))
