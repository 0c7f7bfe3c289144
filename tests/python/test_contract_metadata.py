"""The metadata generated from the raw-data contract is in sync with it (``retail-lift contract-metadata --check``),
and the copies it replaces do not come back: no yml lists a contract domain by hand, the Great Expectations raw
suites check exactly the contract's domains, and the eleven per-table quarantine models are gone."""

import glob
import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from retail_lift import contract_metadata
from retail_lift.cli import main
from retail_lift.contract import TABLES, TRUTH_TABLES, domains
from retail_lift.contract_metadata import BLOCKS, GENERATED, QUARANTINE_TABLES, doc_name, render, write_metadata
from retail_lift.quality.suites import RAW_SUITES

ROOT = Path(__file__).resolve().parents[2]


def test_generated_files_match_the_contract():
    stale = write_metadata(ROOT, check=True)
    assert stale == [], f"run `retail-lift contract-metadata`: {[str(p.relative_to(ROOT)) for p in stale]}"


def test_check_names_a_stale_file_and_exits_1(tmp_path, monkeypatch):
    for rel in [*GENERATED, *BLOCKS]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    shutil.copytree(ROOT / "models/staging/shop/base", tmp_path / "models/staging/shop/base")
    sources = tmp_path / "models/staging/shop/_shop__sources.yml"
    sources.write_text(sources.read_text().replace("data_type: timestamp", "data_type: string", 1))
    assert write_metadata(tmp_path, check=True) == [sources]
    monkeypatch.setattr(contract_metadata, "ROOT", tmp_path)
    result = CliRunner().invoke(main, ["contract-metadata", "--check"])
    assert result.exit_code == 1 and "stale: models/staging/shop/_shop__sources.yml" in result.output
    assert "data_type: string" in sources.read_text()  # --check writes nothing
    result = CliRunner().invoke(main, ["contract-metadata"])
    assert result.exit_code == 0 and sources.read_text() == render("models/staging/shop/_shop__sources.yml")
    assert write_metadata(tmp_path, check=True) == []


def test_docs_page_block_is_generated_and_a_lost_marker_is_named(tmp_path):
    page = (ROOT / "docs/data-contract.md").read_text()
    assert "| `customers` | **customer_id**, visitor_id, signed_up_at (timestamp), age_band (18-24, 25-34" in page
    for rel in [*GENERATED, *BLOCKS]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    shutil.copytree(ROOT / "models/staging/shop/base", tmp_path / "models/staging/shop/base")
    (tmp_path / "docs/data-contract.md").write_text(page.replace("<!-- end contract-metadata -->", ""))
    with pytest.raises(ValueError, match=r"docs/data-contract.md: no block <!-- contract-metadata: raw_tables -->"):
        write_metadata(tmp_path, check=True)


def _sources(path):
    return {t["name"]: t for t in yaml.safe_load(path.read_text())["sources"][0]["tables"]}


@pytest.mark.parametrize("path, tables", [("models/staging/shop/_shop__sources.yml", TABLES),
                                          ("models/staging/simulation/_simulation__sources.yml", TRUTH_TABLES)])
def test_sources_carry_the_contract_types_and_doc_blocks(path, tables):
    declared = _sources(ROOT / path)
    for name, table in tables.items():
        cols = declared[name]["columns"]
        assert [c["name"] for c in cols] == table.column_names
        for c, spec in zip(cols, table.columns, strict=True):
            assert c["data_type"] == contract_metadata.DBT_TYPES[spec.type]
            assert c["description"].startswith("{{ doc('" + doc_name(name, spec.name) + "') }}")
            assert c["description"].endswith("(optional column)") == (not spec.required)


