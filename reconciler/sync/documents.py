"""One document read from Luminous (or found gone by the sweep): decided, then written or
recorded. The same for every kind.

The decision is `documents.plan.decide`, pure, with the kind's `KindPlan`; what it needs
beside the record (the company's rules, where a bill's POs stand) comes from the kind's hooks
(`sync.kinds`). A write goes to the pipeline; a decision that sends nothing is recorded at once
(`outcomes.not_sent`). A record is the unit of failure: even a bug meeting odd data becomes
that record's outcome, never a crash of the pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.documents import actions, outcomes
from reconciler.documents.plan import Decision, KindPlan, PlanPolicy, decide, decide_vanished
from reconciler.model import DocKind, LedgerEntry, RejectedRecord, SyncStatus
from reconciler.write.writer import Write

if TYPE_CHECKING:
    from reconciler.state import Ledger
    from reconciler.sync.recorder import Recorder
    from reconciler.write.pipeline import WritePipeline

REASON_MAX = 300


class KindHooks(Protocol):
    """What a kind does around the pure plan (`sync.kinds.po`, `sync.kinds.bill`)."""

    @property
    def plan(self) -> KindPlan: ...

    @property
    def policy(self) -> PlanPolicy:
        """What happens to one gone from Luminous, and to its retries."""
        ...

    def context(self, record: Any) -> Any:
        """What `decide` needs beside the record and its row (reads the ledger, not QBO)."""
        ...

    def decided(self, decision: Decision, doc_id: int, entry: LedgerEntry | None) -> None:
        """After the decision, before it is carried out."""
        ...

    def before(self) -> None:
        """Before the kind's read in a pass."""
        ...

    def after(self) -> None:
        """After its read and the pass's retries."""
        ...


class DocumentSync:
    """Takes the documents of one kind one at a time for a pass."""

    def __init__(
        self,
        kind: DocKind,
        hooks: KindHooks,
        ledger: Ledger,
        recorder: Recorder,
        *,
        realm_id: str,
        clock: Callable[[], datetime],
        on_event: Callable[..., None],
    ) -> None:
        self.kind = kind
        self.hooks = hooks
        self.ledger = ledger
        self.recorder = recorder
        self.realm_id = realm_id
        self._clock = clock
        self._event = on_event

    def take(self, record: Any, pipeline: WritePipeline, *, force_retry: bool = False) -> None:
        """Decide what one record read from Luminous needs, and have it done."""
        started = time.monotonic()
        if record.id is None:
            assert isinstance(record, RejectedRecord)
            self.recorder.without_id(record)
            return
        pipeline.settle((self.kind, record.id))
        entry = self.ledger.entry(record.id, self.kind)
        try:
            decision = decide(
                record,
                entry,
                self.hooks.plan,
                self.hooks.context(record),
                policy=self.hooks.policy,
                realm_id=self.realm_id,
                now=self._clock(),
                force_retry=force_retry,
            )
        except Exception as exc:  # a record is the unit of failure, even for a bug
            self._say("decision_failed", record.id, error_type=type(exc).__name__)
            why = f"cannot map this {self.kind.label} ({type(exc).__name__}: {exc})"
            number = self._number_of(record)
            decision = Decision(actions.Reject(why[:REASON_MAX]), number=number)
        self._carry_out(decision, record.id, entry, record.updated_at, pipeline, started)

    def hold_future(self, records: list[Any], pipeline: WritePipeline) -> None:
        """Documents stamped after what both clocks vouch for: an outcome that says so, a
        retry in a while (the retries, not the read, take them up), and the checkpoint stays.
        A record whose stamp cannot be read at all is rejected with the reason."""
        for record in records:
            if isinstance(record, RejectedRecord) or record.updated_at is None:
                self.take(record, pipeline)
                continue
            if self.ledger.is_handled(record.id, record.updated_at, self.kind):
                continue
            pipeline.settle((self.kind, record.id))
            entry = self.ledger.entry(record.id, self.kind) or self._new_row(record.id)
            now, policy = self._clock(), self.hooks.policy
            self.recorder.record(
                [outcomes.waiting(entry, record.updated_at, now=now, policy=policy)]
            )

    def take_vanished(self, entry: LedgerEntry, pipeline: WritePipeline) -> None:
        """A document the full sweep (or a retry) no longer finds in Luminous."""
        pipeline.settle(entry.key)
        decision = decide_vanished(
            entry, policy=self.hooks.policy, realm_id=self.realm_id, now=self._clock()
        )
        self._say("vanished", entry.doc_id, action=decision.action.operation)
        self._carry_out(decision, entry.doc_id, entry, None, pipeline, time.monotonic())

    def _carry_out(
        self,
        decision: Decision,
        doc_id: int,
        entry: LedgerEntry | None,
        updated_at: datetime | None,
        pipeline: WritePipeline,
        started: float,
    ) -> None:
        self.hooks.decided(decision, doc_id, entry)
        action, number = decision.action, decision.number
        base = entry or self._new_row(doc_id)
        if decision.vendor is not None:  # the status page filters by vendor
            base = replace(base, vendor=decision.vendor)
        if isinstance(action, actions.WriteAction):
            write = Write(self.kind, doc_id, action, decision.desired, base, updated_at, number)
            pipeline.submit(replace(write, started=started))
            return
        now, policy = self._clock(), self.hooks.policy
        done = outcomes.not_sent(
            base, action, number=number, updated_at=updated_at, now=now, policy=policy
        )
        self.recorder.record([replace(done, started=started)])

    def _new_row(self, doc_id: int) -> LedgerEntry:
        return LedgerEntry(doc_id=doc_id, status=SyncStatus.PENDING, kind=self.kind)

    def _number_of(self, record: Any) -> str | None:
        """The number a record that broke its decision is known by, if it still shows one."""
        try:
            return self.hooks.plan.describe(record, None, None)[0]
        except Exception:  # the record broke the decision already: no number, then
            return None

    def _say(self, what: str, doc_id: int, **fields: Any) -> None:
        """A log event named for the kind: `po_vanished` with `po_id`, `bill_…` with `bill_id`."""
        label = self.kind.value
        self._event(f"{label}_{what}", **{f"{label}_id": doc_id}, **fields)
