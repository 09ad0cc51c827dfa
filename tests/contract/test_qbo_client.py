"""QBOClient against the running QBO emulator: the documented behaviours, through our client."""

from __future__ import annotations

import random
import threading
import traceback
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from hashlib import sha1
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote_plus, urlsplit

import pytest
import requests
from intuitlib.client import AuthClient
from intuitlib.exceptions import AuthClientError

from reconciler import errors
from reconciler.qbo import query as q
from reconciler.qbo.auth import (
    FileTokenStore,
    OAuthClientRejected,
    OAuthTokenSource,
    StaticTokenSource,
    TokenRefreshUnavailable,
    Tokens,
    connect_url,
    exchange_code,
)
from reconciler.qbo.client import BatchOp, InvalidRequestId, QBOClient
from reconciler.qbo.limiter import RealmLimiter
from reconciler.sandbox.qbo.server import FaultRule, QBOEmulator

REDIRECT = "http://localhost:8000/callback"
ACME, OBRIEN = "1", "3"  # vendor ids of the default seed
WIDGET, GADGET = "1", "2"  # item ids of the default seed

# --- fixtures (kept here: tests/contract/conftest.py belongs to the emulator's author) ---------


class Recorder:
    """Injected sleep and on_request hook: remembers waits and per-request events."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.events: list[dict] = []
        self.lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.sleeps.append(seconds)

    def on_request(self, event: dict) -> None:
        with self.lock:
            self.events.append(event)


class Wire:
    """What actually went over the wire, captured with a requests response hook."""

    def __init__(self) -> None:
        self.requests: list[requests.PreparedRequest] = []

    def hook(self, response: requests.Response, *args, **kwargs) -> None:
        self.requests.append(response.request)

    def session(self) -> requests.Session:
        session = requests.Session()
        session.hooks["response"].append(self.hook)
        return session


@pytest.fixture
def emulator() -> Iterator[QBOEmulator]:
    """A seeded emulator with QBO's real limits."""
    with QBOEmulator() as emu:
        emu.seed_default()
        yield emu


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def wire() -> Wire:
    return Wire()


def build_client(emu, token_source, recorder, wire=None, **options) -> QBOClient:
    session = wire.session() if wire is not None else requests.Session()
    options.setdefault("timeout", (2.0, 5.0))
    return QBOClient(
        session,
        emu.api_base,
        emu.realm_id,
        token_source,
        sleep=recorder.sleep,
        on_request=recorder.on_request,
        rng=random.Random(7),
        **options,
    )


@pytest.fixture
def client(emulator, recorder, wire) -> QBOClient:
    """A client with a fixed bearer token from the emulator."""
    source = StaticTokenSource(emulator.issue_tokens()["access_token"])
    return build_client(emulator, source, recorder, wire)


def oauth_source(emu, tmp_path, *, clock=None) -> tuple[OAuthTokenSource, FileTokenStore, dict]:
    """A real intuit-oauth token source pointed at the emulator's discovery document."""
    issued = emu.issue_tokens()
    store = FileTokenStore(tmp_path / "qbo" / "tokens.json")
    start = emu.now()
    store.save(Tokens.from_grant(issued, now=start, realm_id=issued["realm_id"]))

    def factory() -> AuthClient:
        return AuthClient(emu.client_id, emu.client_secret, REDIRECT, emu.discovery_url)

    source = OAuthTokenSource(factory, store, clock=clock or (lambda: start))
    return source, store, issued


def po_body(doc_number: str = "PO-1", qty="3", price="3.10", note: str | None = None) -> dict:
    qty, price = Decimal(qty), Decimal(price)
    body = {
        "VendorRef": {"value": ACME},
        "DocNumber": doc_number,
        "Line": [
            {
                "DetailType": "ItemBasedExpenseLineDetail",
                "Amount": (qty * price).quantize(Decimal("0.01")),
                "ItemBasedExpenseLineDetail": {
                    "ItemRef": {"value": GADGET},
                    "Qty": qty,
                    "UnitPrice": price,
                },
            }
        ],
    }
    if note is not None:
        body["PrivateNote"] = note
    return body


def log_for(emu, fragment: str) -> list[dict]:
    return [e for e in emu.request_log if fragment in e["path"]]


# --- the wire ------------------------------------------------------------------------------


