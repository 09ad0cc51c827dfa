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

from reconciler import outcomes, plan
from reconciler.config import Settings
from reconciler.model import DocKind, LedgerEntry, RejectedRecord, SourcePO, SyncStatus
from reconciler.pipeline import Write, WritePipeline
from reconciler.recorder import Recorder

if TYPE_CHECKING:
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
    ) -> None:
        self.ledger = ledger
        self.recorder = recorder
        self.realm_id = settings.qbo.realm_id
        self.rules = settings.mapping_rules()
        self.policy = settings.plan_policy()
        self._clock = clock
        self._event = on_event

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
        decision = plan.decide(
            record,
            entry,
            rules=self.rules,
            policy=self.policy,
            realm_id=self.realm_id,
            now=self._clock(),
            force_retry=force_retry,
        )
        self._carry_out(decision, record.id, entry, record.updated_at, pipeline, started)

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
