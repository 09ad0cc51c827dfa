"""Opening the state file: no symlink followed, permissions set only on what we create, and
a read-only way in for the commands that only read.

- **No link followed.** `state.path` defaults to the relative `reconciler.db`: run where
  someone planted a link of that name (`sudo reconciler status` in a shared directory), the
  sync would open, chmod and turn into a database a file of their choosing. So the file, its
  SQLite companions (-wal, -shm, -journal) and its lock are refused when they are links, with
  a message that says so; the lock is opened with O_NOFOLLOW.
- **Permissions only on what this process creates**: a new state file is created 0600 (with
  O_EXCL and O_NOFOLLOW, before SQLite writes a byte); an existing one keeps its mode.
- **Readers change nothing** (`status`, `doctor`): no file is created when there is none
  (`StateFileMissing`, exit 2), none is migrated, and nothing is left beside it: with no -wal
  file (no writer has it open) the file is read as immutable, else through SQLite's read-only
  mode, beside the writer's own -wal and -shm.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from reconciler.errors import Fatal, Retryable

COMPANIONS = ("", "-wal", "-shm", "-journal")


class StateFileError(Fatal):
    """The state file cannot be used as it is: a person must act (exit 2), and the message
    says what to do."""

    def __init__(self, message: str, *, fix: str) -> None:
        super().__init__(f"{message}; {fix}", code="state_file", fix=fix)


class StateFileMissing(StateFileError):
    """A command that only reads found no state file: it says so and creates none."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(
            f"there is no state file at {path}: nothing has been synced with this "
            "configuration yet",
            fix="run `reconciler run --once` (or start the service) to create it, or set "
            "state.path to the file the service uses",
        )


class StateFileFull(Retryable):
    """The disk holding the state file is full: this pass stops (nothing half-recorded: the
    transaction is rolled back); the next passes try again, and go on once space is freed."""

    def __init__(self, path: str | Path) -> None:
        fix = f"free space on the filesystem of {Path(path).resolve().parent}"
        super().__init__(
            f"the disk holding the state file {path} is full; {fix}", code="disk_full", fix=fix
        )


def link_refused(path: str | Path) -> StateFileError:
    return StateFileError(
        f"{path} (the state file or one beside it) is a symbolic link; refusing to follow it",
        fix="set state.path to the real file (not a link), or remove the link",
    )


def refuse_links(path: Path) -> None:
    """The state file and its companions must not be symbolic links."""
    for suffix in COMPANIONS:
        candidate = Path(f"{path}{suffix}")
        if candidate.is_symlink():
            raise link_refused(candidate)


def connect_writable(path: Path) -> sqlite3.Connection:
    """The state file for the sync (created private when missing)."""
    refuse_links(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass  # someone's file: its mode is theirs
    else:
        os.close(fd)
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
    if path.is_symlink():  # swapped for a link while we opened it
        conn.close()
        raise link_refused(path)
    return conn


def connect_read_only(path: Path) -> sqlite3.Connection:
    """The state file for a reader: never created, never changed (the module docstring)."""
    refuse_links(path)
    if not path.is_file():
        raise StateFileMissing(path)
    mode = "mode=ro" if Path(f"{path}-wal").exists() else "immutable=1"
    uri = f"file:{quote(str(path.resolve()))}?{mode}"
    return sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30)
