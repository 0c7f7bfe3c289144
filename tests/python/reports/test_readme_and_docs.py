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
