"""What drift checks keep in the state file: where CDC is asked from next and when the last
check ran (meta), the ledger rows that own what CDC returned, and what each check found.

A check's findings, the ledger rows they change and the CDC checkpoint that covers them commit
in one transaction: a crash before it asks again from the old checkpoint (and the same
SyncTokens are not reported twice: the snapshot remembers the newest one seen).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from reconciler.documents.drift import FieldDiff, Settled, Snapshot
from reconciler.documents.outcomes import Record
from reconciler.model import DocKind, Drift, LedgerEntry, SyncStatus
from reconciler.state import snapshots as snapshot_rows
from reconciler.state.db import StateDB, instant, iso
from reconciler.state.ledger import Ledger
from reconciler.state.ledger import entry_from_row as ledger_entry

CDC_FROM = "drift_cdc_from"  # QBO's clock: where the next check asks from
CHECKED_AT = "drift_checked_at"  # this machine's clock: when the last check finished
IN_CHUNK = 500  # ids per IN (...) in one statement
_SNAPSHOT_COLUMNS = (
    "qbo_id",
    "sync_token",
    "fields",
    "qbo_updated_at",
    "seen_token",
    "diffs",
    "note",
    "found_at",
)


@dataclass(frozen=True)
class DriftDetail:
    """One document's drift as `reconciler status PO` and the status page show it."""

    change: Drift
    diffs: tuple[FieldDiff, ...]
    note: str
    found_at: datetime | None
    seen_token: str | None


class DriftRecords:
    def __init__(self, db: StateDB, ledger: Ledger, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._ledger = ledger
        self._clock = clock

    # --- the check's own state ----------------------------------------------------------

    def _meta(self, key: str) -> datetime | None:
        rows = self._db.rows("select value from meta where key = ?", [key])
        return instant(rows[0]["value"]) if rows else None

    def checked_at(self) -> datetime | None:
        return self._meta(CHECKED_AT)

    def cdc_from(self) -> datetime | None:
        return self._meta(CDC_FROM)

    def mark_checked(self, at: datetime, cdc_from: datetime | None = None) -> None:
        with self._db.atomic():
            self._set(CHECKED_AT, at)
            if cdc_from is not None:
                self._set(CDC_FROM, cdc_from)

    def _set(self, key: str, value: datetime) -> None:
        self._db.execute(
            "insert or replace into meta (key, value) values (?, ?)", [key, iso(value)]
        )

    def earliest_write(self) -> datetime | None:
        """QBO's time of the oldest write a snapshot holds: where a first check starts."""
        rows = self._db.rows("select min(qbo_updated_at) as at from qbo_snapshot")
        return instant(rows[0]["at"]) if rows else None

    def kinds_in_qbo(self) -> list[DocKind]:
        rows = self._db.rows("select distinct kind from ledger where qbo_id is not null")
        return sorted((DocKind(r["kind"]) for r in rows), key=list(DocKind).index)

    # --- the documents CDC returned -----------------------------------------------------

    def owners(
        self, kind: DocKind, qbo_ids: Sequence[str]
    ) -> dict[str, tuple[LedgerEntry, Snapshot | None]]:
        """The ledger rows (and their snapshots) of these QBO documents, by QBO id."""
        found: dict[str, tuple[LedgerEntry, Snapshot | None]] = {}
        snap_columns = ", ".join(f"s.{c} as snap_{c}" for c in _SNAPSHOT_COLUMNS)
        ids = list(dict.fromkeys(qbo_ids))
        for start in range(0, len(ids), IN_CHUNK):
            chunk = ids[start : start + IN_CHUNK]
            rows = self._db.rows(
                f"select l.*, {snap_columns} from ledger l left join qbo_snapshot s"  # noqa: S608
                " on s.kind = l.kind and s.doc_id = l.doc_id"
                f" where l.kind = ? and l.qbo_id in ({', '.join('?' * len(chunk))})"
                " order by l.doc_id",
                [str(kind), *chunk],
            )
            for row in rows:
                snap = {c: row[f"snap_{c}"] for c in _SNAPSHOT_COLUMNS}
                has_snap = snap["qbo_id"] is not None or snap["seen_token"] is not None
                found.setdefault(
                    row["qbo_id"],
                    (ledger_entry(row), snapshot_rows.from_row(snap) if has_snap else None),
                )
        return found

    def apply(
        self,
        settled: Sequence[Settled],
        *,
        run_id: str,
        cdc_from: datetime | None,
        checked_at: datetime | None = None,
    ) -> None:
        """What one CDC answer changed, and where the next request asks from, together."""
        now = self._clock()
        with self._db.atomic():
            records = [
                Record(s.entry, s.outcome) for s in settled if s.outcome is not None
            ]  # a finding: the row, its history line
            self._ledger.record(records, run_id=run_id)
            for s in settled:
                key = [str(s.entry.kind), s.entry.doc_id]
                self._db.execute(
                    "update ledger set sync_token = ?, drift = ? where kind = ? and doc_id = ?"
                    " and status != ?",
                    [s.entry.sync_token, _text(s.entry.drift), *key, str(SyncStatus.PENDING)],
                )
                finding = s.finding
                snapshot_rows.seen(
                    self._db,
                    s.entry.key,
                    qbo_id=s.entry.qbo_id,
                    token=s.seen_token,
                    reported=(finding.diffs, finding.note) if finding else None,
                    resolved=s.outcome is not None and finding is None,
                    at=now,
                )
            if cdc_from is not None:
                self._set(CDC_FROM, cdc_from)
            if checked_at is not None:
                self._set(CHECKED_AT, checked_at)

    def note(self, pending: LedgerEntry, finding: Settled, *, run_id: str) -> None:
        """A finding made while our own write is out (a 5010 refused it): its history line
        only. The pending row stays as it is, since our write goes over that version next."""
        if finding.outcome is not None:
            self._ledger.record([Record(pending, finding.outcome)], run_id=run_id)

    # --- what the status views show -----------------------------------------------------

    def counts(self) -> dict[str, int]:
        rows = self._db.rows(
            "select drift, count(*) as n from ledger where drift is not null group by drift"
        )
        return {r["drift"]: r["n"] for r in rows}

    def detail(self, kind: DocKind, doc_id: int) -> DriftDetail | None:
        rows = self._db.rows(
            "select l.drift, s.* from ledger l left join qbo_snapshot s"
            " on s.kind = l.kind and s.doc_id = l.doc_id where l.kind = ? and l.doc_id = ?",
            [str(kind), doc_id],
        )
        change = snapshot_rows.drift_of(rows[0]["drift"]) if rows else None
        if change is None:
            return None
        snap = snapshot_rows.from_row(rows[0])
        return DriftDetail(
            change, snap.diffs, snap.note, snapshot_rows.found_at(rows[0]), snap.seen_token
        )


def _text(value: Drift | None) -> str | None:
    return str(value) if value is not None else None
