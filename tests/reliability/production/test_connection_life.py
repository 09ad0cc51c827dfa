"""Issue 32, cases 1 and 2: the QuickBooks connection survives another process refreshing
the token and a full disk at refresh time (the daemon and the CLI as child processes).

Intuit's rules these rely on (its OAuth FAQ, and "OAuth token management done the right way",
Intuit developer blog, 2024): refresh tokens rotate; "always store and use the LATEST refresh
token returned"; a retired one answers 400 invalid_grant. The emulator retires a used refresh
token at once (the less forgiving reading), so a process that refreshes with a pair another
process already rotated meets exactly the invalid_grant that stopped the daemon on main.

Each case waits in real time for a refresh to fall due (12 to 15 s): the inner loop runs one
of each (`doctor`, `shared`); the other two are marked slow and run in CI.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from datetime import UTC, datetime

import pytest
from life_kit import SmallDisk, life, wait_for

MARGIN_S = 300  # the token source refreshes this long before the access token expires


def _until_refresh_due(expires_at: str) -> float:
    due = datetime.fromisoformat(expires_at).timestamp() - MARGIN_S
    return due - datetime.now(UTC).timestamp()


@pytest.mark.parametrize(
    "other",
    [("doctor",), pytest.param(("run", "--once", "--dry-run"), marks=pytest.mark.slow)],
    ids=["doctor", "dry-run"],
)
def test_another_process_refreshing_the_token_leaves_the_daemon_syncing(tmp_path, other):
    """Case 1. Before: the other process rotated the pair, the daemon refreshed with the one in
    its memory (retired), got invalid_grant and exited 2 for good. After: the daemon's refresh
    reads the store under the lock first, finds the newer pair, and keeps syncing."""
    with life(tmp_path) as w:
        w.connect()
        po = w.po()
        w.access_expires_in(MARGIN_S + 15)  # a refresh falls due 15 s from now
        first = w.stored_tokens()
        daemon = w.daemon()
        daemon.wait_event("pass_finished")
        assert w.stored_tokens() == first, "the daemon refreshed before the test could stop it"
        os.kill(daemon.pid, signal.SIGSTOP)  # it holds the first pair in memory
        try:
            time.sleep(max(0.0, _until_refresh_due(first["access_expires_at"])) + 0.5)
            proc = w.cli(*other)
            assert proc.returncode in (0, 1), proc.stdout + proc.stderr
            rotated = w.stored_tokens()
            assert rotated["refresh_token"] != first["refresh_token"]  # the first is retired
        finally:
            os.kill(daemon.pid, signal.SIGCONT)
        w.edit(po["id"], private_note="edited after the other refresh")
        wait_for(lambda: "edited after the other refresh" in w.qbo_notes(), timeout=30)
        assert daemon.proc.poll() is None, daemon.text()[-3000:]
        assert not daemon.events("daemon_fatal")
        assert "invalid_grant" not in daemon.text()
        assert w.stored_tokens()["refresh_token"] == rotated["refresh_token"]  # taken, not spent


@pytest.mark.parametrize("layout", ["shared", pytest.param("tokens-alone", marks=pytest.mark.slow)])
def test_a_full_disk_at_refresh_time_never_spends_the_refresh_token(tmp_path, layout):
    """Case 2. Before: the refresh succeeded at Intuit (the old token retired), the save failed
    on the full disk, TokenStoreError stopped the daemon, and the new pair died with it: after
    the space was freed every run exited 2 with invalid_grant. After: room for the new pair is
    proven before the refresh; on a full disk the pass stops with one line naming the path and
    the fix, nothing is spent, and syncing resumes by itself once space is freed.

    "shared": state and tokens in one directory (the image's /var/lib/reconciler: the state
    file usually meets the full disk first); "tokens-alone": only the token store is on the
    small disk, so the refresh itself meets it."""
    with life(tmp_path) as w:
        if layout == "tokens-alone":
            w.env["RECONCILER_QBO__TOKEN_STORE"] = str(tmp_path / "var" / "secrets" / "t.json")
        w.connect()
        po = w.po()
        assert w.cli("run", "--once").returncode == 0
        small = w.token_path.parent
        seed = tmp_path / "seed"
        shutil.copytree(small, seed)
        with SmallDisk(small, size="8m", seed=seed) as disk:
            stored = disk.path(w.token_path.name)
            w.access_expires_in(MARGIN_S + 12, path=stored)  # a refresh falls due in 12 s
            first = w.stored_tokens(stored)
            daemon = w.daemon(prefix=disk.prefix(), RECONCILER_SYNC__POLL_INTERVAL="2s")
            daemon.wait_event("pass_finished")
            disk.fill()
            time.sleep(max(0.0, _until_refresh_due(first["access_expires_at"])))
            stopped = wait_for(lambda: _stopped_by_full_disk(daemon), timeout=30)
            assert str(small) in stopped and "free space" in stopped, stopped
            if layout == "tokens-alone":
                assert f"token file {w.token_path}" in stopped
            assert w.stored_tokens(stored)["refresh_token"] == first["refresh_token"]
            assert w.qbo.auth.connections[-1].refresh_token == first["refresh_token"]  # live
            disk.free()
            w.edit(po["id"], private_note="edited after the disk was freed")
            wait_for(lambda: "edited after the disk was freed" in w.qbo_notes(), timeout=40)
            assert daemon.proc.poll() is None, daemon.text()[-3000:]
            assert w.stored_tokens(stored)["refresh_token"] != first["refresh_token"]
            assert "invalid_grant" not in daemon.text()
            assert not daemon.events("daemon_fatal")
            daemon.stop()


def _stopped_by_full_disk(daemon) -> str | None:
    """The one line a pass stopped by the full disk logged (its reason), if one did."""
    for event in daemon.events():
        reason = str(event.get("reason") or "")
        if event.get("event") in ("pass_aborted", "pass_crashed") and " is full" in reason:
            return reason
    return None
