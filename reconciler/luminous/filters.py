"""What a Luminous server takes of the filters the reads send: learnt per list, kept in the
state file, so that no undocumented filter and no guessed form can stop a pass.

A timestamp filter value can be written three ways (luminous-api.md, "Transport"); the reads
try them in this order and keep, per list, the first the server takes:

    seconds   2024-10-25 12:00:00           the PO page's example (`created_at[gte]=...`)
    iso       2024-10-25T12:00:00.000000Z   a full ISO timestamp (not documented)
    date      2024-10-25                    the filters page's form: whole days
    none      no timestamp filter at all    every form refused or ignored: reads walk the list

A form is left behind when the server refuses it (400 or 422) or ignores it (it answers rows
outside the bounds sent). A server that takes an exact form but compares dates only (rows
outside the bounds, yet on the bounds' days) is read with the date form. Bounds are rounded
outwards (a lower bound down, an upper bound up), so the server always answers a superset of
the window and the reads keep to the window themselves: whole-second stamps (the reference's)
lose nothing. Only the exact forms let a read advance by key (`keyed`); with the date form, or
none, it walks the list in id order, filtering locally.

`id[gt]` (not among the PO list's documented filter fields) is learnt the same way: once
refused or ignored, the reads that would send it walk by page instead.

Kept in the state file's `meta` (through `StateStore.get_meta` / `set_meta`) as
`luminous_filters:<path>`, JSON `{"date_form": ..., "id_filter": ...}`; without a store
(`remember_in` not called) it lives for the client's lifetime.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from reconciler.errors import LuminousHTTPError

FORMS = ("seconds", "iso", "date", "none")
EXACT = frozenset({"seconds", "iso"})
REFUSALS = frozenset({400, 422})  # a validation answer: the server does not take what was sent
ID_STATES = ("unknown", "works", "refused", "ignored")
META_PREFIX = "luminous_filters:"
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


class Memory(Protocol):
    """Where what was learnt is kept: the state file (`state.StateStore`)."""

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...


def refused(exc: Exception) -> bool:
    """Luminous answered a read with a validation error: it does not take a filter sent."""
    return isinstance(exc, LuminousHTTPError) and exc.status in REFUSALS


@dataclass
class ListFilters:
    """What one list's server takes."""

    date_form: str = FORMS[0]
    id_filter: str = "unknown"

    @property
    def exact(self) -> bool:
        """Whether bounds are compared to the second: a read may advance by key."""
        return self.date_form in EXACT

    @property
    def id_usable(self) -> bool:
        return self.id_filter in ("unknown", "works")


class FilterMemory:
    """`ListFilters` by list path; saved through `Memory` whenever something is learnt."""

    def __init__(self) -> None:
        self._store: Memory | None = None
        self._lists: dict[str, ListFilters] = {}
        self._lock = threading.Lock()
        self.learnt: list[tuple[str, str, str]] = []  # (path, what, now), for the logs and tests

    def bind(self, store: Memory | None) -> None:
        """Keep what is learnt in `store` (and read what it already holds)."""
        with self._lock:
            if store is not self._store:
                self._store, self._lists = store, {}

    def of(self, path: str) -> ListFilters:
        with self._lock:
            if path not in self._lists:
                self._lists[path] = self._load(path)
            return self._lists[path]

    def date_form_failed(self, path: str, form: str, why: str) -> None:
        """The server refused or ignored `form` on this list: the next one from now on."""
        with self._lock:
            state = self._lists.setdefault(path, ListFilters())
            if state.date_form != form or form == "none":
                return  # (already moved on, or nothing left to drop)
            state.date_form = FORMS[FORMS.index(form) + 1]
            self._save(path, state, f"date filter {form} {why}; now {state.date_form}")

    def dates_only(self, path: str, form: str) -> None:
        """The server takes `form` but compares dates only: the date form from now on."""
        with self._lock:
            state = self._lists.setdefault(path, ListFilters())
            if state.date_form == form and form in EXACT:
                state.date_form = "date"
                self._save(path, state, f"date filter {form} compared by date; now date")

    def id_filter_is(self, path: str, found: str) -> None:
        with self._lock:
            state = self._lists.setdefault(path, ListFilters())
            if state.id_filter != found:
                state.id_filter = found
                self._save(path, state, f"id filter {found}")

    def _load(self, path: str) -> ListFilters:
        if self._store is None:
            return ListFilters()
        try:
            data = json.loads(self._store.get_meta(META_PREFIX + path) or "{}")
            state = ListFilters(**{k: data[k] for k in ("date_form", "id_filter") if k in data})
        except (ValueError, TypeError):
            return ListFilters()
        if state.date_form not in FORMS or state.id_filter not in ID_STATES:
            return ListFilters()
        return state

    def _save(self, path: str, state: ListFilters, what: str) -> None:
        self.learnt.append((path, what, datetime.now(UTC).isoformat()))
        if self._store is not None:
            self._store.set_meta(META_PREFIX + path, json.dumps(asdict(state), sort_keys=True))


# --- writing the bounds --------------------------------------------------------------------


def lower(form: str, value: datetime) -> str:
    """A lower bound in `form`, rounded down (the answer is a superset)."""
    value = value.astimezone(UTC)
    if form == "date":
        return value.date().isoformat()
    if form == "iso":
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.replace(microsecond=0).strftime("%Y-%m-%d %H:%M:%S")


def upper(form: str, value: datetime) -> str:
    """An upper bound in `form`, rounded up (the answer is a superset)."""
    value = value.astimezone(UTC)
    if form == "date":  # taken as that day's midnight or as the whole day: either way, all of it
        return (value.date() + DAY).isoformat()
    if form == "iso":
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    rounded = value.replace(microsecond=0)
    return (rounded + SECOND if rounded < value else rounded).strftime("%Y-%m-%d %H:%M:%S")


def sent_lower(form: str, value: datetime) -> datetime:
    """The instant a server compares with, for `lower(form, value)`."""
    value = value.astimezone(UTC)
    if form == "date":
        return datetime.combine(value.date(), datetime.min.time(), UTC)
    return value if form == "iso" else value.replace(microsecond=0)


def sent_upper(form: str, value: datetime) -> datetime:
    """The instant a server compares with, for `upper(form, value)`."""
    value = value.astimezone(UTC)
    if form == "date":
        return datetime.combine(value.date() + DAY, datetime.min.time(), UTC) + DAY - SECOND
    if form == "iso":
        return value
    rounded = value.replace(microsecond=0)
    return rounded + SECOND if rounded < value else rounded


def judge(
    stamps: list[datetime], low: datetime | None, high: datetime | None, *, strict_low: bool
) -> str:
    """How a server answered bounds sent: "fits" (every stamp within), "by_date" (some outside,
    but on the bounds' own days: it compares dates only) or "ignored"."""
    verdict = "fits"
    for stamp in stamps:
        below = low is not None and (stamp < low or (strict_low and stamp == low))
        above = high is not None and stamp > high
        if not below and not above:
            continue
        same_day = (below and low is not None and stamp.date() == low.date()) or (
            above and high is not None and stamp.date() == high.date()
        )
        if not same_day:
            return "ignored"
        verdict = "by_date"
    return verdict
