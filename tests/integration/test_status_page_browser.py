"""The status page in a real headless browser (`browser_support`: Debian's chromium through
chromedriver), against the real health server over a real state file holding POs and bills
in every status: the health header, failures grouped by code, every filter, sorting, the CSV
download, one document's page, and the retries (one document's, a view's), each refused
without its token. At 100,000 documents: `test_status_page_scale_browser.py`."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from browser_support import (
    By,
    click,
    csp_errors,
    downloaded,
    listed,
    navigate,
    start_browser,
    submit_filter,
    summary,
)
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select
from status_samples import BILL, HOSTILE_VENDOR, seed

from reconciler.config.settings import Secret
from reconciler.sync.report import PassReport
from reconciler.web.health import HealthState, serve_health
from reconciler.web.routes import StatusPage

TOKEN = "browser-test-retry-token"
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(tmp_path_factory, downloads):
    driver = start_browser(tmp_path_factory.mktemp("chromium-profile"), downloads)
    yield driver
    driver.quit()


@pytest.fixture
def store(tmp_path):
    store = seed(tmp_path / "state.sqlite")
    _passes(store)
    yield store
    store.close()


def _passes(store) -> None:
    """Two passes in the runs table: one Luminous stopped, then a good one."""
    started = NOW - timedelta(minutes=3)
    store.runs.start("r-old", started)
    report = {"counts": {}, "aborted": "Luminous unavailable: 503", "stopped_in": "luminous"}
    store.runs.finish("r-old", started + timedelta(seconds=5), "aborted", report)
    store.runs.start("r-new", NOW - timedelta(minutes=1))
    report = {"counts": {"created": 2, "failed": 3, "unchanged": 4}}
    store.runs.finish("r-new", NOW - timedelta(seconds=40), "failures", report)


def _health() -> HealthState:
    health = HealthState(
        timedelta(minutes=1), clock=lambda: NOW, started_at=NOW - timedelta(hours=1)
    )
    report = PassReport("r-new", NOW - timedelta(minutes=1), NOW - timedelta(seconds=40))
    report.counts.update({"created": 2, "failed": 3})
    health.record_pass(report)
    return health


def _serve(store, token: str | None):
    page = StatusPage(
        store,
        retry_token=Secret(token) if token else None,
        realm_id="4620816365",
        luminous_url="https://acme.joinluminous.com/{resource}/{id}",
        timezone="America/Chicago",
        health=_health(),
    )
    return serve_health(HealthState(timedelta(minutes=1)), port=0, status_page=page)


@pytest.fixture
def site(store):
    """The health server with the status page, retry on."""
    server = _serve(store, TOKEN)
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()


@pytest.fixture
def read_only_site(store):
    """The same ledger, no retry token configured."""
    server = _serve(store, None)
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()


def test_health_header_says_what_the_daemon_did(browser, site):
    browser.get(f"{site}/status")
    header = browser.find_element(By.ID, "health").text
    assert "The sync healthy" in header
    assert "Last pass: 2026-03-02 03:59 CST: failures (2 created, 3 failed, 4 unchanged)" in header
    assert "Next pass: 2026-03-02 04:00 CST" in header  # a minute after the last started
    assert "Last error: 2026-03-02 03:57 CST: Luminous unavailable: 503" in header
    assert "QuickBooks: good answered the last pass" in header
    assert "Luminous: good read in the last pass" in header
    stamp = browser.find_element(By.CSS_SELECTOR, "#health time")
    assert stamp.get_attribute("title") == "2026-03-02 09:59 UTC"  # UTC on hover
    assert csp_errors(browser) == []


def test_failures_grouped_by_code_lead_to_their_documents(browser, site):
    browser.get(f"{site}/status")
    groups = browser.find_elements(By.XPATH, "//caption[@id='groups-t']/ancestor::table/tbody/tr")
    found = {row.find_element(By.TAG_NAME, "th").text: row.text for row in groups}
    assert set(found) == {"6240", "bad_input", "6000", "429", "503"}
    assert "1 (1 failed, 0 retrying)" in found["6240"]
    assert "Rename one of them" in found["6240"]  # the fix
    link = groups[[r.find_element(By.TAG_NAME, "th").text for r in groups].index("6240")]
    navigate(browser, link.find_element(By.CSS_SELECTOR, "td a").click)
    assert "code=6240" in browser.current_url
    assert listed(browser) == ["PO-1002"]
    assert Select(browser.find_element(By.ID, "f-code")).first_selected_option.text == "6240"


def test_filters_each_a_shareable_url(browser, site):
    browser.get(f"{site}/status")
    assert browser.title == "Sync status · reconciler"
    assert len(listed(browser)) == 9
    hostile = browser.find_element(By.XPATH, "//td[@data-label='Vendor'][contains(., 'Sons')]")
    assert hostile.text == HOSTILE_VENDOR  # shown as text, never run
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018

    Select(browser.find_element(By.ID, "f-status")).select_by_value("failed")
    submit_filter(browser)
    assert "status=failed" in browser.current_url
    assert sorted(listed(browser)) == ["INV-78", "PO-1002", "PO-1006"]

    click(browser, By.LINK_TEXT, "Clear filters")
    browser.find_element(By.ID, "f-vendor").send_keys("acme")  # a search, any case
    submit_filter(browser)
    assert sorted(listed(browser)) == ["INV-77", "PO-1001", "PO-1003"]
    shared = browser.current_url
    Select(browser.find_element(By.ID, "f-in-qbo")).select_by_value("no")
    submit_filter(browser)
    assert listed(browser) == []  # Acme's are all in QuickBooks
    browser.get(shared)  # the URL is the view
    assert sorted(listed(browser)) == ["INV-77", "PO-1001", "PO-1003"]

    click(browser, By.LINK_TEXT, "Clear filters")
    Select(browser.find_element(By.ID, "f-in-qbo")).select_by_value("no")
    Select(browser.find_element(By.ID, "f-kind")).select_by_value("bill")
    submit_filter(browser)
    assert sorted(listed(browser)) == ["INV-78", "INV-79"]

    click(browser, By.LINK_TEXT, "Clear filters")
    _set_date(browser, "f-from", "2026-03-03")
    submit_filter(browser)
    assert listed(browser) == [] and "from=2026-03-03" in browser.current_url
    _set_date(browser, "f-from", "2026-03-02")
    submit_filter(browser)
    assert len(listed(browser)) == 9

    click(browser, By.LINK_TEXT, "Clear filters")
    search = browser.find_element(By.ID, "f-q")
    navigate(browser, lambda: search.send_keys("duplicate name", Keys.ENTER))  # the keyboard
    assert listed(browser) == ["PO-1002"]
    assert csp_errors(browser) == []


def _set_date(browser, control: str, day: str) -> None:
    """A date input takes its value as the browser's locale types it: set it directly."""
    field = browser.find_element(By.ID, control)
    browser.execute_script("arguments[0].value = arguments[1]", field, day)


