"""The write path every QBO document takes, whatever its kind (PurchaseOrder, Bill).

    warm(kind)      let that kind's writer read what needs no document yet (index, accounts)
    submit(write)   hand over one planned write: buffered for a batch, or sent alone
    settle(key)     the document was seen again: make sure its write has an outcome first
    close()         send what is buffered and take every answer (the context manager does it)

The order of a write is fixed: the requestid is in the ledger (status `pending`) before the
request leaves, and the answer is in the ledger (with the checkpoint it allows, which the
`Recorder` adds) before the document counts as settled. What QBO's answer means is decided by
`outcomes.fate_of`, the same for a single request and for each item of a batch; an item that
needs a request of its own (a reference to resolve again, a SyncToken to re-read) goes through
the same `sender.WriteSender` a single write does.

Groups: while the engine reads a backlog, batchable writes wait in a buffer of up to
`LOOKAHEAD` (510). A full buffer is prepared at once: the references all its documents need
are found or created together (full batches of vendor and item creates, not a part-filled one
per 30 POs), its creates are looked up by DocNumber in a few `IN (...)` queries (100 numbers
each), and it goes out in groups of 30 on worker threads, up to `in_flight` groups at once.
So that QBO is not idle while the buffer fills, every `PREPARE_EVERY` (150) writes buffered
are prepared ahead on a thread of their own (references and look-ups only, nothing of the
documents is sent); the pipeline waits for that before it uses a writer itself, and
`References` holds a lock, so a resolve never races a prefetch. `warm` puts what a writer reads
whatever the documents (its first connection's index, the accounts) first on that thread.
Each group goes as one `/batch`, or, when QBO's batch budget is spent for longer than the
writes would take alone, each write alone (`qbo.groups`: both budgets in use). Answers are
taken in the order the groups were sent, on the caller's thread. A write that cannot go in a
group waits for the groups still out, then goes alone (writes still in the buffer go later: a
single write never forces a part-filled group out).
"""

from __future__ import annotations

import functools
import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler import errors
from reconciler.crashpoints import crash_point
from reconciler.documents import plan, request_ids
from reconciler.documents.outcomes import Fate, Record, fate_of
from reconciler.model import DocKey, DocKind, LedgerEntry
from reconciler.qbo.wire import MAX_BATCH_ITEMS, BatchOp, GroupAnswer
from reconciler.write.sender import Recorder, WriteSender
from reconciler.write.writer import DocumentWriter, Write

__all__ = ["DocumentWriter", "Recorder", "Write", "WritePipeline"]

BATCHES_IN_FLIGHT = 4
# 17 groups (510 writes). Before the preparation ahead (below) a window had to hold a 1,000-PO
# backlog whole (34 groups), or later windows found new items whose creates held their POs back;
# with it, 510 is as fast for 1,000 POs (24.6 s), and a 10,000-PO backlog peaks 3.4 MB lower
# (65.0 MB) and comes closer to QBO's bound (0.965 against 0.960; 600 gave 0.957, 65.6 MB)
LOOKAHEAD = 17 * MAX_BATCH_ITEMS
# Ahead of a full buffer: the first 150 of a backlog name most of its vendors and items, so
# their look-ups and creates overlap the reading of the rest (1,000 POs: the first PO went
# 9.3 s into the pass, all of it waiting for the read and then for the references; at 300
# the pass took 25.0 s, at 150 24.7 s, at 90 or 120 no less, with more vendor look-ups; at 200,
# whose DocNumber look-ups fill two `IN (...)` of 100, 25.2 s and more often 27 s). At 150
# they are two look-ups per 150 numbers: 1/75 of a read per create instead of 1/100.
PREPARE_EVERY = 5 * MAX_BATCH_ITEMS


_Ready = tuple[Write, LedgerEntry, dict[str, Any]]  # a write, its pending row, its body


@dataclass
class _Batch:
    """A group sent and not yet answered: its writes, their begun rows, the answer to come."""

    writes: list[Write]
    begun: list[LedgerEntry]
    wire_ids: list[str]
    answer: Future[Any]


