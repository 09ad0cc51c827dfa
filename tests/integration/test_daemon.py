"""The daemon: signals stop it between POs, Fatal stops it with 2, crashes do not."""

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog

from reconciler import errors, logs
from reconciler.app.daemon import Daemon, job_options
from reconciler.app.notify import Notifier
from reconciler.sync.engine import PassReport
from reconciler.web.health import HealthState

CHILD = Path(__file__).with_name("daemon_child.py")
REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def Report(**fields) -> PassReport:
    """The engine's own PassReport, with defaults for the fields a test does not care about."""
    defaults = {"run_id": "r", "started_at": T0, "finished_at": T0}
    return PassReport(**{**defaults, **fields})


class RecordingLog:
    """A logger that keeps events and can wake a test when one arrives."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict]] = []
        self.arrived = threading.Condition()

    def _add(self, level: str, event: str, **kw) -> None:
        with self.arrived:
            self.events.append((level, event, kw))
            self.arrived.notify_all()

    def info(self, event: str, **kw) -> None:
        self._add("info", event, **kw)

    def warning(self, event: str, **kw) -> None:
        self._add("warning", event, **kw)

    def error(self, event: str, **kw) -> None:
        self._add("error", event, **kw)

    def named(self, event: str) -> list[dict]:
        return [kw for _, e, kw in self.events if e == event]

    def wait_for(self, event: str, timeout: float = 10) -> dict:
        with self.arrived:
            assert self.arrived.wait_for(lambda: self.named(event), timeout=timeout), event
            return self.named(event)[0]


def json_log() -> tuple[object, io.StringIO]:
    buffer = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(file=buffer), processors=logs.processors(json_output=True)
    )
    return logger, buffer


def make_daemon(one_pass, log, **kw) -> Daemon:
    kw.setdefault("poll_interval", timedelta(hours=1))
    kw.setdefault("notifier", Notifier(None))
    kw.setdefault("health", HealthState(kw["poll_interval"]))
    return Daemon(one_pass, log=log, **kw)


def run_in_thread(daemon: Daemon) -> tuple[threading.Thread, list[int]]:
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(daemon.run()), daemon=True)
    thread.start()
    return thread, result


# --- subprocess: real signals -----------------------------------------------------------


def start_child(tmp_path: Path, step_s: float, steps: int, stop_timeout: float):
    progress = tmp_path / "progress.txt"
    progress.touch()
    stderr = (tmp_path / "child.log").open("w")
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(progress), str(step_s), str(steps), str(stop_timeout)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    return proc, progress, stderr


def wait_for_line(proc, progress: Path, line: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if line in progress.read_text().splitlines():
            return
        assert proc.poll() is None, "child exited early"
        time.sleep(0.02)
    raise AssertionError(f"{line!r} did not appear")


def child_events(tmp_path: Path) -> list[dict]:
    lines = (tmp_path / "child.log").read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_mid_pass_stops_between_pos_and_exits_0(tmp_path, signum):
    """SIGTERM/SIGINT mid-pass: the PO in hand finishes, no other starts, exit 0 within 10 s."""
    proc, progress, stderr = start_child(tmp_path, step_s=0.2, steps=20, stop_timeout=8)
    try:
        wait_for_line(proc, progress, "end 2")
        proc.send_signal(signum)
        sent = time.monotonic()
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - sent < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stderr.close()
    lines = progress.read_text().splitlines()
    starts = [line for line in lines if line.startswith("start")]
    ends = [line for line in lines if line.startswith("end")]
    assert [s.split()[1] for s in starts] == [e.split()[1] for e in ends]  # none cut mid-step
    assert 3 <= len(ends) < 20
    assert lines[-1] == f"returned stopped=True done={len(ends)}"
    events = child_events(tmp_path)
    stop = next(e for e in events if e["event"] == "stop_requested")
    assert stop["signal"] == signal.Signals(signum).name
    stopped = next(e for e in events if e["event"] == "daemon_stopped")
    assert stopped["exit_code"] == 0
    assert not any(e["event"] == "pass_abandoned" for e in events)


def test_pass_that_ignores_the_stop_is_abandoned_in_time(tmp_path):
    """A pass stuck in one long step is abandoned after stop_timeout; exit is still 0."""
    proc, progress, stderr = start_child(tmp_path, step_s=60, steps=1, stop_timeout=0.5)
    try:
        wait_for_line(proc, progress, "start 0")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stderr.close()
    assert "end 0" not in progress.read_text()
    assert any(e["event"] == "pass_abandoned" for e in child_events(tmp_path))


# --- in process -------------------------------------------------------------------------


def test_job_options_are_explicit():
    """One pass at a time, missed runs collapse, a run late by more than an interval drops."""
    opts = job_options(timedelta(seconds=60))
    assert opts["max_instances"] == 1
    assert opts["coalesce"] is True
    assert opts["misfire_grace_time"] == 60
    assert job_options(timedelta(milliseconds=50))["misfire_grace_time"] == 1


def test_fatal_from_a_pass_exits_2_with_the_fix():
    """AuthorizationLost raised by a pass stops the daemon with 2 and says what to run."""
    log = RecordingLog()
    health = HealthState(timedelta(hours=1))

    def one_pass(stop_requested):
        raise errors.AuthorizationLost("refresh token revoked")

    daemon = make_daemon(one_pass, log, health=health)
    thread, result = run_in_thread(daemon)
    thread.join(timeout=10)
    assert result == [2]
    fatal = log.named("daemon_fatal")[0]
    assert "reconciler auth connect" in fatal["fix"]
    assert fatal["error"] == "AuthorizationLost"
    assert not health.is_healthy(datetime.now(UTC))[0]


def test_fatal_in_the_report_exits_2():
    """A report carrying `fatal` (the engine catches Fatal) stops the daemon the same way."""
    log = RecordingLog()
    daemon = make_daemon(lambda stop: Report(fatal="configuration has 1 problem(s)"), log)
    thread, result = run_in_thread(daemon)
    thread.join(timeout=10)
    assert result == [2]
    assert log.named("daemon_fatal")[0]["reason"] == "configuration has 1 problem(s)"


def test_failed_ready_checks_exit_2_before_ready(tmp_path):
    """A ConfigError in the start-up checks exits 2 without READY=1 and without a pass."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "n.sock"))
    sock.setblocking(False)
    log = RecordingLog()
    calls = []

    def checks():
        raise errors.ConfigError(["qbo.realm_id is missing"])

    daemon = make_daemon(
        calls.append, log, notifier=Notifier(str(tmp_path / "n.sock")), ready_checks=checks
    )
    assert daemon.run() == 2
    assert calls == []
    line = log.named("daemon_not_ready")[0]
    assert "qbo.realm_id is missing" in line["reason"]
    assert "configuration" in line["fix"]
    with pytest.raises(BlockingIOError):
        sock.recv(4096)  # nothing was sent
    sock.close()


