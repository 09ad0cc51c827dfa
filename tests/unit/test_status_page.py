"""The status page: its HTML (escaped, labelled, self-contained), its filters, the guards of
the retry, and its routes on the real health server over a real state file."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import re
import urllib.error
import urllib.request
from dataclasses import replace
from datetime import UTC, timedelta
from html.parser import HTMLParser
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from status_samples import BILL, HOSTILE_REASON, HOSTILE_VENDOR, PO, StepClock, record, seed

from reconciler import logs
from reconciler.app.service import status_page
from reconciler.config.loader import load_settings
from reconciler.config.settings import Secret
from reconciler.errors import ConfigError
from reconciler.model import DocKind, LedgerEntry, SyncStatus
from reconciler.state import DocumentQuery, StateStore
from reconciler.state.search import search_key
from reconciler.web.filters import ListFilter
from reconciler.web.guard import (
    CsrfTokens,
    FailureThrottle,
    host_allowed,
    same_origin,
    split_host,
    token_matches,
)
from reconciler.web.health import HealthState, serve_health
from reconciler.web.links import Links
from reconciler.web.pages import CONTENT_SECURITY_POLICY, CSS_HASH, PALETTE
from reconciler.web.routes import RetryAsked, StatusPage

TOKEN = "correct horse battery staple"
HOST = "127.0.0.1:8787"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict]] = []

    def __call__(self, event: str, **fields) -> None:
        self.seen.append((event, fields))


@pytest.fixture
def store(tmp_path):
    store = seed(tmp_path / "state.sqlite")
    yield store
    store.close()


@pytest.fixture
def events():
    return Events()


@pytest.fixture
def page(store, events):
    return StatusPage(store, retry_token=Secret(TOKEN), on_event=events)


def csrf_of(page: StatusPage, kind: str, doc_id: int) -> str:
    html = page.document(kind, str(doc_id)).html
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def asked(form: dict, *, origin: str | None = f"http://{HOST}", **kw) -> RetryAsked:
    fields = {
        "host": HOST,
        "origin": origin,
        "referer": None,
        "content_type": "application/x-www-form-urlencoded",
        "token_header": None,
        "body": urlencode(form).encode(),
    }
    return RetryAsked(**{**fields, **kw})


# --- the HTML ---------------------------------------------------------------------------------


class Structure(HTMLParser):
    """Form controls, the labels that name them, and anything a page must not carry."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict] = []
        self.labels: set[str] = set()
        self.scripts = 0
        self.style_attributes = 0
        self.html_lang = None
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "style" in a:
            self.style_attributes += 1
        if tag == "html":
            self.html_lang = a.get("lang")
        elif tag == "script":
            self.scripts += 1
        elif tag == "label":
            self.labels.add(a.get("for"))
        elif tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append(a)
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def every_page(page: StatusPage) -> list[str]:
    return [
        page.overview("").html,
        page.overview("status=failed&q=dup").html,
        page.document("po", "1006").html,
        page.document("bill", "78").html,
        page.document("po", "999").html,
    ]


def test_every_value_is_escaped(page):
    """Vendor names and reasons from Luminous and QBO are text, never markup."""
    for html in every_page(page)[:3]:
        assert "<script" not in html and "<img" not in html
    overview = page.overview("").html
    assert "&lt;script&gt;alert(&quot;v&quot;)&lt;/script&gt; &amp; Sons" in overview
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt; bad &lt;/td&gt;" in overview
    assert HOSTILE_VENDOR not in overview and HOSTILE_REASON not in overview


