"""Luminous External API client: changed POs by key, every PO id, one PO; retries at the edge.

Transport (see /work/shared/luminous-api.md and LuminousInventory/luminous-cli, whose
client/http.py sends `Authorization: Bearer`, reads `{"data", "meta"}`, and retries 429 by
`Retry-After`): this client also retries 5xx, resets and timeouts with capped exponential
backoff and jitter, parses JSON with `parse_float=Decimal`, and never reads the environment.

    ReconcilerError
    ├── LuminousUnavailable (Retryable)   429 / 5xx / connection trouble after `max_attempts`,
    │                                     or a `Retry-After` longer than `backoff_cap`
    │                                     (`retry_after` set: the pass should wait that long)
    ├── LuminousAuthError (Fatal)         401 / 403: the API token is wrong; never retried
    └── LuminousRequestError (Fatal)      other 4xx on a read: the base URL or an assumption
                                          about the API is wrong; retrying will not help

Reading changes (`iter_changed`): plain page numbers are unsafe across a long read (a PO edited
mid-read moves to the end and shifts the rest, so a page boundary skips one). So the read
advances by key: each request asks for `updated_at >= t` (t = the newest instant yielded so far)
sorted by `updated_at`, and ids already yielded at instant t are skipped. A full page that is
all one instant (more ties than a page) is drained by id instead
(`updated_at[eq]=t&id[gt]=last&sort=id:asc`), so ties never loop and never skip.

The server may ignore the filter or the sort (not confirmed for this endpoint). Every page is
checked against what was asked (bounds, order); the first full page is also checked with two
one-row probes (`sort=updated_at:desc`, `sort=id:desc`). If anything disagrees, the client
falls back to walking every page in id order and filtering locally; a walk during which the
data moved (total changed, or a record stamped after the walk began) is repeated up to
`max_rewalks` times, and `last_read.complete` says whether a clean walk was achieved.
Memory stays flat in key mode (one page plus the ids of one instant); the fallback keeps the ids
it yielded (ints only).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from reconciler.crashpoints import crash_point
from reconciler.errors import Fatal, LuminousAuthError, LuminousHTTPError, LuminousUnavailable
from reconciler.luminous_parse import PO_FIELDS, parse_or_reject, parse_po, parse_timestamp

__all__ = [
    "LuminousClient",
    "LuminousRequestError",
    "ReadReport",
    "parse_or_reject",
    "parse_po",
]

PO_PATH = "/purchase-orders"
ITEMS_PATH = "/purchase-orders/items"
MAX_PER_PAGE = 100
RETRYABLE_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


class LuminousRequestError(LuminousHTTPError, Fatal):
    """Luminous refused a read we built (404 on a list, 400, 422): configuration is wrong."""


@dataclass
class ReadReport:
    """How the last `iter_changed` went; `pull` uses it to decide what the checkpoint may do."""

    mode: str = "key"  # "key" (trusted filter and sort) or "walk" (fallback, local filter)
    complete: bool = False  # the whole window was read (set when the iterator finishes)
    server_date: datetime | None = None  # Date header of the first response
    requests: int = 0
    rewalks: int = 0


def format_instant(value: datetime) -> str:
    """A filter value: UTC ISO-8601 with microseconds, as the API renders timestamps."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LuminousClient:
    """Reads purchase orders from one Luminous account."""

    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        token: str,
        *,
        per_page: int = MAX_PER_PAGE,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] | None = None,
        max_rewalks: int = 2,
    ) -> None:
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be 1..{MAX_PER_PAGE}")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.session = session
        self.base_url = base_url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.per_page = per_page
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.timeout = timeout
        self.sleep = sleep
        self.rng = rng or random.Random()  # noqa: S311 (jitter, not secrets)
        self.clock = clock
        self.max_rewalks = max_rewalks
        self.last_date: datetime | None = None
        self.last_read = ReadReport()
        self._cache: dict[str, dict[Any, Any]] = {}
        self._requests = 0

    # --- public reads --------------------------------------------------------------------

    def server_now(self) -> datetime:
        """The server's clock, from the `Date` header of a one-row list request."""
        self.last_date = None
        self._get(PO_PATH, {"page": "1", "per_page": "1"})
        if self.last_date is not None:
            return self.last_date
        if self.clock is not None:
            return self.clock()
        raise LuminousRequestError("Luminous sent no Date header; cannot fix the pull ceiling")

    def get_po(self, po_id: int) -> dict[str, Any] | None:
        """One PO with its lines and ship-to filled in; None when Luminous has no such PO."""
        body = self._get(f"{PO_PATH}/{int(po_id)}", {}, allow_404=True)
        if body is None:
            return None
        data = body.get("data", body) if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise LuminousUnavailable(f"unexpected body for PO {po_id}", status=200)
        return self._complete(data)

    def iter_changed(self, since: datetime, ceiling: datetime) -> Iterator[dict[str, Any]]:
        """Raw POs with `since <= updated_at <= ceiling`, each id once per instant."""
        report = self.last_read = ReadReport()
        self._cache = {}
        state = _Frontier()
        start_requests = self._requests
        self.last_date = None
        rows = self._range_page(since, ceiling, inclusive=True)
        report.server_date = self.last_date
        trusted = self._page_fits(rows, since, ceiling, inclusive=True) and (
            len(rows) < self.per_page or self._probes_agree(rows, since, ceiling)
        )
        if trusted:
            yield from self._key_read(rows, since, ceiling, state, report)
        if not report.complete:
            report.mode = "walk"
            yield from self._walk(since, ceiling, state, report)
        report.requests = self._requests - start_requests

    def iter_all_ids(self) -> Iterator[int]:
        """Every PO id Luminous lists, ascending when the server honours `id[gt]`+`sort`."""
        last = 0
        while True:
            rows = self._rows(
                PO_PATH,
                {
                    "id[gt]": str(last),
                    "sort": "id:asc",
                    "page": "1",
                    "per_page": str(self.per_page),
                },
            )
            ids = [_int_or_none(r.get(PO_FIELDS["id"])) for r in rows]
            if any(i is None for i in ids) or ids != sorted(set(ids)) or (ids and ids[0] <= last):
                break  # the server ignored the filter or the sort: walk every page instead
            yield from ids  # type: ignore[misc]
            if len(ids) < self.per_page:
                return
            last = ids[-1]  # type: ignore[assignment]
        seen: set[int] = set()
        page = 1
        while True:
            body = self._list(PO_PATH, {"sort": "id:asc", "page": str(page)})
            for row in body["data"]:
                po_id = _int_or_none(row.get(PO_FIELDS["id"]))
                if po_id is not None and po_id > last and po_id not in seen:
                    seen.add(po_id)
                    yield po_id
            if not body["data"] or page >= _last_page(body):
                return
            page += 1

    # --- key read ------------------------------------------------------------------------

    def _key_read(
        self,
        rows: list[dict[str, Any]],
        since: datetime,
        ceiling: datetime,
        state: _Frontier,
        report: ReadReport,
    ) -> Iterator[dict[str, Any]]:
        lower, inclusive = since, True
        while True:
            if not self._page_fits(rows, lower, ceiling, inclusive=inclusive):
                return  # disagreement mid-read: the walk takes over from `state`
            full = len(rows) >= self.per_page
            stamps = [_stamp(r) for r in rows]
            if full and stamps[0] == stamps[-1]:
                instant = stamps[0]
                if not (yield from self._drain(instant, state)):
                    return
                lower, inclusive = instant, False
            else:
                for row, stamp in zip(rows, stamps, strict=True):
                    if state.admit(row, stamp):
                        yield self._complete(row)
                if not full:
                    report.complete = True
                    return
                lower, inclusive = stamps[-1], True
            rows = self._range_page(lower, ceiling, inclusive=inclusive)

    def _drain(self, instant: datetime, state: _Frontier) -> Iterator[dict[str, Any]]:
        """Every PO stamped exactly `instant`, by id; returns False if the server disagreed."""
        last = 0
        while True:
            rows = self._rows(
                PO_PATH,
                {
                    "updated_at[eq]": format_instant(instant),
                    "id[gt]": str(last),
                    "sort": "id:asc",
                    "page": "1",
                    "per_page": str(self.per_page),
                },
            )
            ids = [_int_or_none(r.get(PO_FIELDS["id"])) for r in rows]
            if (
                any(i is None or i <= last for i in ids)
                or ids != sorted(set(ids))  # type: ignore[type-var]
                or any(_stamp(r) != instant for r in rows)
            ):
                return False
            for row in rows:
                if state.admit(row, instant):
                    yield self._complete(row)
            if len(rows) < self.per_page:
                return True
            last = ids[-1]  # type: ignore[assignment]

    def _range_page(
        self, lower: datetime, ceiling: datetime, *, inclusive: bool
    ) -> list[dict[str, Any]]:
        op = "gte" if inclusive else "gt"
        return self._rows(
            PO_PATH,
            {
                f"updated_at[{op}]": format_instant(lower),
                "updated_at[lte]": format_instant(ceiling),
                "sort": "updated_at:asc",
                "page": "1",
                "per_page": str(self.per_page),
            },
        )

    def _page_fits(
        self, rows: list[dict[str, Any]], lower: datetime, ceiling: datetime, *, inclusive: bool
    ) -> bool:
        """Did the server honour the bounds and the order we asked for?"""
        previous: datetime | None = None
        for row in rows:
            stamp = _stamp(row)
            if stamp is None or _int_or_none(row.get(PO_FIELDS["id"])) is None:
                return False
            if stamp > ceiling or stamp < lower or (not inclusive and stamp == lower):
                return False
            if previous is not None and stamp < previous:
                return False
            previous = stamp
        return True

    def _probes_agree(self, rows: list[dict[str, Any]], since: datetime, ceiling: datetime) -> bool:
        """A full first page is only the lowest keys if the server really sorts: ask for the
        other end of the window and compare."""
        bounds = {
            "updated_at[gte]": format_instant(since),
            "updated_at[lte]": format_instant(ceiling),
            "page": "1",
            "per_page": "1",
        }
        newest = self._rows(PO_PATH, {**bounds, "sort": "updated_at:desc"})
        highest = self._rows(PO_PATH, {**bounds, "sort": "id:desc"})
        if not newest or not highest:
            return False
        newest_stamp = _stamp(newest[0])
        highest_id = _int_or_none(highest[0].get(PO_FIELDS["id"]))
        page_ids = [_int_or_none(r.get(PO_FIELDS["id"])) or 0 for r in rows]
        return (
            newest_stamp is not None
            and newest_stamp >= (_stamp(rows[-1]) or ceiling)
            and highest_id is not None
            and highest_id >= max(page_ids)
        )

    # --- fallback walk -------------------------------------------------------------------

    def _walk(
        self, since: datetime, ceiling: datetime, state: _Frontier, report: ReadReport
    ) -> Iterator[dict[str, Any]]:
        yielded: dict[int, datetime] = {}
        for attempt in range(self.max_rewalks + 1):
            report.rewalks = attempt
            moved = False
            total: int | None = None
            started: datetime | None = None
            page = 1
            while True:
                self.last_date = None
                body = self._list(
                    PO_PATH,
                    {"updated_at[gte]": format_instant(since), "sort": "id:asc", "page": str(page)},
                )
                if started is None:
                    started = self.last_date
                    total = _total(body)
                for row in body["data"]:
                    stamp = _stamp(row)
                    po_id = _int_or_none(row.get(PO_FIELDS["id"]))
                    if stamp is None or po_id is None:
                        continue
                    if started is not None and stamp >= started:
                        moved = True
                    if not (since <= stamp <= ceiling) or yielded.get(po_id) == stamp:
                        continue
                    if not state.already_yielded(po_id, stamp):
                        yielded[po_id] = stamp
                        yield self._complete(row)
                if not body["data"] or page >= _last_page(body):
                    break
                page += 1
            if total != _total(body):
                moved = True
            if not moved:
                report.complete = True
                return

    # --- filling in what a list row may leave out ----------------------------------------

    def _complete(self, po: dict[str, Any]) -> dict[str, Any]:
        """Lines and ship-to, fetched when the list did not embed them (the parser wants them)."""
        if PO_FIELDS["items"] not in po:
            po = {**po, PO_FIELDS["items"]: self._items_of(po.get(PO_FIELDS["id"]))}
        if PO_FIELDS["warehouse"] not in po and po.get("warehouse_id") is not None:
            po = {**po, PO_FIELDS["warehouse"]: self._lookup("warehouses", po["warehouse_id"])}
        if PO_FIELDS["supplier"] not in po and po.get("supplier_id") is not None:
            po = {**po, PO_FIELDS["supplier"]: self._lookup("suppliers", po["supplier_id"])}
        return po

    def _items_of(self, po_id: Any) -> list[dict[str, Any]]:
        if _int_or_none(po_id) is None:
            return []
        items: list[dict[str, Any]] = []
        last = 0
        for page in range(1, 10_000):
            body = self._list(
                ITEMS_PATH,
                {"purchase_order_id": str(po_id), "sort": "id:asc", "page": str(page)},
            )
            for item in body["data"]:
                item_id = _int_or_none(item.get("id"))
                if item_id is None or item_id > last:
                    items.append(item)
                    last = item_id or last
            if not body["data"] or page >= _last_page(body):
                break
        return items

    def _lookup(self, kind: str, ident: Any) -> dict[str, Any] | None:
        cache = self._cache.setdefault(kind, {})
        if ident not in cache:
            body = self._get(f"/{kind}/{ident}", {}, allow_404=True)
            data = body.get("data", body) if isinstance(body, dict) else None
            cache[ident] = data if isinstance(data, dict) else None
        return cache[ident]

    # --- HTTP ----------------------------------------------------------------------------

    def _rows(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        return self._list(path, params)["data"]

    def _list(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        params = {"per_page": str(self.per_page), **params}
        body = self._get(path, params)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise LuminousUnavailable(f"unexpected list body from {path}", status=200)
        crash_point("page_read")
        return body  # type: ignore[return-value]

    def _get(self, path: str, params: dict[str, str], *, allow_404: bool = False) -> Any:
        url = self.base_url + path
        failure: LuminousUnavailable
        for attempt in range(1, self.max_attempts + 1):
            self._requests += 1
            try:
                response = self.session.get(
                    url, params=params, headers=self._auth, timeout=self.timeout
                )
            except RETRYABLE_EXCEPTIONS as exc:
                failure = LuminousUnavailable(f"Luminous unreachable ({type(exc).__name__})")
                delay = self._backoff(attempt)
            else:
                self._note_date(response)
                status = response.status_code
                if status in (401, 403):
                    raise LuminousAuthError(
                        f"Luminous refused the API token ({status}): check luminous.token",
                        status=status,
                    )
                if status == 404 and allow_404:
                    return None
                if status == 429 or status >= 500:
                    failure = LuminousUnavailable(f"Luminous answered {status}", status=status)
                    wait = _retry_after(response, self.last_date) if status == 429 else None
                    failure.retry_after = wait
                    if wait is not None and wait > self.backoff_cap:
                        raise failure
                    delay = wait if wait is not None else self._backoff(attempt)
                elif status >= 400:
                    raise LuminousRequestError(
                        f"Luminous answered {status} for GET {path}: {_message(response)}",
                        status=status,
                    )
                else:
                    try:
                        return json.loads(response.content, parse_float=Decimal)
                    except ValueError:
                        failure = LuminousUnavailable("malformed JSON from Luminous", status=status)
                        delay = self._backoff(attempt)
            if attempt < self.max_attempts:
                self.sleep(delay)
        raise failure

    def _backoff(self, attempt: int) -> float:
        """Capped exponential with equal jitter: half fixed, half random."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def _note_date(self, response: requests.Response) -> None:
        header = response.headers.get("Date")
        if not header:
            return
        try:
            parsed = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        self.last_date = parsed.astimezone(UTC)


class _Frontier:
    """What the key read has yielded: every instant before `instant`, and `ids` at it."""

    def __init__(self) -> None:
        self.instant: datetime | None = None
        self.ids: set[int] = set()

    def admit(self, row: dict[str, Any], stamp: datetime | None) -> bool:
        po_id = _int_or_none(row.get(PO_FIELDS["id"]))
        if stamp is None or po_id is None:
            return False
        if self.already_yielded(po_id, stamp):
            return False
        if self.instant is None or stamp > self.instant:
            self.instant, self.ids = stamp, {po_id}
        else:
            self.ids.add(po_id)
        return True

    def already_yielded(self, po_id: int, stamp: datetime) -> bool:
        if self.instant is None:
            return False
        return stamp < self.instant or (stamp == self.instant and po_id in self.ids)


def _stamp(row: dict[str, Any]) -> datetime | None:
    try:
        return parse_timestamp(row.get(PO_FIELDS["updated_at"]))
    except ValueError:
        return None


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _last_page(body: dict[str, Any]) -> int:
    meta = body.get("meta") or {}
    return _int_or_none(meta.get("last_page")) or 1


def _total(body: dict[str, Any]) -> int | None:
    return _int_or_none((body.get("meta") or {}).get("total"))


def _retry_after(response: requests.Response, server_now: datetime | None) -> float | None:
    """Seconds from `Retry-After` (delta-seconds or an HTTP date); None when absent/garbled."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    reference = server_now or datetime.now(UTC)
    return max(0.0, (when - reference) / timedelta(seconds=1))


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("message") or body)[:200]
    return str(body)[:200]