def test_doc_blocks_hold_each_column_description_and_domain():
    text = (ROOT / "models/staging/shop/_shop__contract_docs.md").read_text()
    blocks = dict(re.findall(r"{% docs (\w+) %}\n(.*?)\n{% enddocs %}", text, re.S))
    assert blocks["contract__customers__acquisition_channel"] == (
        "How the customer was acquired. One of: facebook, organic_search, store, email, referral.")
    assert blocks["contract__orders__order_id"] == "Order identifier."
    assert len(blocks) == sum(len(t.columns) for t in TABLES.values()) + len(contract_metadata.LOAD_REPORT.columns)
    # every doc() a yml of the project points at exists
    all_docs = "".join(Path(p).read_text() for p in glob.glob(str(ROOT / "models/**/*.md"), recursive=True))
    defined = set(re.findall(r"{% docs (\w+) %}", all_docs))
    for p in glob.glob(str(ROOT / "models/**/*.yml"), recursive=True):
        used = set(re.findall(r"doc\('(contract__\w+)'\)", Path(p).read_text()))
        assert used <= defined, (p, used - defined)


def test_domain_macro_lists_every_contract_domain():
    text = (ROOT / "macros/contract_domains.sql").read_text()
    for table, cols in domains().items():
        for col, values in cols.items():
            line = re.search(rf"'{col}': \[(.*?)\]", text.split(f"'{table}': {{")[1]).group(1)
            assert tuple(re.findall(r"'([^']*)'", line)) == values, (table, col)


def _accepted_values_tests():
    for p in sorted(glob.glob(str(ROOT / "models/**/*.yml"), recursive=True)):
        for model in yaml.safe_load(Path(p).read_text()).get("models", []):
            for col in model.get("columns", []) or []:
                for test in col.get("data_tests", []) or []:
                    if isinstance(test, dict):
                        yield p, model["name"], col["name"], test


def test_no_yml_copies_a_contract_domain():
    """A contract domain is tested with contract_values (the values come from the contract), never listed by hand."""
    domain_sets = {frozenset(v) for cols in domains().values() for v in cols.values()}
    copies, contract_tests = [], 0
    for p, model, col, test in _accepted_values_tests():
        if "accepted_values" in test:
            args = test["accepted_values"].get("arguments") or test["accepted_values"]
            values = {str(v) for v in args["values"]}
            if any(d <= values for d in domain_sets if len(d) > 1):
                copies.append((p, model, col))
        if "contract_values" in test:
            args = test["contract_values"]["arguments"]
            assert args.get("column", col) in domains()[args["table"]], (p, model, col)
            contract_tests += 1
    assert copies == []
    assert contract_tests >= 20


def test_raw_suites_check_the_contract_domains():
    checked = {}
    for suite in RAW_SUITES:
        table = suite.table.split(".", 1)[1]
        for check in suite.checks:
            if getattr(check, "expectation", None) == "expect_column_values_to_be_in_set":
                checked[(table, check.kwargs["column"])] = tuple(check.kwargs["value_set"])
    expected = {(t, c): v for t, cols in domains().items() if t in TABLES for c, v in cols.items() if c != "event_role"}
    assert checked == expected


def test_one_long_quarantine_table():
    staging = ROOT / "models/staging/shop"
    assert sorted(p.name for p in staging.glob("stg_shop__quarantined_*.sql")) == ["stg_shop__quarantined_rows.sql"]
    sql = (staging / "stg_shop__quarantined_rows.sql").read_text()
    assert [m for m in re.findall(r"ref\('base_shop__(\w+)'\)", sql)] == list(QUARANTINE_TABLES) == list(TABLES)
    assert "customers=" not in sql and "coalesce(cast(email_hash as string)" in sql  # personal data stays hashed
    models = yaml.safe_load((staging / "_shop__models.yml").read_text())["models"]
    reconciled = {m["name"]: t["row_count_reconciles"]["arguments"] for m in models
                  for t in m.get("data_tests", []) if isinstance(t, dict) and "row_count_reconciles" in t}
    assert reconciled == {f"stg_shop__{t}": {"plus": "ref('stg_shop__quarantined_rows')",
                                             "plus_where": f"source_table = '{t}'",
                                             "equals": f"source('shop', '{t}')"} for t in TABLES}
