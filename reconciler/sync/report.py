"""What a pass reports: counts, QBO requests, how it ended; the same words everywhere.

`PassReport.outcome` (ok / failures / aborted / fatal) is what the runs table, the
`pass_finished` log event, `/metrics` and the exit code of `run --once` are made from.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from reconciler import errors
from reconciler.model import Checkpoint, SyncStatus

if TYPE_CHECKING:
    from reconciler.documents.drift import DriftFinding

# The verbs of synced outcomes, as the report counts them (and /metrics labels them).
PAST_TENSE = {
    "create": "created",
    "update": "updated",
    "close": "closed",
    "delete": "deleted",
    "adopt": "adopted",
    "none": "unchanged",
}
DRIFT_IN_REPORT = 50  # findings kept in the runs table and the pass_finished event


@dataclass
class PassReport:
    run_id: str
    started_at: datetime
    finished_at: datetime | None = None
    counts: Counter[str] = field(default_factory=Counter)
    qbo_requests: int = 0
    qbo_reads: int = 0  # GETs and queries: what Intuit meters ("CorePlus" calls)
    qbo_writes: int = 0
    throttled: int = 0
    fatal: str | None = None
    aborted: str | None = None  # a transient failure stopped the pass (Luminous down, ...)
    crashed: str | None = None  # an unexpected error stopped it (a bug): type and message
    fix: str | None = None  # what a person does about what stopped it (`errors.fix_for`)
    authorization_lost: bool = False
    stopped_in: str | None = None  # "luminous" or "qbo": the service whose error stopped it
    checkpoint: Checkpoint | None = None
    # POs the ledger holds as failed, retrying or pending after the pass, whichever pass
    # left them so: "all settled" means none.
    unsettled_in_ledger: int = 0
    # Documents someone else edited or deleted in QBO, found by this pass's drift check
    # (`drift.DriftFinding`: doc id, number, QBO id, the fields ours -> QBO's); billed and
    # closed ones are counted, not listed. None of this makes the pass fail.
    drift: list[DriftFinding] = field(default_factory=list)
    drift_outstanding: dict[str, int] | None = None  # documents in each drift state, if checked
    ledger_counts: dict[str, int] | None = None  # the ledger's documents by status, at the end

    def stopped_by(self, exc: BaseException) -> str:
        """Record what stopped the pass; the event to log. A Fatal (configuration,
        authorization) stops the daemon; transient trouble outside any one document (Luminous
        unavailable mid-pull) aborts the pass, whose records stay and whose checkpoint holds;
        anything else is a bug, a crash."""
        if isinstance(exc, errors.LuminousHTTPError):
            self.stopped_in = "luminous"
        elif isinstance(exc, errors.QBOFault | errors.AuthorizationLost):
            self.stopped_in = "qbo"
        self.fix = errors.fix_for(exc)
        if isinstance(exc, errors.Fatal):
            self.fatal = str(exc)
            self.authorization_lost = isinstance(
                exc, errors.AuthorizationLost | errors.QBOFatalFault
            )
            return "pass_stopped"
        if isinstance(exc, errors.ReconcilerError):
            self.aborted = str(exc)
            return "pass_aborted"
        self.crashed = f"{type(exc).__name__}: {exc}"
        return "pass_crashed"

    @property
    def failed(self) -> int:
        return self.counts["failed"] + self.counts["retrying"]

    @property
    def outcome(self) -> str:
        """ok / failures / aborted / crashed / fatal: the word the runs table, the logs, the
        metrics and /healthz use."""
        if self.fatal:
            return "fatal"
        if self.crashed:
            return "crashed"
        if self.aborted:
            return "aborted"
        return "failures" if self.failed else "ok"

    def exit_code(self) -> int:
        """0 all settled, 1 some POs failed (now or earlier, still waiting) or the pass did not
        finish (aborted, crashed), 2 fatal."""
        if self.fatal:
            return 2
        unfinished = self.aborted or self.crashed
        return 1 if self.failed or unfinished or self.unsettled_in_ledger else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "counts": dict(self.counts),
            "qbo_requests": self.qbo_requests,
            "qbo_reads": self.qbo_reads,
            "qbo_writes": self.qbo_writes,
            "throttled": self.throttled,
            "fatal": self.fatal,
            "aborted": self.aborted,
            "crashed": self.crashed,
            "stopped_in": self.stopped_in,
            "fix": self.fix,
            "unsettled_in_ledger": self.unsettled_in_ledger,
            "drift": [finding.as_dict() for finding in self.drift[:DRIFT_IN_REPORT]],
            "checkpoint": (
                [self.checkpoint.updated_at.isoformat(), self.checkpoint.doc_id]
                if self.checkpoint
                else None
            ),
        }


def close(
    report: PassReport,
    *,
    finished_at: datetime,
    checkpoint: Checkpoint | None,
    status_counts: dict[str, int],
    counter: RequestCounter | None,
) -> PassReport:
    """Fill in how the pass ended: when, where the checkpoint is, what still waits, and the
    QBO requests it cost."""
    report.finished_at = finished_at
    report.checkpoint = checkpoint
    report.ledger_counts = dict(status_counts)
    report.unsettled_in_ledger = sum(
        status_counts.get(str(s), 0)
        for s in (SyncStatus.FAILED, SyncStatus.RETRYING, SyncStatus.PENDING)
    )
    if counter is not None:
        # every /batch sent, the reference look-ups' and creates' included
        report.counts["batch_requests"] = max(report.counts["batch_requests"], counter.batches)
        report.qbo_requests = counter.requests
        report.qbo_reads = counter.reads
        report.qbo_writes = counter.writes
        report.throttled = counter.throttled
    return report


def metered_kind(event: dict[str, Any]) -> str:
    """Read or write, as Intuit meters a request: GETs and queries are reads ("CorePlus"
    calls, 500,000 a month in the Builder tier); any other POST, a /batch included, a write."""
    if event.get("method") == "GET" or event.get("entity") == "query":
        return "read"
    return "write"


class RequestCounter:
    """Fed by the QBO client's `on_request` hook; the pass report reads it."""

    def __init__(self) -> None:
        self.requests = 0
        self.reads = 0
        self.writes = 0
        self.throttled = 0
        self.batches = 0
        self.by_status: Counter[int] = Counter()

    def __call__(self, info: dict[str, Any]) -> None:
        self.requests += 1
        if info.get("entity") == "batch":
            self.batches += 1
        if metered_kind(info) == "read":
            self.reads += 1
        else:
            self.writes += 1
        status = info.get("status")
        if status is not None:
            self.by_status[int(status)] += 1
            if int(status) == 429:
                self.throttled += 1


def new_run_id(now: datetime) -> str:
    """Sortable by start time, unique across processes."""
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
