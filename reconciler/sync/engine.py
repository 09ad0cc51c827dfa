"""One pass: pull -> decide -> write -> record, then the retries that are due and the sweep.

    for each source (sources.py: POs, then bills or receiving reports by [bills] from),
    for each document read since that source's checkpoint (pull.py, luminous/):
        decision = plan.decide(record, its ledger row)     pure: map, skip, hold, plan
        nothing to send  -> recorder.record(row)           ledger + checkpoint, in one commit
        a write          -> pipeline.submit(write)         requestid first, batches, answers

`checkpoint.CheckpointTracker` says where the checkpoint may go as outcomes are recorded and
once the read is over. A document's failure is its own (`Retryable` retries later, `Parked`
and `BadInput` wait for a change or `reconciler retry`); only `Fatal` (authorization,
configuration, wrong company) stops the pass, its write left `pending` for the next pass.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from reconciler import errors
from reconciler.config.loader import Settings
from reconciler.crashpoints import crash_point
from reconciler.documents import drift
from reconciler.documents.po.parse import parse_or_reject
from reconciler.model import Checkpoint, DocKind
from reconciler.resolve import References
from reconciler.resolve.company import CompanyContext
from reconciler.sync import cursor, report, sweep
from reconciler.sync.checkpoint import CheckpointTracker
from reconciler.sync.drift_check import DriftCheck
from reconciler.sync.po_sync import POSync
from reconciler.sync.pull import PullResult, pull_changes
from reconciler.sync.recorder import Recorder
from reconciler.sync.report import PassReport, RequestCounter, new_run_id
from reconciler.sync.sources import Source, bill_sources
from reconciler.write.pipeline import WritePipeline
from reconciler.write.po import POWriter

if TYPE_CHECKING:
    from reconciler.luminous.client import LuminousClient
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
        fields = drift.snapshot_fields(self.s.mapping_rules())  # what a write's snapshot keeps
        self.scratch = deps.store.pass_scratch()  # what it remembers per document, off the heap
        self.recorder = Recorder(
            self.ledger, self.report, deps.log, run_id=self.run_id, snapshot_fields=fields,
            lines=deps.store.lines, scratch=self.scratch,
        )  # fmt: skip
        self.policy = self.s.plan_policy()
        # The QBO company's country and edition decide the mapping rules (read in `run`).
        self.company = CompanyContext(deps.qbo, deps.store, self.s, clock=deps.clock,
                                      on_event=self.event)  # fmt: skip
        self.pos = POSync(
            self.s, self.ledger, self.recorder, clock=deps.clock, on_event=self.event,
            company=self.company,
        )  # fmt: skip
        self.refs = refs = References(
            deps.qbo, deps.store.refs, self.s, today=deps.clock().date(), on_event=self.event
        )
        first = self.ledger.count(kind=PO) == 0  # a new install, a lost state file: index QBO
        self.writers: dict[DocKind, Any] = {PO: POWriter(
            deps.qbo, self.ledger, refs, self.s, first_connection=first, company=self.company,
            lines=deps.store.lines, scratch=self.scratch)}  # fmt: skip
        if self.s.bills.from_ != "off":  # bills link to PO lines by Id: know them
            self.pos.learn_lines = self.writers[PO].learn_lines
        self.sources = [Source(PO, deps.luminous, parse_or_reject, self.pos)]
        self.sources += bill_sources(self, refs)  # after the POs: a bill's PO goes first

    def run(self, *, full_sweep: bool) -> PassReport:
        d = self.d
        d.store.bind_realm(self.s.qbo.realm_id)
        d.store.runs.start(self.run_id, self.report.started_at)
        self.event("pass_started", full_sweep=full_sweep)
        try:
            self.company.load_meanwhile()  # while Luminous is first asked (`_read_changes`)
            for source in self.sources:
                if not d.stop_requested():
                    source.before()
                    self._read_changes(source)
            self.company.loaded()
            if not d.stop_requested():
                self._retry_due()
            for source in self.sources[1:]:
                source.after()
            if not d.stop_requested():  # what someone else changed in QBO (`drift_check`)
                DriftCheck(d.qbo, d.store.drift, self.s, clock=d.clock, log=d.log,
                           run_id=self.run_id).run(self.report)  # fmt: skip
            if not d.stop_requested() and (full_sweep or sweep.due(self)):
                sweep.run_all(self)
        except Exception as exc:  # what stopped the pass is recorded, never read as "ok"
            event = self.report.stopped_by(exc)
            log = d.log.error if event != "pass_aborted" else d.log.warning
            crash = exc if event == "pass_crashed" else None
            log(event, run_id=self.run_id, error_code=errors.code_of(exc), reason=str(exc),
                exc_info=crash)  # fmt: skip
        finally:
            self._finish()
            self.scratch.close()
        return self.report

    # --- the three phases ---------------------------------------------------------------

    def _read_changes(self, source: Source) -> None:
        """The documents of one list changed since its checkpoint, in the order read; the
        checkpoint moves with their outcomes while the read is in key order, else once at the
        end of a full read."""
        d, kind = self.d, source.kind
        result, checkpoint = self._pull(source)
        tracker = CheckpointTracker(checkpoint, result.window.ceiling)
        self.recorder.trackers[kind] = tracker
        read_all = False
        with self.pipeline() as pipeline:
            if checkpoint is None and not result.window.empty:  # a first read: a backlog
                pipeline.warm(kind)  # (its index and accounts, while it is read)
            if result.future:  # (else once the first page is in, below)
                self.company.loaded()
            source.sync.hold_future(result.future, pipeline)
            for count, record in enumerate(result.records, start=1):
                if d.stop_requested():
                    self.event("pass_interrupted", processed=count - 1, kind=str(kind))
                    break
                if record.id is not None:
                    pipeline.settle((kind, record.id))  # an earlier version still out: first
                tracker.read(record.key, in_key_order=source.client.last_read.mode == "key")
                if count == 1:  # (the company decides the mapping rules; the count, how
                    self.company.loaded()  # reference creates go)
                    self.refs.expect(source.client.last_read.expected or 0)
                source.sync.take(record, pipeline)
                if count % PROGRESS_EVERY == 0:
                    self.event("pass_progress", processed=count, kind=str(kind))
            else:
                read_all = True
        if read_all:
            crash_point("before_checkpoint")
            moved = tracker.at_end_of_read(result.safe_ceiling)
            if moved is not None:
                self.ledger.move_checkpoint(moved, source.checkpoint)
        tracker.finish()
        self.report.counts["read"] += result.stats.read
        self.report.counts["skipped_as_handled"] += result.stats.skipped_handled

    def _pull(self, source: Source) -> tuple[PullResult, Checkpoint | None]:
        """The window both clocks allow; a checkpoint found ahead of them is brought back."""
        name, kind = source.checkpoint, source.kind
        for _ in range(2):
            checkpoint = self.ledger.checkpoint(name)
            result = pull_changes(
                source.client,
                checkpoint,
                overlap=self.s.luminous.overlap,
                settle_lag=self.s.luminous.settle_lag,
                already_handled=lambda i, at: self.recorder.handled_before(i, at, kind),
                local_now=self.d.clock(),
                tolerance=self.s.luminous.clock_tolerance,
                parse=source.parse,
            )
            back = cursor.brought_back(checkpoint, result.trusted_until)  # type: ignore[arg-type]
            if back is None:
                break
            self.d.log.warning("checkpoint_ahead_of_clocks", was=str(checkpoint), now=str(back))
            self.ledger.reset_checkpoint(back, name)
        return result, checkpoint

    def _retry_due(self) -> None:
        d, by_kind = self.d, {source.kind: source for source in self.sources}
        with self.pipeline() as pipeline:
            for entry in self.ledger.due_for_retry(d.clock()):
                source = by_kind.get(entry.kind)
                if entry.key in self.recorder.handled or source is None:
                    continue
                if d.stop_requested():
                    return
                raw = source.client.get_po(entry.doc_id)
                if raw is None:
                    source.sync.take_vanished(entry, pipeline)
                else:
                    source.sync.take(source.parse(raw), pipeline, force_retry=True)

    # --- plumbing -----------------------------------------------------------------------

    @contextmanager
    def pipeline(self) -> Iterator[WritePipeline]:
        """A write pipeline for one phase of the pass; its batches counted in the report."""
        pipeline = WritePipeline(self.writers, self.recorder, self.d.qbo.send_group,
                                 policy=self.policy, clock=self.d.clock, rng=self.d.rng,
                                 in_flight=self.s.qbo.max_concurrent)  # fmt: skip
        try:
            with pipeline:
                yield pipeline
        finally:
            self.report.counts["batch_requests"] += pipeline.batches_sent

    def event(self, event: str, **kw: Any) -> None:
        self.d.log.info(event, run_id=self.run_id, **kw)

    def _finish(self) -> None:
        self.d.store.lines.flush()  # the line Ids of answers whose outcome a crash left out
        r = report.close(
            self.report,
            finished_at=self.d.clock(),
            checkpoint=self.ledger.checkpoint(),
            status_counts=self.ledger.status_counts(),
            counter=self.counter,
        )
        self.d.store.runs.finish(self.run_id, r.finished_at, r.outcome, r.as_dict())
        self.d.log.info("pass_finished", outcome=r.outcome, **r.as_dict())
