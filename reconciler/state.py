"""The durable state of the sync: checkpoint, per-PO ledger, history, reference maps, runs.

One SQLite file, opened through sqlite-utils, in WAL mode with `synchronous=FULL` (an
accounting ledger prefers a slower commit to a lost one). Every outcome and the checkpoint
move that depends on it commit together in one `db.atomic()` block. The schema grows only by
named migrations (`sqlite_utils.migrations.Migrations`), so an upgraded daemon opens an old
file in place.

All times are stored as ISO-8601 UTC strings; all methods take and return aware datetimes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from reconciler.errors import Fatal
from reconciler.model import Checkpoint, LedgerEntry, Lifecycle, Outcome, SyncStatus

migrations = Migrations("reconciler")

SETTLED_STATUSES = frozenset(
    {SyncStatus.SYNCED, SyncStatus.SKIPPED, SyncStatus.FAILED, SyncStatus.RETRYING}
)


@migrations()
def m001_initial(db: Database) -> None:
    db["meta"].create({"key": str, "value": str}, pk="key")
    db["checkpoint"].create({"name": str, "updated_at": str, "po_id": int}, pk="name")
    db["ledger"].create(
        {
            "po_id": int,
            "po_number": str,
            "status": str,
            "qbo_id": str,
            "sync_token": str,
            "content_hash": str,
            "source_updated_at": str,
            "lifecycle": str,
            "request_id": str,
            "request_sent_at": str,
            "attempts": int,
            "last_error_code": str,
            "last_error_message": str,
            "next_retry_at": str,
            "force_retry": int,
            "recorded_at": str,
        },
        pk="po_id",
        not_null={"status"},
        defaults={"attempts": 0, "force_retry": 0},
    )
    db["ledger"].create_index(["status"])
    db["ledger"].create_index(["po_number"])
    db["history"].create(
        {
            "id": int,
            "po_id": int,
            "run_id": str,
            "at": str,
            "action": str,
            "status": str,
            "qbo_id": str,
            "error_code": str,
            "message": str,
            "detail": str,
        },
        pk="id",
    )
    db["history"].create_index(["po_id", "id"])
    db["vendor_map"].create(
        {"name_key": str, "qbo_id": str, "display_name": str, "source_name": str}, pk="name_key"
    )
    db["item_map"].create({"item_key": str, "qbo_id": str, "name": str}, pk="item_key")
    db["runs"].create(
        {"run_id": str, "started_at": str, "finished_at": str, "outcome": str, "report": str},
        pk="run_id",
    )


@migrations()
def m002_ledger_qbo_id_index(db: Database) -> None:
    """Look-before-create asks who owns a QBO document; keep that a lookup, not a scan."""
    db["ledger"].create_index(["qbo_id"])


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the state store")
    return value.astimezone(UTC).isoformat()


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def name_key(name: str) -> str:
    """QBO compares names without regard to case, so the cache does too."""
    return name.casefold()


def _entry_from_row(row: dict[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        po_id=row["po_id"],
        status=SyncStatus(row["status"]),
        po_number=row["po_number"],
        qbo_id=row["qbo_id"],
        sync_token=row["sync_token"],
        content_hash=row["content_hash"],
        source_updated_at=_dt(row["source_updated_at"]),
        lifecycle=Lifecycle(row["lifecycle"]) if row["lifecycle"] else None,
        request_id=row["request_id"],
        request_sent_at=_dt(row["request_sent_at"]),
        attempts=row["attempts"] or 0,
        last_error_code=row["last_error_code"],
        last_error_message=row["last_error_message"],
        next_retry_at=_dt(row["next_retry_at"]),
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


class StateStore:
    """The one owner of the SQLite file. Thread-safe: every statement holds one lock."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self._clock = clock
        self._lock = threading.RLock()
        self._map_cache: dict[tuple[str, str], str] = {}

    @classmethod
    def open(cls, path: str | Path, *, clock: Callable[[], datetime] | None = None) -> StateStore:
        path = Path(path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                # Create it private before SQLite writes a byte (no race with umask).
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            os.chmod(path, 0o600)
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        db = Database(conn)
        if str(path) != ":memory:":
            db.enable_wal()
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA busy_timeout=30000")
        migrations.apply(db)
        return cls(db, clock or (lambda: datetime.now(UTC)))

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts, straight from the connection: sqlite-utils' `query()` wraps every
        read in a savepoint guard (three statements), which the per-PO reads cannot afford."""
        cursor = self.db.conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    @contextmanager
    def atomic(self) -> Iterator[None]:
        with self._lock, self.db.atomic():
            yield

    # --- meta / realm -------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            rows = self._rows("select value from meta where key = ?", [key])
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.atomic():
            self.db["meta"].upsert({"key": key, "value": value}, pk="key")

    def delete_meta_prefix(self, prefix: str) -> None:
        with self.atomic():
            self.db.execute("delete from meta where substr(key, 1, ?) = ?", [len(prefix), prefix])

    def bind_realm(self, realm_id: str) -> None:
        """A state file belongs to one QBO company; pointing it at another would duplicate all."""
        bound = self.get_meta("realm_id")
        if bound is None:
            self.set_meta("realm_id", realm_id)
        elif bound != realm_id:
            raise Fatal(
                f"state file belongs to QBO company {bound}, but the configured realm is "
                f"{realm_id}; use a separate state file per company",
                code="wrong_realm",
            )

    # --- checkpoint ---------------------------------------------------------------------

    def checkpoint(self, name: str = "luminous") -> Checkpoint | None:
        with self._lock:
            rows = self._rows("select * from checkpoint where name = ?", [name])
        if not rows:
            return None
        return Checkpoint(updated_at=_dt(rows[0]["updated_at"]), po_id=rows[0]["po_id"])

    def _write_checkpoint(self, checkpoint: Checkpoint, name: str = "luminous") -> None:
        current = self.checkpoint(name)
        if current is not None and checkpoint.key() <= current.key():
            return  # never backwards
        self.db["checkpoint"].upsert(
            {"name": name, "updated_at": _iso(checkpoint.updated_at), "po_id": checkpoint.po_id},
            pk="name",
        )

    def move_checkpoint(self, checkpoint: Checkpoint) -> None:
        with self.atomic():
            self._write_checkpoint(checkpoint)

    # --- ledger -------------------------------------------------------------------------

    def entry(self, po_id: int) -> LedgerEntry | None:
        with self._lock:
            rows = self._rows("select * from ledger where po_id = ?", [po_id])
        return _entry_from_row(rows[0]) if rows else None

    def entries(
        self, *, status: SyncStatus | None = None, limit: int | None = None
    ) -> list[LedgerEntry]:
        sql = "select * from ledger"
        params: list[Any] = []
        if status is not None:
            sql += " where status = ?"
            params.append(str(status))
        sql += " order by recorded_at desc, po_id desc"
        if limit is not None:
            sql += " limit ?"
            params.append(limit)
        with self._lock:
            return [_entry_from_row(r) for r in self._rows(sql, params)]

    def find_po_ids(self, ref: str) -> list[int]:
        """A user names a PO by its number ("PO-1042") or by its Luminous id ("1042")."""
        with self._lock:
            rows = list(
                self._rows("select po_id from ledger where po_number = ? order by po_id", [ref])
            )
        ids = [r["po_id"] for r in rows]
        if not ids and ref.isdigit():
            with self._lock:
                if self._rows("select 1 from ledger where po_id = ?", [int(ref)]):
                    ids = [int(ref)]
        return ids

    def po_id_for_qbo_id(self, qbo_id: str) -> int | None:
        """The Luminous PO whose ledger row points at this QBO PurchaseOrder, if any."""
        with self._lock:
            rows = list(self._rows("select po_id from ledger where qbo_id = ? limit 1", [qbo_id]))
        return rows[0]["po_id"] if rows else None

    def is_handled(self, po_id: int, updated_at: datetime) -> bool:
        """True when the ledger holds a settled outcome for this PO at this version or later."""
        entry = self.entry(po_id)
        return (
            entry is not None
            and entry.status in SETTLED_STATUSES
            and entry.source_updated_at is not None
            and entry.source_updated_at >= updated_at
            and not self._force_retry(po_id)
        )

    def _force_retry(self, po_id: int) -> bool:
        with self._lock:
            rows = self._rows("select force_retry from ledger where po_id = ?", [po_id])
        return bool(rows and rows[0]["force_retry"])

    def force_retry_requested(self, po_id: int) -> bool:
        return self._force_retry(po_id)

    def due_for_retry(self, now: datetime) -> list[LedgerEntry]:
        """POs whose transient failure has waited long enough, or that a user asked to retry."""
        with self._lock:
            rows = list(
                self._rows(
                    "select * from ledger where (status = ? and next_retry_at <= ?)"
                    " or force_retry = 1 or status = ? order by po_id",
                    [str(SyncStatus.RETRYING), _iso(now), str(SyncStatus.PENDING)],
                )
            )
        return [_entry_from_row(r) for r in rows]

    def request_retry(self, po_id: int) -> None:
        with self.atomic():
            self.db.execute(
                "update ledger set force_retry = 1, next_retry_at = null where po_id = ?", [po_id]
            )

    def begin_write(self, entry: LedgerEntry, *, run_id: str | None, action: str) -> LedgerEntry:
        """Record the requestid *before* the request leaves, so a crash knows what was sent."""
        pending = replace(entry, status=SyncStatus.PENDING, request_sent_at=self._clock())
        with self.atomic():
            self._upsert_entry(pending, force_retry=None)
            self._history(pending.po_id, run_id, action, SyncStatus.PENDING, None, None, None)
        return pending

    def begin_writes(
        self,
        entries: Sequence[LedgerEntry],
        *,
        run_id: str | None,
        action: str | Sequence[str],
    ) -> list[LedgerEntry]:
        """`begin_write` for every item of a batch, in one transaction, before the batch leaves.
        `action` is one verb for all or one per entry."""
        actions = [action] * len(entries) if isinstance(action, str) else list(action)
        if len(actions) != len(entries):
            raise ValueError("one action per entry, or one for all")
        now = self._clock()
        pending = [replace(e, status=SyncStatus.PENDING, request_sent_at=now) for e in entries]
        with self.atomic():
            for entry, verb in zip(pending, actions, strict=True):
                self._upsert_entry(entry, force_retry=None)
                self._history(entry.po_id, run_id, verb, SyncStatus.PENDING, None, None, None)
        return pending

    def record_many(
        self,
        outcomes: Sequence[tuple[LedgerEntry, Outcome]],
        *,
        run_id: str | None,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        """Several outcomes (a batch's), their history lines and the checkpoint move, together."""
        with self.atomic():
            for entry, outcome in outcomes:
                self._write_outcome(entry, outcome, run_id, history=True)
            if checkpoint is not None:
                self._write_checkpoint(checkpoint)

    def record(
        self,
        entry: LedgerEntry,
        outcome: Outcome,
        *,
        run_id: str | None,
        checkpoint: Checkpoint | None = None,
        history: bool = True,
    ) -> None:
        """The outcome, its history line and the checkpoint move commit together."""
        with self.atomic():
            self._write_outcome(entry, outcome, run_id, history=history)
            if checkpoint is not None:
                self._write_checkpoint(checkpoint)

    def _write_outcome(
        self, entry: LedgerEntry, outcome: Outcome, run_id: str | None, *, history: bool
    ) -> None:
        self._upsert_entry(entry, force_retry=0)
        if history:
            self._history(
                entry.po_id,
                run_id,
                outcome.action,
                outcome.status,
                outcome.qbo_id,
                outcome.error_code,
                outcome.message,
            )

    def _upsert_entry(self, entry: LedgerEntry, *, force_retry: int | None) -> None:
        row: dict[str, Any] = {
            "po_id": entry.po_id,
            "po_number": entry.po_number,
            "status": str(entry.status),
            "qbo_id": entry.qbo_id,
            "sync_token": entry.sync_token,
            "content_hash": entry.content_hash,
            "source_updated_at": _iso(entry.source_updated_at),
            "lifecycle": str(entry.lifecycle) if entry.lifecycle else None,
            "request_id": entry.request_id,
            "request_sent_at": _iso(entry.request_sent_at),
            "attempts": entry.attempts,
            "last_error_code": entry.last_error_code,
            "last_error_message": entry.last_error_message,
            "next_retry_at": _iso(entry.next_retry_at),
            "recorded_at": _iso(self._clock()),
        }
        if force_retry is not None:
            row["force_retry"] = force_retry
        # Plain SQL: sqlite-utils' upsert inspects the table on every call, which was most of
        # the engine's CPU per PO in the backfill benchmark.
        columns = list(row)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "po_id")
        self.db.execute(
            f"insert into ledger ({', '.join(columns)}) values ({', '.join('?' * len(columns))})"  # noqa: S608
            f" on conflict(po_id) do update set {updates}",
            list(row.values()),
        )

    def _history(
        self,
        po_id: int,
        run_id: str | None,
        action: str,
        status: SyncStatus,
        qbo_id: str | None,
        error_code: str | None,
        message: str | None,
    ) -> None:
        self.db.execute(
            "insert into history (po_id, run_id, at, action, status, qbo_id, error_code, message)"
            " values (?, ?, ?, ?, ?, ?, ?, ?)",
            [po_id, run_id, _iso(self._clock()), action, str(status), qbo_id, error_code, message],
        )

    def history(self, po_id: int, limit: int = 50) -> list[HistoryRow]:
        with self._lock:
            rows = list(
                self._rows(
                    "select * from history where po_id = ? order by id desc limit ?",
                    [po_id, limit],
                )
            )
        return [
            HistoryRow(
                at=_dt(r["at"]),
                run_id=r["run_id"],
                action=r["action"],
                status=r["status"],
                qbo_id=r["qbo_id"],
                error_code=r["error_code"],
                message=r["message"],
            )
            for r in reversed(rows)
        ]

    def status_counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._rows("select status, count(*) as n from ledger group by status")
            return {r["status"]: r["n"] for r in rows}

    # --- reference maps -----------------------------------------------------------------

    # Hits are kept in memory too: this process is the only writer of the maps (one daemon
    # per state file), and a pass asks for the same vendors and items over and over.

    def vendor_id(self, display_name: str) -> str | None:
        return self._map_lookup("vendor_map", "name_key", name_key(display_name))

    def remember_vendor(self, display_name: str, qbo_id: str, qbo_display_name: str) -> None:
        key = name_key(display_name)
        with self.atomic():
            self.db["vendor_map"].upsert(
                {
                    "name_key": key,
                    "qbo_id": qbo_id,
                    "display_name": qbo_display_name,
                    "source_name": display_name,
                },
                pk="name_key",
            )
        self._map_cache[("vendor_map", key)] = qbo_id  # only once committed

    def forget_vendor(self, display_name: str) -> None:
        self._map_forget("vendor_map", "name_key", name_key(display_name))

    def item_id(self, item_key: str) -> str | None:
        return self._map_lookup("item_map", "item_key", item_key)

    def remember_item(self, item_key: str, qbo_id: str, name: str) -> None:
        with self.atomic():
            self.db["item_map"].upsert(
                {"item_key": item_key, "qbo_id": qbo_id, "name": name}, pk="item_key"
            )
        self._map_cache[("item_map", item_key)] = qbo_id  # only once committed

    def forget_item(self, item_key: str) -> None:
        self._map_forget("item_map", "item_key", item_key)

    def _map_lookup(self, table: str, column: str, key: str) -> str | None:
        with self._lock:
            cached = self._map_cache.get((table, key))
            if cached is not None:
                return cached
            rows = self._rows(f"select qbo_id from {table} where {column} = ?", [key])  # noqa: S608 - fixed names
            if rows:
                self._map_cache[(table, key)] = rows[0]["qbo_id"]
                return rows[0]["qbo_id"]
        return None

    def _map_forget(self, table: str, column: str, key: str) -> None:
        self._map_cache.pop((table, key), None)
        with self.atomic():
            self.db.execute(f"delete from {table} where {column} = ?", [key])  # noqa: S608

    # --- runs ---------------------------------------------------------------------------

    def start_run(self, run_id: str, started_at: datetime) -> None:
        with self.atomic():
            self.db["runs"].insert({"run_id": run_id, "started_at": _iso(started_at)})

    def finish_run(
        self, run_id: str, finished_at: datetime, outcome: str, report: dict[str, Any]
    ) -> None:
        with self.atomic():
            self.db["runs"].update(
                run_id,
                {
                    "finished_at": _iso(finished_at),
                    "outcome": outcome,
                    "report": json.dumps(report, default=str, sort_keys=True),
                },
            )

    def last_runs(self, limit: int = 5) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._rows("select * from runs order by started_at desc limit ?", [limit]))

    def integrity_ok(self) -> bool:
        with self._lock:
            rows = self._rows("PRAGMA integrity_check")
        return [next(iter(r.values())) for r in rows] == ["ok"]