def test_create_read_round_trip_keeps_money_exact(client, emulator, wire):
    """A PO created with Decimal money reads back as the same Decimals; 9.30 went out as 9.30."""
    created = client.create("PurchaseOrder", po_body(), request_id="po-1-create")
    assert created.status == 200 and created.intuit_tid
    po_id = created.entity["Id"]
    body = wire.requests[-1].body
    assert b'"Amount":9.30' in body and b'"UnitPrice":3.10' in body
    read = client.read("PurchaseOrder", po_id)
    line = read.entity["Line"][0]
    assert line["Amount"] == Decimal("9.30") and isinstance(line["Amount"], Decimal)
    assert read.entity["DocNumber"] == "PO-1"
    assert read.intuit_tid and read.intuit_tid != created.intuit_tid


def test_every_call_carries_minorversion_accept_and_writes_a_requestid(client, emulator, wire):
    """minorversion=75 and Accept: application/json on every call; requestid on every write."""
    client.read("Vendor", ACME)
    client.query(q.select("Vendor"))
    client.create("Vendor", {"DisplayName": "Wire Check"}, request_id="vendor-wire-check")
    for prepared in wire.requests:
        assert "minorversion=75" in prepared.url
        assert prepared.headers["Accept"] == "application/json"
    query_url = next(p.url for p in wire.requests if "/query?" in p.url)
    assert "%20" in query_url and "+" not in query_url
    writes = [p for p in wire.requests if p.method == "POST"]
    assert writes and all("requestid=vendor-wire-check" in p.url for p in writes)
    assert {e["minorversion"] for e in emulator.request_log} == {75}


def test_sparse_update_changes_only_what_it_names(client):
    """A sparse update keeps fields it does not mention and moves SyncToken on."""
    created = client.create("PurchaseOrder", po_body(note="first"), request_id="po-sparse-c")
    po = created.entity
    updated = client.update(
        "PurchaseOrder",
        {"Id": po["Id"], "SyncToken": po["SyncToken"], "PrivateNote": "second"},
        request_id="po-sparse-u1",
    ).entity
    assert updated["PrivateNote"] == "second"
    assert updated["DocNumber"] == "PO-1" and updated["Line"][0]["Amount"] == Decimal("9.30")
    assert int(updated["SyncToken"]) == int(po["SyncToken"]) + 1


def test_stale_sync_token_is_not_retried(client, emulator):
    """An update with an old SyncToken raises StaleObjectFault after one request."""
    po = client.create("PurchaseOrder", po_body(), request_id="po-stale-c").entity
    client.update(
        "PurchaseOrder",
        {"Id": po["Id"], "SyncToken": po["SyncToken"], "Memo": "a"},
        request_id="po-stale-u1",
    )
    before = emulator.count(method="POST", path_contains="/purchaseorder")
    with pytest.raises(errors.StaleObjectFault) as info:
        client.update(
            "PurchaseOrder",
            {"Id": po["Id"], "SyncToken": po["SyncToken"], "Memo": "b"},
            request_id="po-stale-u2",
        )
    assert info.value.code == "5010" and info.value.intuit_tid
    assert emulator.count(method="POST", path_contains="/purchaseorder") == before + 1


def test_delete_then_read_is_not_found(client):
    """Delete answers status Deleted; reading the id afterwards is ObjectNotFoundFault (610)."""
    po = client.create("PurchaseOrder", po_body(), request_id="po-del-c").entity
    gone = client.delete("PurchaseOrder", po["Id"], po["SyncToken"], request_id="po-del-d")
    assert gone.entity["status"] == "Deleted" and gone.entity["Id"] == po["Id"]
    with pytest.raises(errors.ObjectNotFoundFault) as info:
        client.read("PurchaseOrder", po["Id"])
    assert info.value.code == "610"


def test_validation_fault_is_raised_at_once(client, emulator):
    """A duplicate vendor name is DuplicateNameFault (Parked) after exactly one request."""
    with pytest.raises(errors.DuplicateNameFault) as info:
        client.create("Vendor", {"DisplayName": "Acme Supply Co"}, request_id="dup-acme")
    assert isinstance(info.value, errors.Parked)
    assert info.value.http_status == 400
    assert emulator.count(method="POST", path_contains="/vendor") == 1
    assert info.value.intuit_tid == log_for(emulator, "/vendor")[-1]["intuit_tid"]


