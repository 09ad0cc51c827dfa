"""A group of writes that may share one /batch: sent as a batch, or each alone, whichever
QBO's limits let finish sooner.

QBO gives an app two budgets at once: 10 requests a second (500 a minute) and 40 batch
requests a minute. A backlog that only batches idles the first budget once the 40 are spent
(a batch slot frees a minute after it was taken); one that only sends singles idles the
second. So:

- a group goes as a batch when the batch window has room within the time its writes would
  take alone (`batch_patience`);
- otherwise it waits for a turn to send its writes alone; `ALONE_AT_ONCE` groups have one,
  which keeps the realm's 10 requests in flight (their writes share one pool of that many
  threads);
- while it waits for a turn it keeps watching the batch window, and takes a batch slot the
  moment one is close enough: slots free a minute after they were taken, in bursts, and a
  slot not taken at once drifts every later minute's slots later;
- when the batch window has fewer free slots than groups want them, they go to the groups in
  the order they were sent (`BatchLine`). The last group of a
  pipeline buffer is part-filled; when it raced the full groups before it for the minute's
  last slot and won, a full group of 30 went alone instead of 10 (1,000 POs: 170 single
  writes instead of 150, 25.9 s instead of 23.6, in two runs of seven).

The bench (`bench/qbo_bound.py`) shows this greedy rule is what the fastest schedule does.
Either way the answer has the batch's shape (one `BatchItemResult` per item, faults returned,
not raised), so the caller classifies it the same; alone, each item goes under its own
requestid (`item_request_ids`), the one it would carry as a single write.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from reconciler import errors
from reconciler.qbo.limiter import BatchWindowFull
from reconciler.qbo.wire import BatchItemResult, BatchOp, GroupAnswer

ALONE_AT_ONCE = 2  # groups sending alone at once: one alone leaves gaps as its last ones end
LOOK_AGAIN_S = 5.0  # the longest a group waits for a turn before it looks at the window again


def batch_patience(items: int, per_second: int) -> float:
    """Seconds worth waiting for a batch slot: as long as the writes would take alone.

    Alone, `items` writes spend `items` units of the request budget (10 a second); as a batch,
    one unit and one of the 40 batch slots a minute. Waiting longer than the singles would take
    lets the request budget idle; waiting less spends request units the batch would save."""
    if items < 1 or per_second < 1:
        raise ValueError("items and per_second must be positive")
    return items / per_second


class GroupSender:
    """Sends one client's groups; its writes that go alone share one pool of threads."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._turns = threading.BoundedSemaphore(ALONE_AT_ONCE)
        self._line = BatchLine()

    def send(
        self,
        items: Sequence[BatchOp],
        *,
        request_id: str,
        item_request_ids: Sequence[str],
        resend_unclear: bool,
        alone: bool = False,
    ) -> GroupAnswer:
        """The group as a batch if the batch budget allows it soon enough, else each item
        alone (`alone`: the caller knows a batch slot is worth more to the writes behind it)."""
        if len(items) != len(item_request_ids):
            raise ValueError("one requestid per item")
        client, limiter = self._client, self._client.limiter
        if len(items) == 1 or alone:
            with self._turns:
                return self._alone(items, item_request_ids, resend_unclear)
        patience = batch_patience(len(items), limiter.per_second) if limiter else None
        ticket = self._line.join()
        try:
            while True:
                # the body is built (and encoded) only when a slot is close enough
                wait = limiter.batch_budget_wait() if limiter else 0.0
                if patience is None or wait <= patience:
                    free = limiter.batch_slots_free() if limiter else None
                    if free is not None and not self._line.may_batch(ticket, free, LOOK_AGAIN_S):
                        continue  # groups sent earlier have the first claim to the slots
                    try:
                        results = client.batch(
                            items,
                            request_id=request_id,
                            resend_unclear=resend_unclear,
                            patience=patience,
                        )
                        return GroupAnswer(results, as_batch=True)
                    except BatchWindowFull as full:  # another batch took the slot meanwhile
                        wait = full.wait
                until_close_enough = min(max(wait - (patience or 0.0), 0.01), LOOK_AGAIN_S)
                if self._turns.acquire(timeout=until_close_enough):
                    self._line.leave(ticket)  # going alone: the groups behind may batch
                    try:
                        return self._alone(items, item_request_ids, resend_unclear)
                    finally:
                        self._turns.release()
        finally:
            self._line.leave(ticket)

    def _alone(
        self, items: Sequence[BatchOp], request_ids: Sequence[str], resend_unclear: bool
    ) -> GroupAnswer:
        pool = self._alone_pool()
        jobs = [
            pool.submit(_alone, self._client, op, rid, resend_unclear)
            for op, rid in zip(items, request_ids, strict=True)
        ]
        return GroupAnswer([job.result() for job in jobs], as_batch=False)

    def _alone_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                limiter = self._client.limiter
                workers = limiter.max_concurrent if limiter is not None else 1
                self._pool = ThreadPoolExecutor(workers, thread_name_prefix="qbo-alone")
            return self._pool


class BatchLine:
    """The groups that may still batch, in the order they were sent: while the batch window
    has room for all of them they batch at once; the last slots go to the first in line (a
    group leaves once its batch is answered or it goes alone)."""

    def __init__(self) -> None:
        self._moved = threading.Condition()
        self._line: deque[int] = deque()
        self._tickets = itertools.count()

    def join(self) -> int:
        with self._moved:
            ticket = next(self._tickets)
            self._line.append(ticket)
            return ticket

    def may_batch(self, ticket: int, free: int, timeout: float) -> bool:
        """True if the window's `free` slots reach this group past those sent before it (the
        first may always wait for the next slot); else False once the line has moved (or
        after `timeout`): the window is to be looked at again."""
        with self._moved:
            ahead = self._line.index(ticket)
            if ahead == 0 or ahead < free:
                return True
            self._moved.wait_for(lambda: self._line.index(ticket) < ahead, timeout)
            return False

    def leave(self, ticket: int) -> None:
        with self._moved:
            if ticket in self._line:
                self._line.remove(ticket)
                self._moved.notify_all()


def _alone(client: Any, op: BatchOp, request_id: str, resend_unclear: bool) -> BatchItemResult:
    """One item as a single request; its fault returned as a batch item's would be."""
    body = dict(op.body or {})
    try:
        if op.operation == "create":
            result = client.create(
                op.entity, body, request_id=request_id, resend_unclear=resend_unclear
            )
        elif op.operation == "update":
            result = client.update(op.entity, body, request_id=request_id, sparse=op.sparse)
        elif op.operation == "delete":
            result = client.delete(op.entity, body["Id"], body["SyncToken"], request_id=request_id)
        else:
            raise ValueError(f"a group carries writes, not {op.operation!r}")
    except errors.ReconcilerError as exc:
        return BatchItemResult(op.bid, op.entity, fault=exc, intuit_tid=_tid(exc))  # type: ignore[arg-type]
    entity = result.entity if isinstance(result.entity, dict) else None
    return BatchItemResult(op.bid, op.entity, entity=entity, intuit_tid=result.intuit_tid)


def _tid(exc: BaseException) -> str | None:
    return getattr(exc, "intuit_tid", None)
