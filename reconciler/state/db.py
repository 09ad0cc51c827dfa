"""The SQLite file: how it is opened, its schema migrations, and the one lock around it.

WAL mode with `synchronous=FULL` (an accounting ledger prefers a slower commit to a lost one).
The schema grows only by named migrations (`sqlite_utils.migrations.Migrations`), so an
upgraded daemon opens an old file in place. Times are stored as ISO-8601 UTC strings.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from reconciler.errors import ReconcilerError
from reconciler.state.files import (
    StateFileError,
    StateFileFull,
    connect_read_only,
    connect_writable,
    link_refused,
)
from reconciler.state.search import search_key

migrations = Migrations("reconciler")


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


@migrations()
def m003_documents_of_every_kind(db: Database) -> None:
    """POs and bills share the ledger and the history, keyed by (kind, doc_id)."""
    db["ledger"].add_column("kind", str, not_null_default="po")
    db["ledger"].transform(
        rename={"po_id": "doc_id", "po_number": "number"},
        pk=("kind", "doc_id"),
        column_order=("kind", "doc_id"),
    )
    db["ledger"].create_index(["status"], if_not_exists=True)
    db["ledger"].create_index(["kind", "number"], if_not_exists=True)
    db["ledger"].create_index(["kind", "qbo_id"], if_not_exists=True)
    db["history"].add_column("kind", str, not_null_default="po")
    db["history"].transform(rename={"po_id": "doc_id"})
    db["history"].create_index(["kind", "doc_id", "id"], if_not_exists=True)
    db["checkpoint"].transform(rename={"po_id": "doc_id"})
    for stale in ("idx_ledger_po_number", "idx_ledger_qbo_id", "idx_history_po_id_id"):
        db.execute(f"DROP INDEX IF EXISTS {stale}")


@migrations()
def m004_vendor_and_adoption(db: Database) -> None:
    """The vendor a document is for (the status page filters on it), and whether its QBO
    document was adopted (found in QBO) rather than created by the sync."""
    db["ledger"].add_column("vendor", str)
    db["ledger"].add_column("adopted", int, not_null_default=0)


@migrations()
def m005_preview_history_by_run(db: Database) -> None:
    """What one pass did is read back from its history lines (`state.run_lines`: the preview,
    the alerts): find them by run without scanning every pass ever recorded."""
    db["history"].create_index(["run_id"], if_not_exists=True)


@migrations()
def m006_drift(db: Database) -> None:
    """Drift checks: what someone else did to a document in QBO (ledger.drift), and a snapshot
    of each document as QBO answered our last write of it (what a check compares with)."""
    db["ledger"].add_column("drift", str)
    db["qbo_snapshot"].create(
        {
            "kind": str,
            "doc_id": int,
            "qbo_id": str,
            "sync_token": str,
            "fields": str,  # JSON: the synced fields as QBO answered; null when not known
            "qbo_updated_at": str,  # QBO's LastUpdatedTime of that write (UTC)
            "seen_token": str,  # the newest SyncToken a drift check saw
            "diffs": str,  # JSON: the differences last reported, [[field, ours, QBO's], ...]
            "note": str,
            "found_at": str,
        },
        pk=("kind", "doc_id"),
    )
    db["qbo_snapshot"].create_index(["qbo_updated_at"])


@migrations()
def m007_bills(db: Database) -> None:
    """The QBO line Ids of each document written (a bill links to a PO line by its Id; an
    update keeps its lines by theirs), and per document what was last seen of it in QBO."""
    db["doc_lines"].create(
        {
            "kind": str,
            "doc_id": int,
            "line_key": str,
            "qbo_line_id": str,
            "detail_type": str,
            "target_id": str,
            "qty": str,
            "unit_price": str,
            "amount": str,
            "linked_txn_id": str,
            "linked_line_id": str,
            "class_id": str,
            "tax_code_id": str,
        },
        pk=("kind", "doc_id", "line_key"),
    )
    db["doc_lines"].create_index(["kind", "line_key"])
    db["doc_facts"].create(
        {
            "kind": str,
            "doc_id": int,
            "vendor_id": str,
            "qbo_status": str,
            "closed_seen_at": str,
            "waits_for": str,
            "department_id": str,
            "tax_calculation": str,
        },
        pk=("kind", "doc_id"),
    )


@migrations()
def m008_status_queries(db: Database) -> None:
    """The status page and `reconciler status` filter, sort, count and page in SQL
    (`state.queries`): the indexes that keep a view of 100,000 documents as cheap as one of
    1,000; the vendor's folded name (what a vendor search matches, "Acme- West" and "Acme:
    West" alike); the intuit_tid of QBO's last answer about each document; and what each
    document's last write sent (`doc_sent`: its date, amount and lines, for its page)."""
    db["ledger"].add_column("vendor_key", str)
    db["ledger"].add_column("intuit_tid", str)
    db.register_function(search_key, deterministic=True, replace=True)
    db.execute("update ledger set vendor_key = search_key(vendor) where vendor is not null")
    for columns in (
        ("kind", "status"),  # counts by kind and status: the index alone answers
        ("recorded_at",),  # the default order, and the recorded date range
        # the Luminous date range and its order; with "in QuickBooks" read from it alone
        ("source_updated_at", "qbo_id", "lifecycle", "status"),
        ("status", "last_error_code"),  # failures by code
        ("last_error_code", "recorded_at"),  # one code's documents, newest first
        ("vendor_key", "status"),  # vendor order; a vendor search scans this, not the table
        ("number",),  # number order (kind, number serves one kind)
        ("next_retry_at",),  # retry order (and the retries that are due)
        ("qbo_id", "lifecycle", "status"),  # in QuickBooks or not: the index alone answers
        # a search in the number, code, ids and reason reads this, a tenth of the table
        ("number", "last_error_code", "qbo_id", "doc_id", "status", "last_error_message"),
    ):
        db["ledger"].create_index(list(columns), if_not_exists=True)
    db.execute(
        "create index if not exists idx_ledger_drift on ledger (drift) where drift is not null"
    )
    db["runs"].create_index(["started_at"], if_not_exists=True)  # the last pass, of thousands
    db["doc_sent"].create(
        {
            "kind": str,
            "doc_id": int,
            "sent_at": str,
            "request_id": str,
            "txn_date": str,
            "amount": str,  # Decimal as text: the sum of the lines sent
            "currency": str,
            "lines": str,  # JSON: [{n, what, description, qty, unit_price, amount, linked}]
        },
        pk=("kind", "doc_id"),
    )


