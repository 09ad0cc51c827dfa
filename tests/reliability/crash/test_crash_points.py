"""A crash at every named crash point, then restarts until the pass settles: nothing lost or
doubled.

Two ways to die. For real, once per point: `python -m reconciler run --once` with
RECONCILER_CRASH_AT armed is SIGKILLed there (no cleanup, no flush) and restarted as a new
process; the emulators stay up across restarts. In process, for the whole matrix: each point
with QBO's requestid replay on and off, while POs, vendors and items are created and again
while they are updated and closed; the crash closes the state file under the pass (a power
cut) and raises where the point is (`reliability_kit.crash_armed`, as the model in
test_crash_model.py does), and the next pass opens the file afresh, as a restarted daemon does.
The replay-off variants switch the QBO emulator's requestid memory off, so only the daemon's
look-before-create stands between a crash and a duplicate.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from reliability_kit import (
    SIGKILLED,
    TOKEN_POINTS,
    InProcessDaemon,
    World,
    assert_invariants,
    connect,
    run_once,
    settle,
    world,
)

from reconciler.crashpoints import POINTS as ALL_POINTS
from reconciler.sandbox.qbo.server import FaultRule

WRITES = r"/(purchaseorder|batch)"  # single PO writes and /batch requests
# point -> (hit to die at while creating, hit to die at while updating)
POINTS = {
    "page_read": (2, 3),
    "ledger_pending": (1, 1),
    "qbo_no_reply": (1, 1),
    "qbo_answered": (1, 1),
    "before_checkpoint": (1, 1),
    "vendor_created": (1, 1),
}


def test_every_named_crash_point_is_killed_for_real_and_in_process():
    """A point added to reconciler.crashpoints without a case fails: each sync point has a
    child SIGKILL and its place in the in-process matrix (below); each token point is killed
    for real in the refresh matrix (production/test_refresh_matrix.py)."""
    assert sorted(ALL_POINTS) == sorted([*POINTS, *TOKEN_POINTS])


def _seed(w: World) -> list[dict]:
    s = w.source
    return [
        s.po("Nutricost", "Whey Protein 5lb", "10", "42.50", private_note="first"),
        s.po("O'Brien & Sons", "Creatine 1kg", "3", "19.99"),
        s.po("Back\\slash Supplies\\", "Shaker Bottle", "7", "0.333"),
        s.po("Nutricost", "Creatine 1kg", "1", "19.99", private_note="fourth"),
    ]


def _arm(w: World, point: str) -> None:
    if point == "qbo_no_reply":
        # the server commits the write, then the connection drops before the answer
        w.qbo.add_fault(FaultRule(method="POST", path_regex=WRITES, action="drop_after_commit"))


def _crash(w: World, point: str, hit: int, label: str) -> None:
    _arm(w, point)
    proc = run_once(w.env, crash_at=f"{point}:{hit}", label=f"crash {label}")
    w.qbo.clear_faults()
    assert proc.returncode == SIGKILLED, f"{point}:{hit} was not reached: {proc.stderr[-1500:]}"


def _crash_in_process(w: World, daemon: InProcessDaemon, point: str, hit: int) -> None:
    _arm(w, point)
    try:
        assert daemon.run(crash_at=f"{point}:{hit}") is None
    finally:
        w.qbo.clear_faults()


def _move_the_source_on(w: World, pos: list[dict]) -> None:
    """The source moves on before the second crash: a quantity, a close, a note, a new PO."""
    w.source.set_qty(pos[1]["id"], "4", "Creatine 1kg")
    w.source.edit(pos[2]["id"], order_status="completed")
    w.source.edit(pos[3]["id"], private_note="fourth, edited")
    w.source.po("Brand New Vendor Co", "Brand New Item", "2", "5.00")


@pytest.mark.parametrize("point", sorted(POINTS))
def test_sigkill_at_named_point_then_restart_settles_exactly_once(tmp_path, point):
    """The real thing, once per point: the daemon SIGKILLed there while creating (QBO's
    replay off, the less forgiving company), the source edited while it is down, restarts
    until a pass exits 0: each PO once, with its latest content."""
    on_create, _on_update = POINTS[point]
    with world(tmp_path, requestid_replay=False) as w:
        w.qbo.duplicate_docnumber_check = False  # a second create would really double
        connect(w)
        pos = _seed(w)
        _crash(w, point, on_create, f"{point} create")
        w.source.edit(pos[0]["id"], private_note="edited while down")
        settle(w.env, label=f"settle {point}")
        assert assert_invariants(w).in_qbo == 4


@pytest.mark.parametrize("replay", [True, False], ids=["replay-on", "replay-off"])
@pytest.mark.parametrize("point", sorted(POINTS))
def test_crash_at_named_point_then_restart_settles_exactly_once(tmp_path, point, replay):
    """In process: a crash at the point while creating and again while updating and
    closing; after each, passes until settled: each PO once, latest content."""
    on_create, on_update = POINTS[point]
    with world(tmp_path, requestid_replay=replay) as w:
        w.qbo.duplicate_docnumber_check = replay  # off: a second create would really double
        connect(w)
        daemon = InProcessDaemon(w)
        pos = _seed(w)
        _crash_in_process(w, daemon, point, on_create)
        # the source moves on while the daemon is down
        w.source.edit(pos[0]["id"], private_note="edited while down")
        daemon.settle()
        assert_invariants(w)

        _move_the_source_on(w, pos)
        _crash_in_process(w, daemon, point, on_update)
        daemon.settle()
        verdict = assert_invariants(w)
        assert verdict.in_qbo == 5


def _expire_access_token(w: World) -> None:
    """Make the stored access token stale on both clocks, so the next call refreshes."""
    w.qbo.advance_clock(2 * 3600)
    data = json.loads(w.token_path.read_text())
    data["access_expires_at"] = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    w.token_path.write_text(json.dumps(data))


def test_sigkill_after_refresh_token_rotated_needs_reconnect_and_loses_nothing(tmp_path):
    """Killed after Intuit rotated the refresh token but before it was stored: exit 2, reconnect.

    The rotated token died with the process; the stored one is retired (invalid_grant). The
    honest outcome is exit 2 with the fix named, QBO untouched; after `auth connect` the pass
    settles with every PO once and current.
    """
    with world(tmp_path) as w:
        connect(w)
        pos = _seed(w)
        settle(w.env, label="token first sync")
        before = {p["Id"]: p["SyncToken"] for p in w.qbo.objects("PurchaseOrder")}
        w.source.edit(pos[0]["id"], private_note="after rotation")
        _expire_access_token(w)
        crashed = run_once(w.env, crash_at="token_issued", label="crash token_issued")
        assert crashed.returncode == SIGKILLED
        stopped = run_once(w.env, label="after token_issued crash")
        assert stopped.returncode == 2
        output = stopped.stdout + stopped.stderr
        assert "invalid_grant" in output
        assert "reconciler auth connect" in output
        after = {p["Id"]: p["SyncToken"] for p in w.qbo.objects("PurchaseOrder")}
        assert after == before  # nothing written, nothing doubled
        connect(w)  # the user reconnects
        settle(w.env, label="token reconnected")
        verdict = assert_invariants(w)
        assert verdict.in_qbo == 4


@pytest.mark.parametrize("replay", [True, False], ids=["replay-on", "replay-off"])
def test_po_closed_while_its_create_was_unconfirmed_is_closed_in_qbo(tmp_path, replay):
    """Crashed (in process) after QBO created the PO; the PO is completed before the restart:
    it is found and closed in QBO, not skipped as "never synced" (found by the state
    machine)."""
    with world(tmp_path, requestid_replay=replay) as w:
        w.qbo.duplicate_docnumber_check = replay
        connect(w)
        daemon = InProcessDaemon(w)
        po = w.source.po("Nutricost", "Whey Protein 5lb", "10", "42.50")
        _crash_in_process(w, daemon, "qbo_answered", 1)
        assert len(w.qbo.objects("PurchaseOrder")) == 1  # it landed; the ledger does not know
        w.source.edit(po["id"], order_status="completed")
        daemon.settle()
        verdict = assert_invariants(w)
        assert verdict.in_qbo == 1
        assert w.qbo.objects("PurchaseOrder")[0]["POStatus"] == "Closed"
