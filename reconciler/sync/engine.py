"""One pass: pull -> decide -> write -> record, then the retries that are due and the sweep.

    for each source (the kinds of `sync.kinds`: POs, then bills or receiving reports),
    for each document read since that source's checkpoint (`pull`, `luminous`):
        decision = plan.decide(record, its ledger row)    pure: map, skip, hold, plan
        nothing to send  -> recorder.record(row)          ledger + checkpoint, in one commit
        a write          -> pipeline.submit(write)        requestid first, batches, answers

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
from reconciler.config.settings import Settings
from reconciler.documents import drift
from reconciler.resolve import References
from reconciler.resolve.company import CompanyContext
from reconciler.sync import report
from reconciler.sync.drift_check import DriftCheck
from reconciler.sync.holds import Holds, record_quiet
from reconciler.sync.kinds import KINDS, PassParts
from reconciler.sync.read import SourceRead
from reconciler.sync.recorder import Recorder
from reconciler.sync.report import PassReport, RequestCounter, new_run_id
from reconciler.sync.sources import open_sources
from reconciler.sync.sweep import FullSweep
from reconciler.write.pipeline import WritePipeline

if TYPE_CHECKING:
    from reconciler.luminous.client import LuminousClient
    from reconciler.state import StateStore

__all__ = ["Deps", "PassReport", "RequestCounter", "run_pass"]


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
    # before anything else: a QBO token at hand (a failure stops the pass, no document hurt)
    ready: Callable[[], None] = lambda: None


def run_pass(
    deps: Deps, *, full_sweep: bool = False, counter: RequestCounter | None = None
) -> PassReport:
    """One reconcile pass; the daemon and `--once` both call this."""
    return Pass(deps, counter).run(full_sweep=full_sweep)


class Pass:
    """The parts of one pass: its report, recorder and sources (their caches live for it)."""

    def __init__(self, deps: Deps, counter: RequestCounter | None) -> None:
        self.d, self.s, self.counter = deps, deps.settings, counter
        self.run_id = new_run_id(deps.clock())
        self.report = PassReport(run_id=self.run_id, started_at=deps.clock())
        self.ledger = deps.store.ledger
        deps.luminous.remember_in(deps.store)  # what its server takes of our filters
        self.scratch = deps.store.pass_scratch()  # what it remembers per document, off the heap
        self.recorder = Recorder(
            self.ledger,
            self.report,
            deps.log,
            run_id=self.run_id,
            snapshot_fields=drift.snapshot_fields(self.s.mapping_rules()),
            lines=deps.store.lines,
            scratch=self.scratch,
        )
        # The QBO company's country and edition decide the mapping rules (read in `run`).
        self.company = CompanyContext(
            deps.qbo, deps.store, self.s, clock=deps.clock, on_event=self.event
        )
        today = deps.clock().date()
        self.refs = References(deps.qbo, deps.store.refs, self.s, today=today, on_event=self.event)
        parts = PassParts(
            settings=self.s,
            qbo=deps.qbo,
            ledger=self.ledger,
            lines=deps.store.lines,
            refs=self.refs,
            company=self.company,
            scratch=self.scratch,
            run_id=self.run_id,
            clock=deps.clock,
            event=self.event,
            log=deps.log,
            stop_requested=deps.stop_requested,
            before_overwrite=lambda kind, held: self.drift.before_overwrite(
                kind, held, self.report
            ),
        )
        self.parts = parts
        self.drift = self._drift_check()
        self.sources = open_sources(KINDS, parts, deps.luminous, self.recorder)
        self.writers = {source.kind: source.writer for source in self.sources}

    def run(self, *, full_sweep: bool) -> PassReport:
        d = self.d
        try:
            d.store.bind_realm(self.s.qbo.realm_id)
            d.store.runs.start(self.run_id, self.report.started_at)
            self.event("pass_started", full_sweep=full_sweep)
            d.ready()
            self.company.load_meanwhile()  # while Luminous is first asked (`_read_changes`)
            read = SourceRead(self.parts, self.recorder, self.report, self.pipeline)
            for source in self.sources:
                if not d.stop_requested():
                    source.before()
                    read.run(source)
            self.company.loaded()
            if not d.stop_requested():
                self._retry_due()
            for source in self.sources:
                source.after()
            if not d.stop_requested():  # what someone else changed in QBO (`drift_check`)
                self.drift.run(self.report)
            sweep = FullSweep(self.parts, self.recorder.handled, self.pipeline, d.store)
            if not d.stop_requested() and (full_sweep or sweep.due()):
                sweep.run(self.sources)
        except Exception as exc:  # what stopped the pass is recorded, never read as "ok"
            self._stopped_by(exc)
        finally:
            self._finish()
            self.scratch.close()
        return self.report

    # --- the phases ---------------------------------------------------------------------

    def _retry_due(self) -> None:
        d, by_kind = self.d, {source.kind: source for source in self.sources}
        with self.pipeline() as pipeline:
            for entry in self.ledger.due_for_retry(d.clock()):
                source = by_kind.get(entry.kind)
                if entry.key in self.recorder.handled or source is None:
                    continue
                if d.stop_requested():
                    return
                raw = source.client.get(entry.doc_id)
                if raw is None:
                    source.sync.take_vanished(entry, pipeline)
                else:
                    source.sync.take(source.parse(raw), pipeline, force_retry=True)

    # --- plumbing -----------------------------------------------------------------------

    @contextmanager
    def pipeline(self) -> Iterator[WritePipeline]:
        """A write pipeline for one phase of the pass; its batches counted in the report."""
        pipeline = WritePipeline(
            self.writers,
            self.recorder,
            self.d.qbo.send_group,
            policy=self.s.plan_policy(),
            clock=self.d.clock,
            rng=self.d.rng,
            in_flight=self.s.qbo.max_concurrent,
            on_stale=lambda kind, current: self.drift.met_by_our_update(kind, current, self.report),
        )
        try:
            with pipeline:
                yield pipeline
        finally:
            self.report.counts["batch_requests"] += pipeline.batches_sent

    def _drift_check(self) -> DriftCheck:
        d = self.d
        return DriftCheck(
            d.qbo, d.store.drift, self.s, clock=d.clock, log=d.log, run_id=self.run_id
        )

    def event(self, event: str, **kw: Any) -> None:
        self.d.log.info(event, run_id=self.run_id, **kw)

    def _stopped_by(self, exc: Exception) -> None:
        event = self.report.stopped_by(exc)
        log = self.d.log.error if event != "pass_aborted" else self.d.log.warning
        crash = exc if event == "pass_crashed" else None
        code = errors.code_of(exc)
        log(event, run_id=self.run_id, error_code=code, reason=str(exc), exc_info=crash)

    def _finish(self) -> None:
        # the line Ids of answers whose outcome a crash left out, and what a service asked
        self._keep(self.d.store.lines.flush)
        self._keep(self._holds)
        r = report.close(
            self.report,
            finished_at=self.d.clock(),
            checkpoint=self.ledger.checkpoint(),
            status_counts=self.ledger.status_counts(),
            counter=self.counter,
        )
        self._keep(
            lambda: self.d.store.runs.finish(self.run_id, r.finished_at, r.outcome, r.as_dict())
        )
        self.d.log.info("pass_finished", outcome=r.outcome, **r.as_dict())

    def _holds(self) -> None:
        clients = {"luminous": getattr(self.d.luminous, "http", None), "qbo": self.d.qbo}
        for hold in record_quiet(Holds(self.d.store, self.d.clock), clients):
            self.d.log.warning("service_hold", run_id=self.run_id, reason=hold.describe())

    def _keep(self, write: Callable[[], Any]) -> None:
        """A state write at the end of the pass; the state file failing (a full disk) is what
        stopped the pass if nothing else did, and never hides what did."""
        try:
            write()
        except errors.ReconcilerError as exc:
            if self.report.outcome in ("ok", "failures"):
                self._stopped_by(exc)
            else:
                self.d.log.warning("pass_unrecorded", run_id=self.run_id, reason=str(exc))
