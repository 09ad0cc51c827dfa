"""The ledger: one row per source document (POs and bills), its history, and the checkpoints.

Every outcome and the checkpoint move that depends on it commit together (`record`), and a
write's requestid is committed before the request leaves (`begin`). The row is a cache of what
QBO holds; QBO stays the authority (see `documents.identity`). Error text (which may echo a
fault body) is redacted before it is written (`reconciler.redact`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from reconciler.documents.drift import Snapshot
from reconciler.documents.outcomes import Record
from reconciler.model import (
    Checkpoint,
    DocKey,
    DocKind,
    LedgerEntry,
    Lifecycle,
    Outcome,
    SyncStatus,
)
from reconciler.redact import scrub
from reconciler.state import snapshots as snapshot_rows
from reconciler.state.db import StateDB, instant, iso
from reconciler.state.search import search_key
from reconciler.state.sent import INSERT_SENT, sent_rows

SETTLED_STATUSES = frozenset(
    {SyncStatus.SYNCED, SyncStatus.SKIPPED, SyncStatus.FAILED, SyncStatus.RETRYING}
)
PO = DocKind.PURCHASE_ORDER
_COLUMNS = (
    "kind",
    "doc_id",
    "number",
    "status",
    "qbo_id",
    "sync_token",
    "content_hash",
    "source_updated_at",
    "lifecycle",
    "request_id",
    "request_sent_at",
    "attempts",
    "last_error_code",
    "last_error_message",
    "next_retry_at",
    "force_retry",
    "recorded_at",
    "vendor",
    "adopted",
    "vendor_key",
    "intuit_tid",
)


# Kept when a row is written without them (a row built from less than the ledger knows; an
# outcome with no answer from QBO keeps the intuit_tid of the last one).
_KEPT_WHEN_NULL = ("vendor", "vendor_key", "intuit_tid")


def _upsert_sql(columns: Sequence[str]) -> str:
    # Plain SQL: sqlite-utils' upsert inspects the table on every call, which was most of
    # the engine's CPU per PO in the backfill benchmark.
    def assign(column: str) -> str:
        if column in _KEPT_WHEN_NULL:
            return f"{column} = coalesce(excluded.{column}, ledger.{column})"
        return f"{column} = excluded.{column}"

    return (
        f"insert into ledger ({', '.join(columns)}) values ({', '.join('?' * len(columns))})"  # noqa: S608
        " on conflict(kind, doc_id) do update set "
        + ", ".join(assign(c) for c in columns if c not in ("kind", "doc_id"))
    )


_UPSERT = _upsert_sql(_COLUMNS)
# A write being begun leaves `force_retry` as it is: a user's `reconciler retry` from another
# process may have set it since the row was read.
_UPSERT_KEEP_FORCE = _upsert_sql([c for c in _COLUMNS if c != "force_retry"])
_INSERT_HISTORY = (
    "insert into history (kind, doc_id, run_id, at, action, status, qbo_id, error_code,"
    " message, detail) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_DETAIL_KEYS = ("request_id", "intuit_tid")  # of an outcome's extra, kept in history.detail


def entry_from_row(row: dict[str, Any]) -> LedgerEntry:
    """A `select * from ledger` row as the entry it stores."""
    return LedgerEntry(
        doc_id=row["doc_id"],
        status=SyncStatus(row["status"]),
        number=row["number"],
        qbo_id=row["qbo_id"],
        sync_token=row["sync_token"],
        content_hash=row["content_hash"],
        source_updated_at=instant(row["source_updated_at"]),
        lifecycle=Lifecycle(row["lifecycle"]) if row["lifecycle"] else None,
        request_id=row["request_id"],
        request_sent_at=instant(row["request_sent_at"]),
        attempts=row["attempts"] or 0,
        last_error_code=row["last_error_code"],
        last_error_message=row["last_error_message"],
        next_retry_at=instant(row["next_retry_at"]),
        force_retry=bool(row["force_retry"]),
        kind=DocKind(row["kind"]),
        vendor=row["vendor"],
        adopted=bool(row["adopted"]),
        drift=snapshot_rows.drift_of(row.get("drift")),
    )


@dataclass(frozen=True)
class HistoryRow:
    at: datetime
    run_id: str | None
    action: str
    status: str
    qbo_id: str | None
    error_code: str | None
    message: str | None
    request_id: str | None = None  # the write's requestid, when the line is a write's
    intuit_tid: str | None = None  # Intuit's id of QBO's answer (for Intuit's support)


class Ledger:
    """Rows, history and checkpoints, on the shared connection."""

    def __init__(self, db: StateDB, clock: Any) -> None:
        self._db = db
        self._clock = clock

    # --- reading ------------------------------------------------------------------------

    def entry(self, doc_id: int, kind: DocKind = PO) -> LedgerEntry | None:
        rows = self._db.rows(
            "select * from ledger where kind = ? and doc_id = ?", [str(kind), doc_id]
        )
        return entry_from_row(rows[0]) if rows else None

    def entries(
        self,
        *,
        status: SyncStatus | None = None,
        kind: DocKind | None = None,
        limit: int | None = None,
    ) -> list[LedgerEntry]:
        """Newest first; every row unless `limit` says otherwise."""
        where, params = _where(status=status, kind=kind)
        sql = f"select * from ledger{where} order by recorded_at desc, doc_id desc"  # noqa: S608
        if limit is not None:
            sql += " limit ?"
            params.append(limit)
        return [entry_from_row(r) for r in self._db.rows(sql, params)]

    def count(self, *, status: SyncStatus | None = None, kind: DocKind | None = None) -> int:
        where, params = _where(status=status, kind=kind)
        return self._db.rows(f"select count(*) as n from ledger{where}", params)[0]["n"]  # noqa: S608

    def find(self, ref: str, kind: DocKind | None = None) -> list[DocKey]:
        """A user names a document by its number ("PO-1042") or by its Luminous id ("1042")."""
        where, params = _where(kind=kind)
        joiner = " and" if where else " where"
        rows = self._db.rows(
            f"select kind, doc_id from ledger{where}{joiner} number = ? order by kind, doc_id",  # noqa: S608
            [*params, ref],
        )
        if not rows and ref.isdigit():
            rows = self._db.rows(
                f"select kind, doc_id from ledger{where}{joiner} doc_id = ? order by kind",  # noqa: S608
                [*params, int(ref)],
            )
        return [(DocKind(r["kind"]), r["doc_id"]) for r in rows]

    def owner_of(self, qbo_id: str, kind: DocKind = PO) -> int | None:
        """The source document whose row points at this QBO document, if any."""
        rows = self._db.rows(
            "select doc_id from ledger where kind = ? and qbo_id = ? limit 1", [str(kind), qbo_id]
        )
        return rows[0]["doc_id"] if rows else None

    def is_handled(self, doc_id: int, updated_at: datetime, kind: DocKind = PO) -> bool:
        """True when a settled outcome is recorded for this version or a newer one."""
        entry = self.entry(doc_id, kind)
        return (
            entry is not None
            and entry.status in SETTLED_STATUSES
            and entry.source_updated_at is not None
            and entry.source_updated_at >= updated_at
            and not entry.force_retry
        )

    def due_for_retry(self, now: datetime) -> list[LedgerEntry]:
        """Documents whose transient failure has waited long enough, that a user asked to
        retry, or whose write was in flight when a process stopped."""
        rows = self._db.rows(
            "select * from ledger where (status = ? and next_retry_at <= ?)"
            " or force_retry = 1 or status = ? order by kind, doc_id",
            [str(SyncStatus.RETRYING), iso(now), str(SyncStatus.PENDING)],
        )
        return [entry_from_row(r) for r in rows]

    def history(self, doc_id: int, kind: DocKind = PO, limit: int = 50) -> list[HistoryRow]:
        rows = self._db.rows(
            "select * from history where kind = ? and doc_id = ? order by id desc limit ?",
            [str(kind), doc_id, limit],
        )
        return [
            HistoryRow(
                at=instant(r["at"]),  # type: ignore[arg-type]
                run_id=r["run_id"],
                action=r["action"],
                status=r["status"],
                qbo_id=r["qbo_id"],
                error_code=r["error_code"],
                message=r["message"],
                **_detail(r["detail"]),
            )
            for r in reversed(rows)
        ]

    def status_counts(self, kind: DocKind | None = None) -> dict[str, int]:
        where, params = _where(kind=kind)
        sql = f"select status, count(*) as n from ledger{where} group by status"  # noqa: S608
        return {r["status"]: r["n"] for r in self._db.rows(sql, params)}

    # --- writing ------------------------------------------------------------------------

    def request_retry(self, doc_id: int, kind: DocKind = PO) -> None:
        with self._db.atomic():
            self._db.execute(
                "update ledger set force_retry = 1, next_retry_at = null"
                " where kind = ? and doc_id = ?",
                [str(kind), doc_id],
            )

    def note(self, key: DocKey, action: str | None, message: str | None = None, **kw: Any) -> None:
        """A history line (none when `action` is None) about a document that no write of its
        own made: a bill linked to a PO, QBO closing it. `kw`: run_id, qbo_id, and sync_token,
        QBO's token as that change left it."""
        entry = self.entry(key[1], key[0])
        if entry is None:
            return
        with self._db.atomic():
            if kw.get("sync_token") is not None:
                self._db.execute(
                    "update ledger set sync_token = ? where kind = ? and doc_id = ?",
                    [kw["sync_token"], str(key[0]), key[1]],
                )
            if action is not None:
                run_id, qbo_id = kw.get("run_id"), kw.get("qbo_id")
                self._history(entry, run_id, action, entry.status, qbo_id, None, message)

    def begin(
        self,
        entries: Sequence[LedgerEntry],
        *,
        run_id: str | None,
        verbs: Sequence[str],
        bodies: Sequence[Mapping[str, Any] | None] = (),
    ) -> list[LedgerEntry]:
        """Each write's requestid, committed *before* the requests leave (one transaction), so
        a crash knows what was sent; with `bodies` (one per entry, None for none), what each
        sends (`state.sent`: its date, amount and lines, for the document's page)."""
        if len(verbs) != len(entries) or (bodies and len(bodies) != len(entries)):
            raise ValueError("one verb (and one body, when bodies are given) per entry")
        now = self._clock()
        begun = [replace(e, status=SyncStatus.PENDING, request_sent_at=now) for e in entries]
        rows = [self._row(entry, keep_force_retry=True) for entry in begun]
        history = [
            self._history_row(entry, run_id, verb, SyncStatus.PENDING, None, None, None)
            for entry, verb in zip(begun, verbs, strict=True)
        ]
        sent = sent_rows(begun, bodies, iso(now)) if bodies else []
        with self._db.atomic():
            self._db.executemany(_UPSERT_KEEP_FORCE, rows)
            self._db.executemany(_INSERT_HISTORY, history)
            if sent:
                self._db.executemany(INSERT_SENT, sent)
        return begun

    def record(
        self,
        records: Sequence[Record],
        *,
        run_id: str | None,
        checkpoints: Mapping[str, Checkpoint] | None = None,
        snapshots: Sequence[tuple[DocKey, Snapshot]] = (),
        also: Callable[[], None] | None = None,
    ) -> None:
        """Outcomes, their history lines, the checkpoint moves they allow (by checkpoint
        name), the snapshots of what QBO answered (`state.snapshots`) and `also`, together."""
        rows = [
            self._row(r.entry, keep_force_retry=False, tid=_extra(r.outcome).get("intuit_tid"))
            for r in records
        ]
        history = [
            self._history_row(
                r.entry, run_id, o.action, o.status, o.qbo_id, o.error_code, o.message, o.extra
            )
            for r in records
            if r.history and (o := r.outcome) is not None
        ]
        with self._db.atomic():
            if also is not None:
                also()
            self._db.executemany(_UPSERT, rows)  # (in order: a document twice ends as its last)
            self._db.executemany(_INSERT_HISTORY, history)
            for name, checkpoint in (checkpoints or {}).items():
                self._write_checkpoint(checkpoint, name)
            snapshot_rows.write(self._db, snapshots)

    def _upsert(self, entry: LedgerEntry, *, keep_force_retry: bool) -> None:
        sql = _UPSERT_KEEP_FORCE if keep_force_retry else _UPSERT
        self._db.execute(sql, self._row(entry, keep_force_retry=keep_force_retry))

    def _history(self, entry: LedgerEntry, run_id: str | None, *outcome: Any) -> None:
        """One history line now; `outcome`: action, status, qbo_id, error_code, message."""
        self._db.execute(_INSERT_HISTORY, self._history_row(entry, run_id, *outcome))

    def _row(
        self, entry: LedgerEntry, *, keep_force_retry: bool, tid: str | None = None
    ) -> list[Any]:
        return _ledger_row(entry, iso(self._clock()), keep_force_retry=keep_force_retry, tid=tid)

    def _history_row(self, entry: LedgerEntry, run_id: str | None, *outcome: Any) -> list[Any]:
        return _history_row(entry, run_id, iso(self._clock()), *outcome)

    # --- checkpoints --------------------------------------------------------------------

    def checkpoint(self, name: str = "luminous") -> Checkpoint | None:
        rows = self._db.rows("select * from checkpoint where name = ?", [name])
        if not rows:
            return None
        return Checkpoint(updated_at=instant(rows[0]["updated_at"]), doc_id=rows[0]["doc_id"])  # type: ignore[arg-type]

    def move_checkpoint(self, checkpoint: Checkpoint, name: str = "luminous") -> None:
        with self._db.atomic():
            self._write_checkpoint(checkpoint, name)

    def reset_checkpoint(self, checkpoint: Checkpoint, name: str = "luminous") -> None:
        """Put the checkpoint back (it was found ahead of both clocks): the one backward move."""
        with self._db.atomic():
            self._db.execute("delete from checkpoint where name = ?", [name])
            self._write_checkpoint(checkpoint, name)

    def _write_checkpoint(self, checkpoint: Checkpoint, name: str) -> None:
        current = self.checkpoint(name)
        if current is not None and checkpoint.key() <= current.key():
            return  # never backwards
        self._db.execute(
            "insert into checkpoint (name, updated_at, doc_id) values (?, ?, ?)"
            " on conflict(name) do update set updated_at = excluded.updated_at,"
            " doc_id = excluded.doc_id",
            [name, iso(checkpoint.updated_at), checkpoint.doc_id],
        )