def test_pages_are_self_contained_and_accessible(page):
    """lang, viewport, no script, no inline style attribute, the one <style> allowed by its
    hash in the CSP, and a label for every form control."""
    for html in every_page(page):
        found = Structure()
        found.feed(html)
        assert found.html_lang == "en"
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
        assert found.scripts == 0 and found.style_attributes == 0
        assert len(found.styles) == 1
        digest = base64.b64encode(hashlib.sha256(found.styles[0].encode()).digest()).decode()
        assert f"'sha256-{digest}'" in CONTENT_SECURITY_POLICY and CSS_HASH.endswith(digest)
        unlabelled = [c for c in found.controls if c.get("id") not in found.labels]
        assert unlabelled == []
        assert "http://" not in html.replace("http://127.0.0.1", "")  # nothing to fetch


def _luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


@pytest.mark.parametrize("use", sorted(PALETTE))
def test_colours_have_enough_contrast(use):
    """WCAG AA for text: a contrast ratio of at least 4.5:1."""
    text, background = (_luminance(c) for c in PALETTE[use])
    ratio = (max(text, background) + 0.05) / (min(text, background) + 0.05)
    assert ratio >= 4.5, f"{use}: {ratio:.2f}"


def test_qbo_links_name_the_company():
    """QBO's company-scoped deep link: sign-in with `deeplinkcompanyid` (the realm) and
    `pagereq` (the page and its txnId), as public integrations use it (e.g. a Python QBO
    client's `invoice_deep_link`: qbo.intuit.com/app/login?pagereq=invoice%3FtxnId%3D..
    &deeplinkcompanyid=..); without a realm, the plain page."""
    links = Links("production", "9130355")
    assert links.qbo(PO, "101") == (
        "https://qbo.intuit.com/app/login?deeplinkcompanyid=9130355"
        "&pagereq=purchaseorder%3FtxnId%3D101"
    )
    assert (
        Links("sandbox", "42")
        .qbo(BILL, "9001")
        .startswith(
            "https://sandbox.qbo.intuit.com/app/login?deeplinkcompanyid=42&pagereq=bill%3FtxnId"
        )
    )
    assert (
        Links("production", "1&x")
        .qbo(PO, "1&x=2")
        .endswith("deeplinkcompanyid=1%26x&pagereq=purchaseorder%3FtxnId%3D1%26x%3D2")
    )
    assert Links().qbo(PO, "7") == "https://qbo.intuit.com/app/purchaseorder?txnId=7"


def test_luminous_links_only_when_configured():
    assert Links().luminous(PO, 5) is None
    template = Links(luminous_url="https://acme.joinluminous.com/{resource}/{id}")
    assert template.luminous(PO, 5) == "https://acme.joinluminous.com/purchase-orders/5"
    assert template.luminous(BILL, 77).endswith("/bills/77")


def test_sandbox_company_links_to_the_sandbox_app(store):
    html = StatusPage(store, environment="sandbox", realm_id="42").overview("").html
    assert "https://sandbox.qbo.intuit.com/app/login?deeplinkcompanyid=42&amp;pagereq=" in html
    assert "pagereq=bill%3FtxnId%3D9001" in html


def test_counts_by_kind_and_status(page):
    html = page.overview("").html
    counts = html[: html.index('id="list-h"')]
    assert re.search(r"Purchase orders</th>(.*?)</tr>", counts).group(1).count(">2<") == 1
    assert "kind=bill&amp;status=failed" in counts


def test_a_long_reason_is_cut_in_the_list_and_whole_on_its_page(store):
    message = "QBO says: " + "x" * 5000
    entry = LedgerEntry(2001, SyncStatus.FAILED, "PO-2001", last_error_message=message)
    record(store, entry, "create")
    page = StatusPage(store)
    overview = page.overview("q=PO-2001").html
    assert message not in overview and "QBO says: " + "x" * 289 + "…" in overview
    assert message in page.document("po", "2001").html


# --- filters ----------------------------------------------------------------------------------


