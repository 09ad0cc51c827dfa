"""The durable state of the sync, in one SQLite file: a cache of QBO, never its authority.

    StateStore
    ├── ledger   per-document rows, history, checkpoints   (state/ledger.py)
    ├── refs     vendor, item and account ids by name      (state/refs.py)
    ├── lines    QBO line Ids of the documents written     (state/lines.py)
    ├── runs     one row per pass                          (state/runs.py)
    ├── sent     what each document's last write sent     (state/sent.py)
    ├── queries  the page's and the CLI's lists, in SQL    (state/queries.py)
    ├── drift    snapshots of our writes, drift found in QBO  (state/drift.py, snapshots.py)
    └── meta     small key/value facts (realm, sweep and drift times)

The file, its migrations and its lock are in `state/db.py`. All methods take and return aware
datetimes; every outcome and the checkpoint it allows commit in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from reconciler.errors import Fatal
from reconciler.state.db import StateDB
from reconciler.state.drift import DriftDetail, DriftRecords
from reconciler.state.files import StateFileError, StateFileFull, StateFileMissing
from reconciler.state.ledger import SETTLED_STATUSES, HistoryRow, Ledger
from reconciler.state.lines import DocLines
from reconciler.state.queries import DocumentQuery, StatusQueries
from reconciler.state.refs import ReferenceMaps, name_key
from reconciler.state.runs import Runs
from reconciler.state.scratch import PassScratch

__all__ = [
    "SETTLED_STATUSES",
    "DocLines",
    "DocumentQuery",
    "DriftDetail",
    "DriftRecords",
    "HistoryRow",
    "Ledger",
    "ReferenceMaps",
    "Runs",
    "StateFileError",
    "StateFileFull",
    "StateFileMissing",
    "StateStore",
    "StatusQueries",
    "name_key",
]


class StateStore:
    """The one owner of the SQLite file; thread-safe (every statement holds one lock)."""

    def __init__(self, db: StateDB, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.ledger = Ledger(db, clock)
        self.refs = ReferenceMaps(db)
        self.lines = DocLines(db)
        self.runs = Runs(db)
        self.drift = DriftRecords(db, self.ledger, clock)
        self.queries = StatusQueries(db)  # what the status page and `status` ask

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        clock: Callable[[], datetime] | None = None,
        read_only: bool = False,
    ) -> StateStore:
        """The store; `read_only` for commands that only read: no file is created, changed
        or migrated (`state.files`)."""
        return cls(StateDB.open(path, read_only=read_only), clock or (lambda: datetime.now(UTC)))

    def close(self) -> None:
        self.queries.close()
        self.db.close()

    def pass_scratch(self) -> PassScratch:
        """Where one pass keeps what it remembers of each document: apart from this file,
        which must fsync, and from the heap, which would grow with the backlog."""
        return PassScratch()

    def get_meta(self, key: str) -> str | None:
        rows = self.db.rows("select value from meta where key = ?", [key])
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.db.atomic():
            self.db.execute("insert or replace into meta (key, value) values (?, ?)", [key, value])

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

    def integrity_ok(self) -> bool:
        rows = self.db.rows("PRAGMA integrity_check")
        return [next(iter(r.values())) for r in rows] == ["ok"]

    def check(self) -> None:
        """Raise the StateFileError that says what to do when the file is damaged."""
        if not self.integrity_ok():
            raise StateFileError(
                f"the state file {self.db.path} fails SQLite's integrity check",
                fix=f"restore it from a backup, or move it aside (mv {self.db.path} "
                f"{self.db.path}.damaged) and let the next pass rebuild it from QBO",
            )
