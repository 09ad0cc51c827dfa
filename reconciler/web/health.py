"""Health and metrics over HTTP: `/healthz` for supervisors, `/metrics` for Prometheus.

`HealthState` is fed by the daemon (one `record_pass` per finished pass, `set_authorized` from
the start-up checks and from authorization failures) and, for live QBO request counts, by the
QBO client's `on_request` hook (`on_qbo_request`). It decides health as a pure function of its
fields and `now`:

- red when QBO authorization is lost;
- red when the last successful pass (`report.fatal is None`; POs failing one by one do not
  count against health, the metrics show them) is older than 3 poll intervals, and, before
  the first success, once 3 intervals have passed since start (the start-up grace).

Metrics live on the state's own `CollectorRegistry` (never the process-global default), so
tests and several daemons in one process do not collide. The server is a
`web.server.BoundedHTTPServer` (an event loop, a small pool of workers, a timeout per
connection: idle sockets cannot exhaust it), bound to 127.0.0.1 by default: the endpoints
carry no authentication, so exposing them is a deliberate configuration choice (inside a
container, see the Dockerfile).

When the service hands it a `web.routes.StatusPage`, the same server routes the status page:
`GET /status` (counts and the filtered list), `GET /status/export.csv` (the filtered list as
CSV, streamed), `GET /status/doc/<kind>/<id>` (one document's page) and, only when a retry
token is configured, `POST /status/retry` and `POST /status/retry-set` (a view's documents).
Those routes answer only to this server's own Host names (a DNS-rebinding page asks with
another).
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from reconciler.model import Drift, SyncStatus
from reconciler.sync.report import metered_kind
from reconciler.web.guard import host_allowed
from reconciler.web.pages import CONTENT_SECURITY_POLICY, message_html
from reconciler.web.routes import Answer, Download, RetryAsked, StatusPage
from reconciler.web.server import MAX_BODY, BoundedHTTPServer, BufferedRequestHandler

PASS_OUTCOMES = ("ok", "failures", "aborted", "crashed", "fatal", "error")
QBO_STATUSES = ("200", "400", "401", "429", "500", "503", "error")
SUCCESSFUL = ("ok", "failures")  # POs failing one by one do not make a pass unsuccessful
PO_ACTIONS = ("created", "updated", "closed", "deleted", "adopted", "unchanged")  # PAST_TENSE
DURATION_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
CONNECTION_TIMEOUT = 5.0  # seconds a client has to send its request and read the answer
WORKERS = 4
HTML = "text/html; charset=utf-8"
# Sent with every answer: nothing is cached, sniffed, framed or allowed to load.
SECURITY_HEADERS = (
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("Referrer-Policy", "same-origin"),
)
_DOC_ROUTE = re.compile(r"/status/doc/([a-z]{1,10})/([0-9]{1,18})")
_PROBE = re.compile(rb"(GET|HEAD) /(healthz|metrics)[ ?]")


def is_probe(request_head: bytes) -> bool:
    """`/healthz` and `/metrics`: answered on their own lane, never behind page views."""
    return _PROBE.match(request_head) is not None


class PassReportLike(Protocol):
    """The fields of `reconciler.sync.report.PassReport` that health reads."""

    started_at: datetime
    finished_at: datetime | None
    counts: Any  # Counter[str]
    fatal: str | None

    @property
    def failed(self) -> int: ...


def pass_outcome(report: PassReportLike) -> str:
    """The same word the engine writes to the runs table (`PassReport.outcome`)."""
    outcome = getattr(report, "outcome", None)
    if isinstance(outcome, str):
        return outcome
    if report.fatal:
        return "fatal"
    if getattr(report, "aborted", None):
        return "aborted"
    return "failures" if report.failed else "ok"


class DriftMetrics:
    """What the drift checks found (`PassReport.drift`; billed and closed counted apart), the
    documents left in each state, and the CDC requests they sent."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.found = Counter(
            "reconciler_drift_found",
            "Documents a drift check found changed in QBO by someone else, by change.",
            ["change"],
            registry=registry,
        )
        self.documents = Gauge(
            "reconciler_drift_documents",
            "Documents in each drift state (edited, deleted, billed, closed) after the last check.",
            ["change"],
            registry=registry,
        )
        self.cdc_requests = Counter(
            "reconciler_drift_cdc_requests", "CDC requests sent by drift checks.", registry=registry
        )
        for change in Drift:
            self.found.labels(change=str(change))
            self.documents.labels(change=str(change))

    def record(self, report: PassReportLike) -> None:
        for finding in getattr(report, "drift", ()):
            self.found.labels(change=str(finding.change)).inc()
        for change in (Drift.BILLED, Drift.CLOSED):
            if report.counts.get(f"{change}_in_qbo", 0) > 0:
                self.found.labels(change=str(change)).inc(report.counts[f"{change}_in_qbo"])
        if report.counts.get("drift_cdc_requests", 0) > 0:
            self.cdc_requests.inc(report.counts["drift_cdc_requests"])
        outstanding = getattr(report, "drift_outstanding", None)
        if outstanding is not None:
            for change in Drift:
                self.documents.labels(change=str(change)).set(outstanding.get(str(change), 0))


