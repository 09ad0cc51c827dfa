"""Drift in the state file: snapshots commit with the ledger row of the write they come from,
a check's findings commit with its CDC checkpoint, and the plan holds a PO deleted in QBO."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from support import policy, rules

from reconciler.documents import actions, drift, plan
from reconciler.documents.outcomes import Record
from reconciler.documents.po.model import DesiredLine, DesiredPO
from reconciler.model import (
    DesiredVendor,
    DocKind,
    Drift,
    LedgerEntry,
    Lifecycle,
    LineKind,
    Outcome,
    SyncStatus,
)
from reconciler.state import StateStore

PO = DocKind.PURCHASE_ORDER
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
FIELDS = drift.synced_fields(PO, rules())
ANSWER = {
    "Id": "130",
    "SyncToken": "4",
    "VendorRef": {"value": "56"},
    "POStatus": "Open",
    "TotalAmt": Decimal("10.50"),
    "PrivateNote": "Bearer eyJhbGciOi.secret",
    "MetaData": {"LastUpdatedTime": "2026-11-01T05:00:00-07:00"},
    "Line": [{"Amount": Decimal("10.50"), "DetailType": "AccountBasedExpenseLineDetail",
              "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "80"}}}],
}  # fmt: skip


@pytest.fixture
def store(tmp_path):
    s = StateStore.open(tmp_path / "state.sqlite", clock=lambda: T0)
    yield s
    s.close()


def synced(doc_id: int = 1, qbo_id: str = "130", token: str = "4", **kw) -> LedgerEntry:
    return LedgerEntry(doc_id=doc_id, status=SyncStatus.SYNCED, number=f"PO-{doc_id}",
                       qbo_id=qbo_id, sync_token=token, content_hash="h", lifecycle=Lifecycle.OPEN,
                       **kw)  # fmt: skip


def write(store, entry, answer=ANSWER):
    snap = drift.snapshot(PO, answer, FIELDS)
    outcome = Outcome(entry.doc_id, SyncStatus.SYNCED, "update", qbo_id=entry.qbo_id)
    store.ledger.record([Record(entry, outcome)], run_id="r", snapshots=[(entry.key, snap)])


def test_a_write_keeps_its_snapshot_beside_the_ledger_row(store):
    write(store, synced())
    owners = store.drift.owners(PO, ["130", "999"])
    entry, snap = owners["130"]
    assert set(owners) == {"130"} and entry.doc_id == 1 and entry.drift is None
    assert snap.sync_token == "4" and snap.fields["TotalAmt"] == "10.50"
    assert snap.fields["PrivateNote"] == "Bearer ***"  # persisted through the one redaction
    assert store.drift.earliest_write() == datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_the_row_and_its_snapshot_are_one_commit(store, monkeypatch):
    """A failure while the snapshot is written leaves no ledger row either."""

    def broken(*_a, **_kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr("reconciler.state.snapshots.write", broken)
    with pytest.raises(RuntimeError):
        write(store, synced())
    assert store.ledger.entry(1) is None


def test_our_write_clears_the_drift_and_keeps_what_its_answer_shows(store):
    write(store, synced())
    store.db.execute("update ledger set drift = 'edited' where doc_id = 1")
    assert store.ledger.entry(1).drift is Drift.EDITED
    write(store, synced(token="5"), {**ANSWER, "SyncToken": "5"})
    assert store.ledger.entry(1).drift is None
    billed = {**ANSWER, "SyncToken": "6", "LinkedTxn": [{"TxnId": "9", "TxnType": "Bill"}]}
    write(store, synced(token="6"), billed)
    assert store.ledger.entry(1).drift is Drift.BILLED
    write(store, synced(token="7"), {"Id": "130", "status": "Deleted"})
    assert store.ledger.entry(1).drift is None and store.drift.owners(PO, ["130"])["130"][1] is None


def test_findings_and_the_cdc_checkpoint_commit_together(store):
    write(store, synced())
    entry, snap = store.drift.owners(PO, ["130"])["130"]
    seen = drift.assess(
        PO,
        entry,
        snap,
        drift.held_form(PO, {**ANSWER, "SyncToken": "5", "POStatus": "Closed"}, FIELDS),
    )
    settled = drift.settle(entry, seen, snap, "report")
    assert settled.entry.drift is Drift.CLOSED
    store.drift.apply([settled], run_id="r2", cdc_from=T0, checked_at=T0)
    entry, snap = store.drift.owners(PO, ["130"])["130"]
    assert entry.sync_token == "5" and entry.drift is Drift.CLOSED and snap.seen_token == "5"
    assert snap.sync_token == "4"  # what we wrote stays the comparison
    assert store.drift.cdc_from() == T0 and store.drift.checked_at() == T0
    assert store.drift.counts() == {"closed": 1}
    detail = store.drift.detail(PO, 1)
    assert (
        detail.change is Drift.CLOSED and detail.note == "closed in QBO" and detail.found_at == T0
    )
    assert [h.action for h in store.ledger.history(1)][-1] == "drift"


def test_a_failed_apply_leaves_the_checkpoint_where_it_was(store, monkeypatch):
    write(store, synced())
    entry, snap = store.drift.owners(PO, ["130"])["130"]
    seen = drift.assess(PO, entry, snap, {"status": "Deleted", "Id": "130"})
    settled = drift.settle(entry, seen, snap, "report")

    def broken(*_a, **_kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr("reconciler.state.snapshots.seen", broken)
    with pytest.raises(RuntimeError):
        store.drift.apply([settled], run_id="r", cdc_from=T0, checked_at=T0)
    assert store.drift.cdc_from() is None and store.ledger.entry(1).drift is None
    assert store.ledger.entry(1).lifecycle is Lifecycle.OPEN


def test_a_quiet_refresh_does_not_touch_a_write_in_flight(store):
    write(store, synced())
    entry, snap = store.drift.owners(PO, ["130"])["130"]
    store.ledger.begin([entry], run_id="r", verbs=["update"])  # pending now
    quiet = drift.settle(entry, drift.Sighting("9", None), snap, "report")
    store.drift.apply([quiet], run_id="r", cdc_from=None)
    assert store.ledger.entry(1).sync_token == "4"


# --- the plan ------------------------------------------------------------------------------


def desired() -> DesiredPO:
    return DesiredPO(
        source_id=1,
        doc_number="PO-1",
        vendor=DesiredVendor(display_name="Nutricost", source_name="Nutricost"),
        lines=(DesiredLine(kind=LineKind.ACCOUNT, amount=Decimal("1.00"), account="Shipping"),),
        content_hash="h2",
    )


def deleted_in_qbo(**kw) -> LedgerEntry:
    return dataclasses.replace(
        synced(), status=SyncStatus.SKIPPED, lifecycle=Lifecycle.DELETED, drift=Drift.DELETED, **kw
    )


def test_a_po_deleted_in_qbo_is_held_until_a_user_or_restore_asks():
    kw = {"realm_id": "9", "now": T0, "policy": policy()}
    held = plan.plan_write(desired(), deleted_in_qbo(), **kw)
    assert isinstance(held, actions.Hold) and "reconciler retry" in held.reason
    assert isinstance(
        plan.plan_write(desired(), deleted_in_qbo(), force=True, **kw), actions.Create
    )
    restore = deleted_in_qbo(force_retry=True, content_hash=None)
    record = dataclasses.replace(desired())
    decision = plan.plan_write(record, restore, force=restore.force_retry, **kw)
    assert isinstance(decision, actions.Create)


def test_a_po_deleted_in_qbo_and_then_in_luminous_needs_nothing():
    decision = plan.decide_vanished(deleted_in_qbo(), policy=policy(), realm_id="9", now=T0)
    assert isinstance(decision.action, actions.Noop)
