"""Pure: one Luminous bill or receiving report -> `SourceBill`, or a reason it cannot be.

The bill side of the Luminous adapter (`luminous_parse` reads POs, with the same rules for
money, ids, timestamps and text). Every Luminous field name the bill side reads is in the
tables below. Confirmed by the official CLI (LuminousInventory/luminous-cli,
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
from reconciler.documents.po.parse import (
    PO_FIELDS,
    PRODUCT_FIELDS,
    SUPPLIER_FIELDS,
    _Bad,
    _date,
    _money,
    _optional_int,
    _text,
    _timestamp,
    whole_id,
)
from reconciler.errors import InvalidSourceRecord
from reconciler.model import DocKind, RejectedRecord, SourceProduct

# --- the field-name tables --------------------------------------------------------------

BILL_FIELDS = {
    "id": "id",
    "number": "bill_number",  # assumed
    "status": "status",
    "vendor_id": "vendor_id",
    "vendor_name": "vendor_name",
    "bill_date": "bill_date",
    "due_date": "due_date",
    "currency": "currency",  # assumed
    "memo": "memo",  # assumed
    "items": "items",  # assumed
    "extra_costs": "extra_costs",
    "allocations": "allocations",  # from GET /bills/{id}/allocations, attached by the client
    "purchase_order_ids": "purchase_order_ids",  # assumed
    "updated_at": "updated_at",  # assumed
}
BILL_ITEM_FIELDS = {
    "id": "id",
    "po_id": "purchase_order_id",
    "po_line_id": "purchase_order_item_id",
    "product": "product",
    "description": "description",
    "quantity": "quantity",
    "unit_price": "unit_price",
    "tax": "tax",
    "amount": "amount",
}
EXTRA_COST_FIELDS = {
    "id": "id",
    "name": "name",
    "quantity": "quantity",
    "unit_price": "unit_price",
    "line_total": "line_total",  # assumed
}
ALLOCATION_FIELDS = {
    "bill_item_id": "bill_item_id",
    "po_id": "purchase_order_id",
    "po_line_id": "purchase_order_item_id",
    "quantity": "quantity",
}
RECEIPT_FIELDS = {
    "id": "id",
    "po_id": "purchase_order_id",
    "status": "status",
    "received_date": "received_date",
    "items": "items",
    "purchase_orders": "purchase_orders",
    "updated_at": "updated_at",
}
RECEIPT_ITEM_FIELDS = {
    "id": "id",
    "po_id": "purchase_order_id",
    "po_line_id": "purchase_order_item_id",
    "received_quantity": "received_quantity",
    "quantity": "quantity",
}
BILL_STATUSES = frozenset(
    {"draft", "posted", "on_hold", "partially_paid", "paid", "closed", "void"}
)
RECEIPT_STATUSES = frozenset({"draft", "in_progress", "completed"})
STATUS_ALIASES = {"voided": "void", "on hold": "on_hold", "held": "on_hold"}
ZERO = Decimal("0")


def parse_bill(raw: Mapping[str, Any]) -> SourceBill:
    """One Luminous bill; `InvalidSourceRecord` with the reason when it cannot be read."""
    doc_id = _doc_id(raw, BILL_FIELDS["id"])
    try:
        return _bill(raw, doc_id)
    except _Bad as bad:
        raise InvalidSourceRecord(str(bad), po_id=doc_id) from None


def parse_receipt(raw: Mapping[str, Any]) -> SourceBill:
    """One Luminous receiving report, read as the bill it becomes."""
    doc_id = _doc_id(raw, RECEIPT_FIELDS["id"])
    try:
        return _receipt(raw, doc_id)
    except _Bad as bad:
        raise InvalidSourceRecord(str(bad), po_id=doc_id) from None


def bill_or_reject(raw: Any) -> SourceBill | RejectedRecord:
    return _or_reject(raw, DocKind.BILL)


def receipt_or_reject(raw: Any) -> SourceBill | RejectedRecord:
    return _or_reject(raw, DocKind.RECEIPT)


def _or_reject(raw: Any, kind: DocKind) -> SourceBill | RejectedRecord:
    """A record is the unit of failure: even an error nobody foresaw is that record's outcome."""
    parse = parse_bill if kind is DocKind.BILL else parse_receipt
    try:
        if not isinstance(raw, Mapping):
            raise InvalidSourceRecord(f"record is not an object: {type(raw).__name__}")
        return parse(raw)
    except InvalidSourceRecord as exc:
        return _rejected(raw, exc.message, kind)
    except Exception as exc:  # a bug meeting odd data: the record fails, the pass goes on
        return _rejected(raw, f"cannot read this record ({type(exc).__name__}: {exc})"[:300], kind)


