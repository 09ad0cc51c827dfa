"""A private copy of the state file in memory, for a pass that must change nothing (a preview).

The file is opened as `state.files.connect_read_only` opens it (no link followed, no
migration, no chmod, no write of any kind) and copied with SQLite's online backup API, which
reads one consistent snapshot even while a daemon writes the file (WAL). The copy is migrated
to the current schema, so an older file previews as it would run after an upgrade. A missing
file is a first connection: the copy starts empty and nothing is created on disk.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from reconciler.state import StateStore
from reconciler.state.db import StateDB, guarded, migrations
from reconciler.state.files import connect_read_only


def in_memory_copy(path: str | Path, *, clock: Callable[[], datetime] | None = None) -> StateStore:
    """A StateStore over an in-memory copy of `path` (empty when there is no file yet)."""
    memory = sqlite3.connect(":memory:", check_same_thread=False)
    source = Path(path)
    if str(path) != ":memory:" and (source.exists() or source.is_symlink()):
        with guarded(path):
            reader = connect_read_only(source)  # a link is refused, nothing is left beside it
            try:
                reader.backup(memory)
            finally:
                reader.close()
    db = Database(memory)
    migrations.apply(db)
    return StateStore(StateDB(db, ":memory:"), clock or (lambda: datetime.now(UTC)))
