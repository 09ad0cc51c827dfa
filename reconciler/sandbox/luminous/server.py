"""Luminous External API emulator: a real HTTP server on 127.0.0.1 for tests and the demo.

It implements the part of the API described in /work/shared/luminous-api.md that reconciler
uses: `GET/POST/PUT/DELETE /purchase-orders`, `GET /purchase-orders/items`, and read-only
`/suppliers`, `/products`, `/warehouses`; the `{"data", "meta"}` envelope; `field[op]=value`
filters, `sort=field:asc|desc`, `page` and `per_page` (`filters`: more than 100 is refused
with 422); bearer auth (401 otherwise); the server clock in the `Date` header.

By default it serves the shapes Luminous's reference documents:

- `order_status` is one of the documented active, inactive, deleted and completed (the seed
  and `generate` use only these; a test may still write any value);
- timestamps in whole seconds, `2023-11-07T05:31:56Z` (so ties are as common as in a real
  account); a stamp is stored in whole seconds too (`stamp`), unless `subsecond_stamps`;
- money and quantities as JSON numbers (`money_style="numbers"`; "strings" or "mixed" serve
  decimal strings, which the client must read as well);
- `supplier.status` an integer;
- no approval field (the reference's PO shows none), no embedded `warehouse` object (only
  `warehouse_id`; the client reads `GET /warehouses/{id}`).

Variants (constructor keywords, attributes, `POST /__admin/switches`; `reconciler sandbox
luminous --help`): `approval_field` serves approval in that field ("approved",
"pending_approval", null); `id_filter` ("refuse": an `id[...]` filter is answered 422;
"ignore"), `timestamp_filters` ("strict": only the documented `YYYY-MM-DD` and `YYYY-MM-DD
HH:MM:SS` forms, others 422; "dates": `YYYY-MM-DD` only; "date_only": any form, dates
compared alone; "ignore"); `honour_filters`
and `honour_sort` (False ignores them all); `embed_warehouse` and `embed_items`;
`meta_last_page` (a lie: a fixed number, or "endless"), `include_meta=False`.

Choices where the reference is silent (assumed, mirrored by reconciler/documents/po/parse.py):

- lines: embedded as `items`; `embed_items=False` leaves them out (the client then reads
  `GET /purchase-orders/items?purchase_order_id=<id>`).
- tax (the reference shows only the line's `tax` amount and the PO's `total_tax`): a line may
  carry `tax_rate` (a percent, assumed); given without `tax`, the line's tax is computed from it
  (`line_tax`) and the PO's `total_tax` is the sum of its lines' taxes. A product may carry
  `tax_class` (assumed); the reference's `variant_attributes` and `category` {id, name} and a
  PO's `custom_fields` {name: value} (assumed on POs, as on products and invoices) are served
  as stored.
- ties in the sort order are broken by id ascending (a real server may not; the client does
  not rely on it).

Test controls (Python, and over HTTP under `/__admin/` for out-of-process tests): create, edit
and delete POs, set `updated_at` (ties, backdated late commits), a callback after each PO list
page (edits between two page reads), clock skew or a frozen clock, injected faults (status such
as 429 with Retry-After or 5xx, latency, connection resets), a request log, and the switches
above, and one that does not touch a PO's `updated_at` on receiving.

Bills, receiving reports and purchase-order shipments live in their own modules, reached as
`emu.bills` (bills.py, HTTP in bills_http.py), `emu.receiving` (receiving.py) and
`emu.shipments` (shipments.py). PO rows also carry `item_count`, `total_qty_ordered`,
`total_qty_received` and `total_qty_remaining` (computed from the lines unless stored).

This module imports nothing from `reconciler` on purpose: a shared bug would hide on both sides.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from reconciler.sandbox.luminous import bills_http as luminous_bills_http
from reconciler.sandbox.luminous.bills import BillBook
from reconciler.sandbox.luminous.common import (
    ZERO,
    LuminousInvalid,
    as_number,
    by_id,
    cents,
    guarded,
    to_decimal,
)
from reconciler.sandbox.luminous.credits import CreditBook
from reconciler.sandbox.luminous.filters import (
    MAX_PER_PAGE,  # noqa: F401 (the documented maximum, for callers)
    FilterRules,
    filter_sort,
    lookup,
    page,
)
from reconciler.sandbox.luminous.order import parse_timestamp
from reconciler.sandbox.luminous.payments import PaymentDesk
from reconciler.sandbox.luminous.receiving import (
    QUANTITY_TOTALS,
    ReceivingBook,
    po_quantity_totals,
)
from reconciler.sandbox.luminous.seed_billing import seed_billing
from reconciler.sandbox.luminous.shipments import ShipmentBook

API_PREFIX = "/external/api/v1"
ADMIN_PREFIX = "/__admin"
DEFAULT_TOKEN = "lum-test-token"

# The documented order_status values: the PO list's filter names active, inactive and deleted,
# the update example sets completed. The assumed ones are served only when a test writes them.
STATUSES = ("active", "inactive", "deleted", "completed")
ASSUMED_STATUSES = ("closed", "cancelled", "draft")
APPROVALS = ("approved", "pending_approval")
TIMESTAMP_FIELDS = frozenset({"created_at", "updated_at"})
FAST_FIELDS = TIMESTAMP_FIELDS | {"id", "order_status", "approval_status", "supplier_id"}
SUPPLIER_ACTIVE = 1  # supplier.status is an integer in the reference (`"status": 123`)
# Money and quantities a PO, its lines and their products carry: JSON numbers in the reference.
PO_NUMBERS = (
    "order_cost",
    "total_tax",
    "total_shipping_cost",
    "total_cost",
    "total_paid",
    "total_due",
    "down_payment",
)
LINE_NUMBERS = (
    "quantity",
    "unit_price",
    "tax",
    "tax_rate",
    "discount_amount",
    "line_total",
    "received_quantity",
)
SWITCHES = (
    "honour_filters",
    "honour_sort",
    "id_filter",
    "timestamp_filters",
    "approval_field",
    "subsecond_stamps",
    "embed_items",
    "embed_warehouse",
    "meta_last_page",
    "include_meta",
    "money_style",
    "receiving_touches_po",
)


def line_tax(item: dict[str, Any]) -> Decimal:
    """A line's tax from its `tax_rate` (assumed): (quantity x unit price - discount) x rate,
    half up to the cent, on the net (Luminous prices exclude tax, assumed)."""
    net = to_decimal(item.get("quantity")) * to_decimal(item.get("unit_price"))
    net -= to_decimal(item.get("discount_amount"))
    return cents(net * to_decimal(item.get("tax_rate")) / 100)


def format_timestamp(value: datetime) -> str:
    """Render an instant as the reference does: UTC, whole seconds, `Z`
    ("2023-11-07T05:31:56Z"); a stamp stored with a fraction (`subsecond_stamps`) keeps it."""
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


@dataclass
class LuminousFault:
    """One injected misbehaviour for requests whose path matches `path_regex`.

    action "status" answers `status` (with `Retry-After: retry_after` when given), "latency"
    waits `latency` seconds and then answers normally, "reset" closes the connection without
    an answer. `times` is how many requests it hits (None: until cleared). `body` replaces
    the default JSON error body (real services echo request details back in errors).
    """

    path_regex: str = r"/purchase-orders"
    action: str = "status"
    status: int = 503
    retry_after: float | None = None
    latency: float = 0.0
    times: int | None = 1
    method: str | None = None
    body: Any = None

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        return re.search(self.path_regex, path) is not None


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    status: int  # 0 when the connection was reset


class LuminousEmulator:
    """In-memory Luminous with an HTTP face. Thread-safe; use as a context manager."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        latency: float = 0.0,
        honour_filters: bool = True,
        honour_sort: bool = True,
        id_filter: str = "honour",
        timestamp_filters: str = "any",
        approval_field: str | None = None,
        subsecond_stamps: bool = False,
        embed_items: bool = True,
        embed_warehouse: bool = False,
        meta_last_page: int | str | None = None,
        include_meta: bool = True,
        money_style: str = "numbers",
        receiving_touches_po: bool = True,
    ) -> None:
        self.token = token
        self.latency = latency
        self.honour_filters = honour_filters
        self.honour_sort = honour_sort
        self.id_filter = id_filter  # honour | refuse (422) | ignore, `filters.FilterRules`
        self.timestamp_filters = timestamp_filters  # any | strict | dates | date_only | ignore
        self.approval_field = approval_field  # None: POs carry no approval field (documented)
        self.subsecond_stamps = subsecond_stamps  # False: whole seconds, as the reference shows
        self.filter_rules()  # checks the two filter switches
        self.embed_items = embed_items
        self.embed_warehouse = embed_warehouse
        self.meta_last_page = meta_last_page  # None: honest; an int or "endless": a lie
        self.include_meta = include_meta
        self.money_style = money_style  # "mixed", "strings" or "numbers" (luminous_common)
        self.receiving_touches_po = receiving_touches_po
        self.clock_skew = timedelta(0)
        self.request_log: list[LoggedRequest] = []
        self._frozen_now: datetime | None = None
        self._lock = threading.RLock()
        self._suppliers: dict[int, dict[str, Any]] = {}
        self._products: dict[int, dict[str, Any]] = {}
        self._warehouses: dict[int, dict[str, Any]] = {}
        self._pos: dict[int, dict[str, Any]] = {}
        self._next_id = {"supplier": 1, "product": 1, "warehouse": 1, "po": 1, "item": 1}
        self._faults: list[LuminousFault] = []
        self._after_page: list[Callable[[LuminousEmulator, dict[str, str], int], None]] = []
        self._list_pages_served = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.bills = BillBook(self)
        self.receiving = ReceivingBook(self)
        self.shipments = ShipmentBook(self)
        self.payments = PaymentDesk(self)  # bill payments: luminous_payments.py
        self.credits = CreditBook(self)  # vendor credits and returns: luminous_credits.py

    # --- lifecycle -----------------------------------------------------------------------

    def start(self, port: int = 0) -> LuminousEmulator:
        handler = _make_handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="luminous-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LuminousEmulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("emulator not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{ADMIN_PREFIX}"

    # --- clock ---------------------------------------------------------------------------

    def now(self) -> datetime:
        """The server clock: frozen if set, else real UTC now plus `clock_skew`."""
        if self._frozen_now is not None:
            return self._frozen_now
        return datetime.now(UTC) + self.clock_skew

    def set_now(self, value: datetime | None) -> None:
        """Freeze the server clock at `value` (None: run from the real clock again)."""
        self._frozen_now = value.astimezone(UTC) if value is not None else None

    def stamp(self, wanted: datetime | None = None) -> datetime:
        """The `updated_at` a change gets: `wanted` (tests backdate, tie) or the server clock,
        in whole seconds as the reference's stamps are (unless `subsecond_stamps`)."""
        value = wanted.astimezone(UTC) if wanted is not None else self.now()
        return value if self.subsecond_stamps else value.replace(microsecond=0)

    def filter_rules(self) -> FilterRules:
        """How this server takes filters and sort now (`filters.FilterRules`)."""
        return FilterRules(
            honour_filters=self.honour_filters,
            honour_sort=self.honour_sort,
            id_filter=self.id_filter,
            timestamp_filters=self.timestamp_filters,
        )

    # --- reference data ------------------------------------------------------------------

    def _take_id(self, kind: str) -> int:
        value = self._next_id[kind]
        self._next_id[kind] = value + 1
        return value

    def supplier(self, ident: Any) -> dict[str, Any] | None:
        """A supplier by a stored id of any type (for the document books' renderings)."""
        return by_id(self._suppliers, ident)

    def product(self, ident: Any) -> dict[str, Any] | None:
        return by_id(self._products, ident)

    def purchase_order(self, ident: Any) -> dict[str, Any] | None:
        return by_id(self._pos, ident)

    def add_supplier(self, name: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            sid = fields.pop("id", None) or self._take_id("supplier")
            record = {
                "id": sid,
                "status": SUPPLIER_ACTIVE,
                "name": name,
                "description": None,
                "street_address": None,
                "city": None,
                "state": None,
                "zip": None,
                "country": None,
                "contact_name": None,
                "contact_email": None,
                "contact_phone": None,
                **fields,
            }
            self._suppliers[sid] = record
            return dict(record)

    def add_product(self, name: str, sku: str | None = None, **fields: Any) -> dict[str, Any]:
        with self._lock:
            pid = fields.pop("id", None) or self._take_id("product")
            record = {
                "id": pid,
                "name": name,
                "description": None,
                "sku": sku,
                "upc": None,
                "unit_cost": None,
                **fields,
            }
            self._products[pid] = record
            return dict(record)

    def add_warehouse(self, name: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            wid = fields.pop("id", None) or self._take_id("warehouse")
            record = {
                "id": wid,
                "name": name,
                "status": "active",
                "street_address": None,
                "city": None,
                "state": None,
                "zip": None,
                "country": None,
                **fields,
            }
            self._warehouses[wid] = record
            return dict(record)

    # --- purchase orders -----------------------------------------------------------------

    def create_po(self, fields: dict[str, Any], updated_at: datetime | None = None) -> dict:
        """Store a PO and return its API JSON. Keys in `fields` win over generated ones, so a
        test can write a malformed record (e.g. `"supplier": None`, `"order_status": "x"`)."""
        with self._lock:
            record = self._new_po_record(fields)
            stamp = self.stamp(updated_at)
            record.setdefault("created_at", stamp)
            record["updated_at"] = stamp
            self._pos[record["id"]] = record
            return self._render_po(record)

    def _new_po_record(self, fields: dict[str, Any]) -> dict[str, Any]:
        fields = dict(fields)
        po_id = fields.pop("id", None) or self._take_id("po")
        self._next_id["po"] = max(self._next_id["po"], po_id + 1)
        items = [self._new_item(po_id, item) for item in fields.pop("items", [])]
        record: dict[str, Any] = {
            "id": po_id,
            "order_numbers": [f"PO-{po_id:05d}"],
            "order_status": "active",
            "order_type": 1,
            "order_date": None,
            "invoice_date": None,
            "arrival_due_date": None,
            "requested_ship_date": None,
            "incoterm": None,
            "tracking_info": None,
            "payment_terms": None,
            "supplier_id": None,
            "warehouse_id": None,
            "order_cost": None,
            "total_tax": "0.00",
            "total_shipping_cost": "0.00",
            "total_cost": None,
            "total_paid": "0.00",
            "total_due": None,
            "down_payment": "0.00",
            "public_note": None,
            "private_note": None,
            "items": items,
        }
        if self.approval_field:  # a variant: the reference's PO has no approval field
            record[self.approval_field] = None
        if "total_tax" not in fields and any(i.get("tax_rate") is not None for i in items):
            record["total_tax"] = str(sum((to_decimal(i["tax"]) for i in items), ZERO))
        for key, value in fields.items():
            if key in TIMESTAMP_FIELDS and isinstance(value, datetime):
                value = value.astimezone(UTC)
            record[key] = value
        return record

    def _new_item(self, po_id: int, item: dict[str, Any]) -> dict[str, Any]:
        item = dict(item)
        row = {
            "id": item.pop("id", None) or self._take_id("item"),
            "purchase_order_id": po_id,
            "quantity": "1",
            "unit_price": "0.00",
            "unit": "each",
            "tax": "0.00",
            "discount_amount": "0.00",
            "line_total": None,
            "received_quantity": "0",
            "source_sku": None,
            **item,
        }
        if item.get("tax_rate") is not None and "tax" not in item:
            row["tax"] = str(line_tax(row))
        return row

    def edit_po(self, po_id: int, changes: dict[str, Any], updated_at: datetime | None = None):
        """Apply `changes` and bump `updated_at` to the server clock (or to `updated_at`)."""
        with self._lock:
            record = self._pos[po_id]
            changes = dict(changes)
            if "items" in changes:
                record["items"] = [self._new_item(po_id, i) for i in changes.pop("items")]
                if "total_tax" not in changes and any(
                    i.get("tax_rate") is not None for i in record["items"]
                ):
                    record["total_tax"] = str(
                        sum((to_decimal(i["tax"]) for i in record["items"]), ZERO)
                    )
            record.update(changes)
            record["updated_at"] = self.stamp(updated_at)
            return self._render_po(record)

    def set_raw(self, po_id: int, **fields: Any) -> None:
        """Store values exactly as given, for hostile-data tests: an `updated_at` that is not a
        timestamp, an id of 2**63, a float infinity (served as JSON `Infinity`)."""
        with self._lock:
            self._pos[po_id].update(fields)

    def drop_fields(self, po_id: int, *names: str) -> None:
        """Leave keys out of a PO as served (a record with `updated_at` or `id` missing)."""
        with self._lock:
            for name in names:
                self._pos[po_id].pop(name, None)

    def set_updated_at(self, po_id: int, value: datetime) -> None:
        """Change only the stamp: ties, backdated late commits."""
        with self._lock:
            self._pos[po_id]["updated_at"] = self.stamp(value)

    def delete_po(self, po_id: int) -> None:
        with self._lock:
            self._pos.pop(po_id, None)

    def get_po(self, po_id: int) -> dict[str, Any] | None:
        with self._lock:
            record = self._pos.get(po_id)
            return None if record is None else self._render_po(record)

    def clear_pos(self) -> None:
        """Forget every PO (suppliers, products and warehouses stay)."""
        with self._lock:
            self._pos.clear()

    def po_ids(self) -> list[int]:
        with self._lock:
            return sorted(self._pos)

    # --- faults, hooks, log --------------------------------------------------------------

    def add_fault(self, fault: LuminousFault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def after_page(
        self, callback: Callable[[LuminousEmulator, dict[str, str], int], None] | None
    ) -> None:
        """Run `callback(emu, query, n)` once a PO list page is computed and before its bytes
        go out, so its edits are exactly "between two page reads". `n` counts PO list pages
        served so far, this one included (with key paging, `page` is usually 1). None clears."""
        with self._lock:
            if callback is None:
                self._after_page.clear()
            else:
                self._after_page.append(callback)

    def count(self, path_contains: str | None = None, status: int | None = None) -> int:
        with self._lock:
            return sum(
                1
                for r in self.request_log
                if (path_contains is None or path_contains in r.path)
                and (status is None or r.status == status)
            )

    def _log(self, method: str, path: str, query: list[tuple[str, str]], status: int) -> None:
        with self._lock:
            self.request_log.append(LoggedRequest(method, path, tuple(query), status))

    def _take_fault(self, method: str, path: str) -> LuminousFault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    # --- seed data -----------------------------------------------------------------------

    def seed_default(self) -> LuminousEmulator:
        """A small, deliberately hostile data set: every documented status, tricky names,
        products with and without SKUs; approvals in `approval_field` when it is set."""
        with self._lock:
            nutricost = self.add_supplier(
                "Nutricost",
                street_address="1250 S Industrial Way",
                city="Vineyard",
                state="UT",
                zip="84059",
                country="US",
                contact_name="Dana Reyes",
                contact_email="orders@nutricost.example",
                contact_phone="+1 801 555 0100",
            )
            obrien = self.add_supplier(
                "O'Brien & Sons", city="Boston", state="MA", zip="02110", country="US"
            )
            colon = self.add_supplier("Acme: West Division", country="US")
            unicode_ = self.add_supplier("Café Ñandú Größe 株式会社", country="DE")
            whey = self.add_product("Whey Protein 5lb", "NC-WHEY-5", unit_cost="42.50")
            creatine = self.add_product("Creatine 500g", "NC-CRE-500", unit_cost=18.25)
            scoop = self.add_product("Measuring Scoop", None, description="no SKU in Luminous")
            label = self.add_product('Label "Premium" 2x3', None)
            main = self.add_warehouse(
                "Main Warehouse",
                street_address="100 Dock Rd",
                city="Salt Lake City",
                state="UT",
                zip="84101",
                country="US",
            )
            east = self.add_warehouse(
                "East 3PL", street_address="9 Harbor St", city="Newark", state="NJ", zip="07105"
            )
            base = self.now().replace(microsecond=0) - timedelta(days=3)
            made = []
            plans = [
                (nutricost, main, "active", "approved", [(whey, "10", "42.50"), (scoop, 10, 0)]),
                (nutricost, main, "active", "pending_approval", [(creatine, "24", 18.25)]),
                (nutricost, east, "completed", "approved", [(whey, 5, "41.99")]),
                (obrien, main, "inactive", "approved", [(label, "1000", "0.035")]),
                (obrien, east, "deleted", "approved", [(scoop, 50, "0.40")]),
                (colon, main, "inactive", "pending_approval", [(creatine, 1, "18.25")]),
                (colon, main, "active", "approved", [(whey, "2", "40"), (creatine, "3", "17.5")]),
                (unicode_, east, "active", "approved", [(label, 500, "0.04")]),
                (unicode_, main, "completed", "approved", [(scoop, 7, "0.39")]),
                (nutricost, main, "active", "pending_approval", [(whey, 1, "42.50")]),
                (obrien, main, "active", "approved", []),
                (nutricost, None, "active", "approved", [(creatine, "12.5", "18.2500")]),
            ]
            for n, (supplier, warehouse, status, approval, lines) in enumerate(plans):
                stamp = base + timedelta(hours=n)
                approved = {self.approval_field: approval} if self.approval_field else {}
                po = self.create_po(
                    {
                        **approved,
                        "order_status": status,
                        "supplier_id": supplier["id"],
                        "warehouse_id": warehouse["id"] if warehouse else None,
                        "order_date": (stamp.date()).isoformat(),
                        "arrival_due_date": (stamp.date() + timedelta(days=14)).isoformat(),
                        "total_shipping_cost": "25.00" if n % 3 == 0 else 0,
                        "public_note": "Deliver to dock 2" if n % 2 == 0 else None,
                        "private_note": "internal: check pricing; ümlaut & <tag>"
                        if n == 1
                        else None,
                        "items": [
                            {"product_id": p["id"], "quantity": q, "unit_price": u}
                            for p, q, u in lines
                        ],
                    },
                    updated_at=stamp,
                )
                made.append(self._pos[po["id"]])
            seed_billing(self, made, base)
        return self

    def generate(
        self,
        n_pos: int,
        n_suppliers: int = 50,
        n_products: int = 300,
        seed: int = 0,
        max_lines: int = 5,
        open_only: bool = False,
        bill_share: float = 0.0,
    ) -> LuminousEmulator:
        """Bulk load for benchmarks and backlog tests; deterministic for a given seed.
        `open_only`: every PO active (and approved, with an `approval_field`): all of them go to
        QBO. `bill_share`: that fraction of the POs is also received in full and billed in
        full (a posted bill)."""
        rng = random.Random(seed)
        billing_rng = random.Random(seed + 1)  # its own stream: POs stay the same with or without
        with self._lock:
            suppliers = [self.add_supplier(f"Supplier {i:03d}") for i in range(n_suppliers)]
            products = [
                self.add_product(f"Product {i:04d}", f"SKU-{i:04d}" if i % 5 else None)
                for i in range(n_products)
            ]
            warehouse = self.add_warehouse("Bulk Warehouse", city="Ogden", state="UT")
            start = self.now().replace(microsecond=0) - timedelta(days=30)
            span = 29 * 24 * 3600
            for _ in range(n_pos):
                items = [
                    {
                        "product_id": rng.choice(products)["id"],
                        "quantity": str(rng.randint(1, 500)),
                        "unit_price": f"{rng.randint(1, 99999) / 100:.2f}",
                    }
                    for _ in range(rng.randint(1, max_lines))
                ]
                stamp = start + timedelta(seconds=rng.randrange(span))
                approval = "approved" if open_only else rng.choice(APPROVALS)
                approved = {self.approval_field: approval} if self.approval_field else {}
                po = self.create_po(
                    {
                        **approved,
                        "order_status": "active" if open_only else rng.choice(STATUSES),
                        "supplier_id": rng.choice(suppliers)["id"],
                        "warehouse_id": warehouse["id"],
                        "order_date": stamp.date().isoformat(),
                        "items": items,
                    },
                    updated_at=stamp,
                )
                if bill_share and billing_rng.random() < bill_share:
                    self._receive_and_bill(self._pos[po["id"]], stamp + timedelta(hours=1))
        return self

    def _receive_and_bill(self, record: dict[str, Any], stamp: datetime) -> None:
        """A generated PO received in full and billed in full, posted, at `stamp`."""
        po_id = record["id"]
        lines = [
            {
                "purchase_order_id": po_id,
                "purchase_order_item_id": i["id"],
                "quantity": i["quantity"],
            }
            for i in record["items"]
        ]
        received = [{**line, "received_quantity": line["quantity"]} for line in lines]
        self.receiving.create({"purchase_order_id": record["id"], "items": received}, stamp)
        self.bills.create({"status": "posted", "items": lines}, stamp)

    # --- rendering -----------------------------------------------------------------------

    def _render_po(self, record: dict[str, Any], *, embed_items: bool | None = None) -> dict:
        """A stored PO as the API shows it; values stored raw (`set_raw`) are served as they
        are, whatever their type (a server does not fall over on the data it holds)."""
        out = {k: v for k, v in record.items() if k != "items"}
        if "supplier" not in record:
            supplier = by_id(self._suppliers, record.get("supplier_id"))
            out["supplier"] = dict(supplier) if supplier else None
        if "warehouse" not in record and self.embed_warehouse:
            warehouse = by_id(self._warehouses, record.get("warehouse_id"))
            out["warehouse"] = dict(warehouse) if warehouse else None
        items = record.get("items") or []
        lines = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
        try:
            totals = po_quantity_totals(lines)
        except ArithmeticError:  # raw quantities such as Infinity: no totals to show
            totals = {}
        for key, value in totals.items():
            out.setdefault(key, value)
        if self.money_style == "numbers":  # as the reference shows: JSON numbers
            numbers = (*PO_NUMBERS, *QUANTITY_TOTALS)
            out.update({k: as_number(out[k]) for k in numbers if k in out})
        if self.embed_items if embed_items is None else embed_items:
            out["items"] = (
                [self._render_item(i) for i in items] if isinstance(items, list) else items
            )
        return out

    def _render_item(self, item: Any) -> Any:
        if not isinstance(item, dict):
            return item  # stored raw
        out = {k: v for k, v in item.items() if k != "product_id"}
        if "product" not in item:
            product = by_id(self._products, item.get("product_id"))
            out["product"] = dict(product) if product else None
            out["product_id"] = item.get("product_id")
        if self.money_style == "numbers":  # as the reference shows: JSON numbers
            out.update({k: as_number(out[k]) for k in LINE_NUMBERS if k in out})
            if isinstance(out.get("product"), dict) and "unit_cost" in out["product"]:
                product = out["product"] = dict(out["product"])
                product["unit_cost"] = as_number(product["unit_cost"])
        if out.get("source_sku") is None and isinstance(out.get("product"), dict):
            out["source_sku"] = out["product"].get("sku")
        return out

    # --- request handling (called from the handler threads) ------------------------------

    def handle_api(
        self, method: str, path: str, query: list[tuple[str, str]], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        """Route one authenticated API request; returns (status, headers, JSON body). A filter
        or `per_page` the server does not take is answered 422, as validation errors are."""
        try:
            return self._route(method, path, query, body)
        except LuminousInvalid as exc:
            return 422, {}, {"message": "The given data was invalid.", "errors": exc.errors}

    def _route(
        self, method: str, path: str, query: list[tuple[str, str]], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        parts = [p for p in path.split("/") if p]
        params = dict(query)
        with self._lock:
            answer = self._route_books(method, parts, query, body)
            if answer is not None:
                return answer[0], {}, answer[1]
            if parts == ["purchase-orders"]:
                if method == "GET":
                    return self._list_pos(query, params)
                if method == "POST":
                    return self._http_create(body)
            elif parts == ["purchase-orders", "items"] and method == "GET":
                return self._list_items(query, params)
            elif len(parts) == 2 and parts[0] == "purchase-orders" and parts[1].isdigit():
                po_id = int(parts[1])
                if po_id not in self._pos:
                    return 404, {}, {"message": "Purchase order not found."}
                if method == "GET":
                    return 200, {}, {"data": self._render_po(self._pos[po_id])}
                if method == "PUT":
                    return 200, {}, {"data": self.edit_po(po_id, body or {})}
                if method == "DELETE":
                    self.delete_po(po_id)
                    return 200, {}, {"message": "Purchase order deleted."}
            elif parts and parts[0] in ("suppliers", "products", "warehouses") and method == "GET":
                table = {
                    "suppliers": self._suppliers,
                    "products": self._products,
                    "warehouses": self._warehouses,
                }[parts[0]]
                if len(parts) == 1:
                    rows = [dict(r) for r in table.values()]
                    return 200, {}, self.list_envelope(rows, query)
                if len(parts) == 2 and parts[1].isdigit() and int(parts[1]) in table:
                    return 200, {}, {"data": dict(table[int(parts[1])])}
                return 404, {}, {"message": "Not found."}
        return 404, {}, {"message": f"No route for {method} {path}."}

    def _route_books(
        self, method: str, parts: list[str], query: list[tuple[str, str]], body: Any
    ) -> tuple[int, Any] | None:
        """Bills, receiving reports and shipments answer their own paths (None: not theirs)."""
        routes = (
            lambda: self.payments.route(method, parts, query, body),
            lambda: self.credits.route(method, parts, query, body),
            lambda: luminous_bills_http.route(self.bills, method, parts, query, body),
            lambda: self.receiving.route(method, parts, query, body),
            lambda: self.shipments.route(method, parts, query),
        )
        for attempt in routes:
            answer = guarded(attempt)
            if answer is not None:
                return answer
        return None

    def list_envelope(self, rows: list[dict[str, Any]], query: list[tuple[str, str]]) -> dict:
        """Filter, sort and page rendered rows the way every list endpoint does."""
        params = dict(query)
        return self._envelope(filter_sort(rows, query, params, lookup, self.filter_rules()), params)

    def _envelope(self, rows: list[dict[str, Any]], params: dict[str, str]) -> dict[str, Any]:
        """One page in {data, meta}, with `meta` lied about or left out when a switch says so."""
        envelope = page(rows, params)
        meta = envelope["meta"]
        if self.meta_last_page == "endless":
            meta["last_page"] = meta["current_page"] + 1
        elif self.meta_last_page is not None:
            meta["last_page"] = int(self.meta_last_page)
        if not self.include_meta:
            del envelope["meta"]
        return envelope

    def _http_create(self, body: Any) -> tuple[int, dict[str, str], Any]:
        if not isinstance(body, dict) or not body.get("supplier_id"):
            return 422, {}, {"message": "Invalid data.", "errors": {"supplier_id": ["required"]}}
        if body["supplier_id"] not in self._suppliers:
            return 422, {}, {"message": "Invalid data.", "errors": {"supplier_id": ["unknown"]}}
        return 201, {}, {"data": self.create_po(body)}

    def _list_pos(
        self, query: list[tuple[str, str]], params: dict[str, str]
    ) -> tuple[int, dict[str, str], Any]:
        rows = filter_sort(
            list(self._pos.values()), query, params, self._po_lookup, self.filter_rules()
        )
        envelope = self._envelope(rows, params)
        envelope["data"] = [self._render_po(r) for r in envelope["data"]]
        self._list_pages_served += 1
        for callback in list(self._after_page):
            callback(self, params, self._list_pages_served)
        return 200, {}, envelope

    def _po_lookup(self, record: dict[str, Any], dotted: str) -> Any:
        """A field of a stored PO as the API shows it, rendering embeds only when asked."""
        if dotted in FAST_FIELDS:
            return record.get(dotted)
        head, _, rest = dotted.partition(".")
        if not rest:
            if (head in ("supplier", "warehouse", "items") or head in QUANTITY_TOTALS) and (
                head not in record
            ):
                return self._render_po(record, embed_items=True).get(head)
            return record.get(head)
        return lookup(self._render_po(record, embed_items=True), dotted)

    def _list_items(
        self, query: list[tuple[str, str]], params: dict[str, str]
    ) -> tuple[int, dict[str, str], Any]:
        wanted = params.get("purchase_order_id")
        records = self._pos.values()
        if wanted is not None:
            records = [r for r in records if str(r.get("id")) == wanted]
        rows = []
        for record in records:
            items = record.get("items") or []
            for item in items if isinstance(items, list) else []:
                rendered = self._render_item(item)
                if isinstance(rendered, dict):
                    rendered.setdefault("purchase_order_id", record.get("id"))
                    rows.append(rendered)
        return 200, {}, self.list_envelope(rows, query)

    # --- admin (out-of-process control) --------------------------------------------------

    def handle_admin(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        body = body or {}
        stamp = parse_timestamp(body["updated_at"]) if body.get("updated_at") else None
        if parts == ["purchase-orders"] and method == "POST":
            return 201, {"data": self.create_po(body.get("fields", {}), stamp)}
        if len(parts) == 2 and parts[0] == "purchase-orders" and parts[1].isdigit():
            po_id = int(parts[1])
            if method == "DELETE":
                self.delete_po(po_id)
                return 200, {"deleted": po_id}
            if po_id not in self._pos:
                return 404, {"message": "no such PO"}
            if method in ("PATCH", "PUT"):
                return 200, {"data": self.edit_po(po_id, body.get("changes", {}), stamp)}
            if method == "GET":
                return 200, {"data": self.get_po(po_id)}
        if parts == ["faults"]:
            if method == "POST":
                self.add_fault(LuminousFault(**body))
                return 201, {"faults": len(self._faults)}
            if method == "DELETE":
                self.clear_faults()
                return 200, {"faults": 0}
        if parts == ["clock"] and method == "POST":
            if "skew_seconds" in body:
                self.clock_skew = timedelta(seconds=float(body["skew_seconds"]))
            if "now" in body:
                self.set_now(parse_timestamp(body["now"]) if body["now"] else None)
            return 200, {"now": format_timestamp(self.now())}
        if parts == ["requests"] and method == "GET":
            return 200, {"requests": [r.__dict__ for r in self.request_log]}
        if parts == ["seed"] and method == "POST":
            if body.get("generate"):
                share = float(body.get("bill_share", 0))
                self.generate(
                    int(body["generate"]), seed=int(body.get("seed", 0)), bill_share=share
                )
            else:
                self.seed_default()
            return 200, self._counts()
        if parts == ["switches"] and method in ("GET", "POST"):
            for name in SWITCHES:
                if name in body:
                    setattr(self, name, body[name])
            return 200, {name: getattr(self, name) for name in SWITCHES}
        answer = guarded(lambda: self._admin_books(method, parts, body, stamp))
        if answer is not None:
            return answer
        return 404, {"message": f"no admin route for {method} {path}"}

    def _admin_books(
        self, method: str, parts: list[str], body: dict[str, Any], stamp: datetime | None
    ) -> tuple[int, Any] | None:
        if parts[:1] == ["vendor-credits"]:
            return self.credits.admin(method, parts, body, stamp)
        if parts[:1] == ["bills"] and parts[2:3] == ["payments"]:
            return self.payments.admin(method, parts, body, stamp)
        if parts[:1] == ["bills"]:
            return luminous_bills_http.admin(self.bills, method, parts, body, stamp)
        if parts[:1] == ["receiving-reports"]:
            return self.receiving.admin(method, parts, body, stamp)
        if parts[:1] == ["purchase-order-shipments"]:
            return self.shipments.admin(method, parts, body, stamp)
        return None

    def _counts(self) -> dict[str, int]:
        with self._lock:
            return {
                "pos": len(self._pos),
                "bills": len(self.bills.records),
                "receiving_reports": len(self.receiving.records),
                "shipments": len(self.shipments.records),
                "vendor_credits": len(self.credits.records),
            }


# --- filters, sort, paging ---------------------------------------------------------------


# --- HTTP plumbing -----------------------------------------------------------------------


def _make_handler(emu: LuminousEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "LuminousEmulator/1.0"
        # No Nagle (as the QBO emulator): the body, written after the headers, goes out at
        # once instead of waiting ~40 ms on the client's delayed ACK of the headers.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the request log is kept in memory instead."""

        def date_time_string(self, timestamp: float | None = None) -> str:
            return format_datetime(emu.now().astimezone(UTC), usegmt=True)

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_PUT(self) -> None:
            self._dispatch("PUT")

        def do_PATCH(self) -> None:
            self._dispatch("PATCH")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

        def _dispatch(self, method: str) -> None:
            url = urlsplit(self.path)
            query = parse_qsl(url.query, keep_blank_values=True)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw, parse_float=Decimal) if raw else None
            except ValueError:
                self._send(400, {}, {"message": "Malformed JSON body."})
                return
            if url.path.startswith(ADMIN_PREFIX):
                status, payload = emu.handle_admin(method, url.path[len(ADMIN_PREFIX) :], body)
                self._send(status, {}, payload)
                return
            if not url.path.startswith(API_PREFIX):
                self._send(404, {}, {"message": "Not found."})
                return
            path = url.path[len(API_PREFIX) :] or "/"
            if emu.latency:
                time.sleep(emu.latency)
            fault = emu._take_fault(method, path)
            if fault is not None and fault.action == "latency":
                time.sleep(fault.latency)
                fault = None
            if fault is not None and fault.action == "reset":
                emu._log(method, path, query, 0)
                self.close_connection = True
                return
            if fault is not None:
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = f"{fault.retry_after:g}"
                emu._log(method, path, query, fault.status)
                body = (
                    fault.body
                    if fault.body is not None
                    else {"message": f"Injected {fault.status}."}
                )
                self._send(fault.status, headers, body)
                return
            if self.headers.get("Authorization") != f"Bearer {emu.token}":
                emu._log(method, path, query, 401)
                self._send(401, {}, {"message": "Unauthenticated."})
                return
            status, headers, payload = emu.handle_api(method, path, query, body)
            emu._log(method, path, query, status)
            self._send(status, headers, payload)

        def _send(self, status: int, headers: dict[str, str], payload: Any) -> None:
            data = json.dumps(payload, default=_json_default).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


def serve(argv: list[str] | None = None) -> int:
    """`reconciler sandbox luminous [--port N]`: serve seeded data until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="reconciler sandbox luminous")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--generate", type=int, default=0, help="also bulk-load N POs")
    parser.add_argument("--max-lines", type=int, default=5, help="lines per generated PO, at most")
    parser.add_argument("--suppliers", type=int, default=50, help="suppliers for --generate")
    parser.add_argument("--products", type=int, default=300, help="products for --generate")
    parser.add_argument("--seed", type=int, default=0, help="random seed for --generate")
    parser.add_argument(
        "--open-only", action="store_true", help="generated POs are all active and approved"
    )
    parser.add_argument(
        "--bill-share", type=float, default=0.0, help="share of generated POs received and billed"
    )
    parser.add_argument("--no-sample-data", action="store_true", help="skip the default sample POs")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument(
        "--approval-field",
        default=None,
        help="serve approval in this PO field (the reference shows none), e.g. approval_status",
    )
    parser.add_argument(
        "--strict-filters",
        action="store_true",
        help="answer 422 to an id[...] filter and to timestamps not in a documented form",
    )
    parser.add_argument(
        "--date-only-filters", action="store_true", help="compare timestamp filters by date alone"
    )
    args = parser.parse_args(argv)
    stop = threading.Event()
    emu = LuminousEmulator(
        token=args.token,
        latency=args.latency,
        approval_field=args.approval_field,
        id_filter="refuse" if args.strict_filters else "honour",
        timestamp_filters=(
            "date_only" if args.date_only_filters else "strict" if args.strict_filters else "any"
        ),
    )
    if not args.no_sample_data:
        emu.seed_default()
    if args.generate:
        emu.generate(
            args.generate,
            n_suppliers=args.suppliers,
            n_products=args.products,
            seed=args.seed,
            max_lines=args.max_lines,
            open_only=args.open_only,
            bill_share=args.bill_share,
        )
    emu.start(port=args.port)
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    print(f"Luminous emulator: {emu.base_url}", flush=True)  # noqa: T201
    print(f"API token: {emu.token}", flush=True)  # noqa: T201
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emu.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    raise SystemExit(serve())
