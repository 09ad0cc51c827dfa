"""One pass: pull -> parse -> map -> plan -> execute -> record.

The pure pieces (`mapping`, `plan`, `cursor`) decide; this module does the I/O they ask for
and writes every outcome to the ledger, moving the checkpoint in the same transaction. The
order of a write is fixed: the requestid is in the ledger (status `pending`) before the
request leaves, and the answer is in the ledger before the checkpoint may pass the PO.

A PO's failure is the PO's: `Retryable` schedules a retry, `Parked` and `BadInput` wait for a
change or `reconciler retry`. Only `Fatal` (authorization, configuration, wrong company) stops
the pass, leaving the PO in hand `pending` so the next pass takes it up with the same requestid.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler import batching, errors, mapping, plan
from reconciler.config import Settings
from reconciler.crashpoints import crash_point
from reconciler.cursor import advance
from reconciler.luminous import LuminousClient
from reconciler.luminous_parse import parse_or_reject
from reconciler.model import (
    Checkpoint,
    DesiredPO,
    LedgerEntry,
    Lifecycle,
    Outcome,
    RejectedRecord,
    SourcePO,
    SyncStatus,
)
from reconciler.po_writer import POWriter
from reconciler.pull import pull_changes, sweep_vanished
from reconciler.report import PAST_TENSE, PassReport, RequestCounter, new_run_id
from reconciler.state import StateStore

__all__ = ["Deps", "PassReport", "PassRunner", "RequestCounter", "run_pass"]

PROGRESS_EVERY = 100
BATCHES_IN_FLIGHT = 4


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
    on_po_done: Callable[[Outcome], None] = lambda outcome: None


class PassRunner:
    """Carries one pass: the resolvers (caches live for one pass) and the report."""

    def __init__(self, deps: Deps, *, run_id: str, counter: RequestCounter | None = None) -> None:
        self.d = deps
        self.s = deps.settings
        self.run_id = run_id
        self.counter = counter
        self.realm = self.s.qbo.realm_id
        self.rules = self.s.mapping_rules()
        self.policy = self.s.plan_policy()
        self.report = PassReport(run_id=run_id, started_at=deps.clock())
        self.writer = POWriter(
            deps.qbo, deps.store, self.s, today=deps.clock().date(), on_event=self._ref_event
        )
        self._handled: set[int] = set()
        # The checkpoint moves with outcomes while the pull reads in key order: to the highest
        # key recorded, never to or past a key still unsettled (buffered for a batch, or in
        # hand). `_outcome_ceiling` is None whenever outcomes must not move it.
        self._outcome_ceiling: datetime | None = None
        self._recorded_high: tuple[datetime, int] | None = None
        self._unsettled: dict[int, tuple[datetime, int]] = {}
        # Writes waiting to go out in one /batch request (only while `_buffering`).
        self._buffering = False
        self._buffer: list[batching.BufferedWrite] = []
        self._started = 0.0  # when the PO in hand was taken up
        # Batches sent and not yet answered (their POs are unsettled), oldest first: while a
        # backlog lasts, up to `_batches_in_flight` are out at once (latency overlaps; the
        # limiter still paces them against 40 batches a minute and 10 requests in flight).
        self._batches_in_flight = max(1, min(BATCHES_IN_FLIGHT, self.s.qbo.max_concurrent))
        self._in_flight: deque[tuple[Any, ...]] = deque()
        self._pool: ThreadPoolExecutor | None = None
        self._out: set[int] = set()  # POs buffered or in a batch still out

    def _ref_event(self, event: str, **kw: Any) -> None:
        self.d.log.info(event, run_id=self.run_id, **kw)

    # --- one PO -------------------------------------------------------------------------

    def process(
        self, record: SourcePO | RejectedRecord, *, force_retry: bool = False
    ) -> Outcome | None:
        """The PO's outcome, or None while its write waits in the batch buffer (the outcome is
        then logged and counted when the batch is answered)."""
        started = time.monotonic()
        self._started = started
        if isinstance(record, RejectedRecord):
            outcome = self._reject(record)
        else:
            outcome = self._process_po(record, force_retry=force_retry)
        if outcome is None:
            return None
        return self._done(outcome, started)

    def _done(self, outcome: Outcome, started: float) -> Outcome:
        """Count, log and report one PO's recorded outcome."""
        self._count(outcome)
        self.d.log.info(
            "po_" + str(outcome.status),
            run_id=self.run_id,
            po_id=outcome.po_id,
            po_number=outcome.po_number,
            action=outcome.action,
            qbo_id=outcome.qbo_id,
            error_code=outcome.error_code,
            reason=outcome.message,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
            **dict(outcome.extra),
        )
        self.d.on_po_done(outcome)
        return outcome

    def _count(self, outcome: Outcome) -> None:
        self._handled.add(outcome.po_id)
        self.report.counts[str(outcome.status)] += 1
        if outcome.status is SyncStatus.SYNCED and outcome.action in PAST_TENSE:
            self.report.counts[PAST_TENSE[outcome.action]] += 1

    def _reject(self, record: RejectedRecord) -> Outcome:
        if record.po_id is None:
            # Nothing to key a ledger row on: the log line and the pass's failure count are
            # where it shows (exit code 1), with the PO number when the record had one.
            self.d.log.error(
                "source_record_without_id",
                run_id=self.run_id,
                po_number=record.order_number,
                reason=record.reason,
            )
            return Outcome(
                0,
                SyncStatus.FAILED,
                "reject",
                po_number=record.order_number,
                error_code="invalid_source_record",
                message=record.reason,
            )
        po_id = record.po_id
        entry = self.d.store.entry(po_id)
        failed = replace(
            entry or LedgerEntry(po_id=po_id, status=SyncStatus.FAILED),
            status=SyncStatus.FAILED,
            po_number=record.order_number or (entry.po_number if entry else None),
            source_updated_at=record.updated_at,
            last_error_code="invalid_source_record",
            last_error_message=record.reason,
            next_retry_at=None,
        )
        outcome = Outcome(
            po_id,
            SyncStatus.FAILED,
            "reject",
            po_number=failed.po_number,
            error_code="invalid_source_record",
            message=record.reason,
        )
        self._record(failed, outcome)
        return outcome

    def _process_po(self, po: SourcePO, *, force_retry: bool) -> Outcome | None:
        store = self.d.store
        entry = store.entry(po.id)
        force_retry = force_retry or store.force_retry_requested(po.id)
        number = po.order_numbers[0] if po.order_numbers else None
        reason = plan.skip_reason(po, self.policy)
        if reason is not None and (entry is None or entry.qbo_id is None):
            return self._record_skip(po, entry, number, reason)
        try:
            desired = mapping.desired_po(po, self.rules)
        except errors.BadInput as exc:
            return self._reject(
                RejectedRecord(po.id, po.updated_at, exc.message, order_number=number)
            )
        return self._apply(po.id, po.updated_at, desired, entry, force_retry=force_retry)

    def process_vanished(self, po_id: int) -> Outcome:
        """A PO the full sweep no longer finds in Luminous: close or delete it in QBO."""
        entry = self.d.store.entry(po_id)
        outcome = self._apply(po_id, None, None, entry, force_retry=False)
        self._count(outcome)
        self.d.log.info(
            "po_vanished",
            run_id=self.run_id,
            po_id=po_id,
            action=outcome.action,
            status=str(outcome.status),
            reason=outcome.message,
        )
        return outcome

    def _record_skip(
        self, po: SourcePO, entry: LedgerEntry | None, number: str | None, reason: str
    ) -> Outcome:
        skipped = replace(
            entry or LedgerEntry(po_id=po.id, status=SyncStatus.SKIPPED),
            status=SyncStatus.SKIPPED,
            po_number=number,
            source_updated_at=po.updated_at,
            last_error_code=None,
            last_error_message=reason,
            next_retry_at=None,
        )
        outcome = Outcome(po.id, SyncStatus.SKIPPED, "skip", po_number=number, message=reason)
        self._record(skipped, outcome)
        return outcome

    def _apply(
        self,
        po_id: int,
        updated_at: datetime | None,
        desired: DesiredPO | None,
        entry: LedgerEntry | None,
        *,
        force_retry: bool,
    ) -> Outcome | None:
        now = self.d.clock()
        action = plan.plan_po(
            desired,
            entry,
            realm_id=self.realm,
            now=now,
            policy=self.policy,
            force_retry=force_retry,
        )
        number = desired.doc_number if desired else (entry.po_number if entry else None)
        base = entry or LedgerEntry(po_id=po_id, status=SyncStatus.PENDING)
        if isinstance(action, plan.Noop | plan.Skip):
            status = action.status if isinstance(action, plan.Skip) else base.status
            if isinstance(action, plan.Noop) and base.status is SyncStatus.PENDING:
                status = SyncStatus.SYNCED
            kept = replace(
                base,
                status=status,
                po_number=number or base.po_number,
                source_updated_at=updated_at or base.source_updated_at,
            )
            if isinstance(action, plan.Skip) and status is SyncStatus.SKIPPED:
                kept = replace(kept, last_error_code=None, last_error_message=action.reason)
            verb = "none" if isinstance(action, plan.Noop) else "skip"
            outcome = Outcome(
                po_id,
                status,
                verb,
                po_number=kept.po_number,
                qbo_id=kept.qbo_id,
                message=action.reason,
            )
            self._record(kept, outcome, history=verb != "none")
            return outcome
        if self._buffering and desired is not None and batching.batchable(action, desired):
            assert isinstance(action, plan.CreatePO | plan.UpdatePO | plan.ClosePO)
            self._buffer_write(
                batching.BufferedWrite(
                    po_id,
                    self._unsettled.get(po_id),
                    updated_at,
                    desired,
                    base,
                    action,
                    number,
                    self._started,
                )
            )
            return None
        return self._write(po_id, updated_at, desired, base, action, number)

    def _record(self, entry: LedgerEntry, outcome: Outcome, *, history: bool = True) -> None:
        """Every outcome goes through here, taking the checkpoint it allows along."""
        self._settle(entry.po_id)
        self.d.store.record(
            entry,
            outcome,
            run_id=self.run_id,
            checkpoint=self._allowed_checkpoint(),
            history=history,
        )

    def _record_many(self, pairs: list[tuple[LedgerEntry, Outcome]]) -> None:
        """A batch's outcomes in one transaction, with the checkpoint they allow together."""
        for entry, _ in pairs:
            self._settle(entry.po_id)
        self.d.store.record_many(pairs, run_id=self.run_id, checkpoint=self._allowed_checkpoint())

    def _settle(self, po_id: int) -> None:
        self._out.discard(po_id)
        key = self._unsettled.pop(po_id, None)
        if key is not None and (self._recorded_high is None or key > self._recorded_high):
            self._recorded_high = key

    def _allowed_checkpoint(self) -> Checkpoint | None:
        """The highest recorded key, short of the first unsettled one (None: do not move)."""
        if self._outcome_ceiling is None or self._recorded_high is None:
            return None
        return advance(
            self.d.store.checkpoint(),
            [self._recorded_high],
            self._unsettled.values(),
            self._outcome_ceiling,
        )

    # --- writes -------------------------------------------------------------------------

    def _write(
        self,
        po_id: int,
        updated_at: datetime | None,
        desired: DesiredPO | None,
        base: LedgerEntry,
        action: plan.Action,
        number: str | None,
    ) -> Outcome:
        verb = plan.action_name(action)
        pending = batching.pending_entry(base, desired, updated_at, action, number)
        # The id on the wire also depends on the QBO document's state, so content that comes
        # back (A -> B -> A -> B) never reuses an id whose stored answer QBO would replay.
        wire_id = batching.wire_request_id(action.request_id, base)

        def send() -> tuple[dict[str, Any] | None, str | None, str]:
            nonlocal pending
            payload = self.writer.payload(desired) if desired is not None else None
            pending = self.d.store.begin_write(pending, run_id=self.run_id, action=verb)
            crash_point("ledger_pending")
            try:
                return (*self.writer.send(action, pending, desired, payload, wire_id), wire_id)
            except errors.ObjectNotFoundFault:
                if desired is None:
                    raise
                # A cached vendor, item or account was deleted or made inactive in QBO:
                # forget this PO's references, resolve them afresh, send once more.
                self.writer.forget_refs(desired)
                # A new body needs a new requestid (QBO replays the first answer to an old one).
                rid = plan.derive_request_id(wire_id, "refs")
                body = self.writer.payload(desired)
                return (*self.writer.send(action, pending, desired, body, rid), rid)

        return self._confirmed(lambda: pending, verb, desired, action, send)

    def _confirmed(
        self,
        pending_now: Callable[[], LedgerEntry],
        verb: str,
        desired: DesiredPO | None,
        action: plan.Action,
        send: Callable[[], tuple[dict[str, Any] | None, str | None, str]],
    ) -> Outcome:
        """Run one write and record how it ended: synced, retrying or parked."""
        try:
            entity, tid, rid = send()
        except errors.Fatal:
            raise
        except errors.Retryable as exc:
            return self._retry_later(pending_now(), verb, exc)
        except (errors.Parked, errors.BadInput) as exc:
            return self._park(pending_now(), verb, exc)
        crash_point("qbo_answered")
        done = batching.synced_entry(pending_now(), desired, action, entity, self.policy)
        outcome = _synced_outcome(done, verb, rid, tid)
        self._record(done, outcome)
        return outcome

    def _retry_later(self, pending: LedgerEntry, verb: str, exc: errors.Retryable) -> Outcome:
        attempts = pending.attempts + 1
        delay = plan.backoff(
            attempts,
            base=self.policy.backoff_base,
            cap=self.policy.backoff_cap,
            jitter=self.d.rng.random(),
        )
        if exc.retry_after:
            delay = max(delay, timedelta(seconds=exc.retry_after))
        status = SyncStatus.RETRYING
        if attempts >= self.policy.max_attempts:
            status = SyncStatus.FAILED
        entry = replace(
            pending,
            status=status,
            attempts=attempts,
            last_error_code=exc.code or type(exc).__name__,
            last_error_message=str(exc),
            next_retry_at=self.d.clock() + delay if status is SyncStatus.RETRYING else None,
        )
        message = str(exc)
        if status is SyncStatus.FAILED:
            message = f"gave up after {attempts} attempts: {exc}"
        outcome = Outcome(
            pending.po_id,
            status,
            verb,
            po_number=pending.po_number,
            qbo_id=pending.qbo_id,
            error_code=entry.last_error_code,
            message=message,
            extra=(("intuit_tid", getattr(exc, "intuit_tid", None) or ""),),
        )
        self._record(entry, outcome)
        return outcome

    def _park(self, pending: LedgerEntry, verb: str, exc: errors.ReconcilerError) -> Outcome:
        entry = replace(
            pending,
            status=SyncStatus.FAILED,
            attempts=pending.attempts + 1,
            last_error_code=exc.code or type(exc).__name__,
            last_error_message=str(exc),
            next_retry_at=None,
        )
        outcome = Outcome(
            pending.po_id,
            SyncStatus.FAILED,
            verb,
            po_number=pending.po_number,
            qbo_id=pending.qbo_id,
            error_code=entry.last_error_code,
            message=str(exc),
            extra=(("intuit_tid", getattr(exc, "intuit_tid", None) or ""),),
        )
        self._record(entry, outcome)
        return outcome

    # --- batches ------------------------------------------------------------------------
    # While the pull works through a backlog, batchable writes (see `batching`) wait in a
    # buffer and go out up to 30 at a time in one /batch request. The ledger rows of a batch
    # are all `pending` (one transaction) before it is sent; each item's answer is handled as
    # the single path handles its request. A buffered PO is unsettled: the checkpoint cannot
    # reach it until its outcome is recorded.

    def _buffer_write(self, write: batching.BufferedWrite) -> None:
        self._buffer.append(write)
        self._out.add(write.po_id)
        if len(self._buffer) >= batching.MAX_BATCH_ITEMS:
            self._flush()

    def _flush_if_buffered(self, po_id: int | None) -> None:
        """A PO seen again while its write is buffered or out: settle that write first."""
        if po_id is None or po_id not in self._out:
            return
        if any(b.po_id == po_id for b in self._buffer):
            self._flush()
        self._drain()

    def _flush(self) -> None:
        """Send what the buffer holds: one item as a single request, more as one batch."""
        items, self._buffer = self._buffer, []
        if len(items) == 1:
            self._send_alone(items[0])
            return
        if not items:
            return
        self.writer.prefetch([b.desired for b in items])
        ready: list[tuple[batching.BufferedWrite, LedgerEntry, dict[str, Any]]] = []
        for b in items:
            pending = batching.pending_entry(b.base, b.desired, b.updated_at, b.action, b.number)
            verb = plan.action_name(b.action)
            try:
                payload = self.writer.payload(b.desired)
            except errors.Fatal:
                raise
            except errors.Retryable as exc:
                self._done(self._retry_later(pending, verb, exc), b.started)
                continue
            except (errors.Parked, errors.BadInput) as exc:
                self._done(self._park(pending, verb, exc), b.started)
                continue
            ready.append((b, pending, payload))
        if len(ready) == 1:
            self._send_alone(ready[0][0])
        elif ready:
            self._send_batch(ready)

    def _send_alone(self, b: batching.BufferedWrite, *, drain: bool = True) -> None:
        """One write spends no batch quota: the single path (after the batches still out, so
        outcomes are recorded in the order the POs were taken up)."""
        if drain:
            self._drain()
        outcome = self._write(b.po_id, b.updated_at, b.desired, b.base, b.action, b.number)
        self._done(outcome, b.started)

    def _send_batch(
        self, ready: list[tuple[batching.BufferedWrite, LedgerEntry, dict[str, Any]]]
    ) -> None:
        """Every item `pending` (one transaction), then the batch leaves on a worker thread;
        its answer is taken later, in the order sent, on this thread (`_take_oldest`)."""
        from reconciler.qbo.client import BatchOp

        wire_ids = [batching.wire_request_id(b.action.request_id, b.base) for b, _, _ in ready]
        verbs = [plan.action_name(b.action) for b, _, _ in ready]
        begun = self.d.store.begin_writes(
            [pending for _, pending, _ in ready], run_id=self.run_id, action=verbs
        )
        crash_point("ledger_pending")
        ops = [
            BatchOp(
                str(index),
                batching.batch_operation(b.action),
                "PurchaseOrder",
                batching.batch_body(b.action, pending, payload),
            )
            for index, ((b, _, payload), pending) in enumerate(zip(ready, begun, strict=True), 1)
        ]
        batch_id = batching.batch_request_id(wire_ids)
        self.report.counts["batch_requests"] += 1
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self._batches_in_flight, thread_name_prefix="batch"
            )
        # Creates in a lost batch are looked up by DocNumber on their retry, not resent blind.
        has_creates = any(isinstance(b.action, plan.CreatePO) for b, _, _ in ready)
        answer = self._pool.submit(
            self.d.qbo.batch, ops, request_id=batch_id, resend_unclear=not has_creates
        )
        self._in_flight.append((ready, begun, verbs, wire_ids, batch_id, answer))
        while len(self._in_flight) >= self._batches_in_flight:
            self._take_oldest()

    def _take_oldest(self) -> None:
        self._take_batch_answer(*self._in_flight.popleft())

    def _drain(self) -> None:
        """Take every batch answer still out, oldest first."""
        while self._in_flight:
            self._take_oldest()

    def _take_batch_answer(
        self,
        ready: list[tuple[batching.BufferedWrite, LedgerEntry, dict[str, Any]]],
        begun: list[LedgerEntry],
        verbs: list[str],
        wire_ids: list[str],
        batch_id: str,
        answer: Future[Any],
    ) -> None:
        try:
            results = answer.result()
        except errors.Fatal:
            raise
        except errors.Retryable as exc:
            # No answer, or throttled/5xx after the client's own retries: every item backs off
            # (a create then looks QBO up by DocNumber before it is sent again).
            for (b, _, _), pending, verb in zip(ready, begun, verbs, strict=True):
                self._done(self._retry_later(pending, verb, exc), b.started)
            return
        except (errors.Parked, errors.BadInput) as exc:
            # QBO refused the batch as a whole (nothing done): each item goes on its own.
            self.d.log.warning(
                "batch_refused", run_id=self.run_id, error_code=exc.code, reason=str(exc)
            )
            for b, _, _ in ready:
                self._send_alone(b, drain=False)
            return
        crash_point("qbo_answered")
        self._apply_batch_results(ready, begun, verbs, wire_ids, batch_id, results)

    def _apply_batch_results(
        self,
        ready: list[tuple[batching.BufferedWrite, LedgerEntry, dict[str, Any]]],
        begun: list[LedgerEntry],
        verbs: list[str],
        wire_ids: list[str],
        batch_id: str,
        results: list[Any],
    ) -> None:
        synced: list[tuple[LedgerEntry, Outcome, float]] = []
        again: list[tuple[batching.BufferedWrite, LedgerEntry, str, batching.ItemFate]] = []
        fatal: BaseException | None = None
        rows = zip(ready, begun, verbs, wire_ids, results, strict=True)
        for (b, _, _), pending, verb, wire_id, result in rows:
            fate = batching.item_fate(
                result.fault, is_update=not isinstance(b.action, plan.CreatePO)
            )
            if fate is batching.ItemFate.SYNCED:
                done = batching.synced_entry(
                    pending, b.desired, b.action, result.entity, self.policy
                )
                outcome = _synced_outcome(done, verb, batch_id, result.intuit_tid)
                synced.append((done, outcome, b.started))
            elif fate is batching.ItemFate.RETRY:
                self._done(self._retry_later(pending, verb, result.fault), b.started)
            elif fate is batching.ItemFate.PARK:
                self._done(self._park(pending, verb, result.fault), b.started)
            elif fate is batching.ItemFate.FATAL:
                fatal = fatal or result.fault  # the item stays pending for the next pass
            else:
                again.append((b, pending, wire_id, fate))
        if synced:
            self._record_many([(entry, outcome) for entry, outcome, _ in synced])
            for _, outcome, started in synced:
                self._done(outcome, started)
        if fatal is not None:
            raise fatal
        for b, pending, wire_id, fate in again:
            self._done(self._resend_single(b, pending, wire_id, fate), b.started)

    def _resend_single(
        self,
        b: batching.BufferedWrite,
        pending: LedgerEntry,
        wire_id: str,
        fate: batching.ItemFate,
    ) -> Outcome:
        """A batch item that needs what the single path does: fresh references (610/2500) or a
        fresh SyncToken (5010). A new body or token always goes with a new requestid."""

        def send() -> tuple[dict[str, Any] | None, str | None, str]:
            if fate is batching.ItemFate.RESEND_REFS:
                self.writer.forget_refs(b.desired)
                rid = plan.derive_request_id(wire_id, "refs")
                current = pending
            else:
                fresh = self.d.qbo.read("PurchaseOrder", pending.qbo_id).entity
                current = replace(pending, sync_token=fresh["SyncToken"])
                rid = plan.derive_request_id(wire_id, "stale", fresh["SyncToken"])
            body = self.writer.payload(b.desired)
            return (*self.writer.send(b.action, current, b.desired, body, rid), rid)

        verb = plan.action_name(b.action)
        return self._confirmed(lambda: pending, verb, b.desired, b.action, send)

    # --- the pass -----------------------------------------------------------------------

    def run(self, *, full_sweep: bool = False) -> PassReport:
        d = self.d
        store = d.store
        store.bind_realm(self.realm)
        store.start_run(self.run_id, self.report.started_at)
        d.log.info("pass_started", run_id=self.run_id, full_sweep=full_sweep)
        try:
            self._pull_and_process()
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

    def _pull_and_process(self) -> None:
        """Process the window's POs in the order read; move the checkpoint with each outcome
        while the read is in key order, else once at the end of a complete read."""
        d, store = self.d, self.d.store
        checkpoint = store.checkpoint()
        highest: tuple[datetime, int] | None = None

        def already_handled(po_id: int, updated_at: datetime) -> bool:
            # A PO handled before a crash (outcome durable, checkpoint not yet moved) still
            # counts towards this pass's checkpoint, or the checkpoint would lag behind it.
            nonlocal highest
            if not store.is_handled(po_id, updated_at):
                return False
            key = (updated_at, po_id)
            highest = key if highest is None else max(highest, key)
            return True

        result = pull_changes(
            d.luminous,
            checkpoint,
            overlap=self.s.luminous.overlap,
            settle_lag=self.s.luminous.settle_lag,
            already_handled=already_handled,
        )
        processed = 0
        read_all = False
        self._buffering = True
        try:
            for count, record in enumerate(result.records, start=1):
                if d.stop_requested():
                    d.log.info("pass_interrupted", run_id=self.run_id, processed=processed)
                    break
                key = _key(record)
                if key is not None:
                    highest = key if highest is None else max(highest, key)
                # A PO seen again while its write waits in the buffer: send that first, so
                # this version is planned against what QBO now holds.
                self._flush_if_buffered(_po_id(record))
                in_key_order = getattr(d.luminous.last_read, "mode", None) == "key"
                self._outcome_ceiling = result.window.ceiling if in_key_order else None
                if key is not None and in_key_order:
                    self._unsettled[key[1]] = key
                self.process(record)
                processed = count
                if processed % PROGRESS_EVERY == 0:
                    d.log.info("pass_progress", run_id=self.run_id, processed=processed)
            else:
                read_all = True
            self._flush()  # the end of the pull, or a stop: what is buffered goes out now
            self._drain()
        finally:
            self._buffering = False
            self._buffer = []  # left unsent only by a Fatal: nothing of it was begun
            if self._pool is not None:
                # after a Fatal: answers still out stay unrecorded, their POs `pending`
                self._pool.shutdown(wait=True)
                self._pool = None
            self._in_flight.clear()
            self._outcome_ceiling = None
        if read_all:
            crash_point("before_checkpoint")
            if highest is not None and result.safe_ceiling is not None:
                moved = advance(
                    store.checkpoint(), [highest], self._unsettled.values(), result.safe_ceiling
                )
                if moved is not None:
                    store.move_checkpoint(moved)
        self.report.counts["read"] += result.stats.read
        self.report.counts["skipped_as_handled"] += result.stats.skipped_handled

    def _retry_due(self) -> None:
        d = self.d
        for entry in d.store.due_for_retry(d.clock()):
            if entry.po_id in self._handled or d.stop_requested():
                continue
            raw = d.luminous.get_po(entry.po_id)
            if raw is None:
                self.process_vanished(entry.po_id)
            else:
                self.process(parse_or_reject(raw), force_retry=True)

    def _sweep_due(self) -> bool:
        last = self.d.store.get_meta("last_full_sweep_at")
        if last is None:
            # The first pass reads everything anyway; the sweep interval counts from it.
            self.d.store.set_meta("last_full_sweep_at", self.d.clock().isoformat())
            return False
        return self.d.clock() - datetime.fromisoformat(last) >= self.s.luminous.full_sweep_interval

    def _sweep(self) -> None:
        d = self.d
        known = [
            e.po_id
            for e in d.store.entries()
            if e.lifecycle is not Lifecycle.DELETED and e.qbo_id is not None
        ]
        vanished = sweep_vanished(d.luminous, known)
        d.log.info("full_sweep", run_id=self.run_id, known=len(known), vanished=len(vanished))
        for po_id in sorted(vanished):
            if d.stop_requested():
                return
            self.process_vanished(po_id)
        # Re-read every PO and compare content: catches edits that did not move updated_at
        # and commits backdated past the overlap. Unchanged POs cost no QBO request (Noop).
        everything = pull_changes(
            d.luminous,
            None,
            overlap=timedelta(0),
            settle_lag=self.s.luminous.settle_lag,
            already_handled=lambda po_id, _at: po_id in self._handled,
        )
        for record in everything.records:
            if d.stop_requested():
                return
            self.process(record)
        d.store.set_meta("last_full_sweep_at", d.clock().isoformat())

    def _finish(self) -> None:
        d = self.d
        r = self.report
        r.finished_at = d.clock()
        r.checkpoint = d.store.checkpoint()
        waiting = d.store.status_counts()
        r.unsettled_in_ledger = sum(
            waiting.get(str(s), 0)
            for s in (SyncStatus.FAILED, SyncStatus.RETRYING, SyncStatus.PENDING)
        )
        if self.counter is not None:
            r.qbo_requests = self.counter.requests
            r.qbo_writes = self.counter.writes
            r.throttled = self.counter.throttled
        outcome = r.outcome
        d.store.finish_run(self.run_id, r.finished_at, outcome, r.as_dict())
        d.log.info("pass_finished", outcome=outcome, **r.as_dict())


def _synced_outcome(done: LedgerEntry, verb: str, request_id: str, tid: str | None) -> Outcome:
    """The outcome of a confirmed write, with the ids Intuit support asks for."""
    return Outcome(
        done.po_id,
        SyncStatus.SYNCED,
        verb,
        po_number=done.po_number,
        qbo_id=done.qbo_id,
        extra=(("request_id", request_id), ("intuit_tid", tid or "")),
    )


def _po_id(record: SourcePO | RejectedRecord) -> int | None:
    return record.id if isinstance(record, SourcePO) else record.po_id


def _key(record: SourcePO | RejectedRecord) -> tuple[datetime, int] | None:
    if isinstance(record, SourcePO):
        return (record.updated_at, record.id)
    if record.updated_at is not None and record.po_id is not None:
        return (record.updated_at, record.po_id)
    return None


def run_pass(
    deps: Deps, *, full_sweep: bool = False, counter: RequestCounter | None = None
) -> PassReport:
    """One reconcile pass; the daemon and `--once` both call this."""
    runner = PassRunner(deps, run_id=new_run_id(deps.clock()), counter=counter)
    return runner.run(full_sweep=full_sweep)
