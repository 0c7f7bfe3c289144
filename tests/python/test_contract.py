"""The dbt sources declare exactly the columns of the raw-data contract."""

import re
from pathlib import Path

import yaml

from retail_lift.contract import EVENT_ROLES, PRODUCT_ROLES, TABLES, TRUTH_TABLES, event_roles

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


def test_sql_event_roles_match_the_contract():
    """The SQL list of product roles (macro product_roles) and the role ranks (macro event_role_rank) follow
    contract.PRODUCT_ROLES and contract.EVENT_ROLES; the seed maps names to known roles only."""
    macros = (ROOT / "macros/event_roles.sql").read_text()
    product_list = re.search(r"macro product_roles\(\) -%}\s*\((.*?)\)", macros).group(1)
    assert tuple(re.findall(r"'([a-z_]+)'", product_list)) == PRODUCT_ROLES
    ranked = re.findall(r"when '([a-z_]+)' then \d+", macros.split("macro event_role_rank")[1].split("endmacro")[0])
    assert sorted(ranked) == sorted(EVENT_ROLES)
    mapping = event_roles()
    assert set(mapping.values()) <= set(EVENT_ROLES)
    assert {"view": "product_view", "addtocart": "add_to_cart", "transaction": "purchase"}.items() <= mapping.items()
