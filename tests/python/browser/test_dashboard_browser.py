"""The dashboard in a real browser: `streamlit run dashboard/app.py` on a free port over the tiny warehouse's
snapshot, opened in headless Chromium; the heading, the metrics and the charts render without console errors.
Skipped with a printed reason when Chromium is absent. Screenshots go to the test's tmp folder (path printed)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from _chromium import Chromium, skip_unless_chromium

from retail_lift.dashboard.data import open_snapshot
from retail_lift.dashboard.snapshot import publish_snapshot

pytestmark = pytest.mark.dbt

APP = Path(__file__).resolve().parents[3] / "dashboard" / "app.py"

# the script has finished (the download button is its last element) and a chart on the visible tab has drawn
RENDERED = ("document.querySelector('[data-testid=\"stDownloadButton\"]') !== null && "
            "Array.from(document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]'))"
            ".some(e => e.offsetWidth > 0 && e.querySelector('canvas, svg'))")
VISIBLE_CHARTS = ("Array.from(document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]'))"
                  ".filter(e => e.offsetWidth > 0 && e.querySelector('canvas, svg')).length")
METRICS = ("Array.from(document.querySelectorAll('[data-testid=\"stMetric\"]')).filter(e => e.offsetWidth > 0)"
           ".map(e => [e.querySelector('[data-testid=\"stMetricLabel\"]').innerText.trim(), "
           "e.querySelector('[data-testid=\"stMetricValue\"]').innerText.trim()])")


def _open_tab(label: str, charts: int = 1) -> str:
    """JavaScript: click the tab, then resolve to the number of drawn charts on it once there are ``charts`` (or
    after at most 10 s)."""
    return ("new Promise(resolve => {"
            f"  const tab = Array.from(document.querySelectorAll('[data-testid=\"stTab\"]'))"
            f"      .find(t => t.innerText.trim() === {label!r});"
            "  if (!tab) { resolve(-1); return; }"
            "  tab.click();"
            "  let tries = 0;"
            f"  const poll = () => {{ const n = {VISIBLE_CHARTS};"
            f"    if (n >= {charts} || tries++ > 100) resolve(n); else setTimeout(poll, 100); }};"
            "  setTimeout(poll, 100);"
            "})")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chromium_binary() -> str:
    """Requested first, so that without Chromium the test is skipped before the tiny warehouse is built."""
    return skip_unless_chromium()


@pytest.fixture(scope="module")
def tiny_snapshot(tiny_warehouse, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dashboard_browser") / "snapshot"
    publish_snapshot(tiny_warehouse, root, run_results=tiny_warehouse.parent / "target" / "run_results.json")
    return root


@pytest.fixture(scope="module")
def dashboard_url(tiny_snapshot):
    port = _free_port()
    env = dict(os.environ, RETAIL_LIFT_SNAPSHOT=str(tiny_snapshot))
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    log = open(tiny_snapshot.parent / "streamlit.log", "wb")  # closed after the server stops
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() - started > 60:
                log.flush()
                pytest.fail(f"streamlit did not become healthy: {(tiny_snapshot.parent / 'streamlit.log').read_text()}")
            time.sleep(0.2)
        print(f"streamlit healthy after {time.monotonic() - started:.1f}s on {url}")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_dashboard_renders_in_chromium(chromium_binary, dashboard_url, tiny_snapshot, tmp_path):
    snap = open_snapshot(tiny_snapshot)
    experiments = snap.table("experiment_results")["experiment_id"].nunique()
    with Chromium(chromium_binary, timeout=60) as browser:
        page = browser.open_page(dashboard_url, tmp_path / "dashboard_experiments.png",
                                 wait_for_text="Experiment results", timeout=120, wait_for_js=RENDERED,
                                 evaluate={"charts": VISIBLE_CHARTS, "metrics": METRICS})
        print(f"dashboard rendered in {page.elapsed_s:.1f}s; screenshot {page.screenshot_path}")
        assert page.found_text and page.condition_met, page.text[:1000]
        assert page.title == "Retail Lift"
        assert "Retail Lift" in page.text and snap.snapshot_id in page.text
        assert page.values["charts"] >= 1
        assert ["Experiments", str(experiments)] in page.values["metrics"]
        assert page.console_errors == [], page.console_errors

        bandit = browser.open_page(dashboard_url, tmp_path / "dashboard_bandit.png", wait_for_text="Experiment results",
                                   timeout=120, wait_for_js=RENDERED, evaluate={"bandit_charts": _open_tab("Bandit")})
        print(f"bandit tab screenshot {bandit.screenshot_path}")
        assert bandit.values["bandit_charts"] >= 2, bandit.text[:1000]
        assert "Arm mix of the logged decisions, by week" in bandit.text
        assert bandit.console_errors == [], bandit.console_errors

        plan = browser.open_page(dashboard_url, tmp_path / "dashboard_plan.png", wait_for_text="Experiment results",
                                 timeout=120, wait_for_js=RENDERED,
                                 evaluate={"plan_charts": _open_tab("Promotion plan", charts=2)})
        print(f"promotion plan tab screenshot {plan.screenshot_path}")
        assert plan.values["plan_charts"] >= 2, plan.text[:1000]  # the frontier and the mix
        assert "Promotion plan: margin by budget" in plan.text and "Why: a sample customer" in plan.text
        assert plan.console_errors == [], plan.console_errors
    for shot in (page.screenshot_path, bandit.screenshot_path, plan.screenshot_path):
        assert shot.stat().st_size > 10_000
