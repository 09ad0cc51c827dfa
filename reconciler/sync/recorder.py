"""Where every outcome of a pass goes: the ledger (with the checkpoint it allows), the pass
report, and one structured log event per document."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from reconciler.documents import drift
from reconciler.documents.outcomes import Record, anonymous_reject
from reconciler.model import (
    DocKey,
    DocKind,
    LedgerEntry,
    Lifecycle,
    Outcome,
    RejectedRecord,
    SyncStatus,
)
from reconciler.state import DocLines, Ledger
from reconciler.state.scratch import IdSet, PassScratch
from reconciler.sync.checkpoint import CheckpointTracker
from reconciler.sync.report import PAST_TENSE, PassReport


class HandledDocs:
    """The documents this pass recorded an outcome for, as a set of ids per kind: a backlog of
    10,000 POs holds all of them until the pass ends, so they live in the pass's scratch."""

    def __init__(self, scratch: PassScratch | None = None) -> None:
        self._scratch = scratch or PassScratch()
        self._ids: dict[DocKind, IdSet] = {}

    def add(self, key: DocKey) -> None:
        kind, doc_id = key
        if kind not in self._ids:
            self._ids[kind] = IdSet(self._scratch)
        self._ids[kind].add(doc_id)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, tuple) or len(key) != 2:
            return False
        kind, doc_id = key
        return doc_id in self._ids.get(kind, ())

    def ids(self, kind: DocKind) -> frozenset[int]:
        return frozenset(self._ids.get(kind, ()))


class Recorder:
    """Records outcomes for one pass; the pipeline's `Recorder`."""

    def __init__(
        self,
        ledger: Ledger,
        report: PassReport,
        log: Any,
        *,
        run_id: str,
        snapshot_fields: Mapping[DocKind, tuple[str, ...]] | None = None,
        lines: DocLines | None = None,
        scratch: PassScratch | None = None,
    ) -> None:
        self.ledger = ledger
        self.lines = lines  # the line Ids writers staged: committed with the outcomes
        self.snapshot_fields = snapshot_fields or {}  # what a write's snapshot keeps, by kind
        self.report = report
        self.log = log
        self.run_id = run_id
        self.trackers: dict[DocKind, CheckpointTracker] = {}
        self.handled = HandledDocs(scratch)

    def handled_before(
        self, po_id: int, updated_at: datetime, kind: DocKind = DocKind.PURCHASE_ORDER
    ) -> bool:
        """Recorded by an earlier pass at this version (a crash came between the outcome and
        the checkpoint move): skipped, and counted towards this read's checkpoint."""
        if not self.ledger.is_handled(po_id, updated_at, kind):
            return False
        tracker = self.trackers.get(kind)
        if tracker is not None:
            tracker.settled_before((updated_at, po_id))
        return True

    def begin(
        self,
        entries: Sequence[LedgerEntry],
        verbs: Sequence[str],
        *,
        bodies: Sequence[Mapping[str, Any] | None] = (),
    ) -> list[LedgerEntry]:
        return self.ledger.begin(entries, run_id=self.run_id, verbs=verbs, bodies=bodies)

    def record(self, records: Sequence[Record]) -> None:
        """The outcomes and the checkpoints they allow, in one transaction; then the report
        and the log."""
        for record in records:
            tracker = self.trackers.get(record.entry.kind)
            if tracker is not None:
                tracker.settle(record.entry.doc_id)
        moves = {
            kind: moved
            for kind, tracker in self.trackers.items()
            if (moved := tracker.allowed()) is not None
        }
        self.ledger.record(
            records,
            run_id=self.run_id,
            checkpoints={kind.checkpoint: moved for kind, moved in moves.items()},
            snapshots=self._snapshots(records),
            also=self.lines.write_staged if self.lines is not None else None,
        )
        for kind, moved in moves.items():
            self.trackers[kind].committed_to(moved)
        for record in records:
            self.handled.add(record.entry.key)
            self.report_outcome(record.outcome, record.started)
        self._free_numbers(records)

    def _free_numbers(self, records: Sequence[Record]) -> None:
        """A document the sync deleted in QBO frees its number: one that failed for wanting it
        (6140, naming the deleted one) is tried again by the next pass instead of keeping a
        stale reason (a PO deleted in Luminous and made again under its number)."""
        for record in records:
            gone = record.entry
            if gone.lifecycle is not Lifecycle.DELETED or gone.status is not SyncStatus.SYNCED:
                continue
            for kind, doc_id in self.ledger.find(gone.number, gone.kind) if gone.number else ():
                other = self.ledger.entry(doc_id, kind) if kind is gone.kind else None
                if other is None or doc_id == gone.doc_id:
                    continue
                if other.status is SyncStatus.FAILED and other.last_error_code == "6140":
                    self.ledger.request_retry(doc_id, kind)

    def _snapshots(self, records: Sequence[Record]) -> list[tuple[DocKey, drift.Snapshot]]:
        """What QBO answered to our writes, as drift checks will compare it (no extra read)."""
        found = []
        for record in records:
            fields = self.snapshot_fields.get(record.entry.kind)
            if fields is None or record.answer is None:
                continue
            snap = drift.snapshot(record.entry.kind, record.answer, fields)
            if snap is not None:
                found.append((record.entry.key, snap))
        return found

    def without_id(self, record: RejectedRecord) -> None:
        """Nothing to key a ledger row on: the log line and the pass's failure count are where
        it shows (exit code 1), with the document's number when the record had one."""
        self.log.error(
            "source_record_without_id",
            run_id=self.run_id,
            po_number=record.number,
            reason=record.reason,
        )
        self.report_outcome(anonymous_reject(record.reason, record.number))

    def report_outcome(self, outcome: Outcome, started: float | None = None) -> None:
        """Count one outcome and log it (records without a ledger row come here directly)."""
        counts = self.report.counts
        counts[str(outcome.status)] += 1
        if outcome.status is SyncStatus.SYNCED and outcome.action in PAST_TENSE:
            counts[PAST_TENSE[outcome.action]] += 1
        label = "po" if outcome.kind is DocKind.PURCHASE_ORDER else outcome.kind.value
        fields: dict[str, Any] = {
            f"{label}_id": outcome.doc_id,
            f"{label}_number": outcome.number,
            "action": outcome.action,
            "qbo_id": outcome.qbo_id,
            "error_code": outcome.error_code,
            "reason": outcome.message,
        }
        if started is not None:
            fields["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
        self.log.info(
            f"{label}_{outcome.status}", run_id=self.run_id, **fields, **dict(outcome.extra)
        )
