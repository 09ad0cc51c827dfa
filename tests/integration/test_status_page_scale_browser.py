"""The status page at 100,000 documents in headless Chromium (`browser_support`): a ledger
filled by `scripts/seed_ledger.py` (the benchmark's), served as the daemon serves it. Paging
(first, last, a page number, the page size), a failure group's count against its list and
its CSV download, sorting deep in the list; and the picture in docs/status-page.md:

    RECONCILER_WRITE_SCREENSHOT=1 .venv/bin/python -m pytest \
        tests/integration/test_status_page_scale_browser.py -k screenshot

(without the variable the test writes it to a temporary directory only, so a test run leaves
the committed file alone).

Marked slow (filling 100,000 documents holds a worker about 20 s): the inner loop keeps the
page in the browser at a small ledger (test_status_page_browser.py); CI runs this module, and
bench/status_page.py measures the page at this size.
"""

from __future__ import annotations

import csv
import os
import shutil
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from browser_support import By, click, csp_errors, downloaded, listed, navigate, start_browser
from browser_support import summary as list_summary
from selenium.webdriver.support.ui import Select

from reconciler.config.settings import Secret
from reconciler.state import DocumentQuery
from reconciler.state.search import search_key
from reconciler.sync.report import PassReport
from reconciler.web.health import HealthState, serve_health
from reconciler.web.routes import StatusPage

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "status-page.png"
DOCUMENTS = 100_000
pytestmark = pytest.mark.slow
sys.path.insert(0, str(REPO / "scripts"))
from seed_ledger import END, seed  # noqa: E402


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(tmp_path_factory, downloads):
    driver = start_browser(tmp_path_factory.mktemp("chromium-profile"), downloads)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = seed(tmp_path_factory.mktemp("ledger") / "state.sqlite", DOCUMENTS)
    yield store
    store.close()


@pytest.fixture(scope="module")
def site(store):
    now = END + timedelta(seconds=30)
    health = HealthState(
        timedelta(minutes=1), clock=lambda: now, started_at=END - timedelta(days=1)
    )
    health.record_pass(PassReport("last", END - timedelta(minutes=1), END - timedelta(seconds=40)))
    page = StatusPage(
        store,
        retry_token=Secret("scale-browser-retry-token"),
        realm_id="9341452654454281",
        health=health,
    )
    server = serve_health(HealthState(timedelta(minutes=1)), port=0, status_page=page)
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()


def test_paging_first_last_jump_and_size(browser, site, store):
    total = store.queries.count(DocumentQuery())
    browser.get(f"{site}/status")
    pages = -(-total // 50)
    assert list_summary(browser) == f"{total} documents match · page 1 of {pages}"
    click(browser, By.LINK_TEXT, "Last")
    assert f"page {pages} of {pages}" in list_summary(browser)
    last_rows = listed(browser)
    assert 1 <= len(last_rows) <= 50
    click(browser, By.LINK_TEXT, "First")
    assert "page 1 of" in list_summary(browser)
    jump = browser.find_element(By.ID, "p-jump")
    jump.clear()
    jump.send_keys("1234")
    click(browser, By.XPATH, "//nav[@class='pages']//button")
    assert f"page 1234 of {pages}" in list_summary(browser)
    assert "page=1234" in browser.current_url
    Select(browser.find_element(By.ID, "f-size")).select_by_value("200")
    click(browser, By.CSS_SELECTOR, "form[role=search] button[type=submit]")
    assert len(listed(browser)) == 200
    assert list_summary(browser).endswith(f"page 1 of {-(-total // 200)}")
    click(browser, By.LINK_TEXT, "Next")
    assert "size=200" in browser.current_url and "page=2" in browser.current_url
    assert csp_errors(browser) == []


def test_a_failure_group_its_list_and_its_csv(browser, site, store, downloads):
    """The largest group (po_not_pushed, as in issue 33's try): its count, its documents,
    sorted deep in the list, and every one of them in the CSV."""
    browser.get(f"{site}/status")
    first = browser.find_element(By.XPATH, "//caption[@id='groups-t']/ancestor::table/tbody/tr")
    assert first.find_element(By.TAG_NAME, "th").text == "po_not_pushed"
    count = int(first.find_element(By.CSS_SELECTOR, "td a").text)
    navigate(browser, first.find_element(By.CSS_SELECTOR, "td a").click)
    assert list_summary(browser).startswith(f"{count} documents match")
    click(browser, By.PARTIAL_LINK_TEXT, "Vendor")
    click(browser, By.LINK_TEXT, "Last")
    vendors = browser.find_elements(By.XPATH, "//td[@data-label='Vendor']")
    keys = [search_key(v.text) for v in vendors]
    assert keys and keys == sorted(keys)  # the last page, still in vendor order
    for old in downloads.iterdir():
        old.unlink()
    browser.find_element(By.LINK_TEXT, "Export CSV").click()
    rows = list(csv.DictReader(downloaded(downloads).read_text(encoding="utf-8").splitlines()))
    assert len(rows) == count
    assert {r["error_code"] for r in rows} == {"po_not_pushed"}
    assert {r["kind"] for r in rows} <= {"bill", "receipt"}


def test_screenshot(browser, site, tmp_path):
    """The picture in docs/status-page.md (see the module docstring to regenerate it)."""
    browser.set_window_size(1280, 2700)
    try:
        browser.get(f"{site}/status?status=failed")
        target = tmp_path / "status-page.png"
        assert browser.save_screenshot(str(target))
    finally:
        browser.set_window_size(1280, 1180)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("RECONCILER_WRITE_SCREENSHOT") == "1":
        shutil.copyfile(target, SCREENSHOT)