def test_filter_from_query_ignores_what_it_does_not_know():
    wanted = ListFilter.from_query("kind=po&status=failed&vendor=%20Acme%20%20S&q=x&page=3")
    assert wanted == ListFilter(PO, SyncStatus.FAILED, "Acme S", "x", 3)
    assert ListFilter.from_query("kind=x&status=lost&page=-1") == ListFilter()
    assert ListFilter.from_query("page=9999999").page == 1
    assert ListFilter.from_query("page=%C2%B2").page == 1  # a superscript digit
    assert ListFilter.from_query("q=" + "a" * 500).text == "a" * 200
    assert ListFilter.from_query(wanted.query()) == wanted
    odd = "size=7&sort=drop+table&dir=up&in_qbo=maybe&from=2026-13-01&until=9999-12-31&by=x"
    assert ListFilter.from_query(odd) == ListFilter()


def test_every_view_is_one_url():
    """What the form sends comes back as the same filter, defaults left out of the URL."""
    query = (
        "kind=bill&status=failed&vendor=acme&q=x&code=6240&drift=edited&in_qbo=no&by=updated"
        "&from=2026-01-01&until=2026-01-31&sort=vendor&dir=desc&size=200&page=4"
    )
    wanted = ListFilter.from_query(query)
    assert wanted.query() == query
    assert ListFilter.from_query(wanted.query()) == wanted
    assert ListFilter.from_query("size=50&dir=&by=recorded").query() == ""


def numbers(store, query: str) -> set[str]:
    """The numbers of every document the page's filter `query` matches."""
    asked = ListFilter.from_query(query).to_query(UTC)
    page = store.queries.page(replace(asked, size=1000))
    return {row.entry.number for row in page.rows}


def test_list_filters_by_status_vendor_text_code_and_qbo(store):
    assert numbers(store, "status=failed") == {"PO-1002", "PO-1006", "INV-78"}
    assert numbers(store, "status=failed&kind=bill") == {"INV-78"}
    assert numbers(store, "vendor=acme%20supplies") == {"PO-1001", "PO-1003", "INV-77"}
    assert numbers(store, "vendor=ACME") == {"PO-1001", "PO-1003", "INV-77"}  # a search
    assert numbers(store, "vendor=cote") == {"PO-1004", "INV-79"}  # Côté, without its accents
    assert numbers(store, "q=DUPLICATE") == {"PO-1002"}  # the reason
    assert numbers(store, "q=inv-7") == {"INV-77", "INV-78", "INV-79"}  # the number
    assert numbers(store, "q=6240") == {"PO-1002"}  # the error code
    assert numbers(store, "q=100%25") == set()  # a LIKE wildcard is a character
    assert numbers(store, "code=6240") == {"PO-1002"}
    assert numbers(store, "in_qbo=yes") == {"PO-1001", "PO-1003", "INV-77"}
    assert len(numbers(store, "in_qbo=no")) == 6


def test_vendor_spellings_are_one_search(tmp_path):
    """Luminous's "Acme- West Division" and "Acme: West Division" (issue 33) are found by
    one search, and the search key is written with every row."""
    store = StateStore.open(tmp_path / "v.sqlite", clock=StepClock())
    for n, vendor in enumerate(("Acme- West Division", "Acme: West Division", "Acme East"), 1):
        record(store, LedgerEntry(n, SyncStatus.FAILED, f"PO-{n}", vendor=vendor), "create")
    assert numbers(store, "vendor=acme+west") == {"PO-1", "PO-2"}
    assert numbers(store, "vendor=west+division") == {"PO-1", "PO-2"}
    store.close()


def test_dates_are_days_in_the_shown_zone(store):
    """The seed's rows were recorded on 2026-03-02 09:3x UTC: that day in UTC, the 2nd in
    Chicago too, and not the 3rd in Tokyo's terms either way."""
    assert len(numbers(store, "from=2026-03-02&until=2026-03-02")) == 9
    assert numbers(store, "from=2026-03-03") == set()
    assert numbers(store, "until=2026-03-01") == set()
    chicago = ListFilter.from_query("from=2026-03-02&until=2026-03-02").to_query(
        ZoneInfo("America/Chicago")
    )
    assert chicago.since.isoformat() == "2026-03-02T00:00:00-06:00"
    assert chicago.until.isoformat() == "2026-03-03T00:00:00-06:00"
    assert numbers(store, "by=updated&until=2026-03-02") == numbers(store, "")


