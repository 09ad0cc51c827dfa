"""A QBO client for a preview: reads go to QBO, writes are answered here and kept as the plan.

`PreviewQBO` wraps the real client. Every read (`read`, `query`, `count`, a batch of queries)
goes to QBO as it would in a real pass. Every write (`create`, `update`, `delete`, `void`, a batch's
write items) is answered locally, the way QBO would answer it: a created entity gets a
placeholder Id (negative, so it can never be a real QBO Id) and SyncToken "0", an update the
next SyncToken, a delete `status: Deleted`, and lines get their Ids and LineNum as QBO gives
them (`with_line_ids`: a bill links to PO lines by Id, so a PO created in the same preview is
linked, not waited for); and the write is kept in `writes`, in order. Later
reads in the same pass see those local rows (`qbo.statement` matches them against the query),
so a second PO under a number the preview "created", or a vendor looked up again, is decided as
the real pass would decide it.

One refusal QBO would make is foreseen, because the real pass's choice depends on it: a vendor
whose DisplayName a customer or employee holds (6240, one shared name list) is refused here
too, after a read, so the vendor-name policy (suffix or fail) runs as it would. Other
validation (the body itself) is QBO's alone: a write QBO would refuse shows as planned.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler import errors
from reconciler.preview.plan import PlannedWrite, is_placeholder
from reconciler.qbo import query as q
from reconciler.qbo import statement as st
from reconciler.qbo.wire import BatchItemResult, BatchOp, GroupAnswer

MAX_QUERY_PAGES = 100_000
NAME_LIST = ("Customer", "Employee")  # share the vendors' name list (6240)


@dataclass(frozen=True)
class LocalResult:
    """Shaped like the real client's result (`entity`, `intuit_tid`)."""

    entity: dict[str, Any] | None
    intuit_tid: str | None = None
    status: int = 200
    attempts: int = 0


