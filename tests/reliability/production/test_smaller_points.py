"""Issue 32, case 11: the smaller points, each as it was seen (commands as child processes).

The log bridge (urllib3, intuit-oauth, APScheduler through structlog) is in
tests/unit/test_logs.py; a full disk under the state file is the "shared" layout of
test_connection_life.py's case 2 and of the refresh matrix (one line, naming the path).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import requests
from life_kit import REPO, life


def _metric(text: str, name: str, **labels: str) -> float | None:
    shown = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}{re.escape('{' + shown + '}') if shown else ''} (\S+)$"
    match = re.search(pattern, text, re.M)
    return float(match.group(1)) if match else None


def test_metrics_after_a_restart_say_what_the_ledger_holds(tmp_path):
    """Before: after a restart `reconciler_pos_total{status="failed"} 0` while `status
    --failed` listed a failed PO; `reconciler_qbo_requests_total` was absent until the first
    request and labelled {kind,status} where the docs say {status}. After: the ledger's
    documents by status (`reconciler_documents`) from the start; requests by {status}, there
    from the start; read/write as Intuit meters them in their own counter."""
    with life(tmp_path) as w:
        w.connect()
        w.po(order_numbers=["PO-1"])
        w.po(supplier="Broken", order_numbers=["PO-2"], items=[])  # fails: no lines
        assert w.cli("run", "--once").returncode == 1
        assert "PO-2" in w.cli("status", "--failed").stdout
        daemon = w.daemon(RECONCILER_SYNC__POLL_INTERVAL="1h")
        port = daemon.port
        daemon.wait_event("daemon_ready")
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert _metric(text, "reconciler_documents", status="failed") == 1
        assert _metric(text, "reconciler_documents", status="synced") == 1
        assert _metric(text, "reconciler_qbo_requests_total", status="200") is not None
        assert "reconciler_qbo_requests_total{kind=" not in text
        assert _metric(text, "reconciler_qbo_metered_requests_total", kind="read") is not None


def test_batch_requests_count_every_batch_sent(tmp_path):
    """Before: the pass summary's batch_requests left out the reference batches (2 counted
    where 3 /batch were sent). After: every /batch the pass sent."""
    with life(tmp_path) as w:
        w.connect()
        for n in range(4):
            w.po(supplier=f"Supplier {n}", order_numbers=[f"PO-{n}"])
        proc = w.cli("run", "--once")
        assert proc.returncode == 0
        finished = [
            json.loads(line) for line in proc.stdout.splitlines() if "pass_finished" in line
        ]
        sent = w.qbo.count(method="POST", path_contains="/batch")
        assert sent >= 2
        assert finished[-1]["counts"]["batch_requests"] == sent


def test_an_impossible_duration_is_a_configuration_error(tmp_path):
    """Before: RECONCILER_SYNC__POLL_INTERVAL=99999999999999d gave an OverflowError traceback
    and exit 1 (which systemd restarts on). After: exit 2 naming the setting, no traceback."""
    with life(tmp_path) as w:
        proc = w.cli("run", "--once", RECONCILER_SYNC__POLL_INTERVAL="99999999999999d")
        assert proc.returncode == 2
        assert "RECONCILER_SYNC__POLL_INTERVAL" in proc.stderr and "at most" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_auth_connect_paste_with_nothing_pasted_says_so(tmp_path):
    """Before: standard input closed gave an EOFError traceback, and an empty paste said "the
    redirect's state does not match". After: one line each, saying what to paste."""
    with life(tmp_path) as w:
        closed = subprocess.run(
            [sys.executable, "-m", "reconciler", "auth", "connect", "--paste"],
            env=w.env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        empty = subprocess.run(
            [sys.executable, "-m", "reconciler", "auth", "connect", "--paste"],
            env=w.env,
            cwd=REPO,
            input="\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert closed.returncode == 2 and "Traceback" not in closed.stderr
    assert "standard input" in closed.stderr and "paste the whole address" in closed.stderr
    assert empty.returncode == 2 and "nothing was pasted" in empty.stderr
    assert "state does not match" not in empty.stderr


def test_retry_of_a_synced_unchanged_po_says_there_is_nothing_to_retry(tmp_path):
    """Before: it said the PO "will be retried on the next pass", and the pass did nothing.
    After: it says the PO is synced and nothing is to retry; a failed one is still retried."""
    with life(tmp_path) as w:
        w.connect()
        w.po(order_numbers=["PO-1"])
        w.po(supplier="Broken", order_numbers=["PO-2"], items=[])
        w.cli("run", "--once")
        synced = w.cli("retry", "PO-1")
        assert synced.returncode == 0
        assert "is synced" in synced.stdout and "nothing to retry" in synced.stdout
        assert "will be retried" not in synced.stdout
        failed = w.cli("retry", "PO-2")
        assert "will be retried on the next pass" in failed.stdout


def test_a_po_deleted_and_made_again_under_its_number_is_synced(tmp_path):
    """With `on_delete = "delete"`: a Luminous PO deleted and created again under the same
    number. Before: the new one stayed failed with a stale 6140 naming the QBO PO the sync
    itself deleted. After: once the sync has deleted the old one, the new one is created."""
    with life(tmp_path) as w:
        w.env["RECONCILER_SYNC__ON_DELETE"] = "delete"
        w.connect()
        old = w.po(order_numbers=["PO-77"])
        assert w.cli("run", "--once").returncode == 0
        (first,) = w.qbo.objects("PurchaseOrder")
        w.lum.delete_po(old["id"])
        w.po(supplier="Nutricost", order_numbers=["PO-77"])
        w.cli("run", "--once", "--full")  # the new one meets the old one; the sweep deletes it
        for _ in range(3):
            if w.cli("run", "--once").returncode == 0:
                break
        live = [p for p in w.qbo.objects("PurchaseOrder", include_inactive=False)]
        numbers = [p["DocNumber"] for p in w.qbo.objects("PurchaseOrder")]
        assert numbers == ["PO-77"], numbers
        assert live and live[0]["Id"] != first["Id"]
        status = json.loads(w.cli("status", "--json").stdout)
        mine = [r for r in status if r["number"] == "PO-77"]
        assert sorted(r["status"] for r in mine) == ["synced", "synced"], mine
