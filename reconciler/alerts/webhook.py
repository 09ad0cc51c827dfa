"""Alerts: the webhook messages a pass sends, and the bounded sender that posts them.

    PassAlerts.after(report)   newly failed documents and drift found -> message.build
                               and whether syncing stopped or resumed -> stops.step
    WebhookSender.submit(msg)  queued, never blocks the pass; one worker thread posts it
    WebhookSender.close(wait)  at exit: what is queued gets at most `wait` seconds more

A failed alert never blocks or fails a pass: it is logged (`alert_failed`) and dropped. Each
message costs at most `give_up_after` seconds in all, whatever the receiver does (answers
slowly, trickles, never answers; `alerts.post`): at most `max_attempts` POSTs, each bounded by
`timeout` per read and by what is left of `give_up_after`, with exponential back-off between
them (a 429's `Retry-After` when it fits). 5xx, 429, timeouts and connection errors are
retried; other answers (a 4xx: the URL or the message is wrong) are not, nor are redirects.
When `QUEUE_SIZE` messages wait, the two oldest are folded into one, so a slow receiver delays
what it is told but loses none of it.

The webhook URL is a credential (a Slack URL alone lets anyone post): it lives in a `Secret`,
is registered with the redactor, and is never logged: events name only its host.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Sequence
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from reconciler.alerts import message, stops
from reconciler.alerts.post import Answer, Poster, PostFailed, PostTimeout
from reconciler.redact import register

QUEUE_SIZE = 8
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
MERGED_LIMIT = 3000  # characters of a folded message's text


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
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        register([url.reveal(), urlsplit(url.reveal()).path])
        self.host = urlsplit(url.reveal()).hostname or "?"
        self._poster = Poster(url.reveal(), monotonic=monotonic)
        self._log = log
        self._timeout = timeout
        self._max_attempts = max(1, max_attempts)
        self._give_up_after = give_up_after
        self._sleep = sleep
        self._monotonic = monotonic
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._wake = threading.Condition()
        self._closing = False
        self._worker: threading.Thread | None = None

    def submit(self, message: dict[str, Any]) -> bool:
        """Queue one message (folding the oldest two when full). Never blocks."""
        with self._wake:
            if self._closing:
                return False
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="alerts", daemon=True)
                self._worker.start()
            if len(self._queue) >= QUEUE_SIZE:
                first, second = self._queue.popleft(), self._queue.popleft()
                self._queue.appendleft(_fold(first, second))
                self._log.warning("alert_delayed", host=self.host, reason="queue full: folded")
            self._queue.append(message)
            self._wake.notify()
        return True

    def close(self, wait: float) -> None:
        """Let the worker finish what is queued, for at most `wait` seconds."""
        with self._wake:
            worker, self._closing = self._worker, True
            self._wake.notify()
        if worker is None:
            return
        worker.join(timeout=max(wait, 0.0))
        if worker.is_alive():
            self._log.warning("alert_abandoned", host=self.host, waited_s=wait)

    def send(self, message: dict[str, Any]) -> bool:
        """One message, now: True once the webhook took it (2xx). At most `give_up_after`."""
        deadline = self._monotonic() + self._give_up_after
        outcome, attempt = "no attempt", 0
        for attempt in range(1, self._max_attempts + 1):
            left = deadline - self._monotonic()
            if left <= 0:
                break
            retry_after: float | None = None
            try:
                answer = self._poster.post(message, left, per_read=self._timeout)
            except (PostTimeout, PostFailed) as exc:
                outcome = f"{type(exc).__name__} ({exc})"  # never the URL
            else:
                if 200 <= answer.status < 300:
                    self._log.info("alert_sent", host=self.host, attempts=attempt)
                    return True
                outcome = f"HTTP {answer.status}"
                if answer.status not in RETRY_STATUSES:
                    break
                retry_after = _retry_after(answer)
            delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))
            delay = retry_after if retry_after is not None else delay
            if attempt == self._max_attempts or delay >= deadline - self._monotonic():
                break
            self._sleep(delay)
        self._log.warning("alert_failed", host=self.host, outcome=outcome, attempts=attempt)
        return False

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._closing:
                    self._wake.wait()
                if not self._queue:
                    return  # closing, and nothing left
                message = self._queue.popleft()
            try:
                self.send(message)
            except Exception as exc:  # an alert never takes anything down with it
                self._log.warning("alert_failed", host=self.host, outcome=type(exc).__name__)


def _fold(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Two queued messages as one (their texts one after the other, cut to a size)."""
    text = f"{first.get('text', '')}\n\n{second.get('text', '')}"
    if len(text) > MERGED_LIMIT:
        text = text[: MERGED_LIMIT - 1] + "…"
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def _retry_after(answer: Answer) -> float | None:
    value = (answer.headers.get("Retry-After") or "").strip()
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
    """After each pass: its newly failed documents and drift as one message; and, kept in the
    state file between passes (`episodes`), whether syncing stopped or resumed (`stops`)."""

    def __init__(
        self,
        sender: WebhookSender,
        *,
        realm_id: str,
        newly_failed: Callable[[str], Sequence[Any]],
        failed_in_ledger: Callable[[], int] | None = None,
        max_listed: int = 5,
        log: Any,
        episodes: tuple[Callable[[], str | None], Callable[[str], None]] | None = None,
        threshold: int = 3,
        clock: Callable[[], Any] | None = None,
    ) -> None:
        self.sender = sender
        self._realm_id = realm_id
        self._newly_failed = newly_failed
        self._failed_in_ledger = failed_in_ledger
        self._max_listed = max_listed
        self._log = log
        self._episodes = episodes
        self._memory: dict[str, stops.Episode] = {}  # when the state file cannot keep them
        self._threshold = threshold
        self._clock = clock or _utc_now

    def after(self, report: Any) -> bool:
        """Queue the pass's alerts, if it has something to say; never raises."""
        said = False
        try:
            said = self._trouble(stops.SYNC, _trouble_of(report)) or said
            built = message.build(
                failures=self._newly_failed(report.run_id),
                drift=list(getattr(report, "drift", None) or []),
                realm_id=self._realm_id,
                run_id=report.run_id,
                failed_in_ledger=self._failed_in_ledger() if self._failed_in_ledger else None,
                max_listed=self._max_listed,
            )
        except Exception as exc:  # reading what to say must not fail the pass either
            self._log.warning("alert_failed", outcome=type(exc).__name__, stage="build")
            return said
        return (built is not None and self.sender.submit(built)) or said

    def trouble(self, track: str, trouble: stops.Trouble | None) -> bool:
        """A pass that never ran or raised (held, crashed, stopped), or the tokens' state."""
        try:
            return self._trouble(track, trouble)
        except Exception as exc:
            self._log.warning("alert_failed", outcome=type(exc).__name__, stage="build")
            return False

    def _trouble(self, track: str, trouble: stops.Trouble | None) -> bool:
        episodes = self._load()
        now = self._clock()
        before = episodes.get(track)
        after, say = stops.step(before, trouble, now=now, threshold=self._threshold)
        if after is None:
            episodes.pop(track, None)
        else:
            episodes[track] = after
        if after != before:
            self._save(episodes)
        if say == "stop" and after is not None:
            sent = stops.stop_message(after, realm_id=self._realm_id, track=track)
        elif say == "resumed" and before is not None:
            sent = stops.resumed_message(before, realm_id=self._realm_id, track=track, now=now)
        else:
            return False
        self._log.warning(f"alert_{say}", track=track, kind=(after or before).kind)
        return self.sender.submit(sent)

    def _load(self) -> dict[str, stops.Episode]:
        if self._episodes is None:
            return dict(self._memory)
        try:
            return stops.loads(self._episodes[0]())
        except Exception:
            return dict(self._memory)

    def _save(self, episodes: dict[str, stops.Episode]) -> None:
        self._memory = dict(episodes)
        if self._episodes is not None:
            try:
                self._episodes[1](stops.dumps(episodes))
            except Exception as exc:  # a full disk or a damaged file: kept in memory
                self._log.warning("alert_state_unsaved", reason=type(exc).__name__)


def _trouble_of(report: Any) -> stops.Trouble | None:
    fix = getattr(report, "fix", None) or "see the reason"
    if getattr(report, "fatal", None):
        return stops.Trouble("fatal", str(report.fatal), fix)
    if getattr(report, "crashed", None):
        return stops.Trouble("crashed", str(report.crashed), fix)
    if getattr(report, "aborted", None):
        return stops.Trouble("interrupted", str(report.aborted), fix)
    return None


def _utc_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