class PreviewQBO:
    """The QBO client a preview pass is handed (thread-safe: batches and reference look-ups
    run in worker threads)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.writes: list[PlannedWrite] = []
        self.seen: dict[tuple[str, str], dict[str, Any]] = {}  # full rows QBO returned
        self._local: dict[tuple[str, str], dict[str, Any]] = {}  # rows as the writes left them
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # --- reads --------------------------------------------------------------------------

    def read(self, entity: str, id: str) -> Any:
        local = self._local.get((entity, str(id)))
        if local is not None:
            return LocalResult(dict(local))
        result = self.inner.read(entity, id)
        if isinstance(result.entity, dict):
            self._remember_seen(entity, [result.entity])
        return result

    def query(self, statement: str) -> list[dict[str, Any]]:
        return self.query_page(statement)[0]

    def query_page(self, statement: str) -> tuple[list[dict[str, Any]], str | None]:
        rows, tid = self.inner.query_page(statement)
        return self._overlay(statement, rows), tid

    def query_all(
        self, statement_builder: Callable[[int, int], str], *, page_size: int = 1000
    ) -> Iterator[dict[str, Any]]:
        start = 1
        for _ in range(MAX_QUERY_PAGES):
            rows = self.query(statement_builder(start, page_size))
            yield from rows
            if len(rows) < page_size:
                return
            start += page_size
        raise RuntimeError("query_all read more pages than MAX_QUERY_PAGES")

    def count(self, statement: str) -> int:
        return self.inner.count(statement)

    def quiet_for(self) -> tuple[float, str]:
        """QBO's own `Retry-After`, as the real client heard it (the preview's state is a
        copy: a hold it records is not kept)."""
        return self.inner.quiet_for()

    def cdc(self, entities: Sequence[str], changed_since: Any) -> Any:
        """A read (the drift check): QBO's answer as it is; what it changes lands in the
        preview's copy of the state file only."""
        return self.inner.cdc(entities, changed_since)

    # --- writes, answered here ----------------------------------------------------------

    def create(
        self,
        entity: str,
        body: Mapping[str, Any],
        *,
        request_id: str,
        resend_unclear: bool = True,
    ) -> LocalResult:
        if entity == "Vendor":
            self._refuse_taken_name(str(body.get("DisplayName") or ""))
        with self._lock:
            qbo_id = f"-{next(self._ids)}"
            row = {**body, "Id": qbo_id, "SyncToken": "0"}
            row.setdefault("Active", True)
            if isinstance(body.get("Line"), list):
                row["Line"] = with_line_ids(body["Line"], [])
            self._keep(entity, "create", qbo_id, body, row)
        return LocalResult(dict(row))

    def update(
        self, entity: str, body: Mapping[str, Any], *, request_id: str, sparse: bool = True
    ) -> LocalResult:
        qbo_id = str(body.get("Id"))
        with self._lock:
            known = self._local.get((entity, qbo_id)) or self.seen.get((entity, qbo_id)) or {}
            wire = {k: v for k, v in body.items() if k != "sparse"}
            row = {**known, **wire, "SyncToken": _next_token(body.get("SyncToken"))}
            if isinstance(wire.get("Line"), list):
                row["Line"] = with_line_ids(wire["Line"], known.get("Line") or [])
            self._keep(entity, "update", qbo_id, wire, row)
        return LocalResult(dict(row))

    def delete(self, entity: str, id: str, sync_token: str, *, request_id: str) -> LocalResult:
        answer = {"Id": str(id), "status": "Deleted"}
        with self._lock:
            self._keep(entity, "delete", str(id), {"Id": str(id), "SyncToken": sync_token}, {})
            self._local.pop((entity, str(id)), None)
        return LocalResult(answer)

    def void(self, entity: str, id: str, sync_token: str, *, request_id: str) -> LocalResult:
        """QBO's void, answered here: the document stays with its amounts 0."""
        qbo_id = str(id)
        with self._lock:
            known = self._local.get((entity, qbo_id)) or self.seen.get((entity, qbo_id)) or {}
            row = {**known, "Id": qbo_id, "TotalAmt": 0, "SyncToken": _next_token(sync_token)}
            self._keep(entity, "void", qbo_id, {"Id": qbo_id, "SyncToken": sync_token}, row)
        return LocalResult(dict(row))

    def batch(
        self,
        items: Sequence[BatchOp],
        *,
        request_id: str | None = None,
        resend_unclear: bool = True,
    ) -> list[BatchItemResult]:
        """Query items go to QBO in one batch; write items are answered here."""
        queries = [item for item in items if item.operation == "query"]
        asked = {r.bid: r for r in self.inner.batch(queries)} if queries else {}
        return [asked[item.bid] if item.bid in asked else self._batch_write(item) for item in items]

    def send_group(
        self,
        items: Sequence[BatchOp],
        *,
        request_id: str,
        item_request_ids: Sequence[str],
        resend_unclear: bool = True,
        alone: bool = False,
    ) -> GroupAnswer:
        """A group of writes (`qbo.groups`), answered here item by item: a name QBO would
        refuse comes back as that item's fault, as in a batch's answer."""
        results = []
        for item in items:
            try:
                results.append(self._batch_write(item))
            except errors.ReconcilerError as exc:
                results.append(BatchItemResult(item.bid, item.entity, fault=exc))
        return GroupAnswer(results, as_batch=len(items) > 1 and not alone)

    # --- internals ----------------------------------------------------------------------

    def _batch_write(self, item: BatchOp) -> BatchItemResult:
        entity, body = item.entity or "", dict(item.body or {})
        if item.operation == "create":
            answer = self.create(entity, body, request_id="")
        elif item.operation == "delete":
            answer = self.delete(entity, body["Id"], body["SyncToken"], request_id="")
        else:
            answer = self.update(entity, body, request_id="")
        return BatchItemResult(item.bid, entity, entity=answer.entity)

    def _keep(
        self,
        entity: str,
        operation: str,
        qbo_id: str,
        body: Mapping[str, Any],
        row: dict[str, Any],
    ) -> None:
        self.writes.append(PlannedWrite(entity, operation, qbo_id, dict(body), dict(row)))
        if row:
            self._local[(entity, qbo_id)] = row

    def _overlay(self, statement: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """QBO's rows as they would be after the writes answered here: updated ones replaced,
        created ones that match the statement added (to the first page)."""
        parsed = st.parse(statement)
        if parsed is None or parsed.count:
            return rows
        if parsed.full_rows:
            self._remember_seen(parsed.entity, rows)
        with self._lock:
            local = {i: r for (e, i), r in self._local.items() if e == parsed.entity}
            deleted = {
                w.qbo_id
                for w in self.writes
                if w.entity == parsed.entity and w.operation == "delete"
            }
        out = [local.get(str(r.get("Id")), r) for r in rows if str(r.get("Id")) not in deleted]
        if parsed.start == 1:
            out += [r for i, r in local.items() if is_placeholder(i) and st.matches(parsed, r)]
        return out

    def _remember_seen(self, entity: str, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            for row in rows:
                if row.get("Id") is not None:
                    self.seen[(entity, str(row["Id"]))] = row

    def _refuse_taken_name(self, name: str) -> None:
        """6240 as QBO would answer it: a customer or employee (active or not) has the name."""
        if not name or not q.is_queryable(name):
            return  # QBO would judge it; the preview cannot ask
        for entity in NAME_LIST:
            statement = q.select(
                entity, [q.eq("DisplayName", name), q.in_("Active", (True, False))]
            )
            if any(st.same_text(r.get("DisplayName"), name) for r in self.inner.query(statement)):
                raise errors.DuplicateNameFault(
                    f"Duplicate Name Exists Error: the name {name!r} is used by a QBO "
                    f"{entity.lower()} (foreseen by the preview)",
                    code="6240",
                )


def with_line_ids(
    lines: Sequence[Mapping[str, Any]], before: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The lines as QBO answers them (Intuit's Line.Id and LineNum; the QBO emulator's rule,
    `sandbox/qbo/lines.py`): a line sent with an Id the document has keeps it, any other gets
    one past the highest it ever had; LineNum counts 1..n. A bill's links (LinkedTxn) come
    back as sent. Without this a preview's bill looked unlinked and its PO unread."""
    had = {str(line.get("Id")) for line in before if isinstance(line, Mapping)}
    numbers = [int(i) for i in had if i.isdigit()]
    highest = max(numbers, default=0)
    answered = []
    for number, line in enumerate(lines, start=1):
        kept = dict(line)
        if str(kept.get("Id") or "") not in had:
            highest += 1
            kept["Id"] = str(highest)
        kept["LineNum"] = number
        answered.append(kept)
    return answered


def _next_token(token: Any) -> str:
    try:
        return str(int(str(token)) + 1)
    except ValueError:
        return "1"
