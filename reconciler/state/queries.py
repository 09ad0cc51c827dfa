"""The documents a person looks at: filtered, sorted, counted and paged in SQL.

One module for the status page (`web.routes`) and `reconciler status` (`app.status_command`):
a `DocumentQuery` says what is wanted, `StatusQueries` answers it from the ledger. Nothing
loads the ledger into Python: a page is a count and 50 rows, whatever the ledger holds, on
the indexes of migration `m008_status_queries` (a page deep in the list is found on an index
first and only its own rows are read: the "deferred join").

Reads go through connections of their own (one per thread, read-only, `StatusQueries.close`
ends them): in WAL mode a reader never waits for the daemon's writes nor holds them up, and
the daemon's connection lock stays the pass's. A state file in memory (tests) is read on its
one connection. The one write here is the bulk retry, on the store's connection.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from reconciler.model import DocKind, Drift, LedgerEntry, SyncStatus
from reconciler.state.db import StateDB, guarded, instant, iso
from reconciler.state.ledger import entry_from_row
from reconciler.state.search import search_key

# What a list can be sorted by: the name in a URL -> the columns (the columns of an index:
# the rowid ends every order, and an index holds it, so no order needs a sort).
SORTS = {
    "number": ("number",),
    "vendor": ("vendor_key", "status"),
    "status": ("status",),
    "code": ("last_error_code", "recorded_at"),
    "recorded": ("recorded_at",),
    "updated": ("source_updated_at", "qbo_id", "lifecycle", "status"),
    "retry": ("next_retry_at",),
    "kind": ("kind", "status"),
}
DATES = {"recorded": "recorded_at", "updated": "source_updated_at"}
RETRYABLE = (SyncStatus.FAILED, SyncStatus.RETRYING)
SPARSE_MIN = 2000  # a scanning filter's matches read whole up to this many (or a tenth)
EXPORT_CHUNK = 1000  # rows fetched at a time while an export streams
READER_CACHE_KIB = 2048  # each reader's page cache (SQLite's default; a worker thread has one)


@dataclass(frozen=True)
class DocumentQuery:
    """Which documents, in what order, which page; empty fields filter nothing."""

    kind: DocKind | None = None
    statuses: tuple[SyncStatus, ...] = ()
    vendor: str = ""  # words found in the vendor's name (folded: `state.search`)
    text: str = ""  # found in the number, the reason, the code or either id
    code: str = ""  # the error code, exactly
    drift: Drift | None = None
    in_qbo: bool | None = None  # True: has a QBO document (not deleted); False: has none
    date_by: str = "recorded"  # which date `since` and `until` bound (`DATES`)
    since: datetime | None = None  # from this instant on
    until: datetime | None = None  # before this instant
    sort: str = "recorded"
    descending: bool = True
    page: int = 1
    size: int = 50

    def where(self) -> tuple[str, list[Any]]:
        """The SQL condition and its parameters (`ledger` aliased `l`)."""
        clauses: list[str] = []
        params: list[Any] = []

        def add(clause: str, *values: Any) -> None:
            clauses.append(clause)
            params.extend(values)

        if self.kind is not None:
            add("l.kind = ?", str(self.kind))
        if self.statuses:
            add(f"l.status in ({', '.join('?' * len(self.statuses))})", *map(str, self.statuses))
        if self.code:
            add("l.last_error_code = ?", self.code)
        if self.drift is not None:
            add("l.drift = ?", str(self.drift))
        if self.in_qbo is not None:
            held = "l.qbo_id is not null and coalesce(l.lifecycle, '') != 'deleted'"
            add(f"({held})" if self.in_qbo else f"not ({held})")
        column = DATES.get(self.date_by, "recorded_at")
        if self.since is not None:
            add(f"l.{column} >= ?", iso(self.since))
        if self.until is not None:
            add(f"l.{column} < ?", iso(self.until))
        if key := search_key(self.vendor):
            add("l.vendor_key like ? escape '\\'", f"%{_like(key)}%")
        if self.text:
            add(*_text_clause(self.text))
        return (" where " + " and ".join(clauses)) if clauses else "", params

    def order(self, alias: str = "l", *, by_index: bool = True) -> str:
        """ORDER BY's terms; `by_index=False` keeps SQLite from walking the order's index
        (a unary `+`), so it reads the filter's matches first and sorts only them."""
        way = "desc" if self.descending else "asc"
        plus = "" if by_index else "+"
        columns = (*SORTS.get(self.sort, SORTS["recorded"]), "rowid")
        return ", ".join(f"{plus}{alias}.{column} {way}" for column in columns)

    def scans(self) -> bool:
        """Whether a filter reads every row (a search): no index finds its matches."""
        return bool(self.vendor or self.text)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _text_clause(text: str) -> tuple[str, ...]:
    """The number, the reason and the code (anywhere, any case); either id exactly."""
    like = f"%{_like(text)}%"
    clause = (
        "(l.number like ? escape '\\' or l.last_error_message like ? escape '\\'"
        " or l.last_error_code like ? escape '\\' or l.qbo_id = ?"
        " or cast(l.doc_id as text) = ?)"
    )
    return clause, like, like, like, text, text


