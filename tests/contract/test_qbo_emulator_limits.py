"""QBO emulator: requestid replay, per-minute, concurrency and batch throttles."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

from reconciler.sandbox.qbo.server import FaultRule


def assert_throttled(response) -> None:
    """429 with QBO's 3001 ThrottleExceeded fault."""
    assert response.status_code == 429
    error = response.json()["Fault"]["Error"][0]
    assert error["code"] == "3001"
    assert error["Message"] == "message=ThrottleExceeded; errorCode=003001; statusCode=429"


def test_same_requestid_answers_the_first_answer_without_a_second_object(qbo):
    """A retried create with the same requestid gets the stored answer; one PO exists."""
    first = qbo.post("purchaseorder", qbo.po_body(), requestid="rid-1")
    again = qbo.post("purchaseorder", qbo.po_body(), requestid="rid-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["intuit_tid"] != first.headers["intuit_tid"]
    assert len(qbo.emu.objects("PurchaseOrder")) == 1
    assert qbo.emu.request_log[-1]["outcome"] == "replayed"


def test_requestid_replays_a_fault_too(qbo):
    """The first answer is stored whatever it was, a fault included."""
    bad = qbo.po_body(vendor="999")
    first = qbo.post("purchaseorder", bad, requestid="rid-f")
    again = qbo.post("purchaseorder", qbo.po_body(), requestid="rid-f")
    assert first.status_code == again.status_code == 400
    assert qbo.emu.objects("PurchaseOrder") == []


def test_requestid_replay_can_be_switched_off(qbo):
    """With requestid_replay False a repeated create is a new create (here: 6140)."""
    qbo.emu.requestid_replay = False
    assert qbo.post("purchaseorder", qbo.po_body(), requestid="rid-2").status_code == 200
    again = qbo.post("purchaseorder", qbo.po_body(), requestid="rid-2")
    assert again.json()["Fault"]["Error"][0]["code"] == "6140"


def test_requestid_longer_than_50_characters_is_refused(qbo):
    """An id longer than 50 characters is refused; 50 works."""
    assert qbo.post("purchaseorder", qbo.po_body(), requestid="r" * 50).status_code == 200
    too_long = qbo.post("purchaseorder", qbo.po_body(doc_number="X"), requestid="r" * 51)
    assert too_long.status_code == 400
    assert too_long.json()["Fault"]["Error"][0]["element"] == "requestid"


def test_requests_per_minute_limit_answers_429(make_emu):
    """Past requests_per_minute in a sliding minute the realm gets 429 3001."""
    qbo = make_emu(requests_per_minute=5)
    statuses = [qbo.get("preferences").status_code for _ in range(5)]
    assert statuses == [200] * 5
    assert_throttled(qbo.get("preferences"))
    assert qbo.emu.count(status=429) == 1


def test_concurrent_requests_past_the_limit_are_429(make_emu):
    """With max_concurrent 2 and two requests held in flight, a third and a fourth are
    throttled; once the two are answered, requests pass again. (The two are held by a
    latency fault and seen in flight before the others go: no race with a loaded machine.)"""
    qbo = make_emu(max_concurrent=2)
    qbo.emu.add_fault(FaultRule(path_regex="/vendor/", action="latency", latency=1.0, times=2))
    with ThreadPoolExecutor(max_workers=2) as pool:
        held = [pool.submit(qbo.get, "vendor/1") for _ in range(2)]
        deadline = time.monotonic() + 10
        while qbo.emu.in_flight() < 2 and time.monotonic() < deadline:  # (sockets: bounded)
            time.sleep(0.01)
        assert qbo.emu.in_flight() == 2
        refused = [qbo.get("preferences") for _ in range(2)]
        assert [r.status_code for r in refused] == [429, 429]
        assert_throttled(refused[0])
        assert [f.result(timeout=10).status_code for f in held] == [200, 200]
    assert qbo.get("preferences").status_code == 200


def test_batches_per_minute_limit(make_emu):
    """Past batches_per_minute, /batch is throttled while other calls still pass."""
    qbo = make_emu(batches_per_minute=2)
    batch = {"BatchItemRequest": [{"bId": "1", "Query": "select * from Vendor"}]}
    assert [qbo.post("batch", batch).status_code for _ in range(2)] == [200, 200]
    assert_throttled(qbo.post("batch", batch))
    assert qbo.get("preferences").status_code == 200


def test_limits_can_be_changed_at_run_time(make_emu):
    """requests_per_minute is an attribute the test can lower while running."""
    qbo = make_emu()
    assert qbo.get("preferences").status_code == 200
    qbo.emu.requests_per_minute = 1
    assert_throttled(qbo.get("preferences"))


def test_request_cut_off_mid_body_is_not_processed_or_remembered(qbo):
    """A client killed while sending: no object, and its requestid stays free for the retry."""
    import socket
    from urllib.parse import urlsplit

    body = json.dumps({"DisplayName": "Half Sent Ltd"}).encode()
    url = urlsplit(qbo.url("vendor"))
    target = f"{url.path}?minorversion=75&requestid=cut-off-1"
    head = (
        f"POST {target} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Authorization: {qbo.session.headers['Authorization']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(head + body[:10])  # then the process "dies"
    created = qbo.post("vendor", {"DisplayName": "Half Sent Ltd"}, requestid="cut-off-1")
    assert created.status_code == 200, created.text
    names = [v["DisplayName"] for v in qbo.emu.objects("Vendor")]
    assert names.count("Half Sent Ltd") == 1
