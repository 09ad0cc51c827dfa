"""Health goes red and green as passes succeed or stop; /metrics is Prometheus text."""

import json
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.engine import PassReport
from reconciler.health import HealthState, serve_health

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
    assert samples[("reconciler_qbo_requests_total", (("status", "200"),))] == 2
    assert samples[("reconciler_qbo_requests_total", (("status", "429"),))] == 1
    assert samples[("reconciler_qbo_requests_total", (("status", "error"),))] == 1
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
    from reconciler.health import PO_ACTIONS
    from reconciler.report import PAST_TENSE

    assert set(PO_ACTIONS) == set(PAST_TENSE.values())


def test_aborted_pass_is_not_a_success():
    """A pass stopped by a transient outage does not keep /healthz green."""
    clock = Clock(T0)
    state = HealthState(timedelta(minutes=1), clock=clock, started_at=T0)
    state.record_pass(Report(aborted="Luminous unavailable"))
    clock.now = T0 + timedelta(minutes=10)
    healthy, _ = state.is_healthy(clock.now)
    assert healthy is False