@dataclass(frozen=True)
class Listed:
    """A row of the list: the ledger's entry, and what the entry does not carry."""

    entry: LedgerEntry
    recorded_at: datetime | None
    intuit_tid: str | None


def _listed(row: dict[str, Any]) -> Listed:
    fields = {k: v for k, v in row.items() if k != "r"}
    return Listed(entry_from_row(fields), instant(row["recorded_at"]), row.get("intuit_tid"))


@dataclass(frozen=True)
class QueryPage:
    rows: tuple[Listed, ...]
    matching: int  # documents that match, on every page
    number: int  # this page, 1-based, within 1..count
    count: int  # pages (at least 1)
    size: int
    retryable: int = 0  # of the matching, the failed and retrying ones (a bulk retry's)


@dataclass(frozen=True)
class FailureGroup:
    """The failed and retrying documents that share an error code."""

    code: str | None
    failed: int
    retrying: int
    example: str | None  # one of their messages
    newest: datetime | None


@dataclass(frozen=True)
class Summaries:
    counts: dict[DocKind, dict[str, int]]
    drift: dict[Drift, int]
    groups: list[FailureGroup]
    codes: list[str]


@dataclass
class _Readers:
    """One read-only connection per thread, on a file; the store's own in memory."""

    db: StateDB
    local: threading.local = field(default_factory=threading.local)
    opened: list[sqlite3.Connection] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def connection(self) -> sqlite3.Connection | None:
        if self.db.path == ":memory:":
            return None
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = open_reader(self.db.path)
            self.local.conn = conn
            with self.lock:
                self.opened.append(conn)
        return conn

    def version(self) -> int | None:
        """Changes whenever another connection commits (`PRAGMA data_version`): what this
        thread's cached summaries are valid for; None in memory (nothing cached)."""
        conn = self.connection()
        if conn is None:
            return None
        with guarded(self.db.path):
            return conn.execute("PRAGMA data_version").fetchone()[0]

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        conn = self.connection()
        if conn is None:
            return self.db.rows(sql, params)
        with guarded(self.db.path):
            cursor = conn.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def close(self) -> None:
        with self.lock:
            opened, self.opened = self.opened, []
        for conn in opened:
            conn.close()


def open_reader(path: str) -> sqlite3.Connection:
    """A connection that only reads (WAL: it neither waits for the writer nor blocks it)."""
    conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA query_only=1")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
    return conn