def test_request_ids_are_validated_before_sending(client, emulator):
    """A requestid over 50 characters never reaches QBO."""
    with pytest.raises(InvalidRequestId):
        client.create("Vendor", {"DisplayName": "X"}, request_id="r" * 51)
    assert emulator.count(path_contains="/vendor") == 0


# --- queries -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["O'Brien \\ Sons", "Trailing backslash\\", "Quote at end'", "\\'both\\'", "Café Ünï"],
)
def test_query_finds_names_with_quotes_and_backslashes(client, name):
    """A vendor whose name has quotes or backslashes is found by an exact-name query."""
    created = client.create(
        "Vendor", {"DisplayName": name}, request_id="v-" + sha1(name.encode()).hexdigest()[:16]
    )
    rows = client.query(q.select("Vendor", [q.eq("DisplayName", name)]))
    assert [r["Id"] for r in rows] == [created.entity["Id"]]
    assert rows[0]["DisplayName"] == name


def test_inactive_vendors_are_found_only_when_active_is_named(client):
    """The seeded inactive vendor is invisible by default and found with Active IN (true, false)."""
    name = q.eq("DisplayName", "Retired Vendor")
    assert client.query(q.select("Vendor", [name])) == []
    rows = client.query(q.select("Vendor", [name, q.in_("Active", [True, False])]))
    assert len(rows) == 1 and rows[0]["Active"] is False


def test_query_all_pages_and_count_agree(client, emulator):
    """query_all walks STARTPOSITION pages until a short page; COUNT(*) gives the same total."""
    ops = [
        BatchOp(str(n), "create", "Vendor", {"DisplayName": f"Paged Vendor {n:02d}"})
        for n in range(23)
    ]
    assert all(r.ok for r in client.batch(ops, request_id="paging-seed"))
    rows = list(
        client.query_all(
            lambda start, size: q.select("Vendor", order_by="Id", start=start, max_results=size),
            page_size=10,
        )
    )
    assert len(rows) == 26  # 3 active seeded vendors + 23
    assert len({r["Id"] for r in rows}) == 26
    assert client.count(q.select("Vendor", count=True)) == 26
    assert emulator.count(path_contains="/query") == 4  # 10 + 10 + 6, then the count


def test_long_query_goes_as_post(client, emulator):
    """A statement too long for a URL is sent as POST /query with application/text."""
    names = [f"Somebody With A Long Name Number {n}" for n in range(60)] + ["Acme Supply Co"]
    rows = client.query(q.select("Vendor", [q.in_("DisplayName", names)]))
    assert [r["Id"] for r in rows] == [ACME]
    assert emulator.count(method="POST", path_contains="/query") == 1


def test_query_parser_fault_is_parked(client):
    """A statement QBO cannot parse is a Parked fault with code 4000, not retried."""
    with pytest.raises(errors.QBOParkedFault) as info:
        client.query("SELECT * FROM Vendor WHERE DisplayName = 'broken\\'")
    assert info.value.code == "4000"


# --- batch ---------------------------------------------------------------------------------


def test_batch_returns_each_item_in_order_with_its_own_fault(client, emulator):
    """Items succeed or fail one by one; faults come back as QBOFault instances, in order."""
    po = client.create("PurchaseOrder", po_body("PO-B"), request_id="batch-po").entity
    results = client.batch(
        [
            BatchOp("a", "create", "Vendor", {"DisplayName": "Batch Vendor"}),
            BatchOp("b", "create", "Vendor", {"DisplayName": "acme supply co"}),
            BatchOp("c", "query", query=q.select("Item", [q.eq("Sku", "WID-001")])),
            BatchOp("d", "update", "PurchaseOrder", {"Id": po["Id"], "SyncToken": "99"}),
            BatchOp("e", "delete", "PurchaseOrder", {"Id": po["Id"], "SyncToken": po["SyncToken"]}),
        ],
        request_id="batch-1",
    )
    assert [r.bid for r in results] == ["a", "b", "c", "d", "e"]
    assert results[0].ok and results[0].entity["DisplayName"] == "Batch Vendor"
    assert isinstance(results[1].fault, errors.DuplicateNameFault)
    assert results[2].query_response["Item"][0]["Id"] == WIDGET
    assert isinstance(results[3].fault, errors.StaleObjectFault)
    assert results[4].entity["status"] == "Deleted"
    assert all(r.intuit_tid for r in results)
    assert emulator.count(path_contains="/batch") == 1


