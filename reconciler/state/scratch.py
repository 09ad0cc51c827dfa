"""What a pass remembers of every document until it ends: the ids it recorded (`IdSet`) and
the document that first took each number (`KeyOwners`). A backlog of any size must fit in the
same memory, so both live in one `PassScratch`: a private SQLite temporary database with a
small page cache, which SQLite spills to an unlinked file in $TMPDIR (nothing is left behind,
even by a crash) and drops when the pass ends. In Python sets and dicts (or sorted arrays)
they grew with the backlog, and so did the holes their growth left in the C heap: 140 bytes a
PO, 2.8 MiB from 20,000 to 40,000 POs.

It holds nothing a crash needs (the ledger and QBO do), so it is written without a journal
or fsync. An id outside SQLite's 64 bits (no Luminous id is) stays in a plain set."""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Iterator

CACHE_KIB = 256  # the scratch's page cache; past it, pages go to the unlinked file
_LOW, _HIGH = -(2**63), 2**63
_PRAGMAS = (
    "journal_mode=OFF",
    "synchronous=OFF",
    f"cache_size=-{CACHE_KIB}",
    "temp_store=FILE",
    "locking_mode=EXCLUSIVE",
)


class PassScratch:
    """One connection for every `IdSet` and `KeyOwners` of a pass, so they share one cache.
    Statements run under a lock: the pass's threads may ask it (they do not today)."""

    def __init__(self) -> None:
        self._db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
        for pragma in _PRAGMAS:
            self._db.execute(f"PRAGMA {pragma}")
        self._lock = threading.Lock()
        self._names = itertools.count(1)
        self.closed = False

    def table(self, columns: str) -> str:
        """A new table of its own for one structure; its name."""
        name = f"t{next(self._names)}"
        self.execute(f"CREATE TABLE {name} ({columns}) WITHOUT ROWID")
        return name

    def execute(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            if not self.closed:
                self._db.close()
                self.closed = True


class IdSet:
    def __init__(self, scratch: PassScratch | None = None) -> None:
        self._scratch = scratch or PassScratch()
        t = self._scratch.table("id INTEGER PRIMARY KEY")  # the names are ours: tN
        self._add = f"INSERT OR IGNORE INTO {t} VALUES (?)"  # noqa: S608
        self._has = f"SELECT 1 FROM {t} WHERE id = ?"  # noqa: S608
        self._all = f"SELECT id FROM {t}"  # noqa: S608
        self._count = f"SELECT count(*) FROM {t}"  # noqa: S608
        self._wide: set[int] = set()

    def add(self, doc_id: int) -> None:
        if not _LOW <= doc_id < _HIGH:
            self._wide.add(doc_id)
        else:
            self._scratch.execute(self._add, (doc_id,))

    def __contains__(self, doc_id: object) -> bool:
        if not isinstance(doc_id, int) or isinstance(doc_id, bool):
            return False
        if not _LOW <= doc_id < _HIGH:
            return doc_id in self._wide
        return bool(self._scratch.execute(self._has, (doc_id,)))

    def __iter__(self) -> Iterator[int]:
        for (doc_id,) in self._scratch.execute(self._all):
            yield doc_id
        yield from self._wide

    def __len__(self) -> int:
        return self._scratch.execute(self._count)[0][0] + len(self._wide)


class KeyOwners:
    """key -> the document that first claimed it. The key itself is kept, not a digest of
    it: two numbers never share an owner by collision."""

    def __init__(self, scratch: PassScratch | None = None) -> None:
        self._scratch = scratch or PassScratch()
        t = self._scratch.table("key BLOB PRIMARY KEY, doc")  # doc: any int, wide as text
        self._claim = (
            f"INSERT INTO {t} VALUES (?, ?) "  # noqa: S608
            "ON CONFLICT (key) DO UPDATE SET doc = doc RETURNING doc"
        )
        self._count = f"SELECT count(*) FROM {t}"  # noqa: S608

    def claim(self, key: str, doc_id: int) -> int:
        """The key's owner: the document that claimed it first, `doc_id` if none did."""
        stored = doc_id if _LOW <= doc_id < _HIGH else str(doc_id)
        raw = key.encode("utf-8", "surrogatepass")  # a number read from JSON may hold any
        return int(self._scratch.execute(self._claim, (raw, stored))[0][0])

    def __len__(self) -> int:
        return self._scratch.execute(self._count)[0][0]
