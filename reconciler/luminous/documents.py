"""Any Luminous list the sync reads by key: the server clock, the changed records, one record,
every id. POs (`LuminousClient`) and bills, receiving reports and vendor credits
(`DocumentReader`) share it, so a bill is read with the same keyed paging, probes, fallback walk
and retries as a PO (bill payments are read through their bills: `luminous.payments`).

A bill list row is completed before it is handed on: its items when the list left them out
(`GET /bills/{id}`), and its allocations when an item names no PO line of its own
(`GET /bills/{id}/allocations`). A receiving report without its items is read in full. The
field names come from `luminous.fields`. A vendor credit row without its lines or applications
is read in full too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from reconciler.errors import LuminousUnavailable
from reconciler.luminous import filters as f
from reconciler.luminous.fields import (
    BILL_FIELDS,
    BILL_ITEM_FIELDS,
    RECEIPT_FIELDS,
    VENDOR_CREDIT_FIELDS,
)
from reconciler.luminous.filters import FilterMemory
from reconciler.luminous.http import (
    LuminousHTTP,
    LuminousRequestError,
    ascending_ids,
    int_or_none,
)
from reconciler.luminous.keyed import KeyedReader, ReadReport, stamp_of

Row = dict[str, Any]
BILLS_PATH = "/bills"
RECEIPTS_PATH = "/receiving-reports"
CREDITS_PATH = "/vendor-credits"  # the CLI's vendor_credits.py


def probe(
    http: LuminousHTTP,
    path: str,
    future_after: datetime | None,
    *,
    complete: Callable[[Row], Row],
    clock: Callable[[], datetime] | None,
    filters: FilterMemory | None = None,
) -> tuple[datetime, list[Row]]:
    """The server's clock (its `Date` header) and, in the same request, the records stamped
    after `future_after` (in the future, by our clock). The first request of a pass: where a
    timestamp form the server refuses or ignores is usually found out (`filters`)."""
    http.last_date = None
    if future_after is None:
        http.get(path, {"page": "1", "per_page": "1"})
        rows: list[Row] = []
    else:
        found = _future(http, path, future_after, filters or FilterMemory())
        rows = [complete(r) for r in found if _after(r, future_after)]
    if http.last_date is not None:
        return http.last_date, rows
    if clock is not None:
        return clock(), rows
    raise LuminousRequestError("Luminous sent no Date header; cannot fix the pull ceiling")


def _future(http: LuminousHTTP, path: str, after: datetime, filters: FilterMemory) -> list[Row]:
    """The first page of records stamped after `after`, in the form the server takes. Asked
    as `updated_at[gte]` (a server comparing dates only would drop the rest of the day from a
    `[gt]`) and filtered here: oldest first for an exact form; newest first for the date form
    (whole days) or none, so what is stamped after comes on the first page anyway."""
    while True:
        form = filters.of(path).date_form
        exact = form in f.EXACT
        params = {"sort": "updated_at:asc" if exact else "updated_at:desc", "page": "1"}
        if form != "none":
            params["updated_at[gte]"] = f.lower(form, after)
        try:
            found = http.rows(path, params)
        except LuminousRequestError as exc:
            if not f.refused(exc) or form == "none":
                raise
            filters.date_form_failed(path, form, "refused")
            continue
        if form == "none":
            return found
        stamps = [s for s in (stamp_of(r) for r in found) if s is not None]
        verdict = f.judge(stamps, f.sent_lower(form, after), None, strict_low=False)
        if verdict == "fits":
            return found
        if verdict == "by_date":
            filters.dates_only(path, form)
        else:
            filters.date_form_failed(path, form, "ignored")


def all_ids(
    http: LuminousHTTP, path: str, id_field: str = "id", filters: FilterMemory | None = None
) -> Iterator[int]:
    """Every id the list holds: ascending by `id[gt]` and `sort` while the server takes
    them; else (refused with 400/422, or ignored: `filters` remembers which) every page
    walked, which needs neither."""
    filters = filters or FilterMemory()
    last = 0
    try:
        while filters.of(path).id_usable:
            rows = http.rows(
                path,
                {
                    "id[gt]": str(last),
                    "sort": "id:asc",
                    "page": "1",
                    "per_page": str(http.per_page),
                },
            )
            served = [int_or_none(r.get(id_field)) for r in rows]
            ids = ascending_ids(served, after=last)
            if ids is None:
                if last and served and served[0] is not None and served[0] <= last:
                    filters.id_filter_is(path, "ignored")
                break  # the server ignored the filter or the sort: walk every page instead
            if last:
                filters.id_filter_is(path, "works")
            yield from ids
            if len(ids) < http.per_page:
                return
            last = ids[-1]
    except LuminousRequestError as exc:
        if not f.refused(exc):
            raise
        filters.id_filter_is(path, "refused")
    seen: set[int] = set()
    for body in http.walk(path, {"sort": "id:asc"}):
        for row in body["data"]:
            doc_id = int_or_none(row.get(id_field))
            if doc_id is not None and doc_id > last and doc_id not in seen:
                seen.add(doc_id)
                yield doc_id


def one(http: LuminousHTTP, path: str, doc_id: int) -> Row | None:
    """`GET path/{id}`: the record, or None when Luminous has no such record (404)."""
    body = http.get(f"{path}/{int(doc_id)}", {}, allow_404=True)
    if body is None:
        return None
    data = body.get("data", body) if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise LuminousUnavailable(f"unexpected body for {path}/{doc_id}", status=200)
    return data


def _after(row: Row, instant: datetime) -> bool:
    """Stamped after `instant`, or not usably stamped at all: either way it needs an outcome."""
    stamp = stamp_of(row)
    return stamp is None or stamp > instant


class DocumentReader:
    """One list of documents (bills, receiving reports, vendor credits), as the pull needs it."""

    def __init__(
        self,
        http: LuminousHTTP,
        path: str,
        *,
        clock: Callable[[], datetime] | None = None,
        max_rewalks: int = 2,
        filters: FilterMemory | None = None,
    ) -> None:
        self.http = http
        self.path = path
        self.clock = clock
        self.last_read = ReadReport()
        self.filters = filters or FilterMemory()
        completes = {
            BILLS_PATH: self._complete_bill,
            RECEIPTS_PATH: self._complete_receipt,
            CREDITS_PATH: self._complete_credit,
        }
        self._complete = completes[path]
        self._reader = KeyedReader(
            http, path, complete=self._complete, max_rewalks=max_rewalks, filters=self.filters
        )

    def server_now(self) -> datetime:
        return self.probe(None)[0]

    def probe(self, future_after: datetime | None) -> tuple[datetime, list[Row]]:
        return probe(
            self.http,
            self.path,
            future_after,
            complete=self._complete,
            clock=self.clock,
            filters=self.filters,
        )

    def iter_changed(self, since: datetime, ceiling: datetime) -> Iterator[Row]:
        self.last_read = ReadReport()
        return self._reader.changed(since, ceiling, self.last_read)

    def get(self, doc_id: int) -> Row | None:
        found = one(self.http, self.path, doc_id)
        return self._complete(found) if found is not None else None

    def iter_all_ids(self) -> Iterator[int]:
        return all_ids(self.http, self.path, filters=self.filters)

    # --- filling in what a list row may leave out ----------------------------------------

    def _complete_bill(self, row: Row) -> Row:
        f, i = BILL_FIELDS, BILL_ITEM_FIELDS
        bill_id = int_or_none(row.get(f["id"]))
        if f["items"] not in row and bill_id is not None:
            row = one(self.http, self.path, bill_id) or row
        items = row.get(f["items"])
        unplaced = isinstance(items, list) and any(
            isinstance(item, dict) and item.get(i["po_line_id"]) is None for item in items
        )
        if unplaced and f["allocations"] not in row and bill_id is not None:
            found: list[Row] = []
            for body in self.http.walk(f"{self.path}/{bill_id}/{f['allocations']}", {}):
                found.extend(body["data"])
            row = {**row, f["allocations"]: found}
        return row

    def _complete_credit(self, row: Row) -> Row:
        """A vendor credit row without its lines or applications is read in full."""
        f = VENDOR_CREDIT_FIELDS
        credit_id = int_or_none(row.get(f["id"]))
        if (f["items"] not in row or f["applications"] not in row) and credit_id is not None:
            row = one(self.http, self.path, credit_id) or row
        return row

    def _complete_receipt(self, row: Row) -> Row:
        f = RECEIPT_FIELDS
        report_id = int_or_none(row.get(f["id"]))
        if f["items"] not in row and report_id is not None:
            row = one(self.http, self.path, report_id) or row
        return row