class _PreparedAhead:
    """Preparations handed to the prepare thread, one after another; `join` waits for them
    and raises what one raised (a Fatal stops the pass there)."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._running: list[Future[None]] = []

    def submit(self, task: Callable[[], None]) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="prepare")
        self._running.append(self._pool.submit(task))

    def join(self) -> None:
        running, self._running = self._running, []
        for future in running:
            future.result()

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._running = []


class WritePipeline:
    """Buffers, batches and sends writes; records how each ended through the `Recorder`."""

    def __init__(
        self,
        writers: Mapping[DocKind, DocumentWriter],
        recorder: Recorder,
        send_group: Callable[..., GroupAnswer],
        *,
        policy: plan.PlanPolicy,
        clock: Callable[[], datetime],
        rng: random.Random,
        in_flight: int = BATCHES_IN_FLIGHT,
        lookahead: int = LOOKAHEAD,
        on_stale: Callable[[DocKind, Mapping[str, Any]], None] = lambda kind, current: None,
    ) -> None:
        self._writers = writers
        self._sender = WriteSender(writers, policy=policy, clock=clock, rng=rng, on_stale=on_stale)
        self._recorder = recorder
        self._send_group = send_group
        self._max_in_flight = max(1, in_flight)
        self._lookahead = max(1, lookahead)
        self._buffer: list[Write] = []
        self._buffered: set[DocKey] = set()
        self._out: deque[_Batch] = deque()
        self._out_keys: set[DocKey] = set()
        self._pool: ThreadPoolExecutor | None = None
        self._ahead = _PreparedAhead()
        self._prepared = 0  # how many of the buffer's writes were handed to it
        self.batches_sent = 0
        self.groups_alone = 0  # groups whose writes went alone (the batch budget was spent)

    # --- the interface ------------------------------------------------------------------

    def submit(self, write: Write) -> None:
        """Buffer a batchable write (sending a full buffer), or send it alone now."""
        self.settle(write.key)
        if self._writers[write.kind].batchable(write):
            self._buffer.append(write)
            self._buffered.add(write.key)
            if len(self._buffer) >= self._lookahead:
                self.flush()
            elif len(self._buffer) - self._prepared >= PREPARE_EVERY:  # (see the docstring)
                self._ahead.submit(
                    functools.partial(self._prefetch, self._buffer[self._prepared :])
                )
                self._prepared = len(self._buffer)
            return
        self._send_alone(write)

    def warm(self, kind: DocKind) -> None:
        """The writer's reads that need no document (`DocumentWriter.warm`), done ahead."""
        self._ahead.submit(self._writers[kind].warm)

    def settle(self, key: DocKey) -> None:
        """A document seen again while its write is buffered or out: finish that write first,
        so the new version is planned against what QBO now holds."""
        if key in self._buffered:
            self.flush()
        if key in self._out_keys:
            self.drain()

    def flush(self) -> None:
        """Send what the buffer holds: one write alone, more in groups of up to 30."""
        self._ahead.join()
        writes, self._buffer, self._prepared = self._buffer, [], 0
        self._buffered.clear()
        if len(writes) == 1:
            self._send_alone(writes[0])
        elif writes:
            self._prepare_batch(writes)

    def drain(self) -> None:
        """Take every batch answer still out, oldest first."""
        self._ahead.join()
        while self._out:
            self._take_oldest()

    def close(self) -> None:
        try:
            self.flush()
            self.drain()
        finally:
            self._shutdown()

    def __enter__(self) -> WritePipeline:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            # After a Fatal: what is buffered was never begun; answers still out stay
            # unrecorded, their documents `pending` with the requestid for the next pass.
            self._buffer, self._prepared = [], 0
            self._buffered.clear()
            self._shutdown()

    # --- one write alone ----------------------------------------------------------------

    def _send_alone(self, write: Write) -> None:
        self.drain()  # outcomes are recorded in the order the documents were handed over
        writer = self._writers[write.kind]
        pending = self._sender.pending(write)
        try:
            payload = writer.payload(write.desired) if write.desired is not None else None
            ready, settled = (
                self._sender.identify([(write, pending, payload)])
                if payload is not None
                else ([(write, pending, payload)], [])
            )
        except Exception as exc:
            self._recorder.record([self._sender.failed(write, pending, exc)])
            return
        if settled:
            self._recorder.record(settled)
            return
        write, pending, payload = ready[0]
        begun = self._recorder.begin([pending], [write.verb], bodies=[payload])[0]
        crash_point("ledger_pending")
        wire_id = request_ids.wire_request_id(begun.request_id, write.base)
        self._recorder.record([self._sender.attempt(write, begun, payload, wire_id)])

    # --- batches ------------------------------------------------------------------------

    def _prefetch(self, writes: list[Write]) -> None:
        """Their references and look-ups (the prepare thread runs this ahead; a failure
        there is met again when the buffer is sent)."""
        for kind, writer in self._writers.items():
            if mine := [w for w in writes if w.kind is kind]:
                writer.prefetch([w.desired for w in mine], [w.desired for w in mine if w.is_create])

    def _prepare_batch(self, writes: list[Write]) -> None:
        """References and look-ups for all at once, then each group's bodies as it leaves."""
        self._prefetch(writes)
        for start in range(0, len(writes), MAX_BATCH_ITEMS):
            if ready := self._bodies(writes[start : start + MAX_BATCH_ITEMS]):
                self._send(ready)

    def _bodies(self, writes: list[Write]) -> list[_Ready]:
        """Bodies and identities; one without a body, or settled by identity, is recorded."""
        ready: list[_Ready] = []
        failed: list[Record] = []
        for write in writes:
            pending = self._sender.pending(write)
            try:
                ready.append((write, pending, self._writers[write.kind].payload(write.desired)))
            except Exception as exc:
                failed.append(self._sender.failed(write, pending, exc))
        try:
            ready, settled = self._sender.identify(ready)
        except Exception as exc:  # the look-up failed: nothing of these was sent
            failed += [self._sender.failed(w, p, exc) for w, p, _ in ready]
            ready, settled = [], []
        if failed or settled:
            self._recorder.record([*failed, *settled])
        return ready

    def _send(self, ready: list[_Ready]) -> None:
        """Every item `pending` (one transaction), then the group leaves on a worker thread."""
        writes = [w for w, _, _ in ready]
        begun = self._recorder.begin(
            [p for _, p, _ in ready], [w.verb for w in writes], bodies=[b for _, _, b in ready]
        )
        crash_point("ledger_pending")
        ops = []
        for index, ((write, _, payload), row) in enumerate(zip(ready, begun, strict=True), 1):
            writer = self._writers[write.kind]
            operation, body = writer.batch_item(write, row, payload)
            ops.append(BatchOp(str(index), operation, writer.entity, body))
        wire_ids = [
            request_ids.wire_request_id(row.request_id, w.base)
            for w, row in zip(writes, begun, strict=True)
        ]
        # Creates in a lost batch are looked up by DocNumber on their retry, not resent blind.
        has_creates = any(w.is_create for w in writes)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._max_in_flight, thread_name_prefix="batch")
        answer = self._pool.submit(
            self._send_group,
            ops,
            request_id=request_ids.batch_request_id(wire_ids),
            item_request_ids=wire_ids,
            resend_unclear=not has_creates,
        )
        self._out.append(_Batch(writes, begun, wire_ids, answer))
        self._out_keys.update(w.key for w in writes)
        while len(self._out) >= self._max_in_flight:
            self._take_oldest()

    def _take_oldest(self) -> None:
        batch = self._out.popleft()
        self._out_keys.difference_update(w.key for w in batch.writes)
        try:
            answer = batch.answer.result()
        except errors.ReconcilerError as exc:  # anything else is a crash of the pass
            fate = fate_of(exc, is_update=True)
            if fate is Fate.FATAL:
                raise
            if fate is Fate.PARK:
                # QBO refused the batch as a whole (nothing done): each item goes alone.
                for write in batch.writes:
                    self._send_alone(write)
                return
            # No answer, or throttled/5xx after the client's own retries: every item backs
            # off (a create then looks QBO up by DocNumber before it is sent again).
            self._recorder.record(
                [
                    self._sender.after_error(Fate.RETRY, w, row, exc)
                    for w, row in zip(batch.writes, batch.begun, strict=True)
                ]
            )
            return
        if answer.as_batch:
            self.batches_sent += 1
        else:
            self.groups_alone += 1
        crash_point("qbo_answered")
        self._take_results(batch, answer.results)

    def _take_results(self, batch: _Batch, results: Sequence[Any]) -> None:
        """The settled items in one transaction, then the ones that need a request alone."""
        group = self._sender.settle_group(batch.writes, batch.begun, batch.wire_ids, results)
        if group.settled:
            self._recorder.record(group.settled)
        if group.fatal is not None:
            raise group.fatal
        for write, row, wire_id, fault in group.again:
            self._recorder.record([self._sender.attempt(write, row, None, wire_id, fault)])

    def _shutdown(self) -> None:
        self._ahead.shutdown()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._out.clear()
        self._out_keys.clear()