@pytest.mark.parametrize(
    ("ops", "request_id"),
    [
        ([BatchOp(str(n), "query", query="SELECT * FROM Item") for n in range(31)], None),
        ([BatchOp("1", "query", query="SELECT * FROM Item")], "b" * 37),
        ([BatchOp("1", "query", query="x"), BatchOp("1", "query", query="y")], None),
        ([], None),
        ([BatchOp("1", "update", "Vendor", {"DisplayName": "no id"})], None),
    ],
)
def test_batch_shape_is_checked_before_sending(client, emulator, ops, request_id):
    """Over 30 items, a requestid over 36, duplicate bIds, no items, or an update without Id."""
    with pytest.raises(ValueError):
        client.batch(ops, request_id=request_id)
    assert emulator.count(path_contains="/batch") == 0


def test_batch_dropped_after_commit_is_replayed_by_requestid(client, emulator):
    """A batch whose answer was lost is resent with the same requestid: its writes happen once."""
    emulator.add_fault(FaultRule(method="POST", path_regex="/batch", action="drop_after_commit"))
    results = client.batch(
        [BatchOp("1", "create", "Vendor", {"DisplayName": "Once Only"})], request_id="batch-once"
    )
    assert results[0].ok
    named = [v for v in emulator.objects("Vendor") if v["DisplayName"] == "Once Only"]
    assert len(named) == 1
    assert [e["outcome"] for e in log_for(emulator, "/batch")] == ["dropped", "replayed"]


def test_batch_of_writes_without_requestid_is_not_resent(client, emulator):
    """Without a requestid a lost batch answer is UnclearOutcome at once: no second send."""
    emulator.add_fault(FaultRule(method="POST", path_regex="/batch", action="drop_after_commit"))
    with pytest.raises(errors.UnclearOutcome):
        client.batch([BatchOp("1", "create", "Vendor", {"DisplayName": "Maybe"})])
    assert emulator.count(path_contains="/batch") == 1


# --- lost answers, throttling, server errors ---------------------------------------------


def test_dropped_answer_is_retried_with_the_same_requestid_and_creates_once(
    client, emulator, recorder
):
    """The server commits, drops the connection; the retry replays: one PO, same requestid."""
    emulator.add_fault(
        FaultRule(method="POST", path_regex="/purchaseorder", action="drop_after_commit")
    )
    result = client.create("PurchaseOrder", po_body("PO-DROP"), request_id="po-drop-create")
    assert len(emulator.objects("PurchaseOrder")) == 1
    assert result.entity["Id"] == emulator.objects("PurchaseOrder")[0]["Id"]
    log = log_for(emulator, "/purchaseorder")
    assert [e["outcome"] for e in log] == ["dropped", "replayed"]
    assert {e["requestid"] for e in log} == {"po-drop-create"}
    assert result.attempts == 2 and len(recorder.sleeps) == 1


def test_connection_reset_before_processing_is_retried(client, emulator):
    """A reset before the server did anything is retried and the PO is created once."""
    emulator.add_fault(FaultRule(method="POST", path_regex="/purchaseorder", action="reset"))
    client.create("PurchaseOrder", po_body("PO-RESET"), request_id="po-reset-create")
    assert len(emulator.objects("PurchaseOrder")) == 1
    assert [e["outcome"] for e in log_for(emulator, "/purchaseorder")] == ["reset", "answered"]


def test_answer_never_arrives_gives_unclear_outcome(client, emulator, recorder):
    """Every answer lost: UnclearOutcome after max_attempts sends, and still exactly one PO."""
    emulator.add_fault(
        FaultRule(
            method="POST", path_regex="/purchaseorder", action="drop_after_commit", times=None
        )
    )
    with pytest.raises(errors.UnclearOutcome) as info:
        client.create("PurchaseOrder", po_body("PO-LOST"), request_id="po-lost-create")
    assert isinstance(info.value, errors.Retryable)
    assert emulator.count(path_contains="/purchaseorder") == 4
    assert len(emulator.objects("PurchaseOrder")) == 1
    assert len(recorder.sleeps) == 3
    assert [e["status"] for e in recorder.events] == [None] * 4


