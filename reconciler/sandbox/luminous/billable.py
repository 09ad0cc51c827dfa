"""Billable-line arithmetic for the Luminous emulator: how much of each PO line has been
ordered, received and billed, and so how much is still billable.

The reference names `/purchase-orders/{id}/billable-lines`, `/receiving-reports/{id}/billable-lines`
and `/bills/{id}/billable-lines` (and `/bills/{id}/candidate-lines`) but not their shape. Assumed
here, one row per PO line (or per receiving-report line):

    purchase_order_id, purchase_order_item_id, product {id, name, sku, ...}, unit_price,
    quantity_ordered, quantity_received, quantity_billed,
    quantity_billable   received - billed, never below 0 (bill what arrived)
    quantity_unbilled   ordered - billed, never below 0

Billed quantity counts allocations of bill items on bills that are not void (a deleted bill is
gone). Allocations of extra costs (freight, fees) are money, not quantity, and do not count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.luminous.common import ZERO, quantity_text, to_decimal

if TYPE_CHECKING:
    from reconciler.sandbox.luminous.server import LuminousEmulator


def billed_quantities(bills: Iterable[dict[str, Any]]) -> dict[Any, Decimal]:
    """PO line id -> quantity allocated to it by bill items of bills that count."""
    totals: dict[Any, Decimal] = defaultdict(Decimal)
    for bill in bills:
        if bill.get("status") == "void":
            continue
        for allocation in bill.get("allocations") or []:
            if allocation.get("bill_item_id") is None:
                continue
            totals[allocation.get("purchase_order_item_id")] += to_decimal(allocation["quantity"])
    return totals


def po_line_rows(
    emu: LuminousEmulator, po: dict[str, Any], billed: dict[Any, Decimal]
) -> list[dict[str, Any]]:
    """One billable row per line of the stored PO `po`."""
    return [_line_row(emu, po["id"], item, billed) for item in po.get("items") or []]


def _line_row(
    emu: LuminousEmulator, po_id: Any, item: dict[str, Any], billed: dict[Any, Decimal]
) -> dict[str, Any]:
    ordered = to_decimal(item.get("quantity"))
    received = to_decimal(item.get("received_quantity"))
    done = billed.get(item.get("id"), ZERO)
    return {
        "purchase_order_id": po_id,
        "purchase_order_item_id": item.get("id"),
        "product": emu._render_item(item).get("product"),
        "unit_price": item.get("unit_price"),
        "quantity_ordered": quantity_text(ordered),
        "quantity_received": quantity_text(received),
        "quantity_billed": quantity_text(done),
        "quantity_billable": quantity_text(max(ZERO, received - done)),
        "quantity_unbilled": quantity_text(max(ZERO, ordered - done)),
    }


def receipt_rows(
    emu: LuminousEmulator, report: dict[str, Any], billed: dict[Any, Decimal]
) -> list[dict[str, Any]]:
    """One row per line of a stored receiving report. Its billable quantity is the PO line's
    received-but-unbilled quantity, capped by what this report received (which receipt a bill
    pays for is not modelled)."""
    rows = []
    for item in report.get("items") or []:
        po = emu._pos.get(item.get("purchase_order_id")) or {}
        line = next((i for i in po.get("items") or [] if i.get("id") == _line_id(item)), None)
        here = to_decimal(item.get("received_quantity"))
        line_received = to_decimal(line.get("received_quantity")) if line else here
        done = billed.get(_line_id(item), ZERO)
        rows.append(
            {
                "receiving_report_id": report["id"],
                "receiving_report_item_id": item.get("id"),
                "purchase_order_id": item.get("purchase_order_id"),
                "purchase_order_item_id": _line_id(item),
                "purchase_order_shipment_id": item.get("purchase_order_shipment_id"),
                "product": emu._render_item(line).get("product") if line else None,
                "unit_price": item.get("unit_price"),
                "received_quantity": quantity_text(here),
                "quantity_billed": quantity_text(done),
                "quantity_billable": quantity_text(max(ZERO, min(here, line_received - done))),
            }
        )
    return rows


def _line_id(item: dict[str, Any]) -> Any:
    return item.get("purchase_order_item_id")
