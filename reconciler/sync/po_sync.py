"""One PO read from Luminous (or found gone by the sweep): decided, then written or recorded.

The decision is `plan.decide`, pure; this class reads the ledger row it needs, hands a write to
the pipeline, or records the outcome of a decision that sends nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from reconciler import errors
from reconciler.config.loader import Settings
from reconciler.documents import outcomes, plan
from reconciler.documents.po.model import DesiredPO, SourcePO
from reconciler.model import DocKind, LedgerEntry, RejectedRecord, SyncStatus
from reconciler.sync.recorder import Recorder
from reconciler.write.pipeline import Write, WritePipeline

if TYPE_CHECKING:
    from reconciler.documents.po.mapping import MappingRules
    from reconciler.resolve.company import CompanyContext
    from reconciler.state import Ledger

PO = DocKind.PURCHASE_ORDER


class POSync:
    """Takes POs one at a time for a pass."""

    def __init__(
        self,
        settings: Settings,
        ledger: Ledger,
        recorder: Recorder,
        *,
        clock: Callable[[], datetime],
        on_event: Callable[..., None],
        company: CompanyContext | None = None,
        learn_lines: Callable[[DesiredPO], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.learn_lines = learn_lines  # bills on: a PO's QBO line Ids, if never recorded
        self.recorder = recorder
        self.realm_id = settings.qbo.realm_id
        self._company = company
        self._rules = settings.mapping_rules()
        self.policy = settings.plan_policy()
        self._clock = clock
        self._event = on_event

    @property
    def rules(self) -> MappingRules:
        """The company's rules (its country decides the tax rule) once the pass knows it."""
        return self._company.rules() if self._company is not None else self._rules

    def take(
        self,
        record: SourcePO | RejectedRecord,
        pipeline: WritePipeline,
        *,
        force_retry: bool = False,
    ) -> None:
        """Decide what one PO read from Luminous needs, and have it done."""
        started = time.monotonic()
        if record.id is None:
            assert isinstance(record, RejectedRecord)
            self.recorder.without_id(record)
            return
        pipeline.settle((PO, record.id))
        entry = self.ledger.entry(record.id)
        try:
            decision = plan.decide(
                record,
                entry,
                rules=self.rules,
                policy=self.policy,
                realm_id=self.realm_id,
                now=self._clock(),
                force_retry=force_retry,
            )
        except Exception as exc:  # a record is the unit of failure, even for a bug
            self._event("po_decision_failed", po_id=record.id, error_type=type(exc).__name__)
            reason = f"cannot map this PO ({type(exc).__name__}: {exc})"[:300]
            decision = plan.Decision(plan.Reject(reason), number=_number_of(record))
        if self.learn_lines is not None and isinstance(decision.action, plan.Noop):
            self._learn(decision)
        self._carry_out(decision, record.id, entry, record.updated_at, pipeline, started)

    def _learn(self, decision: plan.Decision) -> None:
        """An unchanged PO that bills may link to: its QBO line Ids, learnt once (one read)."""
        try:
            if decision.desired is not None:
                self.learn_lines(decision.desired)  # type: ignore[misc]
        except (errors.Retryable, errors.Parked, errors.BadInput) as exc:  # its bills wait
            self._event("po_lines_unknown", po_id=decision.desired.source_id, reason=str(exc))

    def hold_future(
        self, records: list[SourcePO | RejectedRecord], pipeline: WritePipeline
    ) -> None:
        """POs stamped after what both clocks vouch for: an outcome that says so, a retry in
        a while (the retries, not the read, take them up), and the checkpoint stays. A record
        whose stamp cannot be read at all is rejected with the reason."""
        for record in records:
            if isinstance(record, RejectedRecord) or record.updated_at is None:
                self.take(record, pipeline)
                continue
            if self.ledger.is_handled(record.id, record.updated_at):
                continue
            pipeline.settle((PO, record.id))
            entry = self.ledger.entry(record.id) or LedgerEntry(record.id, SyncStatus.PENDING)
            self.recorder.record(
                [outcomes.waiting(entry, record.updated_at, now=self._clock(), policy=self.policy)]
            )

    def take_vanished(self, entry: LedgerEntry, pipeline: WritePipeline) -> None:
        """A PO the full sweep (or a retry) no longer finds in Luminous."""
        pipeline.settle(entry.key)
        decision = plan.decide_vanished(
            entry, policy=self.policy, realm_id=self.realm_id, now=self._clock()
        )
        self._event("po_vanished", po_id=entry.doc_id, action=decision.action.operation)
        self._carry_out(decision, entry.doc_id, entry, None, pipeline, time.monotonic())

    def _carry_out(
        self,
        decision: plan.Decision,
        doc_id: int,
        entry: LedgerEntry | None,
        updated_at: datetime | None,
        pipeline: WritePipeline,
        started: float,
    ) -> None:
        action, number = decision.action, decision.number
        if decision.vendor is not None:  # the status page filters by vendor
            entry = replace(
                entry or LedgerEntry(doc_id=doc_id, status=SyncStatus.PENDING),
                vendor=decision.vendor,
            )
        if isinstance(action, plan.Reject):
            done = outcomes.reject(
                doc_id, entry, action.reason, number=number, updated_at=updated_at
            )
        elif isinstance(action, plan.Hold | plan.Noop):
            done = outcomes.hold(doc_id, entry, action, number=number, updated_at=updated_at)
        else:
            base = entry or LedgerEntry(doc_id=doc_id, status=SyncStatus.PENDING)
            pipeline.submit(
                Write(PO, doc_id, action, decision.desired, base, updated_at, number, started)
            )
            return
        self.recorder.record([replace(done, started=started)])


def _number_of(record: SourcePO | RejectedRecord) -> str | None:
    if isinstance(record, RejectedRecord):
        return record.number
    return record.order_numbers[0] if record.order_numbers else None
