"""Alerts to a real HTTP receiver on 127.0.0.1: what a pass sends when documents newly fail,
what it never sends, and that a failing, slow or odd receiver never holds up or fails a pass."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest
from support import Clock, EventLog
from sync_harness import harness

from reconciler import logs
from reconciler.alerts.webhook import QUEUE_SIZE, WebhookSender
from reconciler.app import wiring
from reconciler.config.settings import Secret

HOOK_PATH = "/services/T0000/B0000/hook-secret-part-XYZ123"


class Receiver:
    """A webhook endpoint: answers each POST with the next planned (status, delay, headers)
    (the last one repeats) and keeps what it was sent."""

    def __init__(self, *plan: tuple[int, float, dict[str, str]]) -> None:
        self.plan = list(plan) or [(200, 0.0, {})]
        self.received: list[dict[str, Any]] = []
        self.times: list[float] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.received.append(
                        {
                            "path": self.path,
                            "type": self.headers.get("Content-Type"),
                            "body": body.decode(),
                        }
                    )
                    receiver.times.append(time.monotonic())
                    n = len(receiver.received)
                status, delay, headers = receiver.plan[min(n, len(receiver.plan)) - 1]
                time.sleep(delay)
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the client gave up first

            do_GET = do_POST  # a followed redirect would arrive as a GET

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{HOOK_PATH}"
        # (a short poll: `shutdown` waits for the loop to look, 0.5 s by default)
        loop = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        loop.start()

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.received]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def receiver(*plan: tuple[int, float, dict[str, str]]) -> Iterator[Receiver]:
    r = Receiver(*plan)
    try:
        yield r
    finally:
        r.stop()


def _with_alerts(url: str, **changes: Any):
    def hook(settings):
        alerts = dataclasses.replace(settings.alerts, webhook_url=Secret(url), **changes)
        return dataclasses.replace(settings, alerts=alerts)

    return hook


def _pass_with_alerts(h, log) -> Any:
    """One pass as `run --once` does it: the pass, then its alert, waited for (bounded)."""
    report = h.run()
    store = h.store()
    try:
        alerts = wiring.pass_alerts(
            h.settings, store, log, sleep=h.clock.sleep, monotonic=h.clock.monotonic
        )
        if alerts.after(report):
            alerts.sender.close(wait=h.settings.alerts.give_up_after.total_seconds())
    finally:
        store.close()
    return report


@pytest.fixture
def ok():
    with receiver() as r:
        yield r


def test_a_pass_alerts_its_new_failures_and_not_the_old_ones(tmp_path, ok):
    log = EventLog()
    with harness(tmp_path, settings_hook=_with_alerts(ok.url)) as h:
        good = h.po(order_numbers=["PO-1"])
        bad = h.po(supplier="<!channel> & Sons", order_numbers=["PO-2"], items=[])
        _pass_with_alerts(h, log)
        assert len(ok.received) == 1
        sent = ok.received[0]
        assert sent["path"] == HOOK_PATH and sent["type"] == "application/json"
        message = json.loads(sent["body"])
        assert set(message) == {"text", "blocks"}
        assert "1 document(s) newly failed" in message["text"]
        assert "PO PO-2 (&lt;!channel&gt; &amp; Sons): [invalid_source_record]" in message["text"]
        assert "no lines" in message["text"] and "PO-1" not in message["text"]
        assert [b["type"] for b in message["blocks"]] == ["section", "section", "context"]
        assert "1 failed in all" in message["blocks"][-1]["elements"][0]["text"]
        for secret in ("lum-demo-token", h.settings.qbo.client_secret.reveal(), "hook-secret"):
            assert secret not in sent["body"]
        assert good["id"] != bad["id"]

        # Retried by a user and failing again: it was failed already, so no second alert.
        store = h.store()
        store.ledger.request_retry(bad["id"])
        store.close()
        _pass_with_alerts(h, log)
        assert len(ok.received) == 1
        # A new failure is alerted alone.
        h.po(order_numbers=["PO-3"], items=[])
        _pass_with_alerts(h, log)
        assert len(ok.received) == 2
        text = ok.messages()[1]["text"]
        assert "PO PO-3" in text and "PO-2" not in text
    events = [json.loads(line) for line in log.lines]
    assert [e["event"] for e in events if e["event"].startswith("alert")] == ["alert_sent"] * 2
    assert all("hook-secret" not in line for line in log.lines)


def test_drift_findings_on_the_report_are_alerted(tmp_path, ok):
    """The drift check's findings (`report.drift`) go in the same message as failures."""
    log = EventLog()
    with harness(tmp_path, settings_hook=_with_alerts(ok.url)) as h:
        report = h.run()
        report.drift = [
            SimpleNamespace(kind="PO", number="PO-9", qbo_id="41", summary="Memo changed in QBO"),
            {"summary": "a bill was deleted in QBO", "number": "B-7"},
        ]
        store = h.store()
        try:
            alerts = wiring.pass_alerts(h.settings, store, log)
            assert alerts.after(report)
            alerts.sender.close(wait=5)
        finally:
            store.close()
    text = ok.messages()[0]["text"]
    assert "2 drift finding(s)" in text and "newly failed" not in text
    assert "PO PO-9 (QBO 41): Memo changed in QBO" in text and "B-7: a bill was" in text


