"""Pure: the preview's listing, from what a preview pass recorded and the writes it kept.

`category` names what the pass did to one document (create, adopt, update, close, delete,
conflict, fail, retry, skip, hold, wait); `build` joins each document's last history line of
the run with the write it would have sent, and the fields that write changes (`qbo.compare`,
old -> new against what QBO holds). Nothing here knows a document kind beyond `DocKind`: a new
kind appears in the preview without a change here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reconciler.model import DocKind
from reconciler.qbo import compare

if TYPE_CHECKING:
    from reconciler.state.run_lines import RunLine
    from reconciler.sync.report import PassReport


@dataclass(frozen=True)
class PlannedWrite:
    """One write the pass would have sent."""

    entity: str
    operation: str  # create | update | delete
    qbo_id: str
    body: Mapping[str, Any]
    result: Mapping[str, Any] = field(default_factory=dict)


def is_placeholder(qbo_id: str | None) -> bool:
    return bool(qbo_id) and str(qbo_id).startswith("-")


DOCUMENT_ENTITIES = {kind.entity: kind for kind in DocKind}
WRITES = {"create", "adopt", "update", "close", "delete"}
# History lines about a document that no write of its own made (another document's write, or
# what QBO or a drift check saw): not what the pass did to it (a bill linked to a PO is the
# bill's create, not a PO update).
OBSERVED = ("billed", "closed_in_qbo", "reopened_in_qbo", "drift")
ORDER = (
    "create",
    "adopt",
    "update",
    "close",
    "delete",
    "conflict",
    "fail",
    "retry",
    "skip",
    "hold",
    "wait",
    "unfinished",
)


@dataclass(frozen=True)
class DocumentPlan:
    """What the pass would do to one document."""

    kind: DocKind
    doc_id: int
    number: str | None
    vendor: str | None
    action: str  # one of ORDER
    qbo_id: str | None  # None for a document the pass would create
    reason: str | None = None
    error_code: str | None = None
    changes: tuple[compare.Difference, ...] = ()


@dataclass(frozen=True)
class ReferencePlan:
    """A vendor, item (or other reference) the pass would create or change."""

    entity: str
    operation: str  # create | reactivate | update
    name: str
    qbo_id: str | None = None
    sku: str | None = None


@dataclass
class Preview:
    run_id: str
    realm_id: str
    first_connection: bool
    documents: list[DocumentPlan]
    references: list[ReferencePlan]
    unchanged: int
    qbo_reads: int
    outcome: str  # the pass's: ok / failures / aborted / crashed / fatal
    stopped: str | None = None  # why the pass stopped early, if it did
    running_pid: int | None = None  # another process holds the run lock
    totals: Counter[str] = field(default_factory=Counter)

    def exit_code(self) -> int:
        """0 previewed; 1 the pass would leave documents failing, or did not finish; 2 fatal."""
        if self.outcome == "fatal":
            return 2
        failing = self.totals["conflict"] + self.totals["fail"] + self.totals["retry"]
        unfinished = self.outcome in ("aborted", "crashed", "interrupted")
        return 1 if failing or unfinished else 0


def category(line: RunLine) -> str:
    """The preview's word for what the pass did to one document."""
    if line.status == "synced":
        return line.action if line.action in WRITES else "update"
    if line.action == "wait":
        return "wait"
    if line.status == "pending":
        return "unfinished"
    if line.status == "skipped":
        return "skip"
    if line.action == "skip":  # held as it was: parked, or backing off
        return "hold"
    if line.error_code == "6140":  # identity: another document holds the number
        return "conflict"
    return "fail" if line.status == "failed" else "retry"


def build(
    report: PassReport,
    lines: Iterable[RunLine],
    writes: list[PlannedWrite],
    current: Mapping[tuple[str, str], Mapping[str, Any]],
    *,
    realm_id: str,
    first_connection: bool,
) -> Preview:
    """The listing from what the pass recorded and the writes it would have sent; `current`
    is QBO's version of each document an update would change (the "old" side)."""
    last_write = {(w.entity, w.qbo_id): w for w in writes if w.entity in DOCUMENT_ENTITIES}
    documents = []
    for line in lines:
        action = category(line)
        write = last_write.get((line.kind.entity, line.qbo_id or ""))
        changes: tuple[compare.Difference, ...] = ()
        if write is not None and write.operation == "update" and action in WRITES:
            held = current.get((write.entity, write.qbo_id), {})
            changes = tuple(compare.differences(write.body, held))
        qbo_id = None if is_placeholder(line.qbo_id) else line.qbo_id
        reason = line.message if action not in WRITES else None
        documents.append(
            DocumentPlan(
                line.kind,
                line.doc_id,
                line.number,
                line.vendor,
                action,
                qbo_id,
                reason,
                line.error_code,
                changes,
            )
        )
    preview = Preview(
        run_id=report.run_id,
        realm_id=realm_id,
        first_connection=first_connection,
        documents=documents,
        references=references(writes),
        unchanged=report.counts["unchanged"],
        qbo_reads=report.qbo_requests,
        outcome=report.outcome,
        stopped=report.fatal or report.aborted or report.crashed,
    )
    preview.totals.update(d.action for d in documents)
    return preview


def references(writes: list[PlannedWrite]) -> list[ReferencePlan]:
    """Vendors, items and any other non-document entity the pass would write."""
    found = []
    for w in writes:
        if w.entity in DOCUMENT_ENTITIES:
            continue
        row = {**w.result, **w.body}
        name = str(row.get("DisplayName") or row.get("Name") or row.get("Id"))
        operation = w.operation
        if operation == "update" and w.body.get("Active") is True and len(w.body) <= 4:
            operation = "reactivate"
        qbo_id = None if is_placeholder(w.qbo_id) else w.qbo_id
        found.append(ReferencePlan(w.entity, operation, name, qbo_id, row.get("Sku")))
    rank = {"Vendor": 0, "Item": 1}
    return sorted(found, key=lambda r: (rank.get(r.entity, 2), r.entity, r.operation, r.name))