class StatusQueries:
    """Answers `DocumentQuery`s from the ledger; see the module's docstring."""

    def __init__(self, db: StateDB) -> None:
        self._db = db
        self._readers = _Readers(db)

    def close(self) -> None:
        self._readers.close()

    # --- the list ---------------------------------------------------------------------------

    def count(self, query: DocumentQuery) -> int:
        where, params = query.where()
        return self._readers.rows(f"select count(*) as n from ledger l{where}", params)[0]["n"]  # noqa: S608

    def page(self, query: DocumentQuery) -> QueryPage:
        """The query's page (the last one when it asks past the end), and how many match, in
        all and of the retryable."""
        if query.scans():
            found = self._sparse_page(query)
            if found is not None:
                return found
        counted = self._counted(query)
        size, matching = max(1, query.size), counted["n"]
        count = max(1, -(-matching // size))
        number = min(max(1, query.page), count)
        rows = self.rows(query, limit=size, offset=(number - 1) * size) if matching else []
        return QueryPage(tuple(rows), matching, number, count, size, counted["r"])

    def _sparse_page(self, query: DocumentQuery) -> QueryPage | None:
        """A search in two steps, when its matches are few (a tenth of the ledger at most):
        find them on a narrow index that holds what a search reads (no table row read), then
        order only them; None when there are more, for the page to be found on the order's
        index instead (many matches: the first page is found soon)."""
        total = self._readers.rows("select count(*) as n from ledger")[0]["n"]
        cap = max(SPARSE_MIN, total // 10)
        where, params = query.where()
        found = self._readers.rows(
            f"select l.rowid as r, l.status as s from ledger l{where} limit ?",  # noqa: S608
            [*params, cap + 1],
        )
        if len(found) > cap:
            return None
        size, matching = max(1, query.size), len(found)
        count = max(1, -(-matching // size))
        number = min(max(1, query.page), count)
        ordered = self._readers.rows(
            "select l.rowid as r from ledger l where l.rowid in"  # noqa: S608
            f" (select value from json_each(?)) order by {query.order(by_index=False)}"
            " limit ? offset ?",
            [json.dumps([r["r"] for r in found]), size, (number - 1) * size],
        )
        retryable = sum(r["s"] in ("failed", "retrying") for r in found)
        rows = self._by_rowid([r["r"] for r in ordered])
        return QueryPage(tuple(rows), matching, number, count, size, retryable)

    def _by_rowid(self, rowids: list[int]) -> list[Listed]:
        if not rowids:
            return []
        rows = self._readers.rows(
            f"select rowid as r, * from ledger where rowid in ({', '.join('?' * len(rowids))})",  # noqa: S608
            rowids,
        )
        by_id = {r["r"]: r for r in rows}
        return [_listed(by_id[i]) for i in rowids if i in by_id]

    def _counted(self, query: DocumentQuery) -> dict[str, int]:
        """n: the matching; r: of them the failed and retrying (two counts: the second finds
        the few failed and retrying on the status index, whatever the first reads)."""
        where, params = query.where()
        retryable = f"{where} and" if where else " where"
        return self._readers.rows(
            f"select (select count(*) from ledger l{where}) as n,"  # noqa: S608
            f" (select count(*) from ledger l{retryable} l.status in ('failed', 'retrying'))"
            " as r",
            [*params, *params],
        )[0]

    def rows(self, query: DocumentQuery, *, limit: int, offset: int = 0) -> list[Listed]:
        """The rows in order: found on the indexes first, then only these rows read."""
        where, params = query.where()
        sql = (
            "select d.* from (select l.rowid as r from ledger l"  # noqa: S608
            f"{where} order by {query.order()} limit ? offset ?) p"
            f" join ledger d on d.rowid = p.r order by {query.order('d')}"
        )
        found = self._readers.rows(sql, [*params, limit, offset])
        return [
            Listed(entry_from_row(r), instant(r["recorded_at"]), r.get("intuit_tid")) for r in found
        ]

    def stream(
        self, query: DocumentQuery, columns: Sequence[str], params: Sequence[Any] = ()
    ) -> Iterator[tuple[Any, ...]]:
        """Every matching row's `columns` (SQL on `ledger l`, with `params`), in order, a
        chunk at a time, on a connection of its own (a long export holds no other reader and
        no lock)."""
        where, found = query.where()
        sql = f"select {', '.join(columns)} from ledger l{where} order by {query.order()}"  # noqa: S608
        values = [*params, *found]
        if self._db.path == ":memory:":
            yield from (tuple(r.values()) for r in self._db.rows(sql, values))
            return
        conn = open_reader(self._db.path)
        try:
            with guarded(self._db.path):
                cursor = conn.execute(sql, values)
                while chunk := cursor.fetchmany(EXPORT_CHUNK):
                    yield from chunk
        finally:
            conn.close()

    def listed(self, query: DocumentQuery, limit: int | None = None) -> Iterator[Listed]:
        """Every matching row (or the first `limit`) as `Listed`, in order, streamed."""
        columns = [c["name"] for c in self._readers.rows("PRAGMA table_info(ledger)")]
        for count, values in enumerate(self.stream(query, [f"l.{c}" for c in columns]), 1):
            if limit is not None and count > limit:
                return
            yield _listed(dict(zip(columns, values, strict=True)))

    # --- the summaries ----------------------------------------------------------------------

    def summaries(self) -> Summaries:
        """Counts, drift, failures by code and the codes: the same for every view until the
        ledger changes, so each reader thread keeps them until another connection commits
        (a quiet daemon answers views from them; during a pass they are read again)."""
        version = self._readers.version()
        cached = getattr(self._readers.local, "summaries", None)
        if version is not None and cached is not None and cached[0] == version:
            return cached[1]
        found = Summaries(self.counts(), self.drift_counts(), self.failure_groups(), self.codes())
        if version is not None:
            self._readers.local.summaries = (version, found)
        return found

    def counts(self) -> dict[DocKind, dict[str, int]]:
        """Documents by kind and status (the `(kind, status)` index alone answers)."""
        found: dict[DocKind, dict[str, int]] = {}
        rows = self._readers.rows(
            "select kind, status, count(*) as n from ledger group by kind, status"
        )
        for r in rows:
            if r["kind"] in set(DocKind):
                found.setdefault(DocKind(r["kind"]), {})[r["status"]] = r["n"]
        return found

    def drift_counts(self) -> dict[Drift, int]:
        rows = self._readers.rows(
            "select drift, count(*) as n from ledger where drift is not null group by drift"
        )
        return {Drift(r["drift"]): r["n"] for r in rows if r["drift"] in set(Drift)}

    def failure_groups(self) -> list[FailureGroup]:
        """Failed and retrying documents by error code, the largest group first; each with
        its newest document's message and time (the counts from the `(status, code)` index,
        the newest by the `(code, recorded_at)` one)."""
        rows = self._readers.rows(
            "select g.code, g.failed, g.retrying, n.last_error_message as example,"
            " n.recorded_at as newest from (select last_error_code as code,"
            " sum(status = 'failed') as failed, sum(status = 'retrying') as retrying"
            " from ledger where status in ('failed', 'retrying') group by last_error_code) g"
            " left join ledger n on n.rowid = (select x.rowid from ledger x"
            " where x.last_error_code is g.code and x.status in ('failed', 'retrying')"
            " order by x.recorded_at desc limit 1)"
            " order by g.failed + g.retrying desc, g.code"
        )
        return [
            FailureGroup(r["code"], r["failed"], r["retrying"], r["example"], instant(r["newest"]))
            for r in rows
        ]

    def codes(self) -> list[str]:
        """The error codes the ledger holds (the page's code filter offers them)."""
        rows = self._readers.rows(
            "select distinct last_error_code as code from ledger"
            " where last_error_code is not null order by 1"
        )
        return [r["code"] for r in rows]

    def last_runs(self, limit: int = 10) -> list[dict[str, Any]]:
        """The last passes, newest first (the runs table, on its `started_at` index)."""
        return self._readers.rows("select * from runs order by started_at desc limit ?", [limit])

    def meta(self, key: str) -> str | None:
        rows = self._readers.rows("select value from meta where key = ?", [key])
        return rows[0]["value"] if rows else None

    # --- the one write ----------------------------------------------------------------------

    def request_retry(self, query: DocumentQuery) -> int:
        """Ask the next pass to retry every failed or retrying document the query matches
        (others are left as they are); how many."""
        statuses = tuple(s for s in query.statuses or RETRYABLE if s in RETRYABLE)
        if not statuses:
            return 0
        where, params = replace(query, statuses=statuses).where()
        with self._db.atomic():
            before = self._db.db.conn.total_changes
            self._db.execute(
                "update ledger set force_retry = 1, next_retry_at = null"  # noqa: S608
                f" where rowid in (select l.rowid from ledger l{where})",
                params,
            )
            return self._db.db.conn.total_changes - before
