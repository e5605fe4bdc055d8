"""The demo's report, opened in a real headless Chromium with the network cut off.

Needs Debian's ``chromium`` (``apt-get install chromium``; another binary can be
named with ``LINKWISE_CHROMIUM``) and the ``playwright`` Python package (in the
``test`` extra; Playwright drives the system Chromium, no browser is downloaded).
Without them the test is skipped locally; with ``LINKWISE_REQUIRE_BROWSER=1``
(set by ``.ci/run``) it fails instead, so CI cannot pass without it.

The screenshot of the whole page is saved as ``report.png`` in the folder named
by ``LINKWISE_TEST_ARTIFACTS`` (``.ci/run`` uses ``test-artifacts/``), or else in
the test's temporary folder; its path is printed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from linkwise.cli import main

SECTION_TITLES = (
    "Run summary",
    "Model parameters",
    "Match-weight distribution",
    "Cluster-size distribution",
    "Blocking rules",
    "Borderline pairs, explained",
    "Estimated accuracy (no labels)",
    "Precision and recall against threshold",
)


def _browser_or_skip() -> str:
    required = os.environ.get("LINKWISE_REQUIRE_BROWSER") == "1"
    chromium = os.environ.get("LINKWISE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    missing = []
    if not Path(chromium).is_file():
        missing.append(f"no Chromium at '{chromium}' (apt-get install chromium, or set LINKWISE_CHROMIUM)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package is not installed (pip install -e '.[test]')")
    if missing:
        if required:
            pytest.fail("LINKWISE_REQUIRE_BROWSER=1 but " + "; ".join(missing))
        pytest.skip("; ".join(missing))
    return chromium


@pytest.fixture(scope="module")
def chromium() -> str:
    return _browser_or_skip()


@pytest.fixture(scope="module")
def demo_report(chromium, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(main, ["demo", "-o", str(folder), "--records", "1500"])
    assert result.exit_code == 0, result.output
    report = folder / "output" / "report.html"
    assert f"Report: {report}" in result.output
    return report


@pytest.mark.slow
def test_every_chart_of_the_demo_report_renders_offline_in_chromium(chromium, demo_report, tmp_path):
    from playwright.sync_api import sync_playwright

    artifacts = Path(os.environ.get("LINKWISE_TEST_ARTIFACTS") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})

            def only_the_file(route):
                if route.request.url.startswith("file:"):
                    route.continue_()
                else:
                    requested.append(route.request.url)
                    route.abort()

            context.route("**/*", only_the_file)
            page = context.new_page()
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.goto(demo_report.as_uri())
            page.wait_for_selector("body[data-charts-done='true']", timeout=60_000)
            charts = page.eval_on_selector_all(
                ".chart",
                "els => els.map(e => ({id: e.id, rendered: e.dataset.rendered === 'true',"
                " drawn: e.querySelectorAll('svg, canvas').length, marks: e.querySelectorAll('svg .mark-rect path, svg .mark-line path, svg .mark-rule line, svg path').length}))",
            )
            titles = page.eval_on_selector_all("section h2", "els => els.map(e => e.textContent)")
            # Open every explained pair, so the screenshot shows them all.
            page.eval_on_selector_all("details", "els => els.forEach(e => e.open = true)")
            screenshot = artifacts / "report.png"
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    print(f"screenshot of the report: {screenshot}")
    assert list(titles) == list(SECTION_TITLES)
    assert len(charts) >= 7 + 1  # a chart per section, and one per explained pair
    for chart in charts:
        assert chart["rendered"] and chart["drawn"] >= 1 and chart["marks"] > 0, chart
    assert problems == []
    assert requested == []
    assert screenshot.stat().st_size > 10_000