class HealthState:
    """What `/healthz` and `/metrics` report; thread-safe, fed by pass reports."""

    def __init__(
        self,
        poll_interval: timedelta,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        started_at: datetime | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.poll_interval = poll_interval
        self.clock = clock
        self.max_age = 3 * poll_interval
        self.started_at = started_at or clock()
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._lock = threading.Lock()
        self._last_success: datetime | None = None
        self._last_outcome: str | None = None
        self._authorized = True
        self._held: str | None = None  # a service asked for quiet: passes wait (`sync.holds`)
        self._tokens_unsaved: str | None = None  # a rotated token pair lives in memory only
        self._metrics(self.registry)

    def _metrics(self, r: CollectorRegistry) -> None:
        self.passes = Counter(
            "reconciler_passes", "Finished passes by outcome.", ["outcome"], registry=r
        )
        self.pos = Counter(
            "reconciler_pos", "POs handled, by the status they ended in.", ["status"], registry=r
        )
        self.actions = Counter(
            "reconciler_po_actions", "QBO changes made to POs, by action.", ["action"], registry=r
        )
        self.qbo_requests = Counter(
            "reconciler_qbo_requests",
            "HTTP requests sent to QBO, by response status ('error' when no answer came).",
            ["status"],
            registry=r,
        )
        self._ledger_metrics(r)
        self.qbo_throttled = Counter(
            "reconciler_qbo_throttled", "QBO answers with HTTP 429 (throttled).", registry=r
        )
        self.last_success = Gauge(
            "reconciler_last_success_timestamp_seconds",
            "Unix time the last successful pass finished (0: none yet).",
            registry=r,
        )
        self.duration = Histogram(
            "reconciler_pass_duration_seconds",
            "Wall time of a pass.",
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.authorized_gauge = Gauge(
            "reconciler_authorized", "1 while the QBO authorization works.", registry=r
        )
        self.authorized_gauge.set(1)
        self.drift = DriftMetrics(r)
        for outcome in PASS_OUTCOMES:
            self.passes.labels(outcome=outcome)
        for status in SyncStatus:
            self.pos.labels(status=str(status))
            self.documents.labels(status=str(status))
        for action in PO_ACTIONS:
            self.actions.labels(action=action)
        for answered in QBO_STATUSES:  # there from the start, not from the first request
            self.qbo_requests.labels(status=answered)
        for kind in ("read", "write"):
            self.qbo_metered.labels(kind=kind)

    def _ledger_metrics(self, r: CollectorRegistry) -> None:
        self.qbo_metered = Counter(
            "reconciler_qbo_metered_requests",
            "HTTP requests sent to QBO as Intuit meters them: 'read' (GETs and queries, the "
            "CorePlus calls) and 'write'.",
            ["kind"],
            registry=r,
        )
        self.documents = Gauge(
            "reconciler_documents",
            "Documents the ledger holds now, by status (read from the state file at start and "
            "after each pass: a restart keeps it; reconciler_pos_total counts what passes did "
            "since the start).",
            ["status"],
            registry=r,
        )

    def set_documents(self, counts: Mapping[str, int]) -> None:
        """The ledger's documents by status (`Ledger.status_counts`)."""
        for status in SyncStatus:
            self.documents.labels(status=str(status)).set(counts.get(str(status), 0))

    # --- feeding ------------------------------------------------------------------------

    def record_pass(self, report: PassReportLike) -> None:
        outcome = pass_outcome(report)
        statuses = {str(s) for s in SyncStatus}
        for key, count in report.counts.items():
            if count <= 0:
                continue
            if key in statuses:
                self.pos.labels(status=key).inc(count)
            elif key in PO_ACTIONS:
                self.actions.labels(action=key).inc(count)
        self.drift.record(report)
        ledger = getattr(report, "ledger_counts", None)
        if ledger is not None:
            self.set_documents(ledger)
        finished = report.finished_at or self.clock()
        self.duration.observe(max(0.0, (finished - report.started_at).total_seconds()))
        self.passes.labels(outcome=outcome).inc()
        with self._lock:
            self._last_outcome = outcome
            if outcome in SUCCESSFUL:
                self._last_success = finished
                self._authorized = True
        if outcome in SUCCESSFUL:
            self.last_success.set(finished.timestamp())
            self.authorized_gauge.set(1)

    def record_error(self) -> None:
        """A pass that raised instead of returning a report."""
        self.passes.labels(outcome="error").inc()
        with self._lock:
            self._last_outcome = "error"

    def set_held(self, reason: str | None) -> None:
        """Passes wait for a service's `Retry-After`: alive and doing as asked, not stale."""
        with self._lock:
            self._held = reason

    def set_tokens_unsaved(self, reason: str | None) -> None:
        """New QuickBooks tokens could not be saved: said in every answer, never a 503 (a
        supervisor restarting the daemon for it would lose them)."""
        with self._lock:
            self._tokens_unsaved = reason

    def set_authorized(self, authorized: bool) -> None:
        with self._lock:
            self._authorized = authorized
        self.authorized_gauge.set(1 if authorized else 0)

    def on_qbo_request(self, event: dict[str, Any]) -> None:
        """Hook for `QBOClient(on_request=...)`: one call per HTTP attempt."""
        status = event.get("status")
        self.qbo_requests.labels(status=str(status) if status is not None else "error").inc()
        self.qbo_metered.labels(kind=metered_kind(event)).inc()
        if status == 429:
            self.qbo_throttled.inc()

    # --- reading ------------------------------------------------------------------------

    @property
    def last_success_at(self) -> datetime | None:
        with self._lock:
            return self._last_success

    def is_healthy(self, now: datetime) -> tuple[bool, str]:
        healthy, reason = self._health(now)
        with self._lock:
            unsaved = self._tokens_unsaved
        if unsaved:
            reason += f"; new QuickBooks tokens are not saved yet ({unsaved}): do not stop me"
        return healthy, reason

    def _health(self, now: datetime) -> tuple[bool, str]:
        with self._lock:
            authorized, last_success, held = self._authorized, self._last_success, self._held
        limit = int(self.max_age.total_seconds())
        if not authorized:
            return False, "QuickBooks authorization lost: run `reconciler auth connect`"
        if held:
            return True, f"waiting: {held}"
        if last_success is None:
            waited = now - self.started_at
            if waited <= self.max_age:
                return True, f"starting: no pass finished yet ({_secs(waited)}s since start)"
            return False, f"no successful pass in {_secs(waited)}s since start (limit {limit}s)"
        age = now - last_success
        if age > self.max_age:
            return False, f"last successful pass {_secs(age)}s ago (limit {limit}s)"
        return True, f"last successful pass {_secs(age)}s ago"

    def health_document(self, now: datetime) -> dict[str, Any]:
        healthy, reason = self.is_healthy(now)
        with self._lock:
            last_success, outcome, authorized = (
                self._last_success,
                self._last_outcome,
                self._authorized,
            )
            tokens_saved = self._tokens_unsaved is None
        return {
            "healthy": healthy,
            "reason": reason,
            "authorized": authorized,
            "tokens_saved": tokens_saved,
            "last_success": last_success.isoformat() if last_success else None,
            "last_outcome": outcome,
            "now": now.isoformat(),
        }

    def metrics_text(self) -> bytes:
        return generate_latest(self.registry)


def _secs(delta: timedelta) -> int:
    return int(delta.total_seconds())


class HealthServer:
    """A running health/metrics server; `port` is the bound port (useful with port 0)."""

    def __init__(self, httpd: BoundedHTTPServer, thread: threading.Thread) -> None:
        self._httpd = httpd
        self._thread = thread
        self.host, self.port = httpd.server_address[:2]

    def shutdown(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def _status_get(page: StatusPage, path: str, query: str) -> Answer | None:
    """The status page's GET routes; None when the path is none of them."""
    if path in ("/status", "/status/"):
        return page.overview(query)
    match = _DOC_ROUTE.fullmatch(path)
    if match:
        return page.document(match.group(1), match.group(2))
    return None


class HealthHandler(BufferedRequestHandler):
    """The routes; `state` and `page` are set on a subclass per server (`_handler_for`)."""

    server_version = "reconciler-health"
    sys_version = ""  # no Python version in the Server header
    state: HealthState
    page: StatusPage | None = None
    head_only = False

    def do_HEAD(self) -> None:
        """What GET answers, without the body (a supervisor's `curl -I`)."""
        self.head_only = True
        self.do_GET()

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        page = self.page
        if path == "/healthz":
            doc = self.state.health_document(self.state.clock())
            body = (json.dumps(doc) + "\n").encode()
            self._reply(200 if doc["healthy"] else 503, "application/json", body)
        elif path == "/metrics":
            self._reply(200, CONTENT_TYPE_LATEST, self.state.metrics_text())
        elif page is not None and path == "/":
            self._reply(303, "text/plain; charset=utf-8", b"see /status\n", "/status")
        elif page is not None and path == "/status/export.csv":
            self._download(page, lambda: page.export(query))
        elif page is not None and path.startswith("/status"):
            self._status(page, lambda: _status_get(page, path, query))
        else:
            self._reply(404, "text/plain; charset=utf-8", b"not found\n")

    def do_POST(self) -> None:
        page = self.page
        routes = {"/status/retry": "retry", "/status/retry-set": "retry_set"}
        if page is None or self.path not in routes or not page.retry_enabled:
            self._reply(404, "text/plain; charset=utf-8", b"not found\n")
            return
        answer = getattr(page, routes[self.path])
        self._status(page, lambda: answer(self._retry_asked()))

    def _retry_asked(self) -> RetryAsked:
        length = self.headers.get("Content-Length", "0")
        size = int(length) if length.isascii() and length.isdigit() else 0
        return RetryAsked(
            host=self.headers.get("Host", ""),
            origin=self.headers.get("Origin"),
            referer=self.headers.get("Referer"),
            content_type=self.headers.get("Content-Type"),
            token_header=self.headers.get("X-Retry-Token"),
            body=self.rfile.read(min(size, MAX_BODY)),
        )

    def _download(self, page: StatusPage, download: Callable[[], Download]) -> None:
        """A streamed answer (the CSV export): its head, then each piece as it is made, so a
        large export holds one piece in memory; the connection's end ends it (HTTP/1.0)."""
        if not host_allowed(
            self.headers.get("Host"), self.server.server_address[0], page.allowed_hosts
        ):
            self._status(page, lambda: None)
            return
        try:
            found = download()
            pieces = iter(found.pieces)
            first = next(pieces, b"")
        except Exception as exc:  # a damaged or locked state file: say so, no details
            failed = _unreadable(page, exc)
            self._status(page, lambda: failed)
            return
        self.send_response(200)
        self.send_header("Content-Type", found.content_type)
        self.send_header("Content-Disposition", f'attachment; filename="{found.filename}"')
        self.end_headers()
        self.connection.sendall(self.wfile.getvalue() + first)
        self.wfile = io.BytesIO()
        try:
            for piece in pieces:
                self.connection.sendall(piece)
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()

    def _status(self, page: StatusPage, answer: Callable[[], Answer | None]) -> None:
        """A status page answer, for this server's own Host names only."""
        bound = self.server.server_address[0]
        if not host_allowed(self.headers.get("Host"), bound, page.allowed_hosts):
            found: Answer | None = Answer(403, message_html("Refused", "Unknown Host."))
        else:
            try:
                found = answer()
            except Exception as exc:  # a damaged or locked state file: say so, no details
                found = _unreadable(page, exc)
        if found is None:
            found = Answer(404, message_html("Not found", "There is no such page."))
        self._reply(found.status, HTML, found.html.encode())

    def _reply(
        self, status: int, content_type: str, body: bytes, location: str | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if location:
            self.send_header("Location", location)
        self.end_headers()
        if not self.head_only:
            self.wfile.write(body)

    def end_headers(self) -> None:
        """Every answer, stdlib error pages included, carries the security headers."""
        for name, value in SECURITY_HEADERS:
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would drown the JSON log; stay quiet."""


def _unreadable(page: StatusPage, exc: BaseException) -> Answer:
    page.report_error(exc)
    text = "The state file cannot be read just now; see the daemon's log."
    return Answer(503, message_html("Status unavailable", text))


def _handler_for(state: HealthState, page: StatusPage | None) -> type[HealthHandler]:
    return type("Handler", (HealthHandler,), {"state": state, "page": page})


def serve_health(
    state: HealthState,
    host: str = "127.0.0.1",
    port: int = 8787,
    *,
    status_page: StatusPage | None = None,
    timeout: float = CONNECTION_TIMEOUT,
    workers: int = WORKERS,
    max_connections: int | None = None,
) -> HealthServer:
    """Start the health/metrics server (and the status page, when given) on a daemon thread
    and return at once; a client gets `timeout` seconds to send its request."""
    httpd = BoundedHTTPServer(
        (host, port),
        _handler_for(state, status_page),
        workers=workers,
        max_connections=max_connections,
        timeout=timeout,
        priority=is_probe,
    )
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.5}, name="health-http", daemon=True
    )
    thread.start()
    return HealthServer(httpd, thread)
