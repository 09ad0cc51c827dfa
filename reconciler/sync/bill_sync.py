"""One bill (or receiving report) read from Luminous, or found gone: decided, then written or
recorded, like `po_sync` does for POs.

The decision is `bill_plan.decide_bill`, pure; this class gathers what it needs (the bill's
ledger row, where its POs stand in QBO, which of its lines QBO links already), hands a write to
the pipeline or records the outcome. A bill that waits for its PO, or is parked because its PO
will not be pushed, notes that PO (`state.lines`): the next bill phase after that PO's row
changes takes it up again (`wake`). After the phase, `after_phase` asks QBO whether the bills
closed their POs and tells each PO's history.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from reconciler.config.loader import Settings
from reconciler.documents import outcomes, plan
from reconciler.documents.bill import plan as bill_plan
from reconciler.documents.bill.mapping import BillRules, bill_rules
from reconciler.documents.bill.model import POStanding, SourceBill
from reconciler.model import DocKind, LedgerEntry, Lifecycle, RejectedRecord, SyncStatus
from reconciler.sync.recorder import Recorder
from reconciler.write.pipeline import Write, WritePipeline

if TYPE_CHECKING:
    from reconciler.resolve.company import CompanyContext
    from reconciler.state import DocLines, Ledger

PO = DocKind.PURCHASE_ORDER
WAITING_CODES = (bill_plan.WAIT_CODE, bill_plan.PARK_CODE)


class BillSync:
    """Takes bills of one kind (Luminous bills, or receiving reports) one at a time."""

    def __init__(
        self,
        settings: Settings,
        ledger: Ledger,
        lines: DocLines,
        recorder: Recorder,
        writer: Any,  # bill_writer.BillWriter
        *,
        kind: DocKind,
        clock: Callable[[], datetime],
        on_event: Callable[..., None],
        company: CompanyContext | None = None,
    ) -> None:
        self.ledger = ledger
        self.lines = lines
        self.recorder = recorder
        self.writer = writer
        self.kind = kind
        self.realm_id = settings.qbo.realm_id
        self.rules = bill_rules(settings)
        self._company = company  # its country and edition decide classes and tax codes
        self._coded: BillRules | None = None
        base = settings.plan_policy()
        self.policy = bill_plan.bill_policy(base, settings.bills.on_delete)
        self.void_policy = bill_plan.bill_policy(base, settings.bills.on_void)
        self._clock = clock
        self._event = on_event

    def _rules(self) -> BillRules:
        """The bill rules with this company's classes, locations and tax codes (known once the
        pass has read the company)."""
        if self._coded is None:
            if self._company is None:
                return self.rules
            coding = self._company.rules().line_coding
            self._coded = replace(self.rules, line_coding=coding)
        return self._coded

    # --- the phase ----------------------------------------------------------------------

    def wake(self) -> int:
        """Bills that wait for a PO whose row changed since: retried in this pass."""
        woken = self.lines.woken(self.kind)
        for doc_id in woken:
            self.ledger.request_retry(doc_id, self.kind)
        if woken:
            self._event("bills_woken", kind=str(self.kind), count=len(woken))
        return len(woken)

    def after_phase(self) -> None:
        """Whether the bills written closed (or reopened) their POs in QBO: in each PO's
        history, with QBO's SyncToken for the PO's next write."""
        now = self._clock()
        for po_id, status, token in self.writer.refresh_pos():
            previous = self.lines.note_status(PO, po_id, status, at=now)
            entry = self.ledger.entry(po_id, PO)
            ours = entry is not None and entry.lifecycle is Lifecycle.CLOSED
            action, message = None, None
            if status == "Closed" and previous != "Closed" and not ours:
                action, message = "closed_in_qbo", "QBO closed this PO: its bills cover it"
            elif status == "Open" and previous == "Closed":
                action, message = "reopened_in_qbo", "QBO reopened this PO: bills changed"
            self.ledger.note(
                (PO, po_id),
                run_id=self.recorder.run_id,
                action=action,
                message=message,
                qbo_id=entry.qbo_id if entry else None,
                sync_token=token,
            )
            if action is not None:
                self._event(f"po_{action}", po_id=po_id, po_number=entry.number if entry else None)

    # --- one document -------------------------------------------------------------------

    def take(
        self,
        record: SourceBill | RejectedRecord,
        pipeline: WritePipeline,
        *,
        force_retry: bool = False,
    ) -> None:
        started = time.monotonic()
        if record.id is None:
            assert isinstance(record, RejectedRecord)
            self.recorder.without_id(record)
            return
        pipeline.settle((self.kind, record.id))
        entry = self.ledger.entry(record.id, self.kind)
        try:
            decision = self._decide(record, entry, force_retry)
        except Exception as exc:  # a record is the unit of failure, even for a bug
            self._event("bill_decision_failed", bill_id=record.id, error_type=type(exc).__name__)
            reason = f"cannot map this bill ({type(exc).__name__}: {exc})"[:300]
            decision = bill_plan.BillDecision(plan.Reject(reason))
        self._carry_out(decision, record.id, entry, record.updated_at, pipeline, started)

    def _decide(
        self, record: SourceBill | RejectedRecord, entry: LedgerEntry | None, force: bool
    ) -> bill_plan.BillDecision:
        standings: dict[int, POStanding] = {}
        if isinstance(record, SourceBill):
            record = self._with_po_ids(record)
            for po_id in record.linked_po_ids():
                po = self.ledger.entry(po_id, PO)
                po_lines = self.lines.of(PO, po_id)
                if po is not None and po.qbo_id and not po_lines and not po.force_retry:
                    self.ledger.request_retry(po_id, PO)  # read again: its line Ids are learnt
                facts = self.lines.fact(PO, po_id)
                standings[po_id] = bill_plan.standing_of(po_id, po, po_lines, facts)
        return bill_plan.decide_bill(
            record,
            entry,
            standings,
            rules=self._rules(),
            policy=self.policy,
            void_policy=self.void_policy,
            realm_id=self.realm_id,
            now=self._clock(),
            force_retry=force,
        )

    def _with_po_ids(self, bill: SourceBill) -> SourceBill:
        """A line that names only its PO line: its PO, from the PO lines written to QBO."""
        if all(line.po_id is not None or line.po_line_id is None for line in bill.lines):
            return bill
        lines = tuple(
            replace(line, po_id=self.lines.po_of_line(line.po_line_id))
            if line.po_id is None and line.po_line_id is not None
            else line
            for line in bill.lines
        )
        return replace(bill, lines=lines)

    def hold_future(
        self, records: list[SourceBill | RejectedRecord], pipeline: WritePipeline
    ) -> None:
        """Bills stamped after what both clocks vouch for: an outcome that says so, and a
        retry in a while (as for POs)."""
        for record in records:
            if isinstance(record, RejectedRecord) or record.updated_at is None:
                self.take(record, pipeline)
                continue
            if self.ledger.is_handled(record.id, record.updated_at, self.kind):
                continue
            pipeline.settle((self.kind, record.id))
            entry = self.ledger.entry(record.id, self.kind) or LedgerEntry(
                record.id, SyncStatus.PENDING, kind=self.kind
            )
            now = self._clock()
            self.recorder.record(
                [outcomes.waiting(entry, record.updated_at, now=now, policy=self.policy)]
            )

    def take_vanished(self, entry: LedgerEntry, pipeline: WritePipeline) -> None:
        """A bill the full sweep (or a retry) no longer finds in Luminous."""
        pipeline.settle(entry.key)
        decision = bill_plan.decide_vanished_bill(
            entry, policy=self.policy, realm_id=self.realm_id, now=self._clock()
        )
        self._event("bill_vanished", bill_id=entry.doc_id, action=decision.action.operation)
        self._carry_out(decision, entry.doc_id, entry, None, pipeline, time.monotonic())

    def _carry_out(
        self,
        decision: bill_plan.BillDecision,
        doc_id: int,
        entry: LedgerEntry | None,
        updated_at: datetime | None,
        pipeline: WritePipeline,
        started: float,
    ) -> None:
        action, number = decision.action, decision.number
        base = entry or LedgerEntry(doc_id=doc_id, status=SyncStatus.PENDING, kind=self.kind)
        if decision.vendor is not None:
            base = replace(base, vendor=decision.vendor)
        waiting = isinstance(action, bill_plan.Wait | bill_plan.Park)
        if waiting or (entry is not None and entry.last_error_code in WAITING_CODES):
            self.lines.wait_for(self.kind, doc_id, decision.waits_for if waiting else ())
        if isinstance(action, bill_plan.Wait):
            done = bill_plan.waiting_record(
                base,
                action.reason,
                number=number,
                updated_at=updated_at,
                now=self._clock(),
                policy=self.policy,
            )
        elif isinstance(action, bill_plan.Park):
            done = bill_plan.parked_record(
                base, action.reason, number=number, updated_at=updated_at
            )
        elif isinstance(action, plan.Reject):
            done = outcomes.reject(
                doc_id, base, action.reason, number=number, updated_at=updated_at, kind=self.kind
            )
        elif isinstance(action, plan.Hold | plan.Noop):
            done = outcomes.hold(
                doc_id, base, action, number=number, updated_at=updated_at, kind=self.kind
            )
        else:
            write = Write(self.kind, doc_id, action, decision.desired, base, updated_at, number)
            pipeline.submit(replace(write, started=started))
            return
        self.recorder.record([replace(done, started=started)])
