"""Issue 32, case 8: /healthz and /metrics answer from their own lane while the status page is
busy, HEAD is answered, and the image's HEALTHCHECK says why it fails.

The daemon runs as a child process over a state file of 60,000 documents with its status
page on; slow readers of its CSV export (larger than the kernel's buffers) hold the page's
workers, and /healthz is asked meanwhile. (The issue saw it with 12 views at 10,514 documents;
issue 33's SQL queries made the views themselves fast, but a slow client holds a worker all
the same.) The Dockerfile's HEALTHCHECK gives a probe 5 s (`--timeout=5s`, 4 s of it to the
request), so a probe queued behind page views got the container restarted.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import requests
from life_kit import REPO, life, wait_for

from reconciler.web.health import WORKERS  # the status page's

DOCUMENTS = 60_000  # an export larger than the kernel buffers a slow reader leaves
SLOW = 6  # more than its workers
HOLD_S = 6.0
PROBE_BOUND_S = 1.0


def _fill(path, n: int) -> None:
    from reconciler.documents.outcomes import Record
    from reconciler.model import LedgerEntry, Outcome, SyncStatus
    from reconciler.state import StateStore

    store = StateStore.open(path)
    try:
        batch = []
        for i in range(1, n + 1):
            status = SyncStatus.FAILED if i % 50 == 0 else SyncStatus.SYNCED
            entry = LedgerEntry(
                doc_id=i, status=status, number=f"PO-{i:05d}", qbo_id=str(i), vendor=f"V{i % 97}"
            )
            batch.append(Record(entry, Outcome(i, status, "create")))
            if len(batch) == 500:
                store.ledger.record(batch, run_id="fill")
                batch = []
        store.ledger.record(batch, run_id="fill")
    finally:
        store.close()


def _slow_download(port: int, hold_s: float, serving: threading.Event) -> None:
    """The status page's CSV export, read a little at a time (a slow link, a stalled
    browser): the server's worker stays on it while it lasts; `serving` is set once the
    export's first bytes arrived (a worker is on it)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window, set first
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET /status/export.csv HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    ends = time.monotonic() + hold_s
    with sock:
        while time.monotonic() < ends and sock.recv(512):
            serving.set()
            time.sleep(0.25)  # the slow reader is the fault under test


def test_healthz_is_never_queued_behind_page_views_and_head_is_answered(tmp_path):
    """Before: /healthz shared the 4-thread pool with the status page and waited for whatever
    held it (5.16 s with 12 views at 10,514 documents; here, a few slow CSV exports hold
    every worker); HEAD /healthz answered 501. After: every probe answers within 1 s while the
    page's workers are held, and HEAD gets the GET's headers."""
    with life(tmp_path) as w:
        w.connect()
        _fill(w.state_path, DOCUMENTS)
        # a long poll: /healthz is about the probe's wait here, not about how fresh the last
        # pass is
        daemon = w.daemon(
            RECONCILER_STATUS_PAGE__ENABLED="true", RECONCILER_SYNC__POLL_INTERVAL="60s"
        )
        port = daemon.port
        daemon.wait_event("pass_finished")
        base = f"http://127.0.0.1:{port}"
        serving = [threading.Event() for _ in range(SLOW)]
        held = [
            threading.Thread(target=_slow_download, args=(port, HOLD_S, event)) for event in serving
        ]
        for thread in held:
            thread.start()
        wait_for(lambda: sum(e.is_set() for e in serving) >= WORKERS)  # each worker on one
        queued: list[float] = []

        def view() -> None:  # a page view now waits for a worker
            started = time.monotonic()
            assert requests.get(f"{base}/status", timeout=30).status_code == 200
            queued.append(time.monotonic() - started)

        viewer = threading.Thread(target=view)
        viewer.start()
        probes: list[float] = []
        while viewer.is_alive() or not probes:  # probes while the view is still queued
            started = time.monotonic()
            answer = requests.get(f"{base}/healthz", timeout=10)
            probes.append(time.monotonic() - started)
            assert answer.status_code == 200
            time.sleep(0.1)
        viewer.join()
        for thread in held:
            thread.join()
        assert queued and queued[0] > PROBE_BOUND_S, queued  # the page's workers were held
        assert max(probes) < PROBE_BOUND_S, (max(probes), len(probes))
        for path in ("/healthz", "/metrics"):
            head = requests.head(f"{base}{path}", timeout=5)
            assert head.status_code == 200 and head.content == b""
            assert int(head.headers["Content-Length"]) > 0
        assert "reconciler_passes_total" in requests.get(f"{base}/metrics", timeout=5).text


def test_the_healthcheck_prints_the_daemons_reason(tmp_path):
    """The image's HEALTHCHECK command, run against the daemon: the reason, not a traceback;
    and with nothing listening, what it could not reach."""
    with life(tmp_path) as w:
        w.connect()
        daemon = w.daemon()
        port = daemon.port
        daemon.wait_event("pass_finished")
        env = {**w.env, "RECONCILER_DAEMON__HEALTH_PORT": str(port)}
        probe = [sys.executable, "-m", "reconciler.web.probe"]
        ok = subprocess.run(probe, env=env, cwd=REPO, capture_output=True, text=True, timeout=30)
        assert ok.returncode == 0 and ok.stdout.startswith("healthy: last successful pass")
        daemon.stop()
        gone = subprocess.run(probe, env=env, cwd=REPO, capture_output=True, text=True, timeout=30)
        assert gone.returncode == 1 and "no answer from" in gone.stdout
        assert "Traceback" not in gone.stdout + gone.stderr
