"""retail_lift.lint: a column description is written once (a literal text copied onto 2+ columns is reported)."""

import json
import textwrap
from pathlib import Path

from retail_lift.lint import copied_descriptions, main, manifest_yml_files

ROOT = Path(__file__).resolve().parents[2]

MARTS = textwrap.dedent("""\
    version: 2
    models:
      - name: fct_orders
        columns:
          - name: customer_id
            description: The customer.
          - name: order_id
            description: "{{ doc('contract__orders__order_id') }}"
      - name: fct_visits
        columns:
          - name: customer_id
            description: >
              The
              customer.
          - name: visit_id
            description: The visit.
    """)
ML = textwrap.dedent("""\
    version: 2
    models:
      - name: ml_scores
        columns:
          - name: customer_id
            description: "{{ doc('col__customer_id') }}"
          - name: buyer_id
            description: The customer.
    """)


def test_a_copied_description_is_reported_with_its_files_and_columns():
    problems = copied_descriptions({"models/marts/_marts.yml": MARTS, "python_models/ml/_ml.yml": ML})
    assert len(problems) == 1
    line = problems[0]
    # the folded copy counts too (whitespace does not make a text new); doc() references and unique texts do not
    assert 'copied onto 3 columns' in line and '"The customer."' in line
    assert "models/marts/_marts.yml: fct_orders.customer_id (line 6), fct_visits.customer_id (line 12)" in line
    assert "python_models/ml/_ml.yml: ml_scores.buyer_id (line 8)" in line
    assert "The visit." not in line and "doc(" not in line


def test_doc_references_and_texts_written_once_are_clean():
    fixed = MARTS.replace("description: The customer.", "description: \"{{ doc('col__customer_id') }}\"")
    fixed = fixed.replace(">\n          The\n          customer.", "\"{{ doc('col__customer_id') }}\"")
    assert copied_descriptions({"a.yml": fixed, "b.yml": ML}) == []


def test_a_yaml_alias_is_one_place_and_source_columns_count():
    text = textwrap.dedent("""\
        version: 2
        models:
          - name: ml_a_fit
            columns: &fit_columns
              - name: split
                description: train or test.
          - name: ml_b_fit
            columns: *fit_columns
        sources:
          - name: shop
            tables:
              - name: orders
                columns:
                  - name: note
                    description: Free text.
              - name: events
                columns:
                  - name: note
                    description: Free text.
        """)
    problems = copied_descriptions({"x.yml": text})
    assert len(problems) == 1 and "shop.orders.note" in problems[0] and "shop.events.note" in problems[0]


def test_main_reads_the_yml_files_the_manifest_names(tmp_path, capsys):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "_marts.yml").write_text(MARTS)
    manifest = {"metadata": {"project_name": "retail_lift"}, "sources": {},
                "nodes": {"model.retail_lift.fct_orders": {
                    "resource_type": "model", "name": "fct_orders", "package_name": "retail_lift",
                    "original_file_path": "models/fct_orders.sql", "language": "sql", "depends_on": {"nodes": []},
                    "patch_path": "retail_lift://models/_marts.yml"}}}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    assert manifest_yml_files(manifest) == ["models/_marts.yml"]
    assert main([str(path), str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "fct_orders.customer_id (line 6), fct_visits.customer_id (line 12)" in out
    assert "1 literal text(s) copied onto 2+ columns, in 1 yml file(s)" in out
    (tmp_path / "models" / "_marts.yml").unlink()
    assert main([str(path), str(tmp_path)]) == 1
    assert "models/_marts.yml: named in the manifest but not found" in capsys.readouterr().out


def test_the_project_yml_has_no_copied_description():
    texts = {str(p.relative_to(ROOT)): p.read_text()
             for folder in ("models", "python_models") for p in sorted((ROOT / folder).rglob("*.yml"))}
    assert len(texts) > 20
    assert copied_descriptions(texts) == []