def test_read_timeout_is_retried(emulator, recorder):
    """A slow answer past the read timeout is retried; the next, fast one is used."""
    emulator.add_fault(
        FaultRule(method="GET", path_regex="/vendor/", action="latency", latency=0.5)
    )
    source = StaticTokenSource(emulator.issue_tokens()["access_token"])
    client = build_client(emulator, source, recorder, timeout=(2.0, 0.2))
    result = client.read("Vendor", ACME)
    assert result.entity["DisplayName"] == "Acme Supply Co"
    assert [e.get("error") for e in recorder.events] == ["ReadTimeout", None]


def test_429_is_waited_out_and_retried(client, emulator, recorder):
    """Two throttle answers, then success: each time the 60 s Intuit asks for, no shorter."""
    emulator.add_fault(FaultRule(method="GET", path_regex="/vendor/", status=429, times=2))
    result = client.read("Vendor", ACME)
    assert result.attempts == 3
    assert recorder.sleeps == [60.0, 60.0]
    assert [e["status"] for e in recorder.events] == [429, 429, 200]


def test_429_waits_retry_after_when_given(client, emulator, recorder):
    """A Retry-After header says how long, and wins over the 60 s rule."""
    emulator.add_fault(
        FaultRule(
            method="GET", path_regex="/vendor/", status=429, times=1,
            headers={"Retry-After": "7"},
        )
    )  # fmt: skip
    client.read("Vendor", ACME)
    assert recorder.sleeps == [7.0]


def test_429_in_xml_is_a_throttle_too(client, emulator, recorder):
    """QBO has answered 429 with an XML body to a JSON request: still ThrottledFault, waited."""
    emulator.throttle_xml = True
    emulator.add_fault(FaultRule(method="GET", path_regex="/vendor/", status=429, times=1))
    result = client.read("Vendor", ACME)
    assert result.attempts == 2 and recorder.sleeps == [60.0]


def test_429_for_ever_ends_in_throttled_fault(client, emulator):
    """Past max_attempts the throttle surfaces as ThrottledFault (Retryable) with intuit_tid."""
    emulator.add_fault(FaultRule(method="GET", path_regex="/vendor/", status=429, times=None))
    with pytest.raises(errors.ThrottledFault) as info:
        client.read("Vendor", ACME)
    assert info.value.code == "3001" and info.value.intuit_tid
    assert emulator.count(path_contains="/vendor/") == 4


def test_emulator_rate_limit_is_reported_as_throttled(emulator, recorder):
    """Over the realm's request budget QBO answers 429; the client gives up as ThrottledFault."""
    with QBOEmulator(requests_per_minute=2) as small:
        small.seed_default()
        source = StaticTokenSource(small.issue_tokens()["access_token"])
        client = build_client(small, source, recorder, max_attempts=2)
        client.read("Vendor", ACME)
        client.read("Vendor", ACME)
        with pytest.raises(errors.ThrottledFault):
            client.read("Vendor", ACME)
        assert small.count(status=429) == 2