def _rejected(raw: Any, reason: str, kind: DocKind) -> RejectedRecord:
    """The refusal, with whatever identity can be salvaged (none if the salvage breaks too)."""
    try:
        return _salvaged(raw, reason, kind)
    except Exception:
        return RejectedRecord(doc_id=None, updated_at=None, reason=reason, kind=kind)


def _salvaged(raw: Any, reason: str, kind: DocKind) -> RejectedRecord:
    if not isinstance(raw, Mapping):
        return RejectedRecord(doc_id=None, updated_at=None, reason=reason, kind=kind)
    try:
        updated_at = _timestamp(raw.get("updated_at"), "updated_at")
    except _Bad:
        updated_at = None
    number = raw.get(BILL_FIELDS["number"]) if kind is DocKind.BILL else None
    return RejectedRecord(
        doc_id=whole_id(raw.get("id")),
        updated_at=updated_at,
        reason=reason,
        number=str(number)[:60] if isinstance(number, str | int) else None,
        kind=kind,
    )


# --- internals ---------------------------------------------------------------------------


def _doc_id(raw: Mapping[str, Any], name: str) -> int:
    value = raw.get(name)
    doc_id = whole_id(value)
    if doc_id is None:
        raise InvalidSourceRecord(f"missing or bad id: {value!r:.60}")
    return doc_id


def _status(value: Any, allowed: frozenset[str]) -> BillStatus:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"missing status: {value!r:.40}")
    word = value.strip().lower()
    word = STATUS_ALIASES.get(word, word.replace(" ", "_").replace("-", "_"))
    if word not in allowed:
        raise _Bad(f"unknown status {value!r:.40}")
    return BillStatus(word)


def _bill(raw: Mapping[str, Any], doc_id: int) -> SourceBill:
    f = BILL_FIELDS
    allocations = _allocations(raw.get(f["allocations"]))
    lines: list[SourceBillLine] = []
    for n, item in enumerate(_list(raw.get(f["items"]), "items"), start=1):
        lines.extend(_bill_lines(item, n, allocations))
    costs = [_cost(c, n) for n, c in enumerate(_list(raw.get(f["extra_costs"]), "extra_costs"), 1)]
    po_ids = tuple(
        i
        for i in (
            _optional_int(v, "purchase_order_ids")
            for v in _list(raw.get(f["purchase_order_ids"]), "purchase_order_ids")
        )
        if i is not None
    )
    return SourceBill(
        id=doc_id,
        origin=DocKind.BILL,
        status=_status(raw.get(f["status"]), BILL_STATUSES),
        updated_at=_timestamp(raw.get(f["updated_at"]), "updated_at", required=True),  # type: ignore[arg-type]
        number=_text(raw.get(f["number"]), f["number"]),
        vendor_name=_text(raw.get(f["vendor_name"]), f["vendor_name"]),
        vendor_id=_optional_int(raw.get(f["vendor_id"]), f["vendor_id"]),
        bill_date=_date(raw.get(f["bill_date"]), f["bill_date"]),
        due_date=_date(raw.get(f["due_date"]), f["due_date"]),
        currency=_text(raw.get(f["currency"]), f["currency"]),
        memo=_text(raw.get(f["memo"]), f["memo"], strip=False),
        lines=tuple(lines),
        costs=tuple(c for c in costs if c.amount),
        po_ids=po_ids,
    )


def _bill_lines(
    item: Any, n: int, allocations: dict[int, list[tuple[int | None, int, Decimal]]]
) -> list[SourceBillLine]:
    where = f"items[{n}]"
    if not isinstance(item, Mapping):
        raise _Bad(f"{where} is not an object")
    i = BILL_ITEM_FIELDS
    item_id = _optional_int(item.get(i["id"]), f"{where}.id")
    line = SourceBillLine(
        id=item_id,
        quantity=_money(item.get(i["quantity"]), f"{where}.quantity", required=True),  # type: ignore[arg-type]
        unit_price=_money(item.get(i["unit_price"]), f"{where}.unit_price", required=True),
        product=_product(item.get(i["product"]), where),
        description=_text(item.get(i["description"]), f"{where}.description"),
        amount=_money(item.get(i["amount"]), f"{where}.amount"),
        tax=_money(item.get(i["tax"]), f"{where}.tax", default=ZERO),  # type: ignore[arg-type]
        po_id=_optional_int(item.get(i["po_id"]), f"{where}.purchase_order_id"),
        po_line_id=_optional_int(item.get(i["po_line_id"]), f"{where}.purchase_order_item_id"),
    )
    if line.po_line_id is not None or item_id not in allocations:
        return [line]
    return _split(line, allocations[item_id])


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
    for n, row in enumerate(_list(value, "allocations"), start=1):
        where = f"allocations[{n}]"
        if not isinstance(row, Mapping):
            raise _Bad(f"{where} is not an object")
        item_id = _optional_int(row.get(a["bill_item_id"]), f"{where}.bill_item_id")
        line_id = _optional_int(row.get(a["po_line_id"]), f"{where}.purchase_order_item_id")
        if item_id is None or line_id is None:
            continue  # an extra cost's allocation: money, not a PO line's quantity
        qty = _money(row.get(a["quantity"]), f"{where}.quantity", required=True)
        po_id = _optional_int(row.get(a["po_id"]), f"{where}.purchase_order_id")
        found.setdefault(item_id, []).append((po_id, line_id, qty))  # type: ignore[arg-type]
    return found


