"""The README stays short and every link in it and in docs/ points inside the repository."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _pages():
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_readme_is_short_and_keeps_the_two_setup_commands():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    assert "make build" in text and "make test" in text


def test_every_link_resolves_inside_the_repository():
    broken = []
    for page in _pages():
        for target in LINK.findall(page.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                broken.append(f"{page.name}: external link {target}")
                continue
            path = (page.parent / target.split("#")[0]).resolve()
            if not path.is_relative_to(ROOT) or not path.exists():
                broken.append(f"{page.name}: {target}")
    assert broken == []


def test_nothing_refers_outside_the_repository():
    for page in _pages():
        text = page.read_text()
        assert "../shared" not in text, page
        assert "/work/" not in text, page


def test_generated_result_tables_are_in_sync_with_bench_results():
    from retail_lift.reports.docs_tables import render_docs
    stale = render_docs(ROOT / "docs", ROOT, check=True)
    assert stale == [], f"run `retail-lift docs-tables`: {stale}"


def test_a_generated_block_follows_its_json(tmp_path):
    import json

    from retail_lift.reports.docs_tables import render_docs
    (tmp_path / "bench").mkdir()
    (tmp_path / "docs").mkdir()
    result = {"preset": "tiny", "started_at": "2026-01-02T00:00:00", "machine": {"cpus": 2},
              "targets": [{"target": "full build <= 10 min", "value": 700.0, "limit": 600, "unit": "s",
                           "status": "missed", "note": ""}]}
    (tmp_path / "bench" / "r.json").write_text(json.dumps(result))
    page = tmp_path / "docs" / "p.md"
    page.write_text("intro\n<!-- generated: bench_targets bench/r.json -->\nold\n<!-- end generated -->\nafter\n")
    assert render_docs(tmp_path / "docs", tmp_path) == [page]
    text = page.read_text()
    assert "| full build <= 10 min | 700 s (11.7 min) | 600 s (10.0 min) | missed |" in text
    assert "old" not in text and text.startswith("intro\n") and text.endswith("after\n")
    assert render_docs(tmp_path / "docs", tmp_path, check=True) == []


def test_a_bad_generated_block_names_the_page_and_the_problem(tmp_path):
    import pytest

    from retail_lift.reports.docs_tables import render_docs
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "p.md"
    page.write_text("<!-- generated: bench_targets bench/missing.json -->\n<!-- end generated -->\n")
    with pytest.raises(FileNotFoundError, match=r"p\.md: generated block bench_targets: .*missing\.json"):
        render_docs(tmp_path / "docs", tmp_path)
    page.write_text("<!-- generated: nosuch bench/missing.json -->\n<!-- end generated -->\n")
    with pytest.raises(ValueError, match=r"p\.md: unknown generated block kind 'nosuch'"):
        render_docs(tmp_path / "docs", tmp_path)
