"""Reading one Luminous list (POs, bills, receiving reports) changed in a window, by key.

Plain page numbers are unsafe across a long read (a record edited mid-read moves to the end and
shifts the rest, so a page boundary skips one). So the read advances by key: each request asks
for `updated_at >= t` (t = the newest instant yielded so far) sorted by `updated_at`, and ids
already yielded at instant t are skipped. A full page that is all one instant (more ties than a
page) is drained by id instead (`updated_at[eq]=t&id[gt]=last&sort=id:asc`), so ties never loop
and never skip.

How the bounds are written is what the server takes (`filters`: the form of a timestamp, and
whether `id[gt]` works, learnt per list and kept in the state file). Bounds are rounded
outwards, so each page may hold a little more than the window: the read keeps to the window
itself. A form the server refuses (400/422) is replaced by the next at once; one it ignores,
or compares by date only, leaves this read to the walk and the next reads to another form.

The server may ignore the filter or the sort (not confirmed for these endpoints). Every page
is checked against what was asked (bounds as sent, order); the first full page is also checked
with two one-row probes (`sort=updated_at:desc`, `sort=id:desc`). If anything disagrees, or
the form in use is not exact to the second (the date form, or no filter at all), the reader
walks every page in id order and filters locally; a walk during which the data moved (total
changed, or a record stamped after the walk began) is repeated up to `max_rewalks` times, and
`ReadReport.complete` says whether a clean walk was achieved. Memory stays flat in key mode (one
page plus the ids of one instant); the fallback keeps the ids it yielded (ints only).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler.luminous import filters as f
from reconciler.luminous.filters import FilterMemory
from reconciler.luminous.http import (
    LuminousHTTP,
    LuminousRequestError,
    ascending_ids,
    int_or_none,
    total_of,
)
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
    date_form: str | None = None  # the timestamp form the read ended with (`filters.FORMS`)


def format_instant(value: datetime) -> str:
    """A filter value: UTC ISO-8601 with microseconds (the `iso` form of `filters`)."""
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
        filters: FilterMemory | None = None,
    ) -> None:
        self.http = http
        self.path = path
        self.complete = complete  # fills in what a list row may leave out
        self.max_rewalks = max_rewalks
        self.filters = filters or FilterMemory()

    @property
    def form(self) -> str:
        return self.filters.of(self.path).date_form

    def changed(self, since: datetime, ceiling: datetime, report: ReadReport) -> Iterator[Row]:
        """Raw records with `since <= updated_at <= ceiling`."""
        state = _Frontier()
        start_requests = self.http.requests
        self.http.last_date = None
        rows = self._first_page(since, ceiling)
        report.server_date = self.http.last_date
        trusted = rows is not None and (
            len(rows) < self.http.per_page or self._probes_agree(rows, since, ceiling)
        )
        if trusted:
            assert rows is not None
            report.expected = self.http.last_total
            yield from self._key_read(rows, since, ceiling, state, report)
        if not report.complete:
            report.mode = "walk"
            walk = _Walk(self, since, ceiling, state, report)
            yield from walk.rows()
        report.requests = self.http.requests - start_requests
        report.date_form = self.form

    def _first_page(self, since: datetime, ceiling: datetime) -> list[Row] | None:
        """The window's first page, in a form the server takes exactly; None: walk instead
        (the date form or none, or the form in use just proved ignored or coarse)."""
        while (form := self.form) in f.EXACT:
            try:
                rows = self._range_page(since, ceiling, inclusive=True)
            except LuminousRequestError as exc:
                if not f.refused(exc):
                    raise
                self.filters.date_form_failed(self.path, form, "refused")
                continue
            verdict = self._judged(rows, since, ceiling, inclusive=True)
            if verdict == "ignored":
                continue  # (the next form; the walk, once none is exact)
            return rows if verdict == "fits" else None
        return None

    def _judged(
        self, rows: list[Row], lower: datetime, ceiling: datetime, *, inclusive: bool
    ) -> str:
        """How the server took the bounds sent (`filters.judge`), remembered when it did not
        take them: "ignored" leaves this form behind, "by_date" moves to the date form."""
        form = self.form
        stamps = [s for s in (stamp_of(r) for r in rows) if s is not None]
        low, high = f.sent_lower(form, lower), f.sent_upper(form, ceiling)
        strict = not inclusive and low == lower  # `gt` of a bound the form writes exactly
        verdict = f.judge(stamps, low, high, strict_low=strict)
        if verdict == "ignored":
            self.filters.date_form_failed(self.path, form, "ignored")
        elif verdict == "by_date":
            self.filters.dates_only(self.path, form)
        return verdict

    def _key_read(
        self, rows: list[Row], since: datetime, ceiling: datetime, state: _Frontier, report
    ) -> Iterator[Row]:
        lower, inclusive = since, True
        sent = self._sent(lower, inclusive)
        while True:
            if not self._fits(rows, lower, ceiling, inclusive=inclusive):
                return  # disagreement mid-read: the walk takes over from `state`
            yield from (self.complete(r) for r in rows if state.unstamped(r))
            full = len(rows) >= self.http.per_page
            stamps = [s for s in (stamp_of(r) for r in rows) if s is not None]
            if not stamps:
                report.complete = not full
                return  # nothing to key on (a full page of unusable stamps: the walk goes on)
            if full and stamps[0] == stamps[-1] and stamps[0] >= lower:
                instant = stamps[0]
                if not (yield from self._drain(instant, state)):
                    return
                lower, inclusive = instant, False
            else:
                for row in rows:
                    stamp = stamp_of(row)
                    if stamp is not None and since <= stamp <= ceiling and state.admit(row, stamp):
                        yield self.complete(row)
                if not full or stamps[-1] > ceiling:
                    report.complete = True
                    return
                lower, inclusive = stamps[-1], True
            if self._sent(lower, inclusive) == sent:
                return  # the same request again (stamps finer than the form): the walk goes on
            sent = self._sent(lower, inclusive)
            try:
                rows = self._range_page(lower, ceiling, inclusive=inclusive)
            except LuminousRequestError as exc:
                if not f.refused(exc):
                    raise
                return  # (a form it took a moment ago: the walk goes on, and says why)

    def _drain(self, instant: datetime, state: _Frontier) -> Iterator[Row]:
        """Every record stamped exactly `instant`, by id; returns False if the server
        disagreed or does not take `id[gt]` (the walk then reads them)."""
        if not self.filters.of(self.path).id_usable:
            return False
        last = 0
        while True:
            params = {
                "updated_at[eq]": f.lower(self.form, instant),
                "id[gt]": str(last),
                "sort": "id:asc",
                "page": "1",
                "per_page": str(self.http.per_page),
            }
            try:
                rows = self.http.rows(self.path, params)
            except LuminousRequestError as exc:
                if not f.refused(exc):
                    raise
                self.filters.id_filter_is(self.path, "refused")
                return False
            served = [doc_id_of(r) for r in rows]
            stamps = [stamp_of(r) for r in rows]
            if any(s != instant for s in stamps):
                if all(s is not None and s.date() == instant.date() for s in stamps):
                    self.filters.dates_only(self.path, self.form)  # `[eq]` matched the day
                return False
            ids = ascending_ids(served, after=last)
            if ids is None:
                if last and None not in served:
                    self.filters.id_filter_is(self.path, "ignored")
                return False
            if last:
                self.filters.id_filter_is(self.path, "works")
            for row in rows:
                if state.admit(row, instant):
                    yield self.complete(row)
            if len(rows) < self.http.per_page:
                return True
            last = ids[-1]

    def _sent(self, lower: datetime, inclusive: bool) -> tuple[str, str]:
        """The lower bound as a request writes it."""
        return ("gte" if inclusive else "gt"), f.lower(self.form, lower)

    def _range_page(self, lower: datetime, ceiling: datetime, *, inclusive: bool) -> list[Row]:
        op, form = ("gte" if inclusive else "gt"), self.form
        return self.http.rows(
            self.path,
            {
                f"updated_at[{op}]": f.lower(form, lower),
                "updated_at[lte]": f.upper(form, ceiling),
                "sort": "updated_at:asc",
                "page": "1",
                "per_page": str(self.http.per_page),
            },
        )

    def _fits(
        self, rows: list[Row], lower: datetime, ceiling: datetime, *, inclusive: bool
    ) -> bool:
        """Did the server honour the bounds as sent and the order asked for?"""
        if self.form not in f.EXACT:
            return False
        if self._judged(rows, lower, ceiling, inclusive=inclusive) != "fits":
            return False
        stamps = [s for s in (stamp_of(r) for r in rows) if s is not None]
        placed = [r for r in rows if stamp_of(r) is not None]
        return all(doc_id_of(r) is not None for r in placed) and stamps == sorted(stamps)

    def _probes_agree(self, rows: list[Row], since: datetime, ceiling: datetime) -> bool:
        """A full first page is only the lowest keys if the server really sorts: ask for the
        other end of the window and compare."""
        form = self.form
        bounds = {
            "updated_at[gte]": f.lower(form, since),
            "updated_at[lte]": f.upper(form, ceiling),
            "page": "1",
            "per_page": "1",
        }
        # both at once: a backlog's first documents wait for them
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="luminous-probe") as pool:
                asked = pool.submit(self.http.rows, self.path, {**bounds, "sort": "id:desc"})
                newest = self.http.rows(self.path, {**bounds, "sort": "updated_at:desc"})
                highest = asked.result()
        except LuminousRequestError as exc:
            if not f.refused(exc):
                raise
            return False
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


class _Walk:
    """The fallback: every page in id order, bounded below by the form in use (none: no
    bound), filtered to the window locally; repeated while the data moves under it."""

    def __init__(
        self,
        reader: KeyedReader,
        since: datetime,
        ceiling: datetime,
        state: _Frontier,
        report: ReadReport,
    ) -> None:
        self.reader, self.http = reader, reader.http
        self.since, self.ceiling = since, ceiling
        self.state, self.report = state, report
        self.yielded: dict[int, datetime] = {}

    def rows(self) -> Iterator[Row]:
        reader = self.reader
        for attempt in range(reader.max_rewalks + 1):
            self.report.rewalks = attempt
            while True:
                form = reader.form
                try:
                    clean = yield from self._once(form)
                    break
                except LuminousRequestError as exc:
                    if not f.refused(exc) or form == "none":
                        raise
                    reader.filters.date_form_failed(reader.path, form, "refused")
            if clean:
                self.report.complete = True
                return

    def _judge_walk(self, form: str, rows: list[Row]) -> None:
        """The walk's first page says whether its lower bound was taken (nothing changes for
        this walk, which filters locally: the next read uses what was learnt)."""
        if form == "none":
            return
        stamps = [s for s in (stamp_of(r) for r in rows) if s is not None]
        verdict = f.judge(stamps, f.sent_lower(form, self.since), None, strict_low=False)
        if verdict == "ignored":
            self.reader.filters.date_form_failed(self.reader.path, form, "ignored")
        elif verdict == "by_date":
            self.reader.filters.dates_only(self.reader.path, form)

    def _once(self, form: str) -> Iterator[Row]:
        """One walk; returns whether the data held still meanwhile."""
        moved = False
        first_total: int | None = None
        last_total: int | None = None
        started: datetime | None = None
        params = {"sort": "id:asc"}
        if form != "none":
            params["updated_at[gte]"] = f.lower(form, self.since)
        state, reader = self.state, self.reader
        for page, body in enumerate(self.http.walk(reader.path, params), start=1):
            if page == 1:
                started, first_total = self.http.last_date, total_of(body)
                self._judge_walk(form, body["data"])
            last_total = total_of(body)
            for row in body["data"]:
                stamp, doc_id = stamp_of(row), doc_id_of(row)
                if state.unstamped(row):
                    yield reader.complete(row)  # the parser says why it cannot be read
                if stamp is None or doc_id is None:
                    continue
                if started is not None and stamp >= started:
                    moved = True
                if not (self.since <= stamp <= self.ceiling) or self.yielded.get(doc_id) == stamp:
                    continue
                if not state.already_yielded(doc_id, stamp):
                    self.yielded[doc_id] = stamp
                    yield reader.complete(row)
        return not moved and first_total == last_total


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
