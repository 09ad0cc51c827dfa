"""The HTTP face of the emulator's bills (luminous_bills.py), public API and `/__admin`.

Public (paths from the official CLI's bills.py and purchase_orders.py):
  GET  /bills                          list; filters, sort, paging as for POs
  POST /bills                          create (422 on unknown vendor / PO line)
  GET|PUT|DELETE /bills/{id}
  GET  /bills/by-purchase-order/{po_id}, /bills/by-vendor/{vendor_id}   lists
  POST /bills/{id}/post|hold|unhold|reopen                              409 if not allowed
  PATCH /bills/{id}/status             {status}
  GET|POST /bills/{id}/allocations, DELETE /bills/{id}/allocations/{allocation_id}
  POST /bills/{id}/payments            {paid_amount, payment_date, payment_type}
  GET  /bills/{id}/billable-lines      billable rows of the POs the bill touches
  GET  /bills/{id}/candidate-lines     rows of the vendor's not-cancelled POs with unbilled qty
  GET  /purchase-orders/{id}/billable-lines
Sub-resource lists answer the same {data, meta} envelope as every list (assumed).

Admin (`/__admin` prefix, JSON bodies; `updated_at` optional everywhere):
  POST /bills {fields, check_refs}; GET|PATCH {changes}|DELETE /bills/{id}
  POST /bills/{id}/post|hold|unhold|reopen|void
  POST /bills/{id}/pay {amount (omit: pay in full), payment_date}
  POST /bills/{id}/allocations {fields, check_refs}
  POST /bills/{id}/status {status};  POST /bills/{id}/updated_at (stamp only)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from reconciler.sandbox.luminous.billable import po_line_rows
from reconciler.sandbox.luminous.bills import TRANSITIONS, BillBook
from reconciler.sandbox.luminous.common import LuminousInvalid, LuminousNotFound, parse_id

PUBLIC_ACTIONS = ("post", "hold", "unhold", "reopen")

Answer = tuple[int, Any] | None
Query = list[tuple[str, str]]


def route(book: BillBook, method: str, parts: list[str], query: Query, body: Any) -> Answer:
    """Answer a public bills request, or None when the path is not one of ours."""
    if parts[:1] == ["purchase-orders"] and parts[2:] == ["billable-lines"] and method == "GET":
        po = book.emu.purchase_order(parse_id(parts[1]))
        if po is None:
            raise LuminousNotFound("Purchase order")
        rows = po_line_rows(book.emu, po, book.billed_quantities())
        return 200, book.emu.list_envelope(rows, query)
    if parts[:1] != ["bills"]:
        return None
    if len(parts) == 1:
        return _collection(book, method, query, body)
    if len(parts) == 3 and parts[1] in ("by-purchase-order", "by-vendor") and method == "GET":
        wanted = parse_id(parts[2])
        if parts[1] == "by-vendor":
            rows = [r for r in _rendered(book) if r.get("vendor_id") == wanted]
        else:
            rows = [r for r in _rendered(book) if wanted in r["purchase_order_ids"]]
        return 200, book.emu.list_envelope(rows, query)
    bill_id = parse_id(parts[1])
    if bill_id is None:
        return None
    if len(parts) == 2:
        return _member(book, method, bill_id, body)
    return _sub_resource(book, method, bill_id, parts[2:], query, body)


def _rendered(book: BillBook) -> list[dict[str, Any]]:
    return [book.render(r) for r in book.records.values()]


def _collection(book: BillBook, method: str, query: Query, body: Any) -> Answer:
    if method == "GET":
        return 200, book.emu.list_envelope(_rendered(book), query)
    if method == "POST":
        if not isinstance(body, dict):
            raise LuminousInvalid("vendor_id", "required")
        return 201, {"data": book.create(body)}
    return None


def _member(book: BillBook, method: str, bill_id: int, body: Any) -> Answer:
    if method == "GET":
        return 200, {"data": book.get(bill_id)}
    if method == "PUT":
        return 200, {"data": book.edit(bill_id, body if isinstance(body, dict) else {})}
    if method == "DELETE":
        book.get(bill_id)  # 404 for an unknown bill
        book.delete(bill_id)
        return 200, {"message": "Bill deleted."}
    return None


def _sub_resource(
    book: BillBook, method: str, bill_id: int, rest: list[str], query: Query, body: Any
) -> Answer:
    body = body if isinstance(body, dict) else {}
    head = rest[0]
    if len(rest) == 1 and head in PUBLIC_ACTIONS and method == "POST":
        return 200, {"data": book.act(bill_id, head)}
    if len(rest) == 1 and head == "status" and method == "PATCH":
        return 200, {"data": book.set_status(bill_id, str(body.get("status")))}
    if len(rest) == 1 and head == "payments" and method == "POST":
        paid = book.pay(bill_id, body.get("paid_amount"), body.get("payment_date"))
        return 201, {"data": paid}
    if head == "allocations":
        return _allocations(book, method, bill_id, rest, query, body)
    if len(rest) == 1 and head in ("billable-lines", "candidate-lines") and method == "GET":
        return 200, book.emu.list_envelope(_lines(book, bill_id, head), query)
    return None


def _allocations(
    book: BillBook, method: str, bill_id: int, rest: list[str], query: Query, body: dict
) -> Answer:
    if len(rest) == 1 and method == "GET":
        return 200, book.emu.list_envelope(book.allocations(bill_id), query)
    if len(rest) == 1 and method == "POST":
        return 201, {"data": book.allocate(bill_id, body)}
    allocation_id = parse_id(rest[1]) if len(rest) == 2 else None
    if allocation_id is not None and method == "DELETE":
        book.unallocate(bill_id, allocation_id)
        return 200, {"message": "Allocation deleted."}
    return None


def _lines(book: BillBook, bill_id: int, which: str) -> list[dict[str, Any]]:
    """Billable rows of the bill's POs, or candidate rows: every line of the vendor's POs
    (not cancelled) that still has quantity to bill."""
    bill = book.get(bill_id)
    billed = book.billed_quantities()
    pos = book.emu._pos
    if which == "billable-lines":
        return [
            row
            for po_id in bill["purchase_order_ids"]
            if po_id in pos
            for row in po_line_rows(book.emu, pos[po_id], billed)
        ]
    vendor_pos = [
        po
        for po in pos.values()
        if po.get("supplier_id") == bill["vendor_id"] and po.get("order_status") != "cancelled"
    ]
    rows = [row for po in vendor_pos for row in po_line_rows(book.emu, po, billed)]
    return [row for row in rows if row["quantity_unbilled"] != "0"]


def admin(
    book: BillBook, method: str, parts: list[str], body: dict[str, Any], stamp: datetime | None
) -> Answer:
    """`/__admin/bills...` (see the module docstring)."""
    if parts == ["bills"] and method == "POST":
        made = book.create(body.get("fields", {}), stamp, body.get("check_refs", True))
        return 201, {"data": made}
    bill_id = parse_id(parts[1]) if len(parts) in (2, 3) else None
    if bill_id is None:
        return None
    if len(parts) == 3:
        return _admin_action(book, bill_id, parts[2], body, stamp) if method == "POST" else None
    if method == "DELETE":
        book.delete(bill_id)
        return 200, {"deleted": bill_id}
    if method in ("PATCH", "PUT"):
        return 200, {"data": book.edit(bill_id, body.get("changes", {}), stamp)}
    return (200, {"data": book.get(bill_id)}) if method == "GET" else None


def _admin_action(
    book: BillBook, bill_id: int, action: str, body: dict[str, Any], stamp: datetime | None
) -> Answer:
    """POST /__admin/bills/{id}/{action}: a status action, pay, allocate, status, stamp."""
    if action in TRANSITIONS:
        return 200, {"data": book.act(bill_id, action, stamp)}
    if action == "pay":
        paid = book.pay(bill_id, body.get("amount"), body.get("payment_date"), stamp)
        return 200, {"data": paid}
    if action == "allocations":
        fields, check = body.get("fields", {}), body.get("check_refs", True)
        return 201, {"data": book.allocate(bill_id, fields, stamp, check)}
    if action == "status":
        return 200, {"data": book.set_status(bill_id, str(body.get("status")), stamp)}
    if action == "updated_at" and stamp is not None:
        book.set_updated_at(bill_id, stamp)
        return 200, {"data": book.get(bill_id)}
    return None
