"""Health goes red and green as passes succeed or stop; /metrics is Prometheus text."""

import errno
import json
import select
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.sync.engine import PassReport
from reconciler.web.health import HealthState, serve_health
from reconciler.web.server import BoundedHTTPServer, BufferedRequestHandler, Request

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def Report(**fields) -> PassReport:
    """The engine's own PassReport, with defaults for the fields a test does not care about."""
    defaults = {"run_id": "r1", "started_at": T0, "finished_at": T0 + timedelta(seconds=4)}
    return PassReport(**{**defaults, **fields})


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def report_at(finished: datetime, **kw) -> Report:
    return Report(started_at=finished - timedelta(seconds=4), finished_at=finished, **kw)


@pytest.fixture
def clock():
    return Clock(T0)


@pytest.fixture
def state(clock):
    return HealthState(MINUTE, clock=clock)


@pytest.fixture
def server(state):
    srv = serve_health(state, port=0)
    yield srv
    srv.shutdown()


def get(server, path: str) -> tuple[int, bytes, str]:
    url = f"http://127.0.0.1:{server.port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers["Content-Type"]


def metric_samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_green_during_start_up_grace(state):
    """Before the first pass the daemon is healthy for three intervals."""
    healthy, reason = state.is_healthy(T0 + 3 * MINUTE)
    assert healthy
    assert "starting" in reason


def test_red_when_no_pass_after_grace(state):
    """No successful pass three intervals after start is unhealthy."""
    healthy, reason = state.is_healthy(T0 + 3 * MINUTE + timedelta(seconds=1))
    assert not healthy
    assert "no successful pass" in reason


def test_green_after_good_pass_then_red_after_three_intervals(state):
    """A good pass makes it green; three intervals without another make it red again."""
    done = T0 + 5 * MINUTE
    state.record_pass(report_at(done))
    assert state.is_healthy(done + 3 * MINUTE)[0]
    healthy, reason = state.is_healthy(done + 3 * MINUTE + timedelta(seconds=1))
    assert not healthy
    assert "last successful pass 181s ago" in reason


def test_failed_pos_do_not_make_the_pass_unsuccessful(state):
    """A pass whose POs failed one by one still counts as a successful pass."""
    state.record_pass(report_at(T0 + 5 * MINUTE, counts=Counter(failed=4, synced=1)))
    assert state.is_healthy(T0 + 6 * MINUTE)[0]


def test_fatal_pass_is_not_a_success(state):
    """A pass stopped by a Fatal does not refresh the last success."""
    state.record_pass(report_at(T0 + MINUTE))
    state.record_pass(report_at(T0 + 4 * MINUTE, fatal="configuration has 1 problem(s)"))
    assert state.last_success_at == T0 + MINUTE
    assert not state.is_healthy(T0 + 4 * MINUTE + timedelta(seconds=1))[0]


def test_red_when_authorization_lost(state):
    """Lost authorization is unhealthy however recent the last pass."""
    state.record_pass(report_at(T0))
    state.set_authorized(False)
    healthy, reason = state.is_healthy(T0 + timedelta(seconds=1))
    assert not healthy
    assert "reconciler auth connect" in reason
    state.set_authorized(True)
    assert state.is_healthy(T0 + timedelta(seconds=1))[0]


def test_healthz_goes_red_and_green_over_http(server, state, clock):
    """/healthz answers 200 while healthy and 503 with the reason when not."""
    clock.now = T0 + 4 * MINUTE
    status, body, content_type = get(server, "/healthz")
    assert status == 503
    assert content_type == "application/json"
    assert json.loads(body)["healthy"] is False
    state.record_pass(report_at(clock.now))
    status, body, _ = get(server, "/healthz")
    assert status == 200
    doc = json.loads(body)
    assert doc["healthy"] is True
    assert doc["last_outcome"] == "ok"
    clock.now += 3 * MINUTE + timedelta(seconds=1)
    assert get(server, "/healthz")[0] == 503
    state.record_pass(report_at(clock.now))
    state.set_authorized(False)
    assert get(server, "/healthz")[0] == 503


def test_unknown_path_is_404(server):
    """Only /healthz and /metrics exist."""
    assert get(server, "/admin")[0] == 404


