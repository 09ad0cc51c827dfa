"""The pull's upper bound never trusts one clock alone (issue 13, case 3), through the CLI.

`reconciler run --once` runs as a subprocess against both emulators; the Luminous server clock
is stepped with the emulator's `clock_skew` (its `Date` header and the stamps it gives).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from reliability_kit import World, check_invariants, connect, run_once, world

from reconciler.model import Checkpoint, SyncStatus
from reconciler.state import StateStore

A_YEAR = timedelta(days=365)
TOLERANCE = timedelta(minutes=5)  # luminous.clock_tolerance's default


def _store(w: World) -> StateStore:
    return StateStore.open(w.state_path)


def _entry(w: World, po_id: int):
    store = _store(w)
    try:
        return store.ledger.entry(po_id)
    finally:
        store.close()


def _checkpoint(w: World) -> Checkpoint | None:
    store = _store(w)
    try:
        return store.ledger.checkpoint()
    finally:
        store.close()


def _stamped_by_the_server(w: World, supplier: str, qty: str) -> dict:
    """A PO as Luminous makes it: stamped by its own clock, whatever that says."""
    record = {
        "supplier_id": w.source.supplier(supplier)["id"],
        "order_status": "active",
        "approval_status": "approved",
        "items": [{"product_id": w.source.product("Clock Item")["id"], "quantity": qty,
                   "unit_price": "4.00"}],
    }  # fmt: skip
    return w.lum.create_po(record)


def _next_second(w: World) -> None:
    """The pull reads up to the server's `Date`, which has whole seconds: a PO stamped in the
    second the pass starts is (rightly) left to the next pass. The server's clock moves that
    second on (its `Date` and its stamps) instead of the test waiting it out."""
    w.lum.clock_skew += timedelta(seconds=1)


def _events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_a_server_clock_a_year_ahead_for_one_pass_does_not_carry_the_checkpoint(tmp_path):
    """The PO stamped a year ahead during the step waits with an outcome saying so; the
    checkpoint stays where it was; once the clock is back, a PO created then is synced by the
    next normal pass (exit 0), and so is the one that waited."""
    with world(tmp_path) as w:
        connect(w)
        before = w.source.po("Before The Step", "Clock Item", "1", "4.00")
        assert run_once(w.env, label="before the step").returncode == 0
        settled = _checkpoint(w)
        assert settled is not None and settled.doc_id == before["id"]

        w.lum.clock_skew = A_YEAR
        ahead = _stamped_by_the_server(w, "Stamped A Year Ahead", "2")
        proc = run_once(w.env, label="clock a year ahead")
        assert proc.returncode == 1, proc.stdout[-3000:]  # one PO waits: not all settled
        checkpoint = _checkpoint(w)
        assert checkpoint is not None
        assert checkpoint.updated_at <= datetime.now(UTC) + TOLERANCE
        assert checkpoint.key() == settled.key()  # nothing newer was read, nothing passed
        waiting = _entry(w, ahead["id"])
        assert waiting is not None and waiting.status is SyncStatus.RETRYING
        assert waiting.last_error_code == "future_updated_at"
        assert "in the future" in (waiting.last_error_message or "")

        w.lum.clock_skew = timedelta(0)
        after = _stamped_by_the_server(w, "After The Step", "3")
        _next_second(w)
        proc = run_once(w.env, label="clock back")
        assert proc.returncode == 0, proc.stdout[-3000:]
        for po in (after, ahead):
            entry = _entry(w, po["id"])
            assert entry is not None and entry.status is SyncStatus.SYNCED, entry
            assert w.qbo.get("PurchaseOrder", entry.qbo_id) is not None
        checkpoint = _checkpoint(w)
        assert checkpoint is not None and checkpoint.doc_id == after["id"]
        assert checkpoint.updated_at <= datetime.now(UTC) + TOLERANCE
        numbers = [p.get("DocNumber") for p in w.qbo.objects("PurchaseOrder")]
        assert sorted(numbers) == sorted(p["order_numbers"][0] for p in (before, ahead, after))


def test_a_checkpoint_found_ahead_of_both_clocks_is_brought_back_and_nothing_stays_hidden(
    tmp_path,
):
    """A state file whose checkpoint is a year ahead (what the clock step left before the
    fix, or a bad restore): the pass warns, reads again from the start, syncs the PO that
    was created while the checkpoint was wrong, leaves the synced one alone, and puts the
    checkpoint where it is true."""
    with world(tmp_path) as w:
        connect(w)
        synced = w.source.po("Synced Before", "Clock Item", "1", "4.00")
        assert run_once(w.env, label="before").returncode == 0
        first = _entry(w, synced["id"])
        token_before = w.qbo.get("PurchaseOrder", first.qbo_id)["SyncToken"]
        store = _store(w)
        try:
            store.ledger.move_checkpoint(Checkpoint(datetime.now(UTC) + A_YEAR, synced["id"]))
        finally:
            store.close()
        hidden = w.source.po("Created While Wrong", "Clock Item", "2", "4.00")
        _next_second(w)

        proc = run_once(w.env, label="checkpoint ahead")
        assert proc.returncode == 0, proc.stdout[-3000:]
        warning = [e for e in _events(proc.stdout) if e["event"] == "checkpoint_ahead_of_clocks"]
        assert len(warning) == 1 and warning[0]["level"] == "warning"
        entry = _entry(w, hidden["id"])
        assert entry is not None and entry.status is SyncStatus.SYNCED, entry
        assert w.qbo.get("PurchaseOrder", first.qbo_id)["SyncToken"] == token_before
        checkpoint = _checkpoint(w)
        assert checkpoint is not None
        assert checkpoint.updated_at <= datetime.now(UTC) + TOLERANCE
        verdict = check_invariants(w.qbo, w.lum, w.state_path)
        assert verdict.ok(), verdict.problems  # each PO once, the checkpoint covers them all
