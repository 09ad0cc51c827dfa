"""A private copy of the state file in memory, for a pass that must change nothing (a preview).

The file is opened read-only (`mode=ro`: no migration, no chmod, no write of any kind) and
copied with SQLite's online backup API, which reads one consistent snapshot even while a
daemon writes the file (WAL). The copy is migrated to the current schema, so an older file
previews as it would run after an upgrade. A missing file is a first connection: the copy
starts empty and nothing is created on disk. SQLite itself may create the `-wal`/`-shm` side
files next to a WAL database for a reader, as any reader does; the database is untouched.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from sqlite_utils import Database

from reconciler.state import StateStore
from reconciler.state.db import StateDB, guarded, migrations


def in_memory_copy(path: str | Path, *, clock: Callable[[], datetime] | None = None) -> StateStore:
    """A StateStore over an in-memory copy of `path` (empty when there is no file yet)."""
    memory = sqlite3.connect(":memory:", check_same_thread=False)
    source = Path(path)
    if str(path) != ":memory:" and source.exists():
        with guarded(path):
            uri = f"file:{quote(str(source.resolve()))}?mode=ro"
            reader = sqlite3.connect(uri, uri=True, timeout=30)
            try:
                reader.backup(memory)
            finally:
                reader.close()
    db = Database(memory)
    migrations.apply(db)
    return StateStore(StateDB(db, ":memory:"), clock or (lambda: datetime.now(UTC)))
