"""Pure: one Luminous bill or receiving report -> `SourceBill`, or a reason it cannot be.

Field names come from `luminous.fields`, each field is read by `luminous.values` (the same
rules as a PO's). Confirmed by the official CLI (LuminousInventory/luminous-cli,
cli/resources/bills.py, receiving_reports.py, _input.py): the paths `/bills`,
`/bills/{id}/allocations`, `/receiving-reports`; the bill columns `id`, `vendor_name`,
`status`, `total`, `total_paid`, `total_due`, `bill_date`, `due_date`; the filter `vendor_id`;
`extra_costs` [{name, quantity, unit_price}]; the receiving-report columns `id`,
`purchase_order_id`, `status`, `received_date`, `updated_at`; receiving-report items with
`purchase_order_id`, `purchase_order_item_id`, `quantity`, `received_quantity`, `unit_price`.
Assumed (luminous-api.md "Beyond purchase orders"; one place to correct): `bill_number`,
`updated_at`, `currency`, `memo`, `items` with `purchase_order_id`, `purchase_order_item_id`,
`product`, `quantity`, `unit_price`, `amount`, `tax`; an extra cost's `line_total`; the
allocations' `bill_item_id`, `purchase_order_item_id`, `quantity`; the status words below.

- A bill item names its PO line (`purchase_order_item_id`), or its allocations do (an item
  allocated to several PO lines becomes one line per allocation; what no allocation covers
  stays an unlinked line). Extra costs are money on an account, allocated or not.
- A receiving report's line is `received_quantity` of a PO line (else `quantity`); its price is
  the PO's unit cost, which the bill takes from the QBO PO line (so `unit_price` is not read).
- The vendor of a receiving report is its PO's supplier (`purchase_orders[].supplier.name`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from reconciler.documents.bill.model import (
    BillStatus,
    SourceBill,
    SourceBillCost,
    SourceBillLine,
)
from reconciler.luminous import values as v
from reconciler.luminous.fields import (
    ALLOCATION_FIELDS,
    BILL_FIELDS,
    BILL_ITEM_FIELDS,
    EXTRA_COST_FIELDS,
    PO_FIELDS,
    PRODUCT_FIELDS,
    RECEIPT_FIELDS,
    RECEIPT_ITEM_FIELDS,
    SUPPLIER_FIELDS,
)
from reconciler.luminous.values import UnreadableField
from reconciler.model import DocKind, RejectedRecord, SourceProduct

BILL_STATUSES = frozenset(
    {"draft", "posted", "on_hold", "partially_paid", "paid", "closed", "void"}
)
RECEIPT_STATUSES = frozenset({"draft", "in_progress", "completed"})
STATUS_ALIASES = {"voided": "void", "on hold": "on_hold", "held": "on_hold"}


def parse_bill(raw: Mapping[str, Any]) -> SourceBill:
    """One Luminous bill; `InvalidSourceRecord` with the reason when it cannot be read."""
    return v.read_document(raw, BILL_FIELDS["id"], _bill)


def parse_receipt(raw: Mapping[str, Any]) -> SourceBill:
    """One Luminous receiving report, read as the bill it becomes."""
    return v.read_document(raw, RECEIPT_FIELDS["id"], _receipt)


def bill_or_reject(raw: Any) -> SourceBill | RejectedRecord:
    return v.read_or_reject(raw, parse_bill, _salvaged_bill, DocKind.BILL)


def receipt_or_reject(raw: Any) -> SourceBill | RejectedRecord:
    return v.read_or_reject(raw, parse_receipt, _salvaged_receipt, DocKind.RECEIPT)


def _salvaged_bill(raw: Mapping[str, Any], reason: str) -> RejectedRecord:
    number = raw.get(BILL_FIELDS["number"])
    return RejectedRecord(
        doc_id=v.whole_id(raw.get(BILL_FIELDS["id"])),
        updated_at=v.stamp_or_none(raw.get(BILL_FIELDS["updated_at"])),
        reason=reason,
        number=str(number)[:60] if isinstance(number, str | int) else None,
        kind=DocKind.BILL,
    )


def _salvaged_receipt(raw: Mapping[str, Any], reason: str) -> RejectedRecord:
    return RejectedRecord(
        doc_id=v.whole_id(raw.get(RECEIPT_FIELDS["id"])),
        updated_at=v.stamp_or_none(raw.get(RECEIPT_FIELDS["updated_at"])),
        reason=reason,
        kind=DocKind.RECEIPT,
    )


# --- internals ---------------------------------------------------------------------------


def _status(value: Any, allowed: frozenset[str]) -> BillStatus:
    if not isinstance(value, str) or not value.strip():
        raise UnreadableField(f"missing status: {value!r:.40}")
    word = value.strip().lower()
    word = STATUS_ALIASES.get(word, word.replace(" ", "_").replace("-", "_"))
    if word not in allowed:
        raise UnreadableField(f"unknown status {value!r:.40}")
    return BillStatus(word)


def _bill(raw: Mapping[str, Any], doc_id: int) -> SourceBill:
    f = BILL_FIELDS
    allocations = _allocations(raw.get(f["allocations"]))
    lines: list[SourceBillLine] = []
    for n, item in enumerate(v.list_of(raw.get(f["items"]), "items"), start=1):
        lines.extend(_bill_lines(item, n, allocations))
    costs = [
        _cost(c, n) for n, c in enumerate(v.list_of(raw.get(f["extra_costs"]), "extra_costs"), 1)
    ]
    named = v.list_of(raw.get(f["purchase_order_ids"]), "purchase_order_ids")
    po_ids = tuple(
        po_id for value in named if (po_id := v.optional_id(value, "purchase_order_ids"))
    )
    return SourceBill(
        id=doc_id,
        origin=DocKind.BILL,
        status=_status(raw.get(f["status"]), BILL_STATUSES),
        updated_at=v.required_timestamp(raw.get(f["updated_at"]), "updated_at"),
        number=v.text(raw.get(f["number"]), f["number"]),
        vendor_name=v.text(raw.get(f["vendor_name"]), f["vendor_name"]),
        vendor_id=v.optional_id(raw.get(f["vendor_id"]), f["vendor_id"]),
        bill_date=v.day(raw.get(f["bill_date"]), f["bill_date"]),
        due_date=v.day(raw.get(f["due_date"]), f["due_date"]),
        currency=v.text(raw.get(f["currency"]), f["currency"]),
        memo=v.text(raw.get(f["memo"]), f["memo"], strip=False),
        lines=tuple(lines),
        costs=tuple(c for c in costs if c.amount),
        po_ids=po_ids,
    )


def _bill_lines(
    item: Any, n: int, allocations: dict[int, list[tuple[int | None, int, Decimal]]]
) -> list[SourceBillLine]:
    line = bill_item_line(item, f"items[{n}]")
    if line.po_line_id is not None or line.id not in allocations:
        return [line]
    return _split(line, allocations[line.id])


def bill_item_line(item: Any, where: str) -> SourceBillLine:
    """One bill item as a line, before its allocations (a vendor credit's lines too)."""
    if not isinstance(item, Mapping):
        raise UnreadableField(f"{where} is not an object")
    i = BILL_ITEM_FIELDS
    return SourceBillLine(
        id=v.optional_id(item.get(i["id"]), f"{where}.id"),
        quantity=v.required_money(item.get(i["quantity"]), f"{where}.quantity"),
        unit_price=v.required_money(item.get(i["unit_price"]), f"{where}.unit_price"),
        product=_product(item.get(i["product"]), where),
        description=v.text(item.get(i["description"]), f"{where}.description"),
        amount=v.money(item.get(i["amount"]), f"{where}.amount"),
        tax=v.amount(item.get(i["tax"]), f"{where}.tax"),
        po_id=v.optional_id(item.get(i["po_id"]), f"{where}.purchase_order_id"),
        po_line_id=v.optional_id(item.get(i["po_line_id"]), f"{where}.purchase_order_item_id"),
    )


def _split(
    line: SourceBillLine, allocated: list[tuple[int | None, int, Decimal]]
) -> list[SourceBillLine]:
    """An item allocated to PO lines: one line per allocation, and what is left unlinked."""
    out = []
    left = line.quantity
    for po_id, po_line_id, qty in allocated:
        out.append(
            SourceBillLine(
                id=line.id,
                quantity=qty,
                unit_price=line.unit_price,
                product=line.product,
                description=line.description,
                po_id=po_id,
                po_line_id=po_line_id,
            )
        )
        left -= qty
    if left > 0:
        out.append(
            SourceBillLine(
                id=line.id,
                quantity=left,
                unit_price=line.unit_price,
                product=line.product,
                description=line.description,
            )
        )
    if out:  # the item's tax stays with its first part
        out[0] = dataclasses.replace(out[0], tax=line.tax)
    return out


def _allocations(value: Any) -> dict[int, list[tuple[int | None, int, Decimal]]]:
    """bill item id -> [(PO id, PO line id, quantity)] of its allocations to PO lines."""
    a = ALLOCATION_FIELDS
    found: dict[int, list[tuple[int | None, int, Decimal]]] = {}
    for n, row in enumerate(v.list_of(value, "allocations"), start=1):
        where = f"allocations[{n}]"
        if not isinstance(row, Mapping):
            raise UnreadableField(f"{where} is not an object")
        item_id = v.optional_id(row.get(a["bill_item_id"]), f"{where}.bill_item_id")
        line_id = v.optional_id(row.get(a["po_line_id"]), f"{where}.purchase_order_item_id")
        if item_id is None or line_id is None:
            continue  # an extra cost's allocation: money, not a PO line's quantity
        qty = v.required_money(row.get(a["quantity"]), f"{where}.quantity")
        po_id = v.optional_id(row.get(a["po_id"]), f"{where}.purchase_order_id")
        found.setdefault(item_id, []).append((po_id, line_id, qty))
    return found


def _cost(cost: Any, n: int) -> SourceBillCost:
    where = f"extra_costs[{n}]"
    if not isinstance(cost, Mapping):
        raise UnreadableField(f"{where} is not an object")
    c = EXTRA_COST_FIELDS
    amount = v.money(cost.get(c["line_total"]), f"{where}.line_total")
    if amount is None:
        qty = v.money(cost.get(c["quantity"]), f"{where}.quantity", default=Decimal("1"))
        price = v.amount(cost.get(c["unit_price"]), f"{where}.unit_price")
        amount = (qty or Decimal(0)) * price
    return SourceBillCost(
        id=v.optional_id(cost.get(c["id"]), f"{where}.id"),
        name=v.text(cost.get(c["name"]), f"{where}.name") or "Extra cost",
        amount=amount,
    )


def _product(value: Any, where: str) -> SourceProduct | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise UnreadableField(f"{where}.product is not an object")
    p = PRODUCT_FIELDS
    name = v.text(value.get(p["name"]), f"{where}.product.name")
    if not name:
        return None
    return SourceProduct(
        id=v.optional_id(value.get(p["id"]), f"{where}.product.id"),
        name=name,
        sku=v.text(value.get(p["sku"]), f"{where}.product.sku"),
        description=v.text(value.get(p["description"]), f"{where}.product.description"),
        unit_cost=v.money(value.get(p["unit_cost"]), f"{where}.product.unit_cost"),
    )


def _receipt(raw: Mapping[str, Any], doc_id: int) -> SourceBill:
    f, i = RECEIPT_FIELDS, RECEIPT_ITEM_FIELDS
    po_id = v.optional_id(raw.get(f["po_id"]), f["po_id"])
    lines = []
    for n, item in enumerate(v.list_of(raw.get(f["items"]), "items"), start=1):
        where = f"items[{n}]"
        if not isinstance(item, Mapping):
            raise UnreadableField(f"{where} is not an object")
        arrived = v.money(item.get(i["received_quantity"]), f"{where}.received_quantity")
        if arrived is None:
            arrived = v.required_money(item.get(i["quantity"]), f"{where}.quantity")
        line_id = v.optional_id(item.get(i["po_line_id"]), f"{where}.purchase_order_item_id")
        if line_id is None:
            raise UnreadableField(f"{where} names no PO line (purchase_order_item_id)")
        lines.append(
            SourceBillLine(
                id=v.optional_id(item.get(i["id"]), f"{where}.id"),
                quantity=arrived,
                unit_price=None,
                po_id=v.optional_id(item.get(i["po_id"]), f"{where}.purchase_order_id") or po_id,
                po_line_id=line_id,
            )
        )
    received = v.timestamp(raw.get(f["received_date"]), f["received_date"])
    return SourceBill(
        id=doc_id,
        origin=DocKind.RECEIPT,
        status=_status(raw.get(f["status"]), RECEIPT_STATUSES),
        updated_at=v.required_timestamp(raw.get(f["updated_at"]), "updated_at"),
        vendor_name=_receipt_vendor(raw.get(f["purchase_orders"]), po_id),
        bill_date=received.date() if received else None,
        lines=tuple(line for line in lines if line.quantity != 0),
        po_ids=(po_id,) if po_id is not None else (),
    )


def _receipt_vendor(value: Any, po_id: int | None) -> str | None:
    """The supplier of the report's PO, from the embedded `purchase_orders`."""
    for po in v.list_of(value, "purchase_orders"):
        if not isinstance(po, Mapping):
            continue
        if po_id is not None and v.whole_id(po.get(PO_FIELDS["id"])) not in (po_id, None):
            continue
        supplier = po.get(PO_FIELDS["supplier"])
        if isinstance(supplier, Mapping):
            return v.text(supplier.get(SUPPLIER_FIELDS["name"]), "purchase_orders.supplier.name")
    return None
