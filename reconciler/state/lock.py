"""One writer per state file: an OS lock, held by `run` and `run --once` for the whole process.

Two passes on one ledger at once (a timer and the daemon, `--full` by hand while the daemon
runs) would each plan from a ledger the other is changing: rows overwritten, duplicates with
QBO's duplicate-number check off. So the writer takes `flock` on `<state file>.lock` before it
writes anything, and a second one stops at once, naming the holder. The kernel drops the lock
when the process dies (SIGKILL included): a crash never leaves a stale lock behind.

`status` and `retry` take no lock: SQLite's WAL lets them read, and mark a retry, while a pass
runs.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reconciler.errors import ReconcilerError
from reconciler.state.db import guarded
from reconciler.state.files import link_refused


class AnotherRunHolds(ReconcilerError):
    """Another process is running the sync on this state file (not an error to fix: wait)."""

    def __init__(self, lock_path: Path, pid: str | None) -> None:
        holder = f"process {pid}" if pid else "another process"
        super().__init__(
            f"{holder} is already running reconciler on this state file ({lock_path}); "
            "this one stops without touching it",
            code="state_locked",
        )
        self.pid = pid


def lock_path_for(state_path: str | Path) -> Path:
    return Path(f"{state_path}.lock")


@contextmanager
def run_lock(state_path: str | Path) -> Iterator[None]:
    """Hold the state file's lock while the body runs (`:memory:` needs none)."""
    if str(state_path) == ":memory:":
        yield
        return
    path = lock_path_for(state_path)
    with guarded(state_path):  # an unwritable directory: the same clear message as the file
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            raise link_refused(path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # the kernel's lock table names the holder even before it has written its pid
            # into the file (a second start in the same instant used to read it empty)
            holder = held_by(state_path)
            raise AnotherRunHolds(path, str(holder) if holder else _holder(fd)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # releases the lock


def held_by(state_path: str | Path, *, locks: str = "/proc/locks") -> int | None:
    """The process holding the run lock now, or None. Read from the kernel's lock table
    (Linux), never by taking the lock: even a shared lock held for a moment would make a
    daemon starting in that moment exit 3. None too where the table cannot be read."""
    try:
        stat = lock_path_for(state_path).stat()
        table = Path(locks).read_text()
    except OSError:
        return None
    where = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    for line in table.splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == where:
            return int(fields[4]) if fields[4].isdigit() else None
    return None


def _holder(fd: int) -> str | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return text if text.isdigit() else None