def test_sorting_by_a_column_and_back(browser, site):
    browser.get(f"{site}/status")
    click(browser, By.PARTIAL_LINK_TEXT, "Document")
    assert "sort=number&dir=asc" in browser.current_url
    assert listed(browser)[:3] == ["INV-77", "INV-78", "INV-79"]
    click(browser, By.PARTIAL_LINK_TEXT, "Document")
    assert "dir=desc" in browser.current_url and listed(browser)[0] == "PO-1006"
    header = browser.find_element(By.XPATH, "//th[@aria-sort]")
    assert header.get_attribute("aria-sort") == "descending" and "Document" in header.text
    Select(browser.find_element(By.ID, "f-status")).select_by_value("failed")
    submit_filter(browser)  # the order is kept with the filter
    assert listed(browser) == ["PO-1006", "PO-1002", "INV-78"]


def test_csv_download_of_the_view(browser, site, downloads):
    for old in downloads.iterdir():
        old.unlink()
    browser.get(f"{site}/status?status=failed")
    browser.find_element(By.LINK_TEXT, "Export CSV").click()
    path = downloaded(downloads)
    assert path.name.startswith("reconciler-documents-")
    rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
    assert sorted(r["number"] for r in rows) == ["INV-78", "PO-1002", "PO-1006"]
    dup = next(r for r in rows if r["number"] == "PO-1002")
    assert dup["error_code"] == "6240" and "Duplicate Name" in dup["reason"]
    assert dup["luminous_link"] == "https://acme.joinluminous.com/purchase-orders/1002"
    assert dup["recorded_at"].endswith("-06:00")  # in the page's zone
    hostile = next(r for r in rows if r["number"] == "PO-1006")
    assert hostile["vendor"] == HOSTILE_VENDOR


