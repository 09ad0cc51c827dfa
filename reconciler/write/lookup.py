"""Finding QBO documents by DocNumber before creating: QBO, not the state file, says what exists.

Two ways, both at most one read for a whole group of creates:

- normally, one `DocNumber IN (...)` query per group (a batch of up to 30 creates, or a single
  create): 1/30 of a read per new PO in a backlog;
- on a first connection (the ledger holds no document of this kind: a new install, a lost or
  replaced state file), the company's existing documents are indexed once instead, 1,000 to a
  query and only the fields identity needs; a group whose numbers the index does not know
  costs no read at all, and the documents it does know are read in full (`Id IN (...)`) to be
  compared. The walk is repeated if the company's count moved while it ran (a document deleted
  mid-walk would shift the pages and hide one).

`counted`: the reads spent, for the pass report.
"""

from __future__ import annotations

import contextlib
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from reconciler import errors
from reconciler.qbo import query as q
from reconciler.qbo.query import in_chunks

INDEX_FIELDS = ("Id", "DocNumber", "VendorRef", "SyncToken")
MAX_INDEX_WALKS = 3


def prefetch_alongside(
    lookup: DocNumberLookup, numbers: Sequence[str], references: Callable[[], None]
) -> None:
    """A document writer's prefetch: its creates' DocNumber look-up on a worker thread while
    `references` resolves vendors and items here (neither waits for the other's round trips).
    A failed look-up is left for `identify`, which asks again and records the failure."""
    numbers = [n for n in numbers if n]
    if not numbers:
        references()
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lookup") as pool:
        looked = pool.submit(lookup.prefetch, numbers)
        references()
    with contextlib.suppress(errors.ReconcilerError):
        looked.result()


def number_key(doc_number: str) -> str:
    """QBO compares text without regard to case."""
    return doc_number.strip().casefold()


class DocNumberLookup:
    """QBO's documents of one entity under given DocNumbers."""

    def __init__(self, qbo: Any, entity: str, *, index_first: bool) -> None:
        self.qbo = qbo
        self.entity = entity
        self.index_first = index_first
        self._index: dict[str, list[str]] | None = None  # number key -> QBO Ids
        self._indexing = threading.Lock()  # (`warm` builds it on another thread)
        self._ahead: dict[str, list[dict[str, Any]]] = {}  # asked by `prefetch`, not yet used
        self.counted = 0
        self.indexed = 0

    def warm(self) -> None:
        """The first connection's index, before any document asks (it needs no Luminous data,
        so it is read while Luminous is)."""
        if self.index_first:
            self._indexed()

    def prefetch(self, numbers: Iterable[str]) -> None:
        """Ask now for creates about to be sent (while their references are resolved, on
        another thread); `find` then answers them from this, once each."""
        self._ahead.update(self.find(numbers))

    def find(
        self, numbers: Iterable[str], *, fresh: bool = False
    ) -> dict[str, list[dict[str, Any]]]:
        """number key -> QBO's documents under it (full), for every queryable number asked.
        `fresh`: ask QBO now, not the index or what `prefetch` asked (a create whose answer
        was lost may have landed since)."""
        wanted = sorted({number_key(n): n for n in numbers if q.is_queryable(n)}.items())
        if not wanted:
            return {}
        ahead = {} if fresh else {k: self._ahead.pop(k) for k, _ in wanted if k in self._ahead}
        wanted = [(k, n) for k, n in wanted if k not in ahead]
        if not wanted:
            return ahead
        if self.index_first and not fresh:
            return {**ahead, **self._from_index([number for _, number in wanted])}
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for chunk in in_chunks(number for _, number in wanted):
            for row in self._query(q.select(self.entity, [q.in_("DocNumber", chunk)])):
                found[number_key(str(row.get("DocNumber") or ""))].append(row)
        return {**ahead, **{key: found.get(key, []) for key, _ in wanted}}

    def _from_index(self, numbers: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        index = self._indexed()
        ids = sorted({i for n in numbers for i in index.get(number_key(n), [])}, key=_id_order)
        full: dict[str, dict[str, Any]] = {}
        for chunk in in_chunks(ids):
            for row in self._query(q.select(self.entity, [q.in_("Id", chunk)])):
                full[str(row.get("Id"))] = row
        return {
            number_key(n): [full[i] for i in index.get(number_key(n), []) if i in full]
            for n in numbers
        }

    def _indexed(self) -> dict[str, list[str]]:
        with self._indexing:
            return self._index if self._index is not None else self._build_index()

    def _build_index(self) -> dict[str, list[str]]:
        count = q.select(self.entity, count=True)
        before = self._count(count)
        for _ in range(MAX_INDEX_WALKS):
            rows = list(
                self.qbo.query_all(
                    lambda start, n: q.select(
                        self.entity, order_by="Id", start=start, max_results=n, fields=INDEX_FIELDS
                    )
                )
            )
            self.counted += max(1, -(-len(rows) // q.MAX_RESULTS_LIMIT))
            after = self._count(count)
            if after == before == len(rows):
                break
            before = after
        index: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            if row.get("DocNumber"):
                index[number_key(str(row["DocNumber"]))].append(str(row.get("Id")))
        self._index, self.indexed = dict(index), len(rows)
        return self._index

    def remember(self, doc_number: str, qbo_id: str) -> None:
        """A document this pass created: the index must know it too, where the writer refuses
        a repeated number per look-up (bills), not per pass. The PO writer refuses any number
        another PO took in the pass (`DocumentWriter.identify`) before it asks, so it does not
        call this: at 10,000 POs those entries were about 2 MB that nothing read."""
        if self._index is not None:
            self._index.setdefault(number_key(doc_number), []).append(qbo_id)

    def _query(self, statement: str) -> list[dict[str, Any]]:
        self.counted += 1
        return self.qbo.query(statement)

    def _count(self, statement: str) -> int:
        self.counted += 1
        return self.qbo.count(statement)


def _id_order(qbo_id: str) -> tuple[int, str]:
    return (int(qbo_id), "") if qbo_id.isdigit() else (0, qbo_id)


def create_looking_first(
    qbo: Any,
    entity: str,
    payload: Mapping[str, Any],
    request_id: str,
    *,
    landed: Callable[[], Mapping[str, Any] | None],
    adopt: Callable[[Mapping[str, Any]], tuple[Mapping[str, Any] | None, str | None]],
) -> tuple[Mapping[str, Any] | None, str | None]:
    """A create already looked up (`identity`), sent once; after a lost answer or a 5xx it may
    have landed, so QBO is asked (`landed`) before it goes again: what landed is adopted
    (QBO's requestid replay would cover it too, for as long as QBO remembers the id).
    (the entity, intuit_tid)."""
    try:
        result = qbo.create(entity, payload, request_id=request_id, resend_unclear=False)
    except (errors.UnclearOutcome, errors.QBORetryableFault) as exc:
        if isinstance(exc, errors.ThrottledFault):
            raise
        existing = landed()
        if existing is not None:
            return adopt(existing)
        result = qbo.create(entity, payload, request_id=request_id)
    return result.entity, result.intuit_tid