def _where(
    *, status: SyncStatus | None = None, kind: DocKind | None = None
) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if status is not None:
        clauses.append("status = ?")
        params.append(str(status))
    if kind is not None:
        clauses.append("kind = ?")
        params.append(str(kind))
    return (" where " + " and ".join(clauses) if clauses else ""), params


def _ledger_row(
    entry: LedgerEntry, now: str | None, *, keep_force_retry: bool, tid: str | None = None
) -> list[Any]:
    """The ledger columns of an entry, in `_COLUMNS` order (without force_retry if kept)."""
    values: list[Any] = [
        str(entry.kind),
        entry.doc_id,
        entry.number,
        str(entry.status),
        entry.qbo_id,
        entry.sync_token,
        entry.content_hash,
        iso(entry.source_updated_at),
        str(entry.lifecycle) if entry.lifecycle else None,
        entry.request_id,
        iso(entry.request_sent_at),
        entry.attempts,
        entry.last_error_code,
        scrub(entry.last_error_message),
        iso(entry.next_retry_at),
        int(entry.force_retry),
        now,
        entry.vendor,
        int(entry.adopted),
        search_key(entry.vendor),
        tid or None,
    ]
    if keep_force_retry:
        del values[_COLUMNS.index("force_retry")]
    return values


def _history_row(
    entry: LedgerEntry,
    run_id: str | None,
    now: str | None,
    action: str,
    status: SyncStatus,
    qbo_id: str | None,
    error_code: str | None,
    message: str | None,
    extra: Sequence[tuple[str, str]] = (),
) -> list[Any]:
    detail = {k: v for k, v in extra if k in _DETAIL_KEYS and v}
    return [
        str(entry.kind),
        entry.doc_id,
        run_id,
        now,
        action,
        str(status),
        qbo_id,
        error_code,
        scrub(message),
        json.dumps(detail, sort_keys=True) if detail else None,
    ]


def _extra(outcome: Outcome | None) -> dict[str, str]:
    return dict(outcome.extra) if outcome is not None else {}


def _detail(text: str | None) -> dict[str, str | None]:
    """A history line's requestid and intuit_tid (`history.detail`, JSON)."""
    try:
        found = json.loads(text) if text else {}
    except ValueError:
        found = {}
    if not isinstance(found, dict):
        found = {}
    return {key: found.get(key) for key in _DETAIL_KEYS}
