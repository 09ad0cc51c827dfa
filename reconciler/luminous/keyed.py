"""Reading one Luminous list (POs, bills, receiving reports) changed in a window, by key.

Plain page numbers are unsafe across a long read (a record edited mid-read moves to the end and
shifts the rest, so a page boundary skips one). So the read advances by key: each request asks
for `updated_at >= t` (t = the newest instant yielded so far) sorted by `updated_at`, and ids
already yielded at instant t are skipped. A full page that is all one instant (more ties than a
page) is drained by id instead (`updated_at[eq]=t&id[gt]=last&sort=id:asc`), so ties never loop
and never skip.

The server may ignore the filter or the sort (not confirmed for these endpoints). Every page
is checked against what was asked (bounds, order); the first full page is also checked with two
one-row probes (`sort=updated_at:desc`, `sort=id:desc`). If anything disagrees, the reader
falls back to walking every page in id order and filtering locally; a walk during which the
data moved (total changed, or a record stamped after the walk began) is repeated up to
`max_rewalks` times, and `ReadReport.complete` says whether a clean walk was achieved. Memory
stays flat in key mode (one page plus the ids of one instant); the fallback keeps the ids it
yielded (ints only).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler.luminous.http import LuminousHTTP, int_or_none, total_of
from reconciler.luminous.values import parse_timestamp, whole_id

Row = dict[str, Any]


@dataclass
class ReadReport:
    """How the last read went; `pull` uses it to decide what the checkpoint may do."""

    mode: str = "key"  # "key" (trusted filter and sort) or "walk" (fallback, local filter)
    complete: bool = False  # the whole window was read (set when the iterator finishes)
    server_date: datetime | None = None  # Date header of the first response
    requests: int = 0
    rewalks: int = 0
    # How many records the window holds, by the first page's `meta.total` (an estimate for a
    # progress line: meta has been seen to lie); None when the server gave none or the page
    # did not keep to the filter.
    expected: int | None = None


def format_instant(value: datetime) -> str:
    """A filter value: UTC ISO-8601 with microseconds, as the API renders timestamps."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class KeyedReader:
    """The changed records of one list path, each id once per instant."""

    def __init__(
        self,
        http: LuminousHTTP,
        path: str,
        *,
        complete: Callable[[Row], Row] = lambda row: row,
        max_rewalks: int = 2,
    ) -> None:
        self.http = http
        self.path = path
        self.complete = complete  # fills in what a list row may leave out
        self.max_rewalks = max_rewalks

    def changed(self, since: datetime, ceiling: datetime, report: ReadReport) -> Iterator[Row]:
        """Raw records with `since <= updated_at <= ceiling`."""
        state = _Frontier()
        start_requests = self.http.requests
        self.http.last_date = None
        rows = self._range_page(since, ceiling, inclusive=True)
        report.server_date = self.http.last_date
        trusted = _page_fits(rows, since, ceiling, inclusive=True) and (
            len(rows) < self.http.per_page or self._probes_agree(rows, since, ceiling)
        )
        if trusted:
            report.expected = self.http.last_total
            yield from self._key_read(rows, since, ceiling, state, report)
        if not report.complete:
            report.mode = "walk"
            yield from self._walk(since, ceiling, state, report)
        report.requests = self.http.requests - start_requests

    def _key_read(
        self, rows: list[Row], since: datetime, ceiling: datetime, state: _Frontier, report
    ) -> Iterator[Row]:
        lower, inclusive = since, True
        while True:
            if not _page_fits(rows, lower, ceiling, inclusive=inclusive):
                return  # disagreement mid-read: the walk takes over from `state`
            yield from (self.complete(r) for r in rows if state.unstamped(r))
            full = len(rows) >= self.http.per_page
            stamps = [s for s in (stamp_of(r) for r in rows) if s is not None]
            if not stamps:
                report.complete = not full
                return  # nothing to key on (a full page of unusable stamps: the walk goes on)
            if full and stamps[0] == stamps[-1]:
                instant = stamps[0]
                if not (yield from self._drain(instant, state)):
                    return
                lower, inclusive = instant, False
            else:
                for row in rows:
                    if state.admit(row, stamp_of(row)):
                        yield self.complete(row)
                if not full:
                    report.complete = True
                    return
                lower, inclusive = stamps[-1], True
            rows = self._range_page(lower, ceiling, inclusive=inclusive)

    def _drain(self, instant: datetime, state: _Frontier) -> Iterator[Row]:
        """Every record stamped exactly `instant`, by id; returns False if the server
        disagreed."""
        last = 0
        while True:
            rows = self.http.rows(
                self.path,
                {
                    "updated_at[eq]": format_instant(instant),
                    "id[gt]": str(last),
                    "sort": "id:asc",
                    "page": "1",
                    "per_page": str(self.http.per_page),
                },
            )
            ids = [doc_id_of(r) for r in rows]
            if (
                any(i is None or i <= last for i in ids)
                or ids != sorted(set(ids))  # type: ignore[type-var]
                or any(stamp_of(r) != instant for r in rows)
            ):
                return False
            for row in rows:
                if state.admit(row, instant):
                    yield self.complete(row)
            if len(rows) < self.http.per_page:
                return True
            last = ids[-1]  # type: ignore[assignment]

    def _range_page(self, lower: datetime, ceiling: datetime, *, inclusive: bool) -> list[Row]:
        op = "gte" if inclusive else "gt"
        return self.http.rows(
            self.path,
            {
                f"updated_at[{op}]": format_instant(lower),
                "updated_at[lte]": format_instant(ceiling),
                "sort": "updated_at:asc",
                "page": "1",
                "per_page": str(self.http.per_page),
            },
        )

    def _probes_agree(self, rows: list[Row], since: datetime, ceiling: datetime) -> bool:
        """A full first page is only the lowest keys if the server really sorts: ask for the
        other end of the window and compare."""
        bounds = {
            "updated_at[gte]": format_instant(since),
            "updated_at[lte]": format_instant(ceiling),
            "page": "1",
            "per_page": "1",
        }
        # both at once: a backlog's first documents wait for them
        with ThreadPoolExecutor(1, thread_name_prefix="luminous-probe") as pool:
            asked = pool.submit(self.http.rows, self.path, {**bounds, "sort": "id:desc"})
            newest = self.http.rows(self.path, {**bounds, "sort": "updated_at:desc"})
            highest = asked.result()
        if not newest or not highest:
            return False
        newest_stamp = stamp_of(newest[0])
        highest_id = int_or_none(highest[0].get("id"))
        page_ids = [int_or_none(r.get("id")) or 0 for r in rows]
        return (
            newest_stamp is not None
            and newest_stamp >= (stamp_of(rows[-1]) or ceiling)
            and highest_id is not None
            and highest_id >= max(page_ids)
        )

    def _walk(
        self, since: datetime, ceiling: datetime, state: _Frontier, report: ReadReport
    ) -> Iterator[Row]:
        yielded: dict[int, datetime] = {}
        for attempt in range(self.max_rewalks + 1):
            report.rewalks = attempt
            moved = False
            first_total: int | None = None
            last_total: int | None = None
            started: datetime | None = None
            params = {"updated_at[gte]": format_instant(since), "sort": "id:asc"}
            for page, body in enumerate(self.http.walk(self.path, params), start=1):
                if page == 1:
                    started, first_total = self.http.last_date, total_of(body)
                last_total = total_of(body)
                for row in body["data"]:
                    stamp, doc_id = stamp_of(row), doc_id_of(row)
                    if state.unstamped(row):
                        yield self.complete(row)  # the parser says why it cannot be read
                    if stamp is None or doc_id is None:
                        continue
                    if started is not None and stamp >= started:
                        moved = True
                    if not (since <= stamp <= ceiling) or yielded.get(doc_id) == stamp:
                        continue
                    if not state.already_yielded(doc_id, stamp):
                        yielded[doc_id] = stamp
                        yield self.complete(row)
            if not moved and first_total == last_total:
                report.complete = True
                return


