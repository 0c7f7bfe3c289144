"""`retail-lift docs-assets`: charts and model cards from a warehouse into the folders given (runs without Chromium,
unlike the browser test that also uses it)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from retail_lift.cli import main
from retail_lift.reports.charts import CHARTS
from retail_lift.reports.model_cards import CARDS


def test_docs_assets_refuses_a_missing_warehouse(tmp_path):
    result = CliRunner().invoke(main, ["docs-assets", "--warehouse", str(tmp_path / "none.duckdb"),
                                       "--out", str(tmp_path / "charts"), "--cards-out", str(tmp_path / "c.md")])
    assert result.exit_code == 1
    assert f"no warehouse at {tmp_path / 'none.duckdb'}" in result.output
    assert not (tmp_path / "charts").exists() and not (tmp_path / "c.md").exists()


@pytest.mark.dbt
def test_docs_assets_writes_the_charts_and_the_cards(tiny_warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("RETAIL_LIFT_MODEL_CARDS_DIR", str(tmp_path / "from_env"))
    result = CliRunner().invoke(main, ["docs-assets", "--warehouse", str(tiny_warehouse),
                                       "--out", str(tmp_path / "charts")])
    assert result.exit_code == 0, result.output
    assert sorted(p.stem for p in (tmp_path / "charts").glob("*.png")) == sorted(CHARTS)
    cards = (tmp_path / "from_env" / "_model_cards.md").read_text()  # the folder dbt_project.yml reads
    assert cards.count("{% docs model_card_") == len(CARDS)
    assert f"docs assets: {len(CHARTS)} charts in {tmp_path / 'charts'}" in result.output
