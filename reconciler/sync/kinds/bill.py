"""Bills, and receiving reports read as the bills they become (`[bills] from`): after the POs.

Their hooks are what a bill's decision needs of the ledger: where each of its POs stands in
QBO and the QBO line Ids it links to (`context`); which POs wake a bill that waits or is
parked for them (`decided`, `before`); and, after the read, whether the bills closed (or
reopened) their POs in QBO, told in each PO's history (`after`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from reconciler.documents.bill.mapping import BillRules
from reconciler.documents.bill.model import POStanding, SourceBill
from reconciler.documents.bill.parse import bill_or_reject, receipt_or_reject
from reconciler.documents.bill.plan import BillContext, BillPlan, bill_policy, standing_of
from reconciler.model import DocKind, Lifecycle
from reconciler.sync.kinds.declaration import Kind, PassParts
from reconciler.sync.kinds.waiting import WaitsFor
from reconciler.write.bill import BillWriter

PO = DocKind.PURCHASE_ORDER


class BillHooks(WaitsFor):
    """The `KindHooks` of bills (or receiving reports)."""

    def __init__(self, parts: PassParts, writer: BillWriter, kind: DocKind) -> None:
        super().__init__(parts, kind, on=PO, woken_event="bills_woken")
        base, bills = parts.settings.plan_policy(), parts.settings.bills
        self.policy = bill_policy(base, bills.on_delete)
        self.plan = BillPlan(bill_policy(base, bills.on_void))
        self._writer = writer
        self._rules = parts.settings.bill_rules()
        self._coded: BillRules | None = None

    def rules(self) -> BillRules:
        """The bill rules with this company's classes, locations and tax codes (known once the
        pass has read the company)."""
        if self._coded is None:
            coding = self._parts.company.rules().line_coding
            self._coded = replace(self._rules, line_coding=coding)
        return self._coded

    def context(self, record: Any) -> BillContext:
        """Where the bill's POs stand, and the PO of each line that names only its PO line."""
        ledger, lines = self._parts.ledger, self._parts.lines
        if not isinstance(record, SourceBill):
            return BillContext(self.rules(), {})
        po_of_line = {
            line.po_line_id: po_id
            for line in record.lines
            if line.po_id is None and line.po_line_id is not None
            if (po_id := lines.po_of_line(line.po_line_id)) is not None
        }
        standings: dict[int, POStanding] = {}
        for po_id in BillContext(self.rules(), {}, po_of_line).linked(record).linked_po_ids():
            po = ledger.entry(po_id, PO)
            po_lines = lines.of(PO, po_id)
            if po is not None and po.qbo_id and not po_lines and not po.force_retry:
                ledger.request_retry(po_id, PO)  # read again: its line Ids are learnt
            standings[po_id] = standing_of(po_id, po, po_lines, lines.fact(PO, po_id))
        return BillContext(self.rules(), standings, po_of_line)

    def after(self) -> None:
        """Whether the bills written closed (or reopened) their POs in QBO: in each PO's
        history, with QBO's SyncToken for the PO's next write."""
        ledger, lines = self._parts.ledger, self._parts.lines
        now = self._parts.clock()
        reopened = self._writer.links.reopened  # (compared before the reopen)
        refreshed = self._writer.refresh_pos()
        # someone else's edit before the bill moved the PO on is compared now, not masked
        held = [row for *_, row in refreshed if str(row.get("Id")) not in reopened]
        self._parts.before_overwrite(PO, held)
        for po_id, status, token, _held in refreshed:
            previous = lines.note_status(PO, po_id, status, at=now)
            entry = ledger.entry(po_id, PO)
            ours = entry is not None and entry.lifecycle is Lifecycle.CLOSED
            action, message = None, None
            if status == "Closed" and previous != "Closed" and not ours:
                action, message = "closed_in_qbo", "QBO closed this PO: its bills cover it"
            elif status == "Open" and previous == "Closed":
                action, message = "reopened_in_qbo", "QBO reopened this PO: bills changed"
            qbo_id = entry.qbo_id if entry else None
            run_id = self._parts.run_id
            note = {"action": action, "message": message, "qbo_id": qbo_id, "sync_token": token}
            ledger.note((PO, po_id), run_id=run_id, **note)
            if action is not None:
                number = entry.number if entry else None
                self._parts.event(f"po_{action}", po_id=po_id, po_number=number)


def builder(kind: DocKind) -> Callable[[PassParts], tuple[BillWriter, BillHooks]]:
    """How a pass builds the writer and hooks of bills, or of receiving reports."""

    def build(parts: PassParts) -> tuple[BillWriter, BillHooks]:
        writer = BillWriter(
            parts.qbo,
            parts.ledger,
            parts.refs,
            parts.lines,
            kind=kind,
            run_id=parts.run_id,
            first_connection=parts.first_connection(kind),
            clock=parts.clock,
            scratch=parts.scratch,
            before_overwrite=lambda held: parts.before_overwrite(PO, held),
        )
        return writer, BillHooks(parts, writer, kind)

    return build


BILLS = Kind(
    doc=DocKind.BILL,
    enabled=lambda settings: settings.bills.from_ == "bills",
    reader=lambda luminous, settings: luminous.documents("bills"),
    parse=bill_or_reject,
    build=builder(DocKind.BILL),
)
RECEIPTS = Kind(
    doc=DocKind.RECEIPT,
    enabled=lambda settings: settings.bills.from_ == "receipts",
    reader=lambda luminous, settings: luminous.documents("receipts"),
    parse=receipt_or_reject,
    build=builder(DocKind.RECEIPT),
)