def test_nothing_new_sends_nothing(tmp_path, ok):
    log = EventLog()
    with harness(tmp_path, settings_hook=_with_alerts(ok.url)) as h:
        h.po()
        _pass_with_alerts(h, log)
    assert ok.received == []


def _sender(url: str, log: EventLog, **kw: Any) -> WebhookSender:
    return WebhookSender(Secret(url), log=log, **kw)


def test_a_failing_receiver_gets_max_attempts_and_the_pass_is_unaffected(tmp_path):
    log = EventLog()
    with (
        receiver((500, 0.0, {})) as r,
        harness(tmp_path, settings_hook=_with_alerts(r.url, max_attempts=3)) as h,
    ):
        h.po(items=[])
        report = _pass_with_alerts(h, log)
        plain = h.run()
    assert len(r.received) == 3
    assert report.outcome == "failures" and report.exit_code() == plain.exit_code() == 1
    failed = [json.loads(line) for line in log.lines if "alert_failed" in line]
    assert failed == [
        {
            "level": "warning",
            "event": "alert_failed",
            "host": "127.0.0.1",
            "outcome": "HTTP 500",
            "attempts": 3,
        }
    ]
    assert all(HOOK_PATH not in line for line in log.lines)


def test_a_slow_receiver_is_given_up_within_the_cap():
    log = EventLog()
    with receiver((200, 3.0, {})) as r:
        sender = _sender(r.url, log, timeout=0.3, max_attempts=10, give_up_after=1.0)
        started = time.monotonic()
        assert sender.send({"text": "x"}) is False
        elapsed = time.monotonic() - started
    assert elapsed < 2.0, elapsed
    assert 1 <= len(r.received) <= 3
    assert "PostTimeout" in log.lines[-1] and "hook-secret" not in log.lines[-1]


def test_submit_never_blocks_on_a_hanging_receiver_and_folds_rather_than_drops():
    """A full queue folds its two oldest messages into one: nothing said is lost (issue 32
    case 4: past 8 queued messages the rest used to be dropped)."""
    log = EventLog()
    with receiver((200, 2.0, {})) as r:
        sender = _sender(r.url, log, timeout=0.5, max_attempts=1, give_up_after=1.0)
        started = time.monotonic()
        taken = [sender.submit({"text": f"message {n}"}) for n in range(QUEUE_SIZE + 5)]
        assert time.monotonic() - started < 0.2
        assert all(taken)
        sender.close(wait=0.5)
        assert time.monotonic() - started < 1.5
    assert any("alert_delayed" in line for line in log.lines)
    assert not any("alert_dropped" in line for line in log.lines)


def test_client_errors_are_not_retried_and_redirects_not_followed():
    log = EventLog()
    with receiver((404, 0.0, {})) as r:
        assert _sender(r.url, log, max_attempts=5).send({"text": "x"}) is False
        assert len(r.received) == 1
    with receiver() as target, receiver((302, 0.0, {"Location": target.url})) as r:
        assert _sender(r.url, log, max_attempts=5).send({"text": "x"}) is False
        assert len(r.received) == 1 and target.received == []


def test_429_waits_retry_after_then_succeeds():
    log, clock = EventLog(), Clock()  # the wait is on the fake clock: counted, not slept
    with receiver((429, 0.0, {"Retry-After": "1"}), (200, 0.0, {})) as r:
        sender = _sender(
            r.url, log, give_up_after=10.0, sleep=clock.sleep, monotonic=clock.monotonic
        )
        assert sender.send({"text": "x"}) is True
        assert len(r.received) == 2
        assert clock.slept == [1.0]  # Retry-After, not the back-off (0.5)
    assert json.loads(log.lines[-1])["attempts"] == 2


def test_connection_refused_is_retried_and_logged_without_the_url():
    log = EventLog()
    with receiver() as r:
        url = r.url
    slept: list[float] = []
    sender = _sender(url, log, max_attempts=3, give_up_after=10.0, sleep=slept.append)
    assert sender.send({"text": "x"}) is False
    assert slept == [0.5, 1.0]
    assert "ConnectionRefusedError" in log.lines[-1] and HOOK_PATH not in log.lines[-1]
    assert logs.SECRETS.scrub(f"failed for {url}") == "failed for ***"
