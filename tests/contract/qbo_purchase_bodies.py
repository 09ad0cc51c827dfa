"""Request bodies and small helpers for the emulator's Bill, tax and class contract tests."""

from __future__ import annotations

from decimal import Decimal

ITEM = "ItemBasedExpenseLineDetail"
ACCOUNT = "AccountBasedExpenseLineDetail"


def item_line(item: str, qty: float, price: float, **detail) -> dict:
    """An item line with Amount = Qty * UnitPrice to the cent (JSON numbers, as QBO takes)."""
    amount = float((Decimal(str(qty)) * Decimal(str(price))).quantize(Decimal("0.01")))
    return {
        "DetailType": ITEM,
        "Amount": amount,
        ITEM: {"ItemRef": {"value": item}, "Qty": qty, "UnitPrice": price, **detail},
    }


def account_line(account: str, amount: float, **detail) -> dict:
    return {
        "DetailType": ACCOUNT,
        "Amount": amount,
        ACCOUNT: {"AccountRef": {"value": account}, **detail},
    }


def linked(line: dict, po_id: str, po_line_id: str) -> dict:
    """The line with a LinkedTxn to one PO line."""
    link = {"TxnId": po_id, "TxnType": "PurchaseOrder", "TxnLineId": po_line_id}
    return line | {"LinkedTxn": [link]}


def bill_body(vendor: str = "1", lines=(), doc_number: str | None = None, **extra) -> dict:
    body = {"VendorRef": {"value": vendor}, "Line": list(lines), **extra}
    if doc_number is not None:
        body["DocNumber"] = doc_number
    return body


def po_with_lines(qbo, vendor: str = "1", lines=None, doc_number: str = "PO-1") -> dict:
    """Create a PO (default: 10 Gadgets at 2.50 and 2 Widgets at 5.00) and answer it."""
    lines = lines or [item_line(qbo.GADGET, 10, "2.50"), item_line(qbo.WIDGET, 2, "5.00")]
    body = {"VendorRef": {"value": vendor}, "DocNumber": doc_number, "Line": lines}
    return qbo.create("purchaseorder", body)


def fault(response) -> dict:
    """The first error of a 400 fault answer."""
    assert response.status_code == 400, response.text
    return response.json()["Fault"]["Error"][0]


def read(qbo, resource: str, object_id: str) -> dict:
    response = qbo.get(f"{resource}/{object_id}")
    assert response.status_code == 200, response.text
    return next(v for k, v in response.json().items() if k != "time")


def queried(qbo, text: str, entity: str) -> list[dict]:
    response = qbo.query(text)
    assert response.status_code == 200, response.text
    return response.json()["QueryResponse"].get(entity, [])
