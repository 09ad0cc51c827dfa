"""What one pass did to each document, read back from the history it wrote.

A pass writes a history line for each step of each document (`pending` when a write is begun,
then its outcome); the last line a run wrote for a document is what that pass did to it. The
line a document had before the run says where it came from, so "newly failed" (failed now, not
failed before this pass) is a question about history, not about the log. Unchanged documents
write no history line and do not appear here (the pass report counts them).
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.model import DocKind
from reconciler.state.db import StateDB


@dataclass(frozen=True)
class RunLine:
    """The last step one run recorded for one document, with the row's number and vendor."""

    kind: DocKind
    doc_id: int
    number: str | None
    vendor: str | None
    action: str
    status: str
    qbo_id: str | None
    error_code: str | None
    message: str | None
    status_before: str | None  # the document's status before this run; None: new to the ledger


_LAST_OF_RUN = """
with last as (
    select kind, doc_id, max(id) as id, min(id) as first_id from history
    where run_id = ? and action not in ({skipped}) group by kind, doc_id
)
select h.kind, h.doc_id, h.action, h.status, h.qbo_id, h.error_code, h.message,
       l.number, l.vendor,
       (select b.status from history b
        where b.kind = h.kind and b.doc_id = h.doc_id and b.id < last.first_id
              and b.status != 'pending'
        order by b.id desc limit 1) as status_before
from last
join history h on h.id = last.id
left join ledger l on l.kind = h.kind and l.doc_id = h.doc_id
order by last.first_id
"""


class RunLines:
    """Reads the lines one run left in the history (the history's index on (kind, doc_id, id)
    keeps the look-back a lookup)."""

    def __init__(self, db: StateDB) -> None:
        self._db = db

    def of_run(self, run_id: str, *, skip: tuple[str, ...] = ()) -> list[RunLine]:
        """Each document the run recorded, in the order it first took them up; lines of the
        `skip` actions are passed over (notes about a document that another's write made)."""
        marks = ", ".join("?" * len(skip)) or "''"
        sql = _LAST_OF_RUN.format(skipped=marks)
        return [
            RunLine(
                kind=DocKind(r["kind"]),
                doc_id=r["doc_id"],
                number=r["number"],
                vendor=r["vendor"],
                action=r["action"],
                status=r["status"],
                qbo_id=r["qbo_id"],
                error_code=r["error_code"],
                message=r["message"],
                status_before=r["status_before"],
            )
            for r in self._db.rows(sql, [run_id, *skip])
        ]

    def newly_failed(self, run_id: str) -> list[RunLine]:
        """Documents this run left failed that were not failed before it."""
        return [
            line
            for line in self.of_run(run_id)
            if line.status == "failed" and line.status_before != "failed"
        ]