def test_client_limiter_keeps_concurrency_under_qbo_cap(recorder):
    """With a limiter of 2 in flight, 6 parallel reads never trip an emulator capped at 2."""
    with QBOEmulator(max_concurrent=2, latency=0.05) as emu:
        emu.seed_default()
        source = StaticTokenSource(emu.issue_tokens()["access_token"])
        limiter = RealmLimiter(max_concurrent=2)
        barrier = threading.Barrier(6)
        failures: list[BaseException] = []

        def work() -> None:
            client = build_client(emu, source, recorder, limiter=limiter, max_attempts=1)
            barrier.wait(timeout=5)
            try:
                client.read("Vendor", ACME)
            except Exception as exc:  # collected and asserted below
                failures.append(exc)

        threads = [threading.Thread(target=work) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert failures == []
        assert emu.count(status=429) == 0 and emu.count(status=200) == 6


def test_retry_after_header_is_honoured(recorder):
    """When a 429 carries Retry-After, the client waits exactly that long."""
    with RetryAfterServer(retry_after="3") as server:
        client = QBOClient(
            requests.Session(),
            server.url,
            "123",
            StaticTokenSource("t"),
            sleep=recorder.sleep,
            timeout=(2.0, 5.0),
        )
        assert client.read("Vendor", "1").entity == {"Id": "1"}
    assert recorder.sleeps == [3.0]


def test_5xx_is_retried_then_succeeds(client, emulator, recorder):
    """Two 503 system faults, then the answer; three attempts seen by on_request."""
    emulator.add_fault(FaultRule(method="POST", path_regex="/vendor", status=503, times=2))
    result = client.create("Vendor", {"DisplayName": "After 503"}, request_id="after-503")
    assert result.entity["DisplayName"] == "After 503"
    assert [(e["attempt"], e["status"]) for e in recorder.events] == [(1, 503), (2, 503), (3, 200)]
    assert len([v for v in emulator.objects("Vendor") if v["DisplayName"] == "After 503"]) == 1


def test_5xx_for_ever_ends_in_retryable_fault(client, emulator):
    """Persistent 500s surface as QBORetryableFault code 10000 after max_attempts."""
    emulator.add_fault(FaultRule(method="GET", path_regex="/vendor/", status=500, times=None))
    with pytest.raises(errors.QBORetryableFault) as info:
        client.read("Vendor", ACME)
    assert type(info.value) is errors.QBORetryableFault and info.value.code == "10000"
    assert emulator.count(path_contains="/vendor/") == 4


def test_on_request_events_hold_no_tokens(emulator, recorder):
    """Each event has method, entity, status, duration, intuit_tid, attempt and no token."""
    token = emulator.issue_tokens()["access_token"]
    client = build_client(emulator, StaticTokenSource(token), recorder)
    client.read("Vendor", ACME)
    client.query(q.select("Item"))
    first, second = recorder.events
    assert first["method"] == "GET" and first["entity"] == "Vendor" and first["status"] == 200
    assert second["entity"] == "query"
    assert first["intuit_tid"] and first["attempt"] == 1 and first["duration_s"] >= 0
    assert token not in repr(recorder.events)


# --- OAuth: refresh once, concurrently, rotation -------------------------------------------


def test_expired_access_token_is_refreshed_once_and_the_call_retried(emulator, recorder, tmp_path):
    """A 401 makes the source refresh through intuit-oauth; the call then succeeds."""
    source, store, issued = oauth_source(emulator, tmp_path)
    client = build_client(emulator, source, recorder)
    emulator.advance_clock(3700)  # the emulator now thinks the access token has expired
    result = client.read("Vendor", ACME)
    assert result.entity["Id"] == ACME
    assert [e["status"] for e in recorder.events] == [401, 200]
    assert source.refresh_count == 1
    saved = store.load()
    assert saved.refresh_token != issued["refresh_token"]
    assert saved.access_token != issued["access_token"]


def test_second_401_is_fatal(emulator, recorder, tmp_path):
    """When the refreshed token is refused too, the call fails with QBOFatalFault."""
    source, _, _ = oauth_source(emulator, tmp_path)
    client = build_client(emulator, source, recorder)
    emulator.add_fault(FaultRule(method="GET", path_regex="/vendor/", status=401, times=2))
    with pytest.raises(errors.QBOFatalFault) as info:
        client.read("Vendor", ACME)
    assert info.value.code == "3200" and info.value.http_status == 401
    assert source.refresh_count == 1
    assert emulator.count(path_contains="/vendor/") == 2


def test_revoked_connection_is_authorization_lost(emulator, recorder, tmp_path):
    """After the user disconnects, refresh gets invalid_grant: AuthorizationLost (Fatal)."""
    source, _, issued = oauth_source(emulator, tmp_path)
    client = build_client(emulator, source, recorder)
    emulator.revoke_all_tokens()
    with pytest.raises(errors.AuthorizationLost) as info:
        client.read("Vendor", ACME)
    assert isinstance(info.value, errors.Fatal)
    assert issued["refresh_token"] not in str(info.value)


def test_proactive_refresh_near_expiry(emulator, recorder, tmp_path):
    """Inside the refresh margin the source refreshes before calling: no 401 at all."""
    clock_now = [emulator.now()]
    source, store, issued = oauth_source(emulator, tmp_path, clock=lambda: clock_now[0])
    client = build_client(emulator, source, recorder)
    emulator.advance_clock(3400)
    clock_now[0] = emulator.now()  # 200 s left: inside the 5-minute margin
    client.read("Vendor", ACME)
    assert [e["status"] for e in recorder.events] == [200]
    assert source.refresh_count == 1
    assert store.load().refresh_token != issued["refresh_token"]


def test_concurrent_401s_cause_exactly_one_refresh(emulator, recorder, tmp_path):
    """Eight threads hit an expired token together: one refresh, all succeed, rotation saved."""
    source, store, issued = oauth_source(emulator, tmp_path)
    emulator.advance_clock(3700)
    barrier = threading.Barrier(8)
    failures: list[BaseException] = []

    def work() -> None:
        client = build_client(emulator, source, recorder)
        barrier.wait(timeout=5)
        try:
            client.read("Vendor", ACME)
        except Exception as exc:  # collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert failures == []
    assert source.refresh_count == 1
    assert emulator.count(method="POST", path_contains="/oauth2/v1/tokens/bearer") == 1
    rotated = store.load().refresh_token
    assert rotated != issued["refresh_token"]
    # the stored refresh token is the live one: it refreshes; the original is retired
    auth = AuthClient(emulator.client_id, emulator.client_secret, REDIRECT, emulator.discovery_url)
    with pytest.raises(AuthClientError):
        auth.refresh(refresh_token=issued["refresh_token"])
    auth.refresh(refresh_token=rotated)
    assert auth.access_token


def test_no_token_in_exception_strings_reprs_or_tracebacks(emulator, recorder, tmp_path):
    """Across auth, throttle, lost-answer and validation failures, no token text leaks."""
    source, store, issued = oauth_source(emulator, tmp_path)
    client = build_client(emulator, source, recorder, max_attempts=1)
    caught: list[BaseException] = []
    emulator.add_fault(FaultRule(method="GET", path_regex="/item/", status=429, times=None))
    emulator.add_fault(
        FaultRule(method="POST", path_regex="/account", action="drop_after_commit", times=None)
    )
    for call in (
        lambda: client.read("Item", WIDGET),
        lambda: client.create("Account", {"Name": "X", "AccountType": "Expense"}, request_id="a"),
        lambda: client.create("Vendor", {"DisplayName": "Acme Supply Co"}, request_id="dup"),
    ):
        with pytest.raises(errors.ReconcilerError) as info:
            call()
        caught.append(info.value)
    tokens_before = store.load()
    emulator.revoke_all_tokens()
    emulator.add_fault(FaultRule(method="GET", path_regex="/vendor/", status=401, times=1))
    with pytest.raises(errors.AuthorizationLost) as info:
        client.read("Vendor", ACME)
    caught.append(info.value)
    secrets = {issued["access_token"], issued["refresh_token"]}
    secrets |= {tokens_before.access_token, tokens_before.refresh_token}
    texts = [repr(client), repr(source), repr(store), repr(tokens_before), str(tokens_before)]
    texts += [repr(recorder.events)]
    for exc in caught:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    for text in texts:
        for secret in secrets:
            assert secret not in text
    assert {type(e) for e in caught} >= {
        errors.ThrottledFault,
        errors.UnclearOutcome,
        errors.DuplicateNameFault,
        errors.AuthorizationLost,
    }


def new_auth_client(emu, secret: str | None = None) -> AuthClient:
    return AuthClient(emu.client_id, secret or emu.client_secret, REDIRECT, emu.discovery_url)


def test_connect_url_and_code_exchange_store_working_tokens(emulator, recorder, tmp_path):
    """The consent URL carries client, scope and state; its code becomes stored, usable tokens."""
    auth = new_auth_client(emulator)
    url = connect_url(auth, state="csrf-123")
    assert url.startswith(emulator.base_url)
    assert "com.intuit.quickbooks.accounting" in unquote_plus(url) and "state=csrf-123" in url
    consent = requests.get(url, allow_redirects=False, timeout=5)
    back = parse_qs(urlsplit(consent.headers["Location"]).query)
    assert back["state"] == ["csrf-123"] and back["realmId"] == [emulator.realm_id]
    store = FileTokenStore(tmp_path / "tokens.json")
    tokens = exchange_code(auth, back["code"][0], emulator.realm_id, store, emulator.now)
    assert store.load() == tokens and tokens.realm_id == emulator.realm_id
    assert tokens.access_expires_at == tokens.refresh_expires_at - timedelta(seconds=8726400 - 3600)
    client = build_client(emulator, StaticTokenSource(tokens.access_token), recorder)
    assert client.read("Vendor", ACME).entity["Id"] == ACME
    with pytest.raises(errors.AuthorizationLost):  # a code works once
        exchange_code(auth, back["code"][0], emulator.realm_id, store, emulator.now)


def test_wrong_client_secret_is_a_configuration_fault(emulator, tmp_path):
    """invalid_client from the token endpoint is Fatal (fix the configuration), not retried."""
    _, store, issued = oauth_source(emulator, tmp_path)
    source = OAuthTokenSource(
        lambda: new_auth_client(emulator, secret="wrong"), store, clock=emulator.now
    )
    with pytest.raises(OAuthClientRejected) as info:
        source.refreshed_after_401(issued["access_token"])
    assert isinstance(info.value, errors.Fatal) and info.value.code == "invalid_client"
    assert store.load().refresh_token == issued["refresh_token"]  # nothing lost


@pytest.mark.parametrize(
    "rule",
    [
        FaultRule(method="POST", path_regex="/oauth2/v1/tokens", status=503),
        FaultRule(method="POST", path_regex="/oauth2/v1/tokens", action="reset"),
    ],
    ids=["503", "reset"],
)
def test_token_endpoint_trouble_is_retryable_and_loses_nothing(emulator, tmp_path, rule):
    """A failing or unreachable token endpoint is TokenRefreshUnavailable; the next try works."""
    source, store, issued = oauth_source(emulator, tmp_path)
    emulator.add_fault(rule)
    with pytest.raises(TokenRefreshUnavailable) as info:
        source.refreshed_after_401(issued["access_token"])
    assert isinstance(info.value, errors.Retryable)
    assert store.load().refresh_token == issued["refresh_token"]
    fresh = source.refreshed_after_401(issued["access_token"])
    assert fresh != issued["access_token"] and store.load().access_token == fresh


# --- a tiny server for what the emulator cannot say --------------------------------------


class RetryAfterServer:
    """Answers the first request 429 with a Retry-After header, then 200 (the emulator sends
    no Retry-After, and QBO does not document one; the client must still honour it)."""

    def __init__(self, retry_after: str) -> None:
        self.retry_after = retry_after
        self.calls = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.calls += 1
                if outer.calls == 1:
                    body = b'{"Fault":{"Error":[{"Message":"throttled","code":"3001"}]}}'
                    self.send_response(429)
                    self.send_header("Retry-After", outer.retry_after)
                else:
                    body = b'{"Vendor": {"Id": "1"}}'
                    self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # (a short poll: `shutdown` waits for the loop to look, 0.5 s by default)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v3/company"

    def __enter__(self) -> RetryAfterServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- groups: a batch, or each alone (qbo.groups) ---------------------------------------------


def test_a_group_goes_alone_once_the_batch_budget_is_spent_and_answers_the_same(recorder):
    """QBO allows 40 batch requests a minute per app (here 2, on both sides): a group that
    finds the batch window spent for longer than its writes would take alone goes alone,
    each under its own requestid, with the same per-item answer shape; QBO throttles none.
    Source: Intuit, "API call limits and throttles" (batch limits apart from the 10/s)."""
    with QBOEmulator(batches_per_minute=2) as emu:
        emu.seed_default()
        source = StaticTokenSource(emu.issue_tokens()["access_token"])
        client = build_client(emu, source, recorder, limiter=RealmLimiter(batches_per_minute=2))
        answers = []
        for n in range(3):
            names = [f"Group {n} Vendor {i}" for i in range(3)]
            if n == 2:
                names[1] = "acme supply co"  # taken: its fault comes back, not raised
            ops = [
                BatchOp(str(i), "create", "Vendor", {"DisplayName": v}) for i, v in enumerate(names)
            ]
            ids = [f"group-{n}-{i}" for i in range(3)]
            answers.append(client.send_group(ops, request_id=f"group-{n}", item_request_ids=ids))
        assert [a.as_batch for a in answers] == [True, True, False]
        alone = answers[2].results
        assert [r.bid for r in alone] == ["0", "1", "2"]
        assert alone[0].entity["DisplayName"] == "Group 2 Vendor 0" and alone[2].ok
        assert isinstance(alone[1].fault, errors.DuplicateNameFault)
        assert emu.count(path_contains="/batch") == 2
        singles = [e for e in recorder.events if e["entity"] == "Vendor"]
        assert sorted(e["request_id"] for e in singles) == ["group-2-0", "group-2-1", "group-2-2"]
        assert emu.count(status=429) == 0