def test_sorting_by_each_column(store):
    def order(query: str) -> list[str]:
        asked = ListFilter.from_query(query).to_query(UTC)
        return [row.entry.number for row in store.queries.page(asked).rows]

    assert order("sort=number&dir=asc")[:3] == ["INV-77", "INV-78", "INV-79"]
    assert order("sort=number&dir=desc")[0] == "PO-1006"
    vendors = {e.number: search_key(e.vendor) for e in store.ledger.entries()}
    by_vendor = [vendors[n] for n in order("sort=vendor&dir=asc") if vendors[n]]
    assert by_vendor == sorted(by_vendor) and len(set(by_vendor)) == 4
    assert order("sort=vendor&dir=desc")[0] == "PO-1006"  # "<script>…" folds to "script …"
    assert order("sort=code&dir=desc")[0] == "PO-1006"  # bad_input
    assert order("")[0] == "INV-79"  # the newest recorded first
    assert order("sort=recorded&dir=asc")[0] == "PO-1001"


def test_paging_stays_within_the_pages(tmp_path):
    store = StateStore.open(tmp_path / "many.sqlite", clock=StepClock())
    rows = [LedgerEntry(n, SyncStatus.SYNCED, f"PO-{n}") for n in range(1, 121)]
    for entry in rows:
        record(store, entry, "create")
    first = store.queries.page(DocumentQuery(size=50))
    assert (len(first.rows), first.number, first.count, first.matching) == (50, 1, 3, 120)
    last = store.queries.page(DocumentQuery(size=50, page=99))
    assert (len(last.rows), last.number) == (20, 3)
    seen = [
        r.entry.doc_id for p in (1, 2, 3) for r in store.queries.page(DocumentQuery(page=p)).rows
    ]
    assert sorted(seen) == list(range(1, 121))  # every row once
    store.close()


def test_overview_pages_through_the_list(tmp_path):
    """60 failed POs: two pages, the filter kept in the pager's links."""
    store = StateStore.open(tmp_path / "many.sqlite", clock=StepClock())
    for n in range(1, 61):
        record(store, LedgerEntry(n, SyncStatus.FAILED, f"PO-{n}", vendor="V"), "create")
    page = StatusPage(store)
    first = page.overview("status=failed").html
    assert "60 documents match · page 1 of 2" in first
    assert 'rel="next" href="/status?status=failed&amp;page=2"' in first
    second = page.overview("status=failed&page=2").html
    assert "page 2 of 2" in second and 'rel="prev"' in second and 'rel="next"' not in second
    assert second.count('<tr><th scope="row"><span class="kind">') == 10
    assert 'href="/status?status=failed">First</a>' in second
    assert ">Last<" not in second and 'name="page" type="number"' in second
    store.close()


# --- the guards -------------------------------------------------------------------------------


def test_csrf_token_is_bound_to_the_document_and_expires():
    clock = Clock()
    tokens = CsrfTokens(ttl=600, clock=clock)
    token = tokens.mint(PO, 1002)
    assert tokens.valid(token, PO, 1002)
    assert not tokens.valid(token, PO, 1003)
    assert not tokens.valid(token, BILL, 1002)
    assert not CsrfTokens(ttl=600, clock=clock).valid(token, PO, 1002)  # another process
    expires, mac = token.split(".")
    assert not tokens.valid(f"{int(expires) + 60}.{mac}", PO, 1002)  # a later expiry
    flipped = mac[:-1] + ("B" if mac.endswith("A") else "A")
    assert not tokens.valid(f"{expires}.{flipped}", PO, 1002)
    for junk in ("", ".", "abc", "9" * 40 + ".x", "١٢٣.x"):
        assert not tokens.valid(junk, PO, 1002)
    clock.now += 601
    assert not tokens.valid(token, PO, 1002)


