"""The dbt sources declare exactly the columns of the raw-data contract."""

from pathlib import Path

import yaml

from retail_lift.contract import TABLES, TRUTH_TABLES

ROOT = Path(__file__).resolve().parents[2]


def _tables(path):
    doc = yaml.safe_load(path.read_text())
    return {t["name"]: [c["name"] for c in t["columns"]] for t in doc["sources"][0]["tables"]}


def test_shop_source_matches_contract():
    declared = _tables(ROOT / "models/staging/shop/_shop__sources.yml")
    for name, table in TABLES.items():
        assert declared[name] == table.column_names, name


def test_simulation_source_matches_truth_contract():
    declared = _tables(ROOT / "models/staging/simulation/_simulation__sources.yml")
    assert {n: c for n, c in declared.items()} == {n: t.column_names for n, t in TRUTH_TABLES.items()}
