"""Purchase-order shipments in the Luminous emulator: what a supplier sent, per PO line.

Served: `GET /purchase-order-shipments`, `GET /purchase-order-shipments/{id}`,
`GET /purchase-orders/{id}/shipments`, `GET /purchase-orders/{id}/shipments/{shipment_id}`
(the official CLI's purchase_order_shipments.py and purchase_orders.py).

Fields: the CLI's columns (`id`, `purchase_order_id`, `status`, `carrier`, `tracking_number`,
`ship_date`, `updated_at`) and the reference's (`reference_number`, `total_shipping_cost`,
`shipping_date`, `warehouse_id`, `shipment_status_id`, `shipment_status` {id, name},
`shipment_items` [{supplier_purchase_order_shipment_id, supplier_purchase_order_id,
supplier_purchase_order_item_id, quantity, unit_of_measure_id}], `shipment_extra_costs`).
Both spellings are served because the two sources disagree. Assumed: the status vocabulary
(pending, in_transit, delivered) and that `shipment_status.id` is its position in that list.

Test controls: `emu.shipments.create(fields)`, `.delete(id)`; over HTTP
`POST /__admin/purchase-order-shipments` {fields, updated_at, check_refs} and
`DELETE /__admin/purchase-order-shipments/{id}`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.luminous.common import (
    IdCounters,
    LuminousNotFound,
    find_po_line,
    parse_id,
)

if TYPE_CHECKING:
    from reconciler.sandbox.luminous.server import LuminousEmulator

SHIPMENT_STATUSES = ("pending", "in_transit", "delivered")


class ShipmentBook:
    """The emulator's shipments; every method runs under the emulator's lock."""

    def __init__(self, emu: LuminousEmulator) -> None:
        self.emu = emu
        self.records: dict[int, dict[str, Any]] = {}
        self._ids = IdCounters()

    # --- controls ------------------------------------------------------------------------

    def create(
        self, fields: dict[str, Any], updated_at: datetime | None = None, check_refs: bool = True
    ) -> dict[str, Any]:
        """Store a shipment of `fields["items"]` ({purchase_order_item_id, quantity})."""
        with self.emu._lock:
            fields = dict(fields)
            stamp = self.emu.stamp(updated_at)
            sid = self._ids.take("shipment", fields.pop("id", None))
            po_id = fields.get("purchase_order_id")
            items = [
                self._new_item(sid, po_id, i, stamp, check_refs) for i in fields.pop("items", [])
            ]
            record = {
                "id": sid,
                "purchase_order_id": po_id,
                "reference_number": f"SHIP-{sid:05d}",
                "status": "in_transit",
                "carrier": None,
                "tracking_number": None,
                "ship_date": stamp.date().isoformat(),
                "shipping_date": stamp,
                "total_shipping_cost": "0.00",
                "warehouse_id": (self.emu._pos.get(po_id) or {}).get("warehouse_id"),
                "sync_status": None,
                "shipment_items": items,
                "shipment_extra_costs": [],
                "created_at": stamp,
                **fields,
                "updated_at": stamp,
            }
            self.records[sid] = record
            return self.render(record)

    def _new_item(
        self, sid: int, po_id: Any, item: dict[str, Any], stamp: datetime, check_refs: bool
    ) -> dict[str, Any]:
        line_id = item.get("purchase_order_item_id")
        if check_refs:
            find_po_line(self.emu._pos, po_id, line_id)
        return {
            "id": self._ids.take("shipment_item", item.get("id")),
            "supplier_purchase_order_shipment_id": sid,
            "supplier_purchase_order_id": po_id,
            "supplier_purchase_order_item_id": line_id,
            "quantity": item.get("quantity", "1"),
            "unit_of_measure_id": None,
            "created_at": stamp,
            "updated_at": stamp,
        }

    def delete(self, shipment_id: int) -> None:
        with self.emu._lock:
            self.records.pop(shipment_id, None)

    def get(self, shipment_id: int) -> dict[str, Any]:
        with self.emu._lock:
            if shipment_id not in self.records:
                raise LuminousNotFound("Purchase order shipment")
            return self.render(self.records[shipment_id])

    def render(self, record: dict[str, Any]) -> dict[str, Any]:
        out = dict(record)
        status = record.get("status")
        position = SHIPMENT_STATUSES.index(status) + 1 if status in SHIPMENT_STATUSES else None
        out.setdefault("shipment_status_id", position)
        out.setdefault("shipment_status", {"id": position, "name": status})
        out["shipment_items"] = [dict(i) for i in record.get("shipment_items") or []]
        return out

    # --- HTTP ----------------------------------------------------------------------------

    def route(self, method: str, parts: list[str], query: list[tuple[str, str]]):
        """Answer a shipments GET, or None when the path is not one of ours."""
        if method != "GET":
            return None
        if parts[:1] == ["purchase-order-shipments"] and len(parts) <= 2:
            if len(parts) == 1:
                return 200, self._list(query, None)
            sid = parse_id(parts[1])
            return 200, {"data": self.get(sid if sid is not None else -1)}
        if len(parts) in (3, 4) and parts[0] == "purchase-orders" and parts[2] == "shipments":
            po_id = parse_id(parts[1])
            if po_id not in self.emu._pos:
                raise LuminousNotFound("Purchase order")
            if len(parts) == 3:
                return 200, self._list(query, po_id)
            sid = parse_id(parts[3])
            shipment = self.records.get(sid if sid is not None else -1)
            if shipment is None or shipment.get("purchase_order_id") != po_id:
                raise LuminousNotFound("Purchase order shipment")
            return 200, {"data": self.render(shipment)}
        return None

    def _list(self, query: list[tuple[str, str]], po_id: int | None) -> dict[str, Any]:
        rows = [
            self.render(r)
            for r in self.records.values()
            if po_id is None or r.get("purchase_order_id") == po_id
        ]
        return self.emu.list_envelope(rows, query)

    def admin(self, method: str, parts: list[str], body: dict[str, Any], stamp: datetime | None):
        """`/__admin/purchase-order-shipments[/{id}]`: create, get, delete."""
        if parts == ["purchase-order-shipments"] and method == "POST":
            made = self.create(body.get("fields", {}), stamp, body.get("check_refs", True))
            return 201, {"data": made}
        sid = parse_id(parts[1]) if len(parts) == 2 else None
        if sid is None:
            return None
        if method == "DELETE":
            self.delete(sid)
            return 200, {"deleted": sid}
        if method == "GET":
            return 200, {"data": self.get(sid)}
        return None