def test_token_comparison():
    assert token_matches(TOKEN, TOKEN)
    assert not token_matches(TOKEN[:-1], TOKEN)
    assert not token_matches("", TOKEN) and not token_matches(TOKEN, "")


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:8787", True),
        ("localhost:8787", True),
        ("LOCALHOST:8787", True),
        ("[::1]:8787", True),
        ("127.0.0.1:9999", True),  # a container's published port
        ("127.0.0.1", True),
        ("10.0.0.5:8787", False),
        ("evil.example:8787", False),  # DNS rebinding: the attacker's own name
        ("sync.example.internal", True),  # configured, any port
        ("sync.example.internal:443", True),
        ("proxy.example:8443", True),  # configured with its port
        ("proxy.example:80", False),
        ("127.0.0.1:87x", False),
        ("", False),
        (None, False),
    ],
)
def test_host_allowed(host, allowed):
    extra = ("sync.example.internal", "proxy.example:8443")
    assert host_allowed(host, "127.0.0.1", extra) is allowed


def test_split_host():
    assert split_host("[::1]:8787") == ("[::1]", 8787)
    assert split_host("Example.COM") == ("example.com", None)


def test_same_origin():
    own = (HOST, "sync.example.internal")
    assert same_origin("http://127.0.0.1:8787", None, own)
    assert same_origin("https://sync.example.internal", None, own)  # behind a proxy
    assert same_origin(None, "http://127.0.0.1:8787/status/doc/po/1", own)
    assert not same_origin("http://evil.example", None, own)
    assert not same_origin("http://127.0.0.1:9999", None, own)
    assert not same_origin("null", None, own)
    assert not same_origin(None, "http://127.0.0.1:8787.evil.example/", own)
    assert not same_origin(None, None, own)


def test_throttle_locks_and_forgives():
    clock = Clock()
    throttle = FailureThrottle(limit=3, window=60, clock=clock)
    for _ in range(3):
        assert not throttle.locked()
        throttle.failed()
    assert throttle.locked()
    clock.now += 61
    assert not throttle.locked()


# --- the retry --------------------------------------------------------------------------------


def test_retry_works_only_with_token_csrf_and_origin(page, store, events):
    """Each missing piece refuses and changes nothing; all of them set force_retry."""
    good = {"kind": "po", "doc_id": "1002", "csrf": csrf_of(page, "po", 1002)}
    refusals = [
        asked({**good, "retry_token": TOKEN}, origin="http://evil.example"),
        asked({**good, "retry_token": TOKEN}, origin=None),
        asked({**good, "retry_token": TOKEN, "csrf": csrf_of(page, "po", 1001)}),
        asked({**good, "retry_token": TOKEN, "csrf": ""}),
        asked({**good, "retry_token": TOKEN}, content_type="text/plain"),
        asked({**good, "retry_token": "wrong"}),
        asked(good),
    ]
    for request in refusals:
        assert page.retry(request).status in (400, 403)
        assert store.ledger.entry(1002).force_retry is False
    answer = page.retry(asked({**good, "retry_token": TOKEN}))
    assert answer.status == 200 and "Retry requested" in answer.html
    assert store.ledger.entry(1002).force_retry is True
    assert ("status_page_retry", {"kind": "po", "doc_id": 1002}) in events.seen
    assert TOKEN not in repr(events.seen)


def test_retry_by_header_token_and_referer(page, store):
    form = {"kind": "bill", "doc_id": "78", "csrf": csrf_of(page, "bill", 78)}
    request = asked(form, origin=None, referer=f"http://{HOST}/status/doc/bill/78")
    assert page.retry(request).status == 403
    request = asked(form, origin=None, referer=f"http://{HOST}/x", token_header=TOKEN)
    assert page.retry(request).status == 200
    assert store.ledger.entry(78, BILL).force_retry is True


