"""The lists one pass reads, in order: POs, then (by `[bills] from`) bills or receiving reports.

A `Source` is what the engine's read, retry and sweep phases need of one list: its document
kind, the client that reads it by key (`pull.ChangeSource`), how a record is parsed, the sync
that takes each record, and its own checkpoint. POs and bills go through the same code; bills
come after POs, so a bill's PO is usually in QBO by the time the bill is read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reconciler.documents.bill.parse import bill_or_reject, receipt_or_reject
from reconciler.model import DocKind, Lifecycle
from reconciler.sync.bill_sync import BillSync
from reconciler.sync.pull import sweep_ids
from reconciler.sync.recorder import CHECKPOINT_NAMES
from reconciler.write.bill import BillWriter

if TYPE_CHECKING:
    from reconciler.sync.engine import Pass

BILL_KINDS = {"bills": DocKind.BILL, "receipts": DocKind.RECEIPT}


@dataclass
class Source:
    """One list of documents for a pass."""

    kind: DocKind
    client: Any  # pull.ChangeSource: the LuminousClient, or one of its DocumentReaders
    parse: Callable[[Any], Any]  # raw record -> its record, or a RejectedRecord
    sync: Any  # POSync or BillSync: take, hold_future, take_vanished
    before: Callable[[], Any] = field(default=lambda: None)  # before its read
    after: Callable[[], Any] = field(default=lambda: None)  # after its read and the retries

    @property
    def checkpoint(self) -> str:
        return CHECKPOINT_NAMES[self.kind]


def bill_sources(p: Pass, refs: Any) -> list[Source]:
    """The bill source `[bills] from` asks for (none when it is "off"); its writer joins the
    pass's writers."""
    kind = BILL_KINDS.get(p.s.bills.from_)
    if kind is None:
        return []
    d = p.d
    writer = BillWriter(
        d.qbo,
        p.ledger,
        refs,
        p.s,
        d.store.lines,
        kind=kind,
        run_id=p.run_id,
        first_connection=p.ledger.count(kind=kind) == 0,
        clock=d.clock,
        scratch=p.scratch,
    )
    p.writers[kind] = writer
    sync = BillSync(
        p.s,
        p.ledger,
        d.store.lines,
        p.recorder,
        writer,
        kind=kind,
        clock=d.clock,
        on_event=p.event,
        company=p.company,
    )
    client = d.luminous.documents(p.s.bills.from_)
    parse = bill_or_reject if kind is DocKind.BILL else receipt_or_reject
    return [Source(kind, client, parse, sync, before=sync.wake, after=sync.after_phase)]


def sweep_vanished(p: Pass, source: Source) -> None:
    """The full sweep for a list other than POs: documents gone from Luminous (a direct read
    agrees) are voided or deleted in QBO, by that list's policy."""
    known = [
        e.doc_id
        for e in p.ledger.entries(kind=source.kind)
        if e.qbo_id and e.lifecycle is not Lifecycle.DELETED
    ]
    vanished, _ = sweep_ids(source.client, known)
    p.event("full_sweep", kind=str(source.kind), known=len(known), vanished=len(vanished))
    with p.pipeline() as pipeline:
        for doc_id in sorted(vanished):
            entry = p.ledger.entry(doc_id, source.kind)
            if p.d.stop_requested():
                return
            if entry is not None:
                source.sync.take_vanished(entry, pipeline)
