"""Issue 32, case 8: /healthz and /metrics answer from their own lane while the status page is
busy, HEAD is answered, and the image's HEALTHCHECK says why it fails.

The daemon runs as a child process over a state file of 10,514 documents (the issue's size)
with its status page on; a flood of page views is sent at once, and /healthz is asked
meanwhile. The Dockerfile's HEALTHCHECK gives a probe 5 s (`--timeout=5s`, 4 s of it to the
request), so a probe queued behind page views got the container restarted.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import time

import requests
from life_kit import REPO, life

DOCUMENTS = 10_514
VIEWS = 64
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


def test_healthz_is_never_queued_behind_page_views_and_head_is_answered(tmp_path):
    """Before: /healthz shared the 4-thread pool with the status page and waited for the views
    ahead of it (5.16 s with 12 views at 10,514 documents); HEAD /healthz answered 501. After:
    every probe answers within 1 s while the views queue, and HEAD gets the GET's headers."""
    with life(tmp_path) as w:
        w.connect()
        _fill(w.state_path, DOCUMENTS)
        # a long poll: /healthz is about the probe's wait here, not about how fresh the last
        # pass is (the views hold the state file's lock while they read)
        daemon = w.daemon(
            RECONCILER_STATUS_PAGE__ENABLED="true", RECONCILER_SYNC__POLL_INTERVAL="60s"
        )
        port = daemon.port
        daemon.wait_event("pass_finished")
        base = f"http://127.0.0.1:{port}"
        views: list[float] = []
        probes: list[float] = []

        def view() -> None:
            started = time.monotonic()
            try:
                answer = requests.get(f"{base}/status", timeout=60)
            except requests.ConnectionError:
                return  # dropped by the server's own 5 s bound under load: not what is tested
            if answer.status_code == 200:
                views.append(time.monotonic() - started)

        threads = [threading.Thread(target=view) for _ in range(VIEWS)]
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            started = time.monotonic()
            answer = requests.get(f"{base}/healthz", timeout=10)
            probes.append(time.monotonic() - started)
            assert answer.status_code == 200
            time.sleep(0.05)
        for thread in threads:
            thread.join()
        assert len(views) >= VIEWS // 2, len(views)  # the page answered
        assert statistics.median(views) > PROBE_BOUND_S, views  # and the views did queue
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