def test_wrong_tokens_lock_the_retry_for_a_while(page, store):
    form = {"kind": "po", "doc_id": "1002", "csrf": csrf_of(page, "po", 1002)}
    for _ in range(5):
        assert page.retry(asked({**form, "retry_token": "guess"})).status == 403
    assert page.retry(asked({**form, "retry_token": TOKEN})).status == 429
    assert store.ledger.entry(1002).force_retry is False


def test_no_retry_without_a_token(store):
    """Off by default: no form on the page, and the route answers 404."""
    page = StatusPage(store)
    assert not page.retry_enabled
    assert '<form method="post"' not in page.document("po", "1002").html
    form = {"kind": "po", "doc_id": "1002", "csrf": "x", "retry_token": ""}
    assert page.retry(asked(form)).status == 404
    assert store.ledger.entry(1002).force_retry is False


def test_unknown_document(page):
    assert page.document("po", "4242").status == 404
    assert page.document("invoice", "1").status == 404


# --- over HTTP, on the health server ----------------------------------------------------------


@pytest.fixture
def served(page):
    server = serve_health(HealthState(timedelta(minutes=1)), port=0, status_page=page)
    yield server
    server.shutdown()


def fetch(server, path: str, *, data: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}{path}", data=data, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


def test_status_page_over_http_with_its_headers(served):
    status, headers, body = fetch(served, "/status?status=failed")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "form-action 'self'" in CONTENT_SECURITY_POLICY
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    assert "3 documents match" in body
    assert fetch(served, "/status/doc/po/1002")[0] == 200
    assert fetch(served, "/status/doc/po/77")[0] == 404
    assert fetch(served, "/status/nowhere")[0] == 404


def test_status_page_answers_only_to_its_own_host(served):
    """A DNS-rebinding page asks with its own name: refused."""
    assert fetch(served, "/status", headers={"Host": "evil.example:8787"})[0] == 403
    assert fetch(served, "/healthz", headers={"Host": "evil.example:8787"})[0] == 200


def test_retry_over_http(served, page, store):
    origin = f"http://127.0.0.1:{served.port}"
    form = {"kind": "po", "doc_id": "1003", "csrf": csrf_of(page, "po", 1003)}
    headers = {"Origin": origin, "Content-Type": "application/x-www-form-urlencoded"}
    data = urlencode({**form, "retry_token": "nope"}).encode()
    assert fetch(served, "/status/retry", data=data, headers=headers)[0] == 403
    data = urlencode({**form, "retry_token": TOKEN}).encode()
    status, _, body = fetch(served, "/status/retry", data=data, headers=headers)
    assert status == 200 and "will be taken again on the next pass" in body
    assert store.ledger.entry(1003).force_retry is True


class Broken:
    """A store whose every read fails as a damaged file does."""

    def __getattr__(self, name):
        if name in ("queries", "ledger", "db", "lines", "drift"):
            return Broken()

        def fail(*args, **kwargs):
            raise RuntimeError("database disk image is malformed: /secret/path.sqlite")

        return fail


def test_a_damaged_state_file_is_a_503_without_details(events):
    page = StatusPage(Broken(), on_event=events)
    server = serve_health(HealthState(timedelta(minutes=1)), port=0, status_page=page)
    try:
        status, _, body = fetch(server, "/status")
        assert status == 503 and "cannot be read" in body and "/secret" not in body
        status, _, body = fetch(server, "/status/export.csv")
        assert status == 503 and "/secret" not in body
        assert fetch(server, "/healthz")[0] == 200
    finally:
        server.shutdown()
    assert events.seen == [("status_page_error", {"error": "RuntimeError"})] * 2


# --- settings and the service -----------------------------------------------------------------


