"""The dbt docs site in a real browser: `retail-lift docs-assets` and `dbt docs generate --static` over the tiny
warehouse, then target/static_index.html opened in headless Chromium from file:// (as a user opens it). The overview,
a mart's page and a model card render, their chart images load, and the pages log no console errors. Skipped with a
printed reason when Chromium is absent. Screenshots go to the test's tmp folder (the path is printed; run pytest
with -s to see it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from _chromium import Chromium, skip_unless_chromium
from click.testing import CliRunner
from helpers import run_dbt

from retail_lift.cli import main
from retail_lift.reports.model_cards import format_value
from retail_lift.warehouse import read_only

pytestmark = pytest.mark.dbt

#: Errors that dbt-docs' own bundle logs on every site opened from file://, whatever the project's content: the
#: tree's icons are <img src="{{ getIcon(...) }}"> that the browser requests before Angular binds them, and the
#: favicon's link is an unbuilt template string. Everything else a page logs fails the test.
DBT_DOCS_NOISE = ("%7B%7B%20getIcon(", "$%7Brequire('./assets/favicons/favicon.ico')%7D")

CHART_IMAGES = ("Array.from(document.images).filter(i => i.getAttribute('src').includes('assets/charts/'))"
                ".map(i => [i.getAttribute('src').split('/').pop(), i.complete, i.naturalWidth])")


def _charts_loaded(n: int) -> str:
    """JavaScript: at least n chart images on the page, all finished loading."""
    return ("(() => { const imgs = Array.from(document.images).filter(i => i.getAttribute('src')"
            f".includes('assets/charts/')); return imgs.length >= {n} && imgs.every(i => i.complete); }})()")


def _errors(page) -> list[str]:
    return [e for e in page.console_errors if not any(noise in e for noise in DBT_DOCS_NOISE)]


@pytest.fixture(scope="module")
def docs_site(request, tmp_path_factory):
    """(static_index.html, chart names drawn, screenshot folder) for the tiny warehouse."""
    skip_unless_chromium()  # before the build: no browser, no work
    warehouse: Path = request.getfixturevalue("tiny_warehouse")
    build = warehouse.parent
    work = tmp_path_factory.mktemp("docs_site")
    charts, cards = work / "charts", work / "model_cards"
    result = CliRunner().invoke(main, ["docs-assets", "--warehouse", str(warehouse), "--out", str(charts),
                                       "--cards-out", str(cards / "_model_cards.md")])
    assert result.exit_code == 0, result.output
    # its own target folder (the tiny build's target/ holds run_results.json that other tests read) and its own
    # copy of the warehouse (dbt opens its warehouse for writing, and other test processes read the shared build)
    shutil.copyfile(warehouse, work / "warehouse.duckdb")
    run_dbt(["docs", "generate", "--static"], build / "raw", build / "truth", work,
            extra_env={"RETAIL_LIFT_MODEL_CARDS_DIR": str(cards)})
    site = work / "target" / "static_index.html"
    assert site.exists()
    # the site loads the charts from target/docs/assets/charts (dbt copies the project's asset path there; the test
    # drew its charts elsewhere so as not to touch the repository's docs/assets/charts)
    shutil.copytree(charts, work / "target" / "docs" / "assets" / "charts", dirs_exist_ok=True)
    shots = work / "screenshots"
    print(f"\ndocs site: {site}\nscreenshots: {shots}")
    return site, sorted(p.stem for p in charts.glob("*.png")), shots, warehouse


@pytest.fixture(scope="module")
def browser():
    skip_unless_chromium()
    with Chromium(timeout=60) as chromium:
        yield chromium


def test_overview_renders_with_every_chart(docs_site, browser):
    site, drawn, shots, _ = docs_site
    assert len(drawn) == 8, drawn
    page = browser.open_page(site.as_uri() + "#!/overview", shots / "overview.png",
                             wait_for_text="How to read this site", timeout=60, wait_for_js=_charts_loaded(len(drawn)),
                             evaluate={"charts": CHART_IMAGES}, height=1200,
                             before_screenshot="document.querySelector('img[src$=\"funnel.png\"]')"
                                               ".scrollIntoView({block: 'start'})")
    assert page.found_text, page.text[:1000]
    assert page.condition_met, page.values
    loaded = {name.removesuffix(".png"): width for name, complete, width in page.values["charts"] if complete}
    assert set(drawn) <= set(loaded), (drawn, page.values["charts"])
    assert all(loaded[name] > 0 for name in drawn), page.values["charts"]
    assert "Model cards" in page.text and "Exposures" in page.text
    assert _errors(page) == [], _errors(page)
    assert page.screenshot_path.stat().st_size > 0


def test_mart_page_renders(docs_site, browser):
    site, _, shots, _ = docs_site
    page = browser.open_page(site.as_uri() + "#!/model/model.retail_lift.fct_sessions", shots / "fct_sessions.png",
                             wait_for_text="One row per web session", timeout=60)
    assert page.found_text, page.text[:1000]
    assert "fct_sessions" in page.text and "session_id" in page.text
    assert _errors(page) == [], _errors(page)
    assert page.screenshot_path.stat().st_size > 0


def test_model_card_renders_measured_numbers_and_its_chart(docs_site, browser):
    site, _, shots, warehouse = docs_site
    with read_only(warehouse) as con:
        auc = con.execute("select value from ml.ml_purchase_propensity_fit where record_type = 'metric' and "
                          "split in ('test', 'holdout') and metric = 'roc_auc' and is_chosen_model").fetchall()[0][0]
    image = "Array.from(document.images).find(i => i.getAttribute('src').endsWith('calibration.png'))"
    page = browser.open_page(site.as_uri() + "#!/model/model.retail_lift.ml_purchase_propensity_fit",
                             shots / "model_card.png", wait_for_text="Model card", timeout=60,
                             wait_for_js=f"(() => {{ const i = {image}; return !!i && i.complete; }})()",
                             evaluate={"width": f"{image}.naturalWidth"},
                             before_screenshot=f"{image}.scrollIntoView({{block: 'center'}})", height=1000)
    assert page.found_text, page.text[:1000]
    assert "Card written by" not in page.text  # the measured card, not the placeholder
    assert format_value(auc) in page.text
    assert page.values["width"] > 0
    assert _errors(page) == [], _errors(page)


def test_exposure_page_renders(docs_site, browser):
    site, _, shots, _ = docs_site
    page = browser.open_page(site.as_uri() + "#!/exposure/exposure.retail_lift.decision_api", shots / "exposure.png",
                             wait_for_text="Decisioning engineering", timeout=60)
    assert page.found_text, page.text[:1000]
    assert "ml_bandit_published_policy" in page.text
    assert _errors(page) == [], _errors(page)
