"""sd_notify: addresses, messages on a real datagram socket, and the daemon's conversation."""

import os
import socket
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import structlog

from reconciler.app.daemon import Daemon
from reconciler.app.notify import Notifier, one_line, socket_address
from reconciler.web.health import HealthState

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@dataclass
class Report:
    """The PassReport fields the daemon reads (engine.PassReport has the same)."""

    run_id: str = "r1"
    started_at: datetime = T0
    finished_at: datetime | None = T0 + timedelta(seconds=2)
    counts: Counter = field(default_factory=lambda: Counter(synced=3, failed=1, update=3))
    qbo_requests: int = 7
    qbo_writes: int = 3
    throttled: int = 1
    fatal: str | None = None

    @property
    def failed(self) -> int:
        return self.counts["failed"] + self.counts["retrying"]


@pytest.fixture
def listener(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "n.sock"
    sock.bind(str(path))
    sock.settimeout(5)
    yield str(path), sock
    sock.close()


def receive(sock: socket.socket) -> dict[str, str]:
    data = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.split("\n"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/run/systemd/notify", "/run/systemd/notify"),
        ("@sd-notify-123", b"\0sd-notify-123"),
        ("", None),
        (None, None),
        ("relative/path", None),
        ("vsock:2:1234", None),
    ],
)
def test_socket_address_forms(value, expected):
    """Absolute paths pass through, `@` means the abstract namespace, anything else is unusable."""
    assert socket_address(value) == expected


def test_unset_socket_is_a_no_op():
    """Without NOTIFY_SOCKET nothing is sent and nothing fails."""
    notifier = Notifier.from_env({})
    assert not notifier.enabled
    assert notifier.ready("x") is False
    assert notifier.watchdog_interval() is None


def test_ready_and_status_arrive_in_one_datagram(listener):
    """READY=1 and a one-line STATUS= arrive together as newline-separated assignments."""
    path, sock = listener
    notifier = Notifier.from_env({"NOTIFY_SOCKET": path})
    assert notifier.ready("ready\nnow")
    assert receive(sock) == {"READY": "1", "STATUS": "ready now"}


def test_abstract_namespace_socket():
    """An `@name` socket in the abstract namespace receives the message."""
    name = f"reconciler-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(5)
    try:
        assert Notifier(f"@{name}").watchdog()
        assert receive(sock) == {"WATCHDOG": "1"}
    finally:
        sock.close()


def test_missing_socket_reports_false_without_raising(tmp_path):
    """A socket path that is gone makes send() return False; the service keeps running."""
    assert Notifier(str(tmp_path / "gone.sock")).status("x") is False


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        ("30000000", None, timedelta(seconds=30)),
        ("30000000", "self", timedelta(seconds=30)),  # this process's pid, read in the test
        ("30000000", "1", None),
        ("0", None, None),
        ("junk", None, None),
        (None, None, None),
    ],
)
def test_watchdog_interval_from_environment(usec, pid, expected):
    """WATCHDOG_USEC sets the interval unless WATCHDOG_PID names another process."""
    env = {"NOTIFY_SOCKET": "/run/x"}
    if usec is not None:
        env["WATCHDOG_USEC"] = usec
    if pid is not None:
        env["WATCHDOG_PID"] = str(os.getpid()) if pid == "self" else pid
    assert Notifier.from_env(env).watchdog_interval() == expected


def test_one_line_collapses_whitespace():
    """Newlines in a status would start new assignments; they become spaces."""
    assert one_line("a\nb\r\n  c") == "a b c"


def test_daemon_speaks_the_protocol(listener, monkeypatch):
    """The daemon sends READY=1, WATCHDOG=1, STATUS=<last pass> and STOPPING=1, in that spirit."""
    path, sock = listener
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # ping every 50 ms
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    notifier = Notifier.from_env()
    passes = threading.Event()

    def one_pass(stop_requested):
        passes.set()
        return Report()

    daemon = Daemon(
        one_pass,
        poll_interval=timedelta(hours=1),
        notifier=notifier,
        health=HealthState(timedelta(hours=1)),
        log=structlog.get_logger(),
    )
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(daemon.run()), daemon=True)
    thread.start()
    seen: dict[str, list[str]] = {}
    for _ in range(200):
        for key, value in receive(sock).items():
            seen.setdefault(key, []).append(value)
        if {"READY", "WATCHDOG"} <= seen.keys() and any(
            s.startswith("last pass") for s in seen.get("STATUS", [])
        ):
            break
    assert seen["READY"] == ["1"]
    assert "WATCHDOG" in seen
    status = next(s for s in seen["STATUS"] if s.startswith("last pass"))
    assert "3 synced, 1 failed" in status
    assert "7 QBO requests (1 throttled)" in status
    daemon.request_stop("test")
    thread.join(timeout=10)
    assert result == [0]
    stopping = {}
    for _ in range(200):
        stopping = receive(sock)
        if "STOPPING" in stopping:
            break
    assert stopping["STOPPING"] == "1"
    assert passes.is_set()
