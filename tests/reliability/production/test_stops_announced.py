"""Issue 32, cases 3 and 4: a stop is never silent, and a webhook cannot hold the alerts up.

The daemon runs as a child process; the webhook is a small HTTP receiver on 127.0.0.1; the
faults are the Luminous emulator answering 503 and the QBO connection revoked at Intuit.
"""

from __future__ import annotations

import time

import pytest
from life_kit import Webhook, life, wait_for

from reconciler.sandbox.luminous.server import LuminousFault


@pytest.mark.slow  # five aborted passes in real time; tests/unit/test_stop_alerts.py counts
def test_an_interrupted_sync_is_announced_once_with_its_fix_and_its_recovery(tmp_path):
    """Case 3, aborted passes. Before: passes aborted for as long as Luminous was down and no
    alert said so, nor that it came back. After: after `aborted_passes` in a row, one alert
    naming the cause and the fix; one more when a pass finishes again."""
    hook = Webhook()
    with life(tmp_path) as w:
        w.connect()
        w.po()
        w.env.update(RECONCILER_ALERTS__WEBHOOK_URL=hook.url, RECONCILER_ALERTS__ABORTED_PASSES="3")
        daemon = w.daemon()
        daemon.wait_event("pass_finished")
        w.lum.add_fault(LuminousFault(path_regex=".*", status=503, times=None))
        daemon.wait_event("pass_aborted", count=5)
        texts = hook.texts()
        stops = [t for t in texts if "syncing is interrupted" in t]
        assert len(stops) == 1, texts
        assert "Luminous answered 503" in stops[0] and "Fix:" in stops[0]
        assert "3 pass(es) in a row" in stops[0]
        w.lum.clear_faults()
        wait_for(lambda: any("syncing has resumed" in t for t in hook.texts()), timeout=20)
        assert daemon.proc.poll() is None
        assert "secret-hook" not in daemon.text()
    hook.stop()


def test_a_fatal_stop_is_announced_before_exit_and_the_recovery_after_the_restart(tmp_path):
    """Case 3, a fatal stop. Before: the daemon exited 2 (lost QBO authorization) and nothing
    was sent. After: the alert names the cause and `reconciler auth connect`, and reaches the
    webhook before the process exits; after the reconnect and the restart, the first pass that
    finishes says syncing resumed (the episode is kept in the state file)."""
    hook = Webhook()
    with life(tmp_path) as w:
        w.connect()
        po = w.po()
        w.env["RECONCILER_ALERTS__WEBHOOK_URL"] = hook.url
        daemon = w.daemon()
        daemon.wait_event("pass_finished")
        w.qbo.revoke_all_tokens()  # the user disconnected the app in QuickBooks
        w.edit(po["id"], private_note="edited after the disconnect")  # the next write meets it
        assert daemon.proc.wait(timeout=30) == 2
        stopped = [t for t in hook.texts() if "syncing has stopped" in t]
        assert len(stopped) == 1, hook.texts()
        assert "invalid_grant" in stopped[0] and "reconciler auth connect" in stopped[0]
        w.connect()
        again = w.daemon(name="daemon-again")
        again.wait_event("pass_finished")
        wait_for(lambda: any("syncing has resumed" in t for t in hook.texts()), timeout=20)
        assert sum("syncing has stopped" in t for t in hook.texts()) == 1
    hook.stop()


def test_a_trickling_webhook_costs_each_alert_at_most_give_up_after(tmp_path):
    """Case 4. Before: with a webhook answering a byte a second and give_up_after = 6 s, the
    first alert held the sender for a minute and the next pass's alert arrived ~57 s late.
    After: each message costs at most give_up_after in all, and passes go on meanwhile."""
    hook = Webhook(trickle=True)
    with life(tmp_path) as w:
        w.connect()
        w.env.update(
            RECONCILER_ALERTS__WEBHOOK_URL=hook.url,
            RECONCILER_ALERTS__GIVE_UP_AFTER="6s",
            RECONCILER_ALERTS__TIMEOUT="5s",
        )
        w.po(order_numbers=["PO-1"], items=[])  # no lines: fails, and is alerted
        daemon = w.daemon()
        wait_for(lambda: len(hook.received) >= 1, timeout=30)
        first_at = hook.received[0][0]
        w.po(supplier="Second Supplier", order_numbers=["PO-2"], items=[])
        created = time.monotonic()
        wait_for(lambda: any("PO-2" in t for t in hook.texts()), timeout=30)
        second_at = next(at for at, m in hook.received if "PO-2" in m.get("text", ""))
        assert second_at - first_at < 6 + 3, second_at - first_at  # the first gave up in time
        assert second_at - created < 6 + 3
        finished = [e for e in daemon.events("pass_finished")]
        assert len(finished) >= 5  # passes every second all along: none waited for the hook
        failed = daemon.events("alert_failed")
        assert failed and "PostTimeout" in failed[0]["outcome"]
    hook.stop()