def test_crashing_pass_is_logged_and_the_next_runs():
    """An unexpected exception is logged with its traceback and the next pass still runs."""
    logger, buffer = json_log()
    calls: list[int] = []
    second = threading.Event()

    def one_pass(stop_requested):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        second.set()
        return Report()

    daemon = make_daemon(one_pass, logger, poll_interval=timedelta(milliseconds=100))
    thread, result = run_in_thread(daemon)
    assert second.wait(timeout=10)
    daemon.request_stop("test")
    thread.join(timeout=10)
    assert result == [0]
    events = [json.loads(line) for line in buffer.getvalue().splitlines()]
    crash = next(e for e in events if e["event"] == "pass_crashed")
    assert "Traceback" in crash["exception"]
    assert "RuntimeError: boom" in crash["exception"]


def test_passes_never_overlap():
    """Passes longer than the interval run one at a time (max_instances=1): each pass lasts
    until the scheduler has tried to start another beside it and skipped it."""
    running = 0
    most = 0
    lock = threading.Lock()
    done = threading.Event()
    count = 0
    log = RecordingLog()

    def one_pass(stop_requested):
        nonlocal running, most, count
        with lock:
            running += 1
            most = max(most, running)
        skipped = len(log.named("pass_skipped"))

        def another_was_skipped() -> bool:
            return len(log.named("pass_skipped")) > skipped

        with log.arrived:  # the pass's own work: longer than the 50 ms interval
            assert log.arrived.wait_for(another_was_skipped, timeout=10)
        with lock:
            running -= 1
            count += 1
            if count == 3:
                done.set()
        return Report()

    daemon = make_daemon(one_pass, log, poll_interval=timedelta(milliseconds=50))
    thread, result = run_in_thread(daemon)
    assert done.wait(timeout=10)
    daemon.request_stop("test")
    thread.join(timeout=10)
    assert result == [0]
    assert most == 1
    assert len(log.named("pass_skipped")) >= 3  # it tried, three times, and skipped


def test_watchdog_is_withheld_while_a_pass_stalls(tmp_path):
    """No progress for stall_timeout stops WATCHDOG=1; progress brings it back."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "w.sock"))
    sock.settimeout(5)
    now = [1000.0]
    in_pass = threading.Event()
    release = threading.Event()

    def one_pass(stop_requested):
        stop_requested()
        in_pass.set()
        release.wait(timeout=10)
        return Report()

    log = RecordingLog()
    daemon = make_daemon(
        one_pass,
        log,
        notifier=Notifier(str(tmp_path / "w.sock"), watchdog_usec="100000"),
        stall_timeout=timedelta(seconds=30),
        monotonic=lambda: now[0],
    )
    thread, result = run_in_thread(daemon)
    try:
        assert in_pass.wait(timeout=10)
        assert daemon.is_alive()
        now[0] += 31
        assert not daemon.is_alive()
        log.wait_for("pass_stalled")
        daemon.stop_requested()  # progress: a PO boundary
        assert daemon.is_alive()
        for _ in range(100):
            if b"WATCHDOG=1" in sock.recv(4096):
                break
        else:
            raise AssertionError("watchdog did not resume")
    finally:
        release.set()
        daemon.request_stop("test")
        thread.join(timeout=10)
        sock.close()
    assert result == [0]
