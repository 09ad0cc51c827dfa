"""Luminous External API client: changed POs by key, every PO id, one PO.

    LuminousClient
    ├── http      GETs with retries, the server clock, page walks that trust only data
    ├── keyed     the changed records of a list in a window, by key (`keyed.KeyedReader`)
    ├── filters   what the server takes of the filters sent, per list (`remember_in` keeps it
    │             in the state file)
    └── documents the same for bills and receiving reports (`documents(kind)`)

Every Luminous field name the sync reads is in `luminous.fields`; `luminous.values` reads
each field.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import requests

from reconciler.errors import LuminousUnavailable
from reconciler.luminous import documents
from reconciler.luminous.documents import DocumentReader
from reconciler.luminous.fields import PO_FIELDS
from reconciler.luminous.filters import FilterMemory, Memory
from reconciler.luminous.http import MAX_PER_PAGE, LuminousHTTP, LuminousRequestError, int_or_none
from reconciler.luminous.keyed import KeyedReader, ReadReport, format_instant
from reconciler.luminous.payments import PaymentReader

__all__ = [
    "MAX_PER_PAGE",
    "LuminousClient",
    "LuminousRequestError",
    "ReadReport",
    "format_instant",
]

DOCUMENT_PATHS = {
    "bills": documents.BILLS_PATH,
    "receipts": documents.RECEIPTS_PATH,
    "vendor_credits": documents.CREDITS_PATH,
}
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
        self.filters = FilterMemory()
        self._pos = KeyedReader(
            self.http,
            PO_PATH,
            complete=self._complete,
            max_rewalks=max_rewalks,
            filters=self.filters,
        )
        self._cache: dict[str, dict[Any, Any]] = {}
        self._documents: dict[str, Any] = {}

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

    def remember_in(self, memory: Memory | None) -> None:
        """Keep what is learnt of the server's filters in `memory` (the state file's `meta`),
        and start from what it already holds (`filters`)."""
        self.filters.bind(memory)

    # --- reads ---------------------------------------------------------------------------

    def server_now(self) -> datetime:
        """The server's clock, from the `Date` header of a one-row list request."""
        return self.probe(None)[0]

    def probe(self, future_after: datetime | None) -> tuple[datetime, list[dict[str, Any]]]:
        """The server's clock (its `Date` header) and, in the same request, the POs stamped
        after `future_after` (in the future, by our clock): a pass gives them an outcome
        instead of reading past them."""
        return documents.probe(
            self.http,
            PO_PATH,
            future_after,
            complete=self._complete,
            clock=self.clock,
            filters=self.filters,
        )

    def get(self, po_id: int) -> dict[str, Any] | None:
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
        return documents.all_ids(self.http, PO_PATH, PO_FIELDS["id"], self.filters)

    def documents(self, kind: str) -> Any:
        """The reader of another list: "bills", "receipts" (receiving reports),
        "vendor_credits", or "payments" (bill payments, read through their bills), sharing
        this client's connection, retries and request count."""
        if kind not in self._documents:
            if kind == "payments":
                self._documents[kind] = PaymentReader(
                    self.http, clock=self.clock, filters=self.filters
                )
            else:
                self._documents[kind] = DocumentReader(
                    self.http, DOCUMENT_PATHS[kind], clock=self.clock, filters=self.filters
                )
        return self._documents[kind]

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
