"""Bills and receiving reports on top of the sync harness (both emulators, real HTTP)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from reconciler.config.loader import Settings
from reconciler.model import DocKind


def bills_on(mode: str = "bills", **changes: Any) -> Callable[[Settings], Settings]:
    """A settings hook: `[bills] from = mode`, with other `[bills]` changes."""

    def hook(settings: Settings) -> Settings:
        bills = dataclasses.replace(settings.bills, from_=mode, **changes)
        return dataclasses.replace(settings, bills=bills)

    return hook


def two_line_po(h, number: str = "PO-1", **fields: Any) -> dict[str, Any]:
    """Whey 10 @ 42.50 and creatine 3 @ 19.99, approved and active."""
    whey = h.product("Whey Protein 5lb", "NC-WHEY-5")
    creatine = h.product("Creatine 1kg", "NC-CRE-1")
    lines = [(whey, "10", "42.50"), (creatine, "3", "19.99")]
    return h.po(lines=lines, order_numbers=[number], **fields)


def bill(h, po: dict[str, Any], quantities: list[Any] | None = None, **fields: Any) -> dict:
    """A posted Luminous bill on `po`: one item per PO line (its quantity unless given)."""
    items = []
    for n, line in enumerate(po["items"]):
        item = {"purchase_order_id": po["id"], "purchase_order_item_id": line["id"]}
        if quantities is not None:
            if quantities[n] is None:
                continue
            item["quantity"] = str(quantities[n])
        items.append(item)
    record = {"status": "posted", "vendor_id": po["supplier_id"], "items": items, **fields}
    return h.lum.bills.create(record, updated_at=h.next_stamp())


def receive(h, po: dict[str, Any], quantities: list[Any], **fields: Any) -> dict[str, Any]:
    """A completed receiving report on `po` (None: that line did not arrive)."""
    items = [
        {"purchase_order_item_id": line["id"], "received_quantity": str(q)}
        for line, q in zip(po["items"], quantities, strict=True)
        if q is not None
    ]
    record = {"purchase_order_id": po["id"], "items": items, **fields}
    return h.lum.receiving.create(record, updated_at=h.next_stamp())


def entry(h, doc_id: int, kind: DocKind = DocKind.BILL):
    store = h.store()
    try:
        return store.ledger.entry(doc_id, kind)
    finally:
        store.close()


def history(h, doc_id: int, kind: DocKind = DocKind.PURCHASE_ORDER):
    store = h.store()
    try:
        return store.ledger.history(doc_id, kind)
    finally:
        store.close()


def qbo_bill(h, doc_id: int, kind: DocKind = DocKind.BILL) -> dict[str, Any]:
    row = entry(h, doc_id, kind)
    assert row is not None and row.qbo_id, f"{kind} {doc_id} has no QBO id: {row}"
    found = h.qbo.get("Bill", row.qbo_id)
    assert found is not None
    return found


def links(qbo_bill_: dict[str, Any]) -> list[tuple[str, str] | None]:
    """Each line's (PO Id, PO line Id) link, or None."""
    out = []
    for line in qbo_bill_["Line"]:
        link = next(
            (x for x in line.get("LinkedTxn") or [] if x["TxnType"] == "PurchaseOrder"), None
        )
        out.append((link["TxnId"], link["TxnLineId"]) if link else None)
    return out


def received(qbo_po: dict[str, Any]) -> list[Decimal | None]:
    return [line.get("Received") for line in qbo_po["Line"]]