def test_metrics_parse_and_count(server, state):
    """/metrics parses as Prometheus text and carries the pass, PO and QBO counters."""
    state.record_pass(
        report_at(
            T0 + MINUTE,
            counts=Counter(synced=5, failed=2, retrying=1, created=4, updated=1, unchanged=3),
        )
    )
    state.record_pass(report_at(T0 + 2 * MINUTE, fatal="boom"))
    state.record_error()
    for status in (200, 200, 429, None):
        state.on_qbo_request({"method": "GET", "status": status})
    state.on_qbo_request({"method": "POST", "entity": "query", "status": 200})  # a long query
    state.on_qbo_request({"method": "POST", "entity": "batch", "status": 200})
    status, body, content_type = get(server, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    samples = metric_samples(body.decode())
    assert samples[("reconciler_passes_total", (("outcome", "failures"),))] == 1
    assert samples[("reconciler_passes_total", (("outcome", "fatal"),))] == 1
    assert samples[("reconciler_passes_total", (("outcome", "error"),))] == 1
    assert samples[("reconciler_passes_total", (("outcome", "ok"),))] == 0
    assert samples[("reconciler_pos_total", (("status", "synced"),))] == 5
    assert samples[("reconciler_pos_total", (("status", "failed"),))] == 2
    assert samples[("reconciler_pos_total", (("status", "retrying"),))] == 1
    assert samples[("reconciler_po_actions_total", (("action", "created"),))] == 4
    assert samples[("reconciler_po_actions_total", (("action", "unchanged"),))] == 3
    # {status} as the docs say (issue 32); read/write as Intuit meters them, apart
    assert samples[("reconciler_qbo_requests_total", (("status", "200"),))] == 4
    assert samples[("reconciler_qbo_requests_total", (("status", "429"),))] == 1
    assert samples[("reconciler_qbo_requests_total", (("status", "error"),))] == 1
    assert samples[("reconciler_qbo_metered_requests_total", (("kind", "read"),))] == 5
    assert samples[("reconciler_qbo_metered_requests_total", (("kind", "write"),))] == 1
    assert samples[("reconciler_qbo_throttled_total", ())] == 1
    assert samples[("reconciler_last_success_timestamp_seconds", ())] == ((T0 + MINUTE).timestamp())
    assert samples[("reconciler_pass_duration_seconds_count", ())] == 2
    assert samples[("reconciler_authorized", ())] == 1


def test_each_state_has_its_own_registry():
    """Two states in one process do not share counters (no global registry)."""
    a, b = HealthState(MINUTE), HealthState(MINUTE)
    a.record_pass(report_at(T0))
    assert b'reconciler_passes_total{outcome="ok"} 0.0' in b.metrics_text()
    assert b'reconciler_passes_total{outcome="ok"} 1.0' in a.metrics_text()


def test_server_binds_loopback_by_default(state):
    """The endpoints have no authentication, so the default bind is 127.0.0.1."""
    srv = serve_health(state, port=0)
    try:
        assert srv.host == "127.0.0.1"
    finally:
        srv.shutdown()


def test_action_labels_are_the_engines_count_keys():
    """The metric's action labels are exactly the keys a pass report counts actions under."""
    from reconciler.sync.report import PAST_TENSE
    from reconciler.web.health import PO_ACTIONS

    assert set(PO_ACTIONS) == set(PAST_TENSE.values())


def test_aborted_pass_is_not_a_success():
    """A pass stopped by a transient outage does not keep /healthz green."""
    clock = Clock(T0)
    state = HealthState(timedelta(minutes=1), clock=clock, started_at=T0)
    state.record_pass(Report(aborted="Luminous unavailable"))
    clock.now = T0 + timedelta(minutes=10)
    healthy, _ = state.is_healthy(clock.now)
    assert healthy is False


# --- the server: timeouts, a bounded pool, no spin on EMFILE ------------------------------


def _connect(server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed `sock` (reading EOF), None if it did not in time."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        data = sock.recv(1024)
    except TimeoutError:
        return None
    except ConnectionResetError:
        data = b""
    return time.monotonic() - started if data == b"" else None


def test_idle_connection_is_dropped_after_the_timeout(state):
    """A client that connects and says nothing is closed once its time is up."""
    srv = serve_health(state, port=0, timeout=0.5)
    try:
        with _connect(srv) as idle:
            waited = _closed_within(idle, 5)
        assert waited is not None and 0.3 < waited < 4
    finally:
        srv.shutdown()


def test_slow_client_is_dropped_even_while_it_sends(state):
    """The timeout is for the whole request: a byte now and then does not extend it."""
    srv = serve_health(state, port=0, timeout=0.6)
    try:
        with _connect(srv) as slow:
            slow.sendall(b"GET /healthz HTTP/1.0\r\n")
            started, closed = time.monotonic(), False
            for _ in range(50):  # at most 5 s
                readable, _, _ = select.select([slow], [], [], 0.1)
                if readable:
                    closed = slow.recv(1024) == b""
                    break
                try:
                    slow.sendall(b"X-Drip: 1\r\n")
                except OSError:
                    closed = True
                    break
            assert closed
            assert time.monotonic() - started < 4
    finally:
        srv.shutdown()


def test_idle_sockets_take_no_thread_and_do_not_block_healthz(state):
    """100 silent sockets against 16 slots: no new thread, and /healthz answers at once (the
    oldest silent ones are dropped to make room)."""
    srv = serve_health(state, port=0, timeout=30, max_connections=16)
    assert get(srv, "/healthz")[0] == 200  # the loop and its workers are up
    threads = threading.active_count()
    idle = []
    try:
        for _ in range(100):
            idle.append(_connect(srv))
        assert threading.active_count() == threads
        started = time.monotonic()
        assert get(srv, "/healthz")[0] == 200
        assert time.monotonic() - started < 1
    finally:
        for sock in idle:
            sock.close()
        srv.shutdown()


def test_a_request_is_complete_with_its_whole_body():
    """The loop hands a request on only when its head and its Content-Length are in."""
    request = Request(sock=None, address=None, deadline=0.0)
    request.data += b"POST /status/retry HTTP/1.0\r\nContent-Length: 5\r\n\r\nab"
    assert not request.complete()
    request.data += b"cde"
    assert request.complete() and not request.oversized
    bare = Request(sock=None, address=None, deadline=0.0, data=bytearray(b"GET / HTTP/1.0\n\n"))
    assert bare.complete()


def test_request_in_pieces_with_bare_newlines(server):
    """What netcat sends: LF-only lines, in two packets."""
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.0\n")
        time.sleep(0.05)
        sock.sendall(b"\n")
        assert sock.recv(65536).startswith(b"HTTP/1.0 200")


def test_oversized_request_is_refused(server):
    """A body over the limit is answered 413 without being read."""
    with _connect(server) as sock:
        sock.sendall(b"POST /status/retry HTTP/1.0\r\nContent-Length: 99999999\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.0 413")


def test_every_answer_carries_the_security_headers(server):
    """No caching, no sniffing, no framing, nothing loaded: on /healthz as on a 404."""
    for path in ("/healthz", "/nowhere"):
        try:
            response = urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=5)
        except urllib.error.HTTPError as exc:
            response = exc
        headers = response.headers
        assert headers["Cache-Control"] == "no-store"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert "Python" not in headers["Server"]


def test_status_routes_do_not_exist_without_a_page(server):
    """The status page is served only when the service hands one over."""
    assert get(server, "/status")[0] == 404
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/status/retry", data=b"x=1", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 404


class OutOfDescriptors:
    """A listening socket whose accept() fails with EMFILE, as at the descriptor limit."""

    def __init__(self, real: socket.socket) -> None:
        self.real = real
        self.calls = 0

    def fileno(self) -> int:
        return self.real.fileno()

    def accept(self):
        self.calls += 1
        raise OSError(errno.EMFILE, "Too many open files")

    def close(self) -> None:
        self.real.close()


def test_accept_backs_off_when_out_of_descriptors():
    """With a connection waiting and accept() failing with EMFILE, the loop tries about ten
    times a second instead of spinning."""
    httpd = BoundedHTTPServer(("127.0.0.1", 0), BufferedRequestHandler, workers=1)
    listener = OutOfDescriptors(httpd.socket)
    httpd.socket = listener
    loop = threading.Thread(target=httpd.serve_forever, daemon=True)
    loop.start()
    try:
        with socket.create_connection(httpd.server_address[:2], timeout=5):
            time.sleep(1.0)
            calls = listener.calls
        assert 2 <= calls <= 20, calls
        assert httpd.accept_pauses == calls
    finally:
        httpd.shutdown()
        httpd.server_close()
        loop.join(timeout=5)
