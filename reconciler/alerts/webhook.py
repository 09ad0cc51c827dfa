"""Alerts: one webhook message per pass when documents newly fail or drift is found.

    PassAlerts.after(report)   what the pass did -> message.build -> WebhookSender
    WebhookSender.submit(msg)  queued, never blocks the pass; one worker thread posts it
    WebhookSender.close(wait)  at exit: what is queued gets at most `wait` seconds more

A failed alert never blocks or fails a pass: it is logged (`alert_failed`) and dropped. Each
message is bounded: at most `max_attempts` POSTs, each with `timeout`, exponential back-off
between them (a 429's `Retry-After` when it fits), and all of it within `give_up_after`. 5xx,
429, timeouts and connection errors are retried; other answers (a 4xx: the URL or the message
is wrong) are not. Redirects are not followed (a webhook that moved should be reconfigured, not
followed to wherever it points). The queue holds `QUEUE_SIZE` messages; past that the newest
is dropped and logged.

The webhook URL is a credential (a Slack URL alone lets anyone post): it lives in a `Secret`,
is registered with the redactor, and is never logged: events name only its host.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from reconciler.alerts import message
from reconciler.redact import register

QUEUE_SIZE = 8
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class WebhookSender:
    """Posts JSON messages to one webhook URL, bounded and retried, off the caller's thread."""

    def __init__(
        self,
        url: Any,  # settings.Secret
        *,
        log: Any,
        timeout: float = 5.0,
        max_attempts: int = 3,
        give_up_after: float = 30.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        register([url.reveal(), urlsplit(url.reveal()).path])
        self.host = urlsplit(url.reveal()).hostname or "?"
        self._log = log
        self._timeout = timeout
        self._max_attempts = max(1, max_attempts)
        self._give_up_after = give_up_after
        self._session = session or requests.Session()
        self._sleep = sleep
        self._monotonic = monotonic
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(QUEUE_SIZE)
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, message: dict[str, Any]) -> bool:
        """Queue one message; False (logged) when the queue is full. Never blocks."""
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="alerts", daemon=True)
                self._worker.start()
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            self._log.warning("alert_dropped", host=self.host, reason="queue full")
            return False
        return True

    def close(self, wait: float) -> None:
        """Let the worker finish what is queued, for at most `wait` seconds."""
        with self._lock:
            worker = self._worker
        if worker is None:
            return
        deadline = self._monotonic() + wait
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=max(wait, 0.01))
        worker.join(timeout=max(deadline - self._monotonic(), 0.0))
        if worker.is_alive():
            self._log.warning("alert_abandoned", host=self.host, waited_s=wait)

    def send(self, message: dict[str, Any]) -> bool:
        """One message, now: True once the webhook took it (2xx)."""
        deadline = self._monotonic() + self._give_up_after
        outcome = "no attempt"
        for attempt in range(1, self._max_attempts + 1):
            left = deadline - self._monotonic()
            if left <= 0:
                break
            retry_after: float | None = None
            try:
                response = self._session.post(
                    self._url.reveal(),
                    json=message,
                    timeout=min(self._timeout, left),
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                outcome = type(exc).__name__  # its text names the URL's path: never logged
            else:
                if 200 <= response.status_code < 300:
                    self._log.info("alert_sent", host=self.host, attempts=attempt)
                    return True
                outcome = f"HTTP {response.status_code}"
                if response.status_code not in RETRY_STATUSES:
                    break
                retry_after = _retry_after(response)
            delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))
            delay = retry_after if retry_after is not None else delay
            if attempt == self._max_attempts or delay >= deadline - self._monotonic():
                break
            self._sleep(delay)
        self._log.warning("alert_failed", host=self.host, outcome=outcome, attempts=attempt)
        return False

    def _work(self) -> None:
        while True:
            message = self._queue.get()
            if message is None:
                return
            try:
                self.send(message)
            except Exception as exc:  # an alert never takes anything down with it
                self._log.warning("alert_failed", host=self.host, outcome=type(exc).__name__)


def _retry_after(response: requests.Response) -> float | None:
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class PassAlerts:
    """After each pass: the documents it newly failed and the drift it found, as one message."""

    def __init__(
        self,
        sender: WebhookSender,
        *,
        realm_id: str,
        newly_failed: Callable[[str], Sequence[Any]],
        failed_in_ledger: Callable[[], int] | None = None,
        max_listed: int = 5,
        log: Any,
    ) -> None:
        self.sender = sender
        self._realm_id = realm_id
        self._newly_failed = newly_failed
        self._failed_in_ledger = failed_in_ledger
        self._max_listed = max_listed
        self._log = log

    def after(self, report: Any) -> bool:
        """Queue the pass's alert, if it has something to say; never raises."""
        try:
            said = message.build(
                failures=self._newly_failed(report.run_id),
                drift=list(getattr(report, "drift", None) or []),
                realm_id=self._realm_id,
                run_id=report.run_id,
                failed_in_ledger=self._failed_in_ledger() if self._failed_in_ledger else None,
                max_listed=self._max_listed,
            )
        except Exception as exc:  # reading what to say must not fail the pass either
            self._log.warning("alert_failed", outcome=type(exc).__name__, stage="build")
            return False
        return said is not None and self.sender.submit(said)
