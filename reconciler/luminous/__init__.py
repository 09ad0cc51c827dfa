"""Luminous External API client: changed POs by key, every PO id, one PO.

    LuminousClient
    ├── http      GETs with retries, the server clock, page walks that trust only data
    └── keyed     the changed records of a list in a window, by key (`keyed.KeyedReader`)

Every Luminous field name we read is in `reconciler.luminous_parse` (the one adapter).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import requests

from reconciler.errors import LuminousUnavailable
from reconciler.luminous.http import MAX_PER_PAGE, LuminousHTTP, LuminousRequestError, int_or_none
from reconciler.luminous.keyed import KeyedReader, ReadReport, format_instant, stamp_of
from reconciler.luminous_parse import PO_FIELDS

__all__ = [
    "MAX_PER_PAGE",
    "LuminousClient",
    "LuminousRequestError",
    "ReadReport",
    "format_instant",
]

PO_PATH = "/purchase-orders"
ITEMS_PATH = "/purchase-orders/items"


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
        self.http = LuminousHTTP(
            session,
            base_url,
            token,
            per_page=per_page,
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            timeout=timeout,
            sleep=sleep,
            rng=rng,
        )
        self.clock = clock
        self.last_read = ReadReport()
        self._pos = KeyedReader(
            self.http, PO_PATH, complete=self._complete, max_rewalks=max_rewalks
        )
        self._cache: dict[str, dict[Any, Any]] = {}

    @property
    def per_page(self) -> int:
        return self.http.per_page

    @property
    def max_attempts(self) -> int:
        return self.http.max_attempts

    @max_attempts.setter
    def max_attempts(self, value: int) -> None:
        self.http.max_attempts = value

    @property
    def last_date(self) -> datetime | None:
        return self.http.last_date

    # --- reads ---------------------------------------------------------------------------

    def server_now(self) -> datetime:
        """The server's clock, from the `Date` header of a one-row list request."""
        return self.probe(None)[0]

    def probe(self, future_after: datetime | None) -> tuple[datetime, list[dict[str, Any]]]:
        """The server's clock (its `Date` header) and, in the same request, the POs stamped
        after `future_after` (in the future, by our clock): a pass gives them an outcome
        instead of reading past them."""
        self.http.last_date = None
        if future_after is None:
            self.http.get(PO_PATH, {"page": "1", "per_page": "1"})
            rows: list[dict[str, Any]] = []
        else:
            params = {"updated_at[gt]": format_instant(future_after), "sort": "updated_at:asc"}
            found = self.http.rows(PO_PATH, {**params, "page": "1"})
            rows = [self._complete(r) for r in found if _after(r, future_after)]
        if self.http.last_date is not None:
            return self.http.last_date, rows
        if self.clock is not None:
            return self.clock(), rows
        raise LuminousRequestError("Luminous sent no Date header; cannot fix the pull ceiling")

    def get_po(self, po_id: int) -> dict[str, Any] | None:
        """One PO with its lines and ship-to filled in; None when Luminous has no such PO."""
        body = self.http.get(f"{PO_PATH}/{int(po_id)}", {}, allow_404=True)
        if body is None:
            return None
        data = body.get("data", body) if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise LuminousUnavailable(f"unexpected body for PO {po_id}", status=200)
        return self._complete(data)

    def iter_changed(self, since: datetime, ceiling: datetime) -> Iterator[dict[str, Any]]:
        """Raw POs with `since <= updated_at <= ceiling`, each id once per instant."""
        self.last_read = ReadReport()
        self._cache = {}
        return self._pos.changed(since, ceiling, self.last_read)

    def iter_all_ids(self) -> Iterator[int]:
        """Every PO id Luminous lists, ascending when the server honours `id[gt]`+`sort`."""
        last = 0
        while True:
            rows = self.http.rows(
                PO_PATH,
                {
                    "id[gt]": str(last),
                    "sort": "id:asc",
                    "page": "1",
                    "per_page": str(self.per_page),
                },
            )
            ids = [int_or_none(r.get(PO_FIELDS["id"])) for r in rows]
            if any(i is None for i in ids) or ids != sorted(set(ids)) or (ids and ids[0] <= last):
                break  # the server ignored the filter or the sort: walk every page instead
            yield from ids  # type: ignore[misc]
            if len(ids) < self.per_page:
                return
            last = ids[-1]  # type: ignore[assignment]
        seen: set[int] = set()
        for body in self.http.walk(PO_PATH, {"sort": "id:asc"}):
            for row in body["data"]:
                po_id = int_or_none(row.get(PO_FIELDS["id"]))
                if po_id is not None and po_id > last and po_id not in seen:
                    seen.add(po_id)
                    yield po_id

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
        if int_or_none(po_id) is None:
            return []
        items: list[dict[str, Any]] = []
        seen: set[Any] = set()
        params = {"purchase_order_id": str(po_id), "sort": "id:asc"}
        for body in self.http.walk(ITEMS_PATH, params):
            for item in body["data"]:
                item_id = int_or_none(item.get("id"))
                if item_id is not None and item_id in seen:
                    continue  # a page repeated a line (the walk moved): once is enough
                items.append(item)
                seen.add(item_id)
        return items

    def _lookup(self, kind: str, ident: Any) -> dict[str, Any] | None:
        cache = self._cache.setdefault(kind, {})
        if ident not in cache:
            body = self.http.get(f"/{kind}/{ident}", {}, allow_404=True)
            data = body.get("data", body) if isinstance(body, dict) else None
            cache[ident] = data if isinstance(data, dict) else None
        return cache[ident]


def _after(row: dict[str, Any], instant: datetime) -> bool:
    """Stamped after `instant`, or not usably stamped at all (a server that ignores the
    filter sends anything): either way the pass must give it an outcome."""
    stamp = stamp_of(row)
    return stamp is None or stamp > instant