CORRUPT = ("malformed", "not a database", "file is encrypted", "database corrupt")
UNWRITABLE = ("readonly", "read-only", "unable to open", "permission denied")
FULL = ("database or disk is full", "no space left on device", "disk quota exceeded")


def explain(exc: BaseException, path: str | Path) -> ReconcilerError | None:
    """What a failure of the state file means for the person running the sync; None when it
    is not about the file (a bug, a lock held too long)."""
    text = str(exc).lower()
    user = _user()
    full = getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT)
    full = full or any(w in text for w in FULL) or ("disk i/o error" in text and _no_room(path))
    if full:
        return StateFileFull(path)
    if getattr(exc, "errno", None) == errno.ELOOP:
        return link_refused(path)
    if isinstance(exc, OSError) or any(w in text for w in UNWRITABLE):
        return StateFileError(
            f"the state file {path} cannot be written by user {user} ({exc})",
            fix=f"give user {user} write access to {Path(path).parent} and the file in it, "
            "or set state.path to a place it can write",
        )
    if any(w in text for w in CORRUPT):
        return StateFileError(
            f"the state file {path} is damaged ({exc})",
            fix=f"restore it from a backup, or move it aside (mv {path} {path}.damaged) and let "
            "the next pass rebuild it from QBO: existing POs are found there and adopted, "
            "none is created twice",
        )
    return None


def _no_room(path: str | Path) -> bool:
    """SQLite says only "disk I/O error" when it cannot create its -shm or -wal file on a full
    disk: ask the filesystem."""
    try:
        stat = os.statvfs(Path(path).resolve().parent)
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize < 64 * 1024


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError, OSError):
        return str(os.geteuid())


def guarded(path: str | Path) -> _Guarded:
    """Turn a damaged or unwritable state file into a clear StateFileError."""
    return _Guarded(path)


class _Guarded:
    """`guarded` as a plain context manager: it wraps every statement, and a generator-based
    one costs several times as much to enter and leave."""

    __slots__ = ("path",)

    def __init__(self, path: str | Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> bool:
        if isinstance(exc, sqlite3.DatabaseError | OSError):
            explained = explain(exc, self.path)
            if explained is not None:
                raise explained from None
        return False


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the state store")
    return value.astimezone(UTC).isoformat()


def instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# SQLite's page cache per connection (its default is 2 MiB). A pass appends its rows and reads
# a few by key, so 1 MiB holds the B-trees' upper pages, and the rest is the OS's file cache;
# at 10,000 POs the default had grown to the full 2 MiB of the daemon's peak memory.
PAGE_CACHE_KIB = 1024


def _connect(path: Path, *, read_only: bool = False) -> Database:
    if str(path) == ":memory:":
        conn = sqlite3.connect(":memory:", check_same_thread=False)
    elif read_only:
        conn = connect_read_only(path)
    else:
        conn = connect_writable(path)
    db = Database(conn)
    if str(path) != ":memory:" and not read_only:
        db.enable_wal()
    if not read_only:
        db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA busy_timeout=30000")
    db.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
    if not read_only:
        migrations.apply(db)
    elif migrations.pending(db):
        raise StateFileError(
            f"the state file {path} was written by an older reconciler",
            fix="let the service (or `reconciler run --once`) open it once to bring it up to "
            "date, then ask again",
        )
    return db


class StateDB:
    """The connection and its lock; every statement and transaction holds the lock, so the
    store can be shared with worker threads."""

    def __init__(self, db: Database, path: str | Path = ":memory:") -> None:
        self.db = db
        self.path = str(path)
        self.lock = threading.RLock()

    @classmethod
    def open(cls, path: str | Path, *, read_only: bool = False) -> StateDB:
        with guarded(path):
            return cls(_connect(Path(path), read_only=read_only), path)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts, straight from the connection: sqlite-utils' `query()` wraps every
        read in a savepoint guard (three statements), which the per-document reads cannot
        afford."""
        with self.lock, guarded(self.path):
            cursor = self.db.conn.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.lock, guarded(self.path):
            self.db.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.lock, guarded(self.path):
            self.db.conn.executemany(sql, rows)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        with self.lock, guarded(self.path), self.db.atomic():
            yield

    def close(self) -> None:
        with self.lock:
            self.db.close()