def test_retry_token_is_a_secret_setting(tmp_path):
    env = {"RECONCILER_STATUS_PAGE__RETRY_TOKEN": TOKEN}
    settings = load_settings(None, env, require_secrets=False)
    assert settings.status_page.retry_token.reveal() == TOKEN
    assert TOKEN not in repr(settings)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    env = {"RECONCILER_STATUS_PAGE__RETRY_TOKEN_FILE": str(token_file)}
    assert load_settings(None, env, require_secrets=False).status_page.retry_token == Secret(TOKEN)
    assert load_settings(None, {}, require_secrets=False).status_page.retry_token is None


def test_service_builds_the_page_and_hides_its_token(store):
    env = {"RECONCILER_STATUS_PAGE__RETRY_TOKEN": TOKEN, "RECONCILER_QBO__ENVIRONMENT": "sandbox"}
    page = status_page(load_settings(None, env, require_secrets=False), store, log=None)
    assert page is not None and page.retry_enabled
    assert logs.SECRETS.scrub(f"token={TOKEN}") == "token=***"
    off = {"RECONCILER_STATUS_PAGE__ENABLED": "false"}
    assert status_page(load_settings(None, off, require_secrets=False), store, log=None) is None
    short = {"RECONCILER_STATUS_PAGE__RETRY_TOKEN": "short"}
    with pytest.raises(ConfigError):
        status_page(load_settings(None, short, require_secrets=False), store, log=None)


# --- issue 33: the document page's facts, the view's retry, zones, export -------------------


def test_document_page_shows_what_was_sent_and_the_answers_ids(store):
    """A bill sent linked to PO-1001's QBO document (101): its amount, date and lines, its
    requestid and intuit_tid (the ledger row's and each history line's), and a link to its PO."""
    from reconciler.documents.outcomes import Record
    from reconciler.model import Outcome

    bill = store.ledger.entry(77, BILL)
    body = {
        "TxnDate": "2026-02-27",
        "CurrencyRef": {"value": "USD"},
        "Line": [
            {
                "LineNum": 1,
                "Amount": "12.50",
                "DetailType": "ItemBasedExpenseLineDetail",
                "ItemBasedExpenseLineDetail": {
                    "ItemRef": {"value": "9", "name": "Widget"},
                    "Qty": "5",
                    "UnitPrice": "2.50",
                },
                "LinkedTxn": [{"TxnId": "101", "TxnType": "PurchaseOrder", "TxnLineId": "1"}],
            },
            {
                "LineNum": 2,
                "Amount": "30",
                "DetailType": "AccountBasedExpenseLineDetail",
                "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "7", "name": "Freight"}},
            },
        ],
    }
    begun = store.ledger.begin(
        [replace(bill, request_id="req-77")], run_id="r2", verbs=["update"], bodies=[body]
    )
    extra = (("request_id", "req-77"), ("intuit_tid", "1-abc-tid"))
    outcome = Outcome(77, SyncStatus.SYNCED, "update", qbo_id="9001", kind=BILL, extra=extra)
    store.ledger.record([Record(replace(begun[0], status=SyncStatus.SYNCED), outcome)], run_id="r2")
    page = StatusPage(store)
    html = page.document("bill", "77").html
    assert "<dd>42.50 USD</dd>" in html and "<dd>2026-02-27</dd>" in html
    assert "Widget" in html and "Freight" in html and ">2.50<" in html
    assert "<code>req-77</code>" in html and "<code>1-abc-tid</code>" in html
    assert "req-77 / 1-abc-tid" in html  # the history line
    assert 'href="/status/doc/po/1001">PO PO-1001</a>' in html
    history = store.ledger.history(77, BILL)
    assert (history[-1].request_id, history[-1].intuit_tid) == ("req-77", "1-abc-tid")