class _Frontier:
    """What the key read has yielded: every instant before `instant`, and `ids` at it; and
    the records it could not place in time (an unusable `updated_at`), each once."""

    def __init__(self) -> None:
        self.instant: datetime | None = None
        self.ids: set[int] = set()
        self.unplaced: set[str] = set()

    def unstamped(self, row: Row) -> bool:
        """A record that cannot be placed by key (no usable stamp, or no id a ledger row can
        be keyed on), not yet yielded in this read: it still needs an outcome (the parser
        rejects it with the reason, the pass counts it), whatever the order says. Known by its
        whole text, since its id may not tell it apart."""
        if stamp_of(row) is not None and doc_id_of(row) is not None:
            return False
        key = json.dumps(row, sort_keys=True, default=str)
        if key in self.unplaced:
            return False
        self.unplaced.add(key)
        return True

    def admit(self, row: Row, stamp: datetime | None) -> bool:
        doc_id = doc_id_of(row)
        if stamp is None or doc_id is None:
            return False
        if self.already_yielded(doc_id, stamp):
            return False
        if self.instant is None or stamp > self.instant:
            self.instant, self.ids = stamp, {doc_id}
        else:
            self.ids.add(doc_id)
        return True

    def already_yielded(self, doc_id: int, stamp: datetime) -> bool:
        if self.instant is None:
            return False
        return stamp < self.instant or (stamp == self.instant and doc_id in self.ids)


def doc_id_of(row: Row) -> int | None:
    """The id a ledger row keys the record on (`luminous.values.whole_id`); None: the record is
    read apart (`_Frontier.unstamped`), never as another's: "+3", 3.0 and 3.9 are not PO 3
    (read as 3, such a record at PO 3's instant hid PO 3 from the read, or PO 3 hid it)."""
    return whole_id(row.get("id"))


def stamp_of(row: Row) -> datetime | None:
    try:
        return parse_timestamp(row.get("updated_at"))
    except (ValueError, OverflowError):
        return None


def _page_fits(rows: list[Row], lower: datetime, ceiling: datetime, *, inclusive: bool) -> bool:
    """Did the server honour the bounds and the order we asked for?"""
    previous: datetime | None = None
    for row in rows:
        stamp = stamp_of(row)
        if stamp is None:
            continue  # cannot be placed in time; yielded apart (`_Frontier.unstamped`)
        if doc_id_of(row) is None:
            return False
        if stamp > ceiling or stamp < lower or (not inclusive and stamp == lower):
            return False
        if previous is not None and stamp < previous:
            return False
        previous = stamp
    return True
