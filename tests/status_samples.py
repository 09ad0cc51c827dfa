"""A ledger for the status page tests: POs and bills in every status, with a history each,
awkward and hostile names included (ledger text comes from Luminous and QBO)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from reconciler.documents.outcomes import Record
from reconciler.model import DocKind, LedgerEntry, Lifecycle, Outcome, SyncStatus
from reconciler.state import StateStore

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
PO, BILL = DocKind.PURCHASE_ORDER, DocKind.BILL
HOSTILE_VENDOR = '<script>alert("v")</script> & Sons'
HOSTILE_REASON = '"><img src=x onerror=alert(1)> bad </td>'

# (kind, doc_id, number, status, vendor, qbo_id, error code, message, retry in minutes)
DOCUMENTS = (
    (PO, 1001, "PO-1001", SyncStatus.SYNCED, "Acme Supplies", "101", None, None, None),
    (PO, 1002, "PO-1002", SyncStatus.FAILED, "Bolt & Nut Co.", None, "6240",
     "Duplicate Name Exists Error: the vendor name is taken", None),
    (PO, 1003, "PO-1003", SyncStatus.RETRYING, "Acme Supplies", "103", "429",
     "QBO throttled the request", 15),
    (PO, 1004, "PO-1004", SyncStatus.SKIPPED, "Côté Fournitures", None, None,
     "awaiting approval in Luminous", None),
    (PO, 1005, "PO-1005", SyncStatus.PENDING, None, None, None, None, None),
    (PO, 1006, "PO-1006", SyncStatus.FAILED, HOSTILE_VENDOR, None, "bad_input", HOSTILE_REASON,
     None),
    (BILL, 77, "INV-77", SyncStatus.SYNCED, "Acme Supplies", "9001", None, None, None),
    (BILL, 78, "INV-78", SyncStatus.FAILED, "Bolt & Nut Co.", None, "6000",
     "A business validation error has occurred", None),
    (BILL, 79, "INV-79", SyncStatus.RETRYING, "Côté Fournitures", None, "503",
     "QBO unavailable", 30),
)  # fmt: skip


class StepClock:
    """A minute later at every reading, so rows and history lines have an order."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def record(store: StateStore, entry: LedgerEntry, action: str) -> None:
    outcome = Outcome(
        entry.doc_id,
        entry.status,
        action,
        number=entry.number,
        qbo_id=entry.qbo_id,
        error_code=entry.last_error_code,
        message=entry.last_error_message,
        kind=entry.kind,
    )
    store.ledger.record([Record(entry, outcome)], run_id="run-1")


def seed(path: Path) -> StateStore:
    """A state file at `path` holding `DOCUMENTS`; PO-1002 failed after two retries."""
    store = StateStore.open(path, clock=StepClock())
    for kind, doc_id, number, status, vendor, qbo_id, code, message, retry in DOCUMENTS:
        entry = LedgerEntry(
            doc_id=doc_id,
            status=status,
            number=number,
            qbo_id=qbo_id,
            kind=kind,
            vendor=vendor,
            lifecycle=Lifecycle.OPEN if qbo_id else None,
            last_error_code=code,
            last_error_message=message,
            next_retry_at=T0 + timedelta(minutes=retry) if retry else None,
            source_updated_at=T0 - timedelta(hours=1),
            request_sent_at=T0 if status is not SyncStatus.SKIPPED else None,
            attempts=3 if status is SyncStatus.FAILED else 1,
        )
        if doc_id == 1002:
            for attempt in (1, 2):
                early = LedgerEntry(
                    doc_id, SyncStatus.RETRYING, number, kind=kind, vendor=vendor,
                    last_error_code="500", last_error_message=f"QBO 500 on try {attempt}",
                    attempts=attempt,
                )  # fmt: skip
                record(store, early, "create")
        record(store, entry, "create" if qbo_id or code else "skip")
    return store