def test_document_page_and_its_retry(browser, site, read_only_site, store):
    browser.get(f"{site}/status")
    click(browser, By.LINK_TEXT, "PO-1002")
    assert browser.find_element(By.TAG_NAME, "h1").text == "PO PO-1002"
    history = browser.find_elements(By.XPATH, "//caption[@id='history-h']/ancestor::table/tbody/tr")
    assert len(history) == 3 and "Duplicate Name Exists" in history[0].text
    facts = browser.find_element(By.TAG_NAME, "dl").text
    assert "Luminous id" in facts and "Last request" in facts and "Requestid" in facts
    source = browser.find_element(By.XPATH, "//dd/a[starts-with(., '1002')]")
    assert source.get_attribute("href") == "https://acme.joinluminous.com/purchase-orders/1002"
    _retry_is_absent_without_a_token(browser, read_only_site, store)
    _retry_needs_the_token(browser, site, store)


def _retry_is_absent_without_a_token(browser, read_only_site, store) -> None:
    """No button; a hand-made form post is a 404 and changes nothing."""
    browser.get(f"{read_only_site}/status/doc/po/1002")
    assert browser.find_element(By.TAG_NAME, "h1").text == "PO PO-1002"
    assert browser.find_elements(By.CSS_SELECTOR, "form[method=post]") == []
    assert "Retry on the next pass" not in browser.page_source
    forged_post = (
        "const f = document.createElement('form'); f.method = 'post';"
        "f.action = '/status/retry';"
        "for (const [k, v] of [['kind', 'po'], ['doc_id', '1002'], ['retry_token', 'x']]) {"
        "  const i = document.createElement('input'); i.type = 'hidden'; i.name = k;"
        "  i.value = v; f.appendChild(i); }"
        "document.body.appendChild(f); f.submit();"
    )
    navigate(browser, lambda: browser.execute_script(forged_post))
    assert "not found" in browser.find_element(By.TAG_NAME, "body").text.lower()
    assert store.ledger.entry(1002).force_retry is False


def _retry_needs_the_token(browser, site, store) -> None:
    browser.get(f"{site}/status/doc/po/1002")
    browser.find_element(By.ID, "r-token").send_keys("not the token")
    click(browser, By.XPATH, "//button[.='Retry on the next pass']")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Refused"
    assert store.ledger.entry(1002).force_retry is False
    click(browser, By.LINK_TEXT, "Back to the document")  # the refusal leads back
    field = browser.find_element(By.ID, "r-token")
    assert field.get_attribute("type") == "password"
    navigate(browser, lambda: field.send_keys(TOKEN, Keys.ENTER))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Retry requested"
    assert "will be taken again on the next pass" in browser.page_source
    assert store.ledger.entry(1002).force_retry is True
    assert store.ledger.entry(78, BILL).force_retry is False
    assert csp_errors(browser) == []


def test_bulk_retry_of_a_view(browser, site, store):
    """The failed and retrying bills of the view, nothing else; refused without the token."""
    browser.get(f"{site}/status?kind=bill")
    button = browser.find_element(By.XPATH, "//form[@action='/status/retry-set']//button")
    assert button.text == "Retry the 2 failed or retrying documents on the next pass"
    browser.find_element(By.ID, "b-token").send_keys("wrong")
    navigate(browser, button.click)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Refused"
    assert not any(e.force_retry for e in store.ledger.entries())
    click(browser, By.LINK_TEXT, "Back to the list")
    assert "kind=bill" in browser.current_url
    browser.find_element(By.ID, "b-token").send_keys(TOKEN)
    click(browser, By.XPATH, "//form[@action='/status/retry-set']//button")
    assert "2 documents will be taken again on the next pass" in browser.page_source
    retried = Counter((e.kind, e.doc_id) for e in store.ledger.entries() if e.force_retry)
    assert set(retried) == {(BILL, 78), (BILL, 79)}


def test_phone_width_has_no_sideways_scroll(browser, site):
    """At 390 px (a phone, viewport honoured) the page fits its width; tables stack."""
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True},
    )
    try:
        for path in ("/status", "/status/doc/po/1006"):
            browser.get(f"{site}{path}")
            width = browser.execute_script("return document.documentElement.scrollWidth")
            assert width <= 390, f"{path} is {width}px wide"
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_summary_counts_match(browser, site):
    browser.get(f"{site}/status?status=failed")
    assert summary(browser) == "3 documents match · page 1 of 1"
