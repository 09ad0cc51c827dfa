"""Receiving reports in the Luminous emulator: what arrived, per PO line.

Served: `GET /receiving-reports` (filters, sort, paging like POs), `GET /receiving-reports/{id}`,
`GET /receiving-reports/{id}/billable-lines`, `POST /receiving-reports` (the official CLI's
receiving_reports.py: list, get, create, billable-lines).

Fields, from the reference's single-report page: `id`, `status`, `received_date` (a timestamp),
`tracking_number`, `received_by`, `received_at`, `shipped_via`, `total_quantity`, `total_tax`,
`total_cost`, `shipping_cost`, `purchase_orders` [PO without items], `items` [{id,
receiving_report_id, purchase_order_id, purchase_order_item_id, purchase_order_shipment_id,
quantity, unit, unit_price, tax, discount_amount, discount_percent, line_total, remarks,
stock_id, received_quantity}], `created_at`, `updated_at`; plus `purchase_order_id`, a column
the CLI shows.

Assumed: status vocabulary draft, in_progress, completed; only completed reports count as
received; an item's `quantity` is what was expected and `received_quantity` what arrived.
Completing, editing or deleting a completed report moves the PO lines' `received_quantity` by
the difference (so a value set by a test stays the base) and, while the emulator's
`receiving_touches_po` is on (default), bumps the PO's `updated_at` to the report's stamp if that
is later. The PO's `order_status` is not changed by receiving.

Test controls (`emu.receiving`): create, edit, complete, delete, set_updated_at, get; over
HTTP under `/__admin/receiving-reports` (see `admin`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.luminous.billable import receipt_rows
from reconciler.sandbox.luminous.common import (
    ZERO,
    DocumentBook,
    LuminousConflict,
    LuminousInvalid,
    cents,
    find_po_line,
    id_order,
    parse_id,
    quantity_text,
    render_money,
    to_decimal,
)

if TYPE_CHECKING:
    pass

RECEIPT_STATUSES = ("draft", "in_progress", "completed")
COUNTED = "completed"


class ReceivingBook(DocumentBook):
    """The emulator's receiving reports; every method runs under the emulator's lock."""

    noun = "Receiving report"

    # --- controls ------------------------------------------------------------------------

    def create(
        self, fields: dict[str, Any], updated_at: datetime | None = None, check_refs: bool = True
    ) -> dict[str, Any]:
        """Store a report (status "completed" unless `fields` says otherwise) and receive it.
        Items: {purchase_order_item_id, received_quantity (or quantity), purchase_order_shipment_id,
        unit_price, ...}; missing values come from the PO line."""
        with self.emu._lock:
            fields = dict(fields)
            stamp = self.emu.stamp(updated_at)
            rid = self._ids.take("report", fields.pop("id", None))
            po_id = fields.get("purchase_order_id")
            raw_items = fields.pop("items", [])
            record = {
                "id": rid,
                "purchase_order_id": po_id,
                "status": COUNTED,
                "received_date": stamp,
                "tracking_number": None,
                "received_by": None,
                "received_at": stamp,
                "shipped_via": None,
                "shipping_cost": "0.00",
                "created_at": stamp,
                **fields,
                "updated_at": stamp,
            }
            record["items"] = [self._new_item(record, i, stamp, check_refs) for i in raw_items]
            self._check_status(record)
            self.records[rid] = record
            self._receive({}, self._counted(record), stamp)
            return self.render(record)

    def _new_item(
        self, report: dict[str, Any], item: dict[str, Any], stamp: datetime, check_refs: bool
    ) -> dict[str, Any]:
        item = dict(item)
        po_id = item.pop("purchase_order_id", report.get("purchase_order_id"))
        line_id = item.get("purchase_order_item_id")
        line = find_po_line(self.emu._pos, po_id, line_id) if check_refs else {}
        arrived = item.get("received_quantity", item.get("quantity", "1"))
        return {
            "id": self._ids.take("report_item", item.pop("id", None)),
            "receiving_report_id": report["id"],
            "purchase_order_id": po_id,
            "purchase_order_item_id": line_id,
            "purchase_order_shipment_id": None,
            "quantity": arrived,
            "received_quantity": arrived,
            "unit": line.get("unit", "each"),
            "unit_price": line.get("unit_price", "0.00"),
            "tax": "0.00",
            "discount_amount": "0.00",
            "discount_percent": "0",
            "line_total": None,
            "remarks": None,
            "stock_id": None,
            "created_at": stamp,
            **item,
            "updated_at": stamp,
        }

    def edit(
        self, report_id: int, changes: dict[str, Any], updated_at: datetime | None = None
    ) -> dict[str, Any]:
        """Apply `changes` (new `items` replace the old ones) and re-receive the difference."""
        with self.emu._lock:
            record = self._record(report_id)
            before = self._counted(record)
            stamp = self.emu.stamp(updated_at)
            changes = dict(changes)
            self._check_status({**record, **changes})
            if "items" in changes:
                items = changes.pop("items")
                record["items"] = [self._new_item(record, i, stamp, True) for i in items]
            record.update(changes)
            record["updated_at"] = stamp
            self._receive(before, self._counted(record), stamp)
            return self.render(record)

    def complete(self, report_id: int, updated_at: datetime | None = None) -> dict[str, Any]:
        """Draft or in-progress -> completed: the goods count as received from now on."""
        with self.emu._lock:
            if self._record(report_id).get("status") == COUNTED:
                raise LuminousConflict(f"Receiving report {report_id} is already completed.")
            return self.edit(report_id, {"status": COUNTED}, updated_at)

    def delete(self, report_id: int, updated_at: datetime | None = None) -> None:
        """Forget a report; what it received is taken off the PO lines again."""
        with self.emu._lock:
            record = self.records.pop(report_id, None)
            if record is not None:
                self._receive(self._counted(record), {}, self.emu.stamp(updated_at))

    def set_updated_at(self, report_id: int, value: datetime) -> None:
        """Change only the report's stamp (ties, backdated late commits); the PO is untouched."""
        with self.emu._lock:
            self._record(report_id)["updated_at"] = value.astimezone(UTC)

    @staticmethod
    def _check_status(record: dict[str, Any]) -> None:
        if record.get("status") not in RECEIPT_STATUSES:
            raise LuminousInvalid("status", f"one of {', '.join(RECEIPT_STATUSES)}")

    # --- receiving into PO lines ---------------------------------------------------------

    @staticmethod
    def _counted(record: dict[str, Any]) -> dict[tuple[Any, Any], Decimal]:
        """(PO id, PO line id) -> quantity this report contributes as received."""
        totals: dict[tuple[Any, Any], Decimal] = defaultdict(Decimal)
        if record.get("status") == COUNTED:
            for item in record.get("items") or []:
                key = (item.get("purchase_order_id"), item.get("purchase_order_item_id"))
                totals[key] += to_decimal(item.get("received_quantity"))
        return totals

    def _receive(
        self,
        before: dict[tuple[Any, Any], Decimal],
        after: dict[tuple[Any, Any], Decimal],
        stamp: datetime,
    ) -> None:
        """Move PO lines' received_quantity by after - before; touch the POs that changed."""
        for po_id, line_id in set(before) | set(after):
            delta = after.get((po_id, line_id), ZERO) - before.get((po_id, line_id), ZERO)
            po = self.emu._pos.get(po_id)
            line = next((i for i in (po or {}).get("items") or [] if i["id"] == line_id), None)
            if not delta or po is None or line is None:
                continue
            line["received_quantity"] = quantity_text(
                to_decimal(line.get("received_quantity")) + delta
            )
            if self.emu.receiving_touches_po and stamp > po.get("updated_at", stamp):
                po["updated_at"] = stamp

    # --- rendering -----------------------------------------------------------------------

    def render(self, record: dict[str, Any]) -> dict[str, Any]:
        style, rid = self.emu.money_style, record["id"]
        items = [self._render_item(i, style, rid) for i in record.get("items") or []]
        out = dict(record)
        out["items"] = items
        po_ids = {i["purchase_order_id"] for i in items} | {record["purchase_order_id"]}
        out["purchase_orders"] = [
            self.emu._render_po(self.emu._pos[p], embed_items=False)
            for p in sorted(po_ids - {None}, key=id_order)
            if p in self.emu._pos
        ]
        arrived = sum((to_decimal(i["received_quantity"]) for i in items), ZERO)
        out.setdefault("total_quantity", quantity_text(arrived))
        out.setdefault("total_tax", render_money(_sum(items, "tax"), style, rid))
        out.setdefault("total_cost", render_money(_sum(items, "line_total"), style, rid))
        return out

    @staticmethod
    def _render_item(item: dict[str, Any], style: str, rid: int) -> dict[str, Any]:
        out = dict(item)
        if out.get("line_total") is None:
            gross = to_decimal(item.get("received_quantity")) * to_decimal(item.get("unit_price"))
            net = gross - to_decimal(item.get("discount_amount")) + to_decimal(item.get("tax"))
            out["line_total"] = render_money(cents(net), style, rid)
        return out

    # --- HTTP ----------------------------------------------------------------------------

    def route(self, method: str, parts: list[str], query: list[tuple[str, str]], body: Any):
        """Answer a receiving-report request, or None when the path is not one of ours."""
        if parts[:1] != ["receiving-reports"]:
            return None
        if len(parts) == 1 and method == "GET":
            rows = [self.render(r) for r in self.records.values()]
            return 200, self.emu.list_envelope(rows, query)
        if len(parts) == 1 and method == "POST":
            if not isinstance(body, dict) or body.get("purchase_order_id") is None:
                raise LuminousInvalid("purchase_order_id", "required")
            return 201, {"data": self.create(body)}
        rid = parse_id(parts[1]) if len(parts) in (2, 3) else None
        if rid is None or method != "GET":
            return None
        record = self._record(rid)
        if len(parts) == 2:
            return 200, {"data": self.render(record)}
        if parts[2] == "billable-lines":
            rows = receipt_rows(self.emu, record, self.emu.bills.billed_quantities())
            return 200, self.emu.list_envelope(rows, query)
        return None

    def admin(self, method: str, parts: list[str], body: dict[str, Any], stamp: datetime | None):
        """`/__admin/receiving-reports`: POST {fields, updated_at, check_refs} creates;
        `/{id}` GET, PATCH {changes, updated_at}, DELETE; `/{id}/complete` and
        `/{id}/updated_at` POST {updated_at}."""
        if parts == ["receiving-reports"] and method == "POST":
            made = self.create(body.get("fields", {}), stamp, body.get("check_refs", True))
            return 201, {"data": made}
        rid = parse_id(parts[1]) if len(parts) in (2, 3) else None
        if rid is None:
            return None
        action = (method, parts[2] if len(parts) == 3 else None)
        if action == ("DELETE", None):
            self.delete(rid, stamp)
            return 200, {"deleted": rid}
        if action == ("GET", None):
            return 200, {"data": self.get(rid)}
        if action in (("PATCH", None), ("PUT", None)):
            return 200, {"data": self.edit(rid, body.get("changes", {}), stamp)}
        if action == ("POST", "complete"):
            return 200, {"data": self.complete(rid, stamp)}
        if action == ("POST", "updated_at") and stamp is not None:
            self.set_updated_at(rid, stamp)
            return 200, {"data": self.get(rid)}
        return None


QUANTITY_TOTALS = ("item_count", "total_qty_ordered", "total_qty_received", "total_qty_remaining")


def po_quantity_totals(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The PO list's quantity columns (reference: purchase-orders list), from its lines."""
    ordered = _sum(items, "quantity")
    received = _sum(items, "received_quantity")
    return dict(
        zip(
            QUANTITY_TOTALS,
            (
                len(items),
                quantity_text(ordered),
                quantity_text(received),
                quantity_text(max(ZERO, ordered - received)),
            ),
            strict=True,
        )
    )


def _sum(items: list[dict[str, Any]], key: str) -> Decimal:
    return sum((to_decimal(i.get(key)) for i in items), ZERO)