def test_bulk_retry_is_bound_to_its_view(page, store, events):
    """The view's CSRF token retries that view only; the failed and retrying of it only."""
    html = page.overview("kind=po").html
    csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    assert "Retry the 3 failed or retrying documents" in html
    other = asked({"filter": "kind=bill", "csrf": csrf, "retry_token": TOKEN})
    assert page.retry_set(other).status == 403
    wrong = asked({"filter": "kind=po", "csrf": csrf, "retry_token": "nope"})
    assert page.retry_set(wrong).status == 403
    assert not any(e.force_retry for e in store.ledger.entries())
    done = page.retry_set(asked({"filter": "kind=po", "csrf": csrf, "retry_token": TOKEN}))
    assert done.status == 200 and "3 documents will be taken again" in done.html
    retried = {e.doc_id for e in store.ledger.entries() if e.force_retry}
    assert retried == {1002, 1003, 1006}
    assert ("status_page_retry_set", {"filter": "kind=po", "documents": 3}) in events.seen
    assert StatusPage(store).retry_set(asked({"filter": "kind=po"})).status == 404


def test_times_in_the_configured_zone_or_the_companys(store):
    from reconciler.web.zones import display_zone

    def meta(timezone):
        profile = {"realm_id": "1", "read_at": "x", "profile": {"timezone": timezone}}
        return lambda key: json.dumps(profile) if key == "qbo_company" else None

    assert str(display_zone("", meta("Europe/Paris"))) == "Europe/Paris"
    assert str(display_zone("Asia/Tokyo", meta("Europe/Paris"))) == "Asia/Tokyo"
    assert display_zone("", meta("Mars/Olympus")) is UTC and display_zone("", meta(None)) is UTC
    html = StatusPage(store, timezone="America/Chicago").overview("").html
    assert '<time datetime="2026-03-02T09:31:00+00:00" title="2026-03-02 09:31 UTC">' in html
    assert "2026-03-02 03:31 CST</time>" in html


def test_company_profile_reads_its_time_zone():
    from reconciler.qbo.company import profile_from

    assert profile_from({"DefaultTimeZone": "America/Denver"}, {}).timezone == "America/Denver"
    assert profile_from({}, {}).timezone is None


def test_timezone_and_luminous_url_settings_are_checked(store):
    bad_zone = {"RECONCILER_STATUS_PAGE__TIMEZONE": "Nowhere/Land"}
    with pytest.raises(ConfigError, match="Nowhere/Land"):
        status_page(load_settings(None, bad_zone, require_secrets=False), store, log=None)
    bad_url = {"RECONCILER_STATUS_PAGE__LUMINOUS_URL": "https://acme.joinluminous.com/po"}
    with pytest.raises(ConfigError, match="must contain"):
        status_page(load_settings(None, bad_url, require_secrets=False), store, log=None)


def test_export_over_http_is_an_attachment(served):
    status, headers, body = fetch(served, "/status/export.csv?status=failed&sort=number")
    assert status == 200 and headers["Content-Type"] == "text/csv; charset=utf-8"
    assert headers["Content-Disposition"].startswith('attachment; filename="reconciler-')
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    rows = list(csv.reader(body.splitlines()))
    assert rows[0][:3] == ["kind", "number", "luminous_id"] and len(rows) == 4
    assert [row[1] for row in rows[1:]] == ["INV-78", "PO-1002", "PO-1006"]
    assert rows[3][4] == HOSTILE_VENDOR  # quoted as RFC 4180 says, read back whole
    assert fetch(served, "/status/export.csv", headers={"Host": "evil.example"})[0] == 403


def test_every_kind_links_into_luminous_where_luminous_has_a_page_for_it():
    """The Luminous page of a kind is the kind's own fact; a payment, shown by Luminous only on
    its bill, gets no link of its own (never one to a page that does not exist)."""
    links = Links(luminous_url="https://acme.joinluminous.com/{resource}/{id}")
    assert links.luminous(DocKind.VENDOR_CREDIT, 7) == (
        "https://acme.joinluminous.com/vendor-credits/7"
    )
    assert links.luminous(DocKind.PAYMENT, 7) is None
    assert all(links.luminous(k, 1) for k in DocKind if k.luminous_page is not None)
