"""One pass: pull -> decide -> write -> record, then the retries that are due and the sweep.

    for each PO read since the checkpoint (pull.py, luminous.py):
        decision = plan.decide(record, its ledger row)     pure: map, skip, hold, plan
        nothing to send  -> recorder.record(row)           ledger + checkpoint, in one commit
        a write          -> pipeline.submit(write)         requestid first, batches, answers

`checkpoint.CheckpointTracker` says where the checkpoint may go as outcomes are recorded, and
where it goes once the read is over. A document's failure is its own: `Retryable` schedules a
retry, `Parked` and `BadInput` wait for a change or `reconciler retry`. Only `Fatal`
(authorization, configuration, wrong company) stops the pass, leaving the write in hand
`pending` so the next pass takes it up with the same requestid.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from reconciler import errors, report
from reconciler.checkpoint import CheckpointTracker
from reconciler.config import Settings
from reconciler.crashpoints import crash_point
from reconciler.luminous_parse import parse_or_reject
from reconciler.model import DocKind, Lifecycle
from reconciler.pipeline import WritePipeline
from reconciler.po_sync import POSync
from reconciler.po_writer import POWriter
from reconciler.pull import pull_changes, sweep_vanished
from reconciler.recorder import Recorder
from reconciler.report import PassReport, RequestCounter, new_run_id
from reconciler.resolve import References

if TYPE_CHECKING:
    from reconciler.luminous import LuminousClient
    from reconciler.state import StateStore

__all__ = ["Deps", "PassReport", "RequestCounter", "run_pass"]

PO = DocKind.PURCHASE_ORDER
PROGRESS_EVERY = 100


@dataclass
class Deps:
    """Everything a pass needs, built by the CLI (or a test) and handed in."""

    settings: Settings
    store: StateStore
    luminous: LuminousClient
    qbo: Any  # QBOClient
    log: Any
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    rng: random.Random = field(default_factory=random.Random)
    stop_requested: Callable[[], bool] = lambda: False


def run_pass(
    deps: Deps, *, full_sweep: bool = False, counter: RequestCounter | None = None
) -> PassReport:
    """One reconcile pass; the daemon and `--once` both call this."""
    return Pass(deps, counter).run(full_sweep=full_sweep)


class Pass:
    """The parts of one pass: its report, recorder and writers (their caches live for it)."""

    def __init__(self, deps: Deps, counter: RequestCounter | None) -> None:
        self.d = deps
        self.s = deps.settings
        self.counter = counter
        self.run_id = new_run_id(deps.clock())
        self.report = PassReport(run_id=self.run_id, started_at=deps.clock())
        self.ledger = deps.store.ledger
        self.recorder = Recorder(self.ledger, self.report, deps.log, run_id=self.run_id)
        self.policy = self.s.plan_policy()
        self.pos = POSync(
            self.s, self.ledger, self.recorder, clock=deps.clock, on_event=self._event
        )
        refs = References(
            deps.qbo, deps.store.refs, self.s, today=deps.clock().date(), on_event=self._event
        )
        self.writers = {PO: POWriter(deps.qbo, self.ledger, refs, self.s)}

    def run(self, *, full_sweep: bool) -> PassReport:
        d = self.d
        d.store.bind_realm(self.s.qbo.realm_id)
        d.store.runs.start(self.run_id, self.report.started_at)
        self._event("pass_started", full_sweep=full_sweep)
        try:
            self._read_changes()
            if not d.stop_requested():
                self._retry_due()
            if not d.stop_requested() and (full_sweep or self._sweep_due()):
                self._sweep()
        except errors.Fatal as exc:
            self.report.fatal = str(exc)
            self.report.authorization_lost = isinstance(
                exc, errors.AuthorizationLost | errors.QBOFatalFault
            )
            d.log.error("pass_stopped", run_id=self.run_id, error_code=exc.code, reason=str(exc))
        except errors.ReconcilerError as exc:
            # Transient trouble outside any one PO (Luminous unavailable mid-pull, ...): what
            # was recorded stays recorded, the checkpoint holds, the next pass goes on.
            self.report.aborted = str(exc)
            d.log.warning("pass_aborted", run_id=self.run_id, error_code=exc.code, reason=str(exc))
        finally:
            self._finish()
        return self.report

    # --- the three phases ---------------------------------------------------------------

    def _read_changes(self) -> None:
        """POs changed since the checkpoint, in the order read; the checkpoint moves with
        their outcomes while the read is in key order, else once at the end of a full read."""
        d = self.d
        checkpoint = self.ledger.checkpoint()
        result = pull_changes(
            d.luminous,
            checkpoint,
            overlap=self.s.luminous.overlap,
            settle_lag=self.s.luminous.settle_lag,
            already_handled=self._handled_before,
        )
        tracker = self.recorder.trackers[PO] = CheckpointTracker(checkpoint, result.window.ceiling)
        read_all = False
        with self._pipeline() as pipeline:
            for count, record in enumerate(result.records, start=1):
                if d.stop_requested():
                    self._event("pass_interrupted", processed=count - 1)
                    break
                if record.id is not None:
                    pipeline.settle((PO, record.id))  # an earlier version still out: first
                tracker.read(record.key, in_key_order=d.luminous.last_read.mode == "key")
                self.pos.take(record, pipeline)
                if count % PROGRESS_EVERY == 0:
                    self._event("pass_progress", processed=count)
            else:
                read_all = True
        if read_all:
            crash_point("before_checkpoint")
            moved = tracker.at_end_of_read(result.safe_ceiling)
            if moved is not None:
                self.ledger.move_checkpoint(moved)
        tracker.finish()
        self.report.counts["read"] += result.stats.read
        self.report.counts["skipped_as_handled"] += result.stats.skipped_handled

    def _retry_due(self) -> None:
        d = self.d
        with self._pipeline() as pipeline:
            for entry in self.ledger.due_for_retry(d.clock()):
                if entry.key in self.recorder.handled or entry.kind is not PO:
                    continue
                if d.stop_requested():
                    return
                raw = d.luminous.get_po(entry.doc_id)
                if raw is None:
                    self.pos.take_vanished(entry, pipeline)
                else:
                    self.pos.take(parse_or_reject(raw), pipeline, force_retry=True)

    def _sweep(self) -> None:
        """Every PO again: those gone from Luminous are closed or deleted in QBO; edits that did
        not move updated_at, and commits backdated past the overlap, are caught (unchanged POs
        cost no QBO request)."""
        d = self.d
        known = [
            e.doc_id
            for e in self.ledger.entries(kind=PO)
            if e.lifecycle is not Lifecycle.DELETED and e.qbo_id is not None
        ]
        vanished = sweep_vanished(d.luminous, known)
        self._event("full_sweep", known=len(known), vanished=len(vanished))
        with self._pipeline() as pipeline:
            for doc_id in sorted(vanished):
                if d.stop_requested():
                    return
                entry = self.ledger.entry(doc_id)
                if entry is not None:
                    self.pos.take_vanished(entry, pipeline)
            everything = pull_changes(
                d.luminous,
                None,
                overlap=timedelta(0),
                settle_lag=self.s.luminous.settle_lag,
                already_handled=lambda po_id, _at: (PO, po_id) in self.recorder.handled,
            )
            for record in everything.records:
                if d.stop_requested():
                    return
                self.pos.take(record, pipeline)
        d.store.set_meta("last_full_sweep_at", d.clock().isoformat())

    def _sweep_due(self) -> bool:
        last = self.d.store.get_meta("last_full_sweep_at")
        if last is None:
            # The first pass reads everything anyway; the sweep interval counts from it.
            self.d.store.set_meta("last_full_sweep_at", self.d.clock().isoformat())
            return False
        return self.d.clock() - datetime.fromisoformat(last) >= self.s.luminous.full_sweep_interval

    # --- plumbing -----------------------------------------------------------------------

    @contextmanager
    def _pipeline(self) -> Iterator[WritePipeline]:
        pipeline = WritePipeline(
            self.writers,
            self.recorder,
            self.d.qbo.batch,
            policy=self.policy,
            clock=self.d.clock,
            rng=self.d.rng,
            in_flight=min(4, self.s.qbo.max_concurrent),
        )
        try:
            with pipeline:
                yield pipeline
        finally:
            self.report.counts["batch_requests"] += pipeline.batches_sent

    def _handled_before(self, po_id: int, updated_at: datetime) -> bool:
        """Recorded before (a crash came between the outcome and the checkpoint move): it
        still counts towards this pass's checkpoint."""
        if not self.ledger.is_handled(po_id, updated_at):
            return False
        self.recorder.trackers[PO].settled_before((updated_at, po_id))
        return True

    def _event(self, event: str, **kw: Any) -> None:
        self.d.log.info(event, run_id=self.run_id, **kw)

    def _finish(self) -> None:
        r = report.close(
            self.report,
            finished_at=self.d.clock(),
            checkpoint=self.ledger.checkpoint(),
            status_counts=self.ledger.status_counts(),
            counter=self.counter,
        )
        self.d.store.runs.finish(self.run_id, r.finished_at, r.outcome, r.as_dict())
        self.d.log.info("pass_finished", outcome=r.outcome, **r.as_dict())