def _cost(cost: Any, n: int) -> SourceBillCost:
    where = f"extra_costs[{n}]"
    if not isinstance(cost, Mapping):
        raise _Bad(f"{where} is not an object")
    c = EXTRA_COST_FIELDS
    amount = _money(cost.get(c["line_total"]), f"{where}.line_total")
    if amount is None:
        qty = _money(cost.get(c["quantity"]), f"{where}.quantity", default=Decimal("1"))
        price = _money(cost.get(c["unit_price"]), f"{where}.unit_price", default=ZERO)
        amount = qty * price  # type: ignore[operator]
    return SourceBillCost(
        id=_optional_int(cost.get(c["id"]), f"{where}.id"),
        name=_text(cost.get(c["name"]), f"{where}.name") or "Extra cost",
        amount=amount,
    )


def _product(value: Any, where: str) -> SourceProduct | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _Bad(f"{where}.product is not an object")
    p = PRODUCT_FIELDS
    name = _text(value.get(p["name"]), f"{where}.product.name")
    if not name:
        return None
    return SourceProduct(
        id=_optional_int(value.get(p["id"]), f"{where}.product.id"),
        name=name,
        sku=_text(value.get(p["sku"]), f"{where}.product.sku"),
        description=_text(value.get(p["description"]), f"{where}.product.description"),
        unit_cost=_money(value.get(p["unit_cost"]), f"{where}.product.unit_cost"),
    )


def _receipt(raw: Mapping[str, Any], doc_id: int) -> SourceBill:
    f, i = RECEIPT_FIELDS, RECEIPT_ITEM_FIELDS
    po_id = _optional_int(raw.get(f["po_id"]), f["po_id"])
    lines = []
    for n, item in enumerate(_list(raw.get(f["items"]), "items"), start=1):
        where = f"items[{n}]"
        if not isinstance(item, Mapping):
            raise _Bad(f"{where} is not an object")
        arrived = _money(item.get(i["received_quantity"]), f"{where}.received_quantity")
        if arrived is None:
            arrived = _money(item.get(i["quantity"]), f"{where}.quantity", required=True)
        line_id = _optional_int(item.get(i["po_line_id"]), f"{where}.purchase_order_item_id")
        if line_id is None:
            raise _Bad(f"{where} names no PO line (purchase_order_item_id)")
        lines.append(
            SourceBillLine(
                id=_optional_int(item.get(i["id"]), f"{where}.id"),
                quantity=arrived,  # type: ignore[arg-type]
                unit_price=None,
                po_id=_optional_int(item.get(i["po_id"]), f"{where}.purchase_order_id") or po_id,
                po_line_id=line_id,
            )
        )
    received = _timestamp(raw.get(f["received_date"]), f["received_date"])
    return SourceBill(
        id=doc_id,
        origin=DocKind.RECEIPT,
        status=_status(raw.get(f["status"]), RECEIPT_STATUSES),
        updated_at=_timestamp(raw.get(f["updated_at"]), "updated_at", required=True),  # type: ignore[arg-type]
        vendor_name=_receipt_vendor(raw.get(f["purchase_orders"]), po_id),
        bill_date=received.date() if received else None,
        lines=tuple(line for line in lines if line.quantity != 0),
        po_ids=(po_id,) if po_id is not None else (),
    )


def _receipt_vendor(value: Any, po_id: int | None) -> str | None:
    """The supplier of the report's PO, from the embedded `purchase_orders`."""
    for po in _list(value, "purchase_orders"):
        if not isinstance(po, Mapping):
            continue
        if po_id is not None and whole_id(po.get(PO_FIELDS["id"])) not in (po_id, None):
            continue
        supplier = po.get(PO_FIELDS["supplier"])
        if isinstance(supplier, Mapping):
            return _text(supplier.get(SUPPLIER_FIELDS["name"]), "purchase_orders.supplier.name")
    return None


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Bad(f"{where} is not a list: {type(value).__name__}")
    return value
