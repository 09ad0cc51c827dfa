"""Awkward bills, receiving reports and a shipment for the Luminous emulator's default seed,
laid over the twelve seed POs (no PO is added, so PO counts and ids stay as they were).

Each bill is findable by its `bill_number` (BILL_NUMBERS) or by `memo`, which says what it is:
  full        PO 1 billed in full, posted (money as strings)
  partial     PO 7 whey only (creatine unbilled), posted then partly paid
  over_billed PO 12: 14 billed against 12.5 ordered, posted
  extra_costs PO 8 with freight and a fee allocated to no PO line, posted
  long_number PO 4, supplier bill number of 27 characters (QBO DocNumber holds 21), posted
  odd_number  PO 9, bill number with quotes, apostrophe and non-ASCII, on hold
  void        PO 2 (pending approval) billed, then voided
  paid        PO 3 billed in full and paid in full
  vendor_differs PO 6 (supplier "Acme: West Division") billed by Nutricost, posted
  before_approval PO 10 (draft, pending approval) already billed, draft
and one bill on PO 5 created and then deleted (a gap in the bill ids). PO 7 is received in
three partial, completed receiving reports (the first two from one shipment), which bumps its
`updated_at` to the last report's stamp.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconciler.sandbox.luminous.server import LuminousEmulator

BILL_NUMBERS = {
    "full": "NC-INV-1001",
    "partial": "ACME-7731",
    "over_billed": "NC-INV-1012",
    "extra_costs": "CNG-2026/0042",
    "long_number": "OBRIEN-SONS-INV-2026-000417",
    "odd_number": "Rg.-Nr. „7“ 'Größe' \"株式\"",
    "void": "NC-INV-1002",
    "paid": "NC-INV-0999",
    "vendor_differs": "NC-INV-1006",
    "before_approval": "NC-INV-1010",
}


def seed_billing(emu: LuminousEmulator, pos: list[dict[str, Any]], base: datetime) -> None:
    """Add the bills, receipts and shipment described above. `pos` are the twelve stored seed
    POs in seed order; `base` is the seed's first PO stamp."""
    at = _clock(base + timedelta(hours=12))
    _seed_receipts(emu, pos[6], at)
    for kind, lines, extra in _bill_plans(pos):
        fields = {"bill_number": BILL_NUMBERS[kind], "memo": kind, "items": lines, **extra}
        bill = emu.bills.create(fields, updated_at=at())
        _finish(emu, kind, bill["id"], at)
    doomed = emu.bills.create({"items": _lines(pos[4]), "memo": "deleted"}, updated_at=at())
    emu.bills.delete(doomed["id"])


def _clock(start: datetime):
    """Successive seed stamps, ten minutes apart."""
    ticks = iter(range(1000))
    return lambda: start + timedelta(minutes=10 * next(ticks))


def _lines(po: dict[str, Any], **overrides: Any) -> list[dict[str, Any]]:
    """Bill items for every line of a stored PO (quantity and price come from the line)."""
    return [
        {"purchase_order_id": po["id"], "purchase_order_item_id": item["id"], **overrides}
        for item in po["items"]
    ]


def _bill_plans(pos: list[dict[str, Any]]) -> list[tuple[str, list[dict], dict]]:
    """(kind, bill items, other bill fields) for each seeded bill."""
    p = pos
    freight = [
        {"name": "Freight", "quantity": 1, "unit_price": "45.00"},
        {"name": "Payment processing fee", "quantity": "1", "unit_price": 2.5},
    ]
    return [
        ("full", _lines(p[0]), {"status": "posted"}),
        ("partial", _lines(p[6])[:1], {}),  # the whey line only
        ("over_billed", _lines(p[11], quantity="14"), {}),  # 12.5 ordered
        ("extra_costs", _lines(p[7]), {"extra_costs": freight}),
        ("long_number", _lines(p[3]), {}),
        ("odd_number", _lines(p[8]), {}),
        ("void", _lines(p[1]), {}),
        ("paid", _lines(p[2]), {}),
        ("vendor_differs", _lines(p[5]), {"vendor_id": p[0]["supplier_id"]}),
        ("before_approval", _lines(p[9]), {}),
    ]


def _finish(emu: LuminousEmulator, kind: str, bill_id: int, at) -> None:
    """Move a fresh draft bill to the state its kind needs."""
    if kind in ("before_approval", "full"):
        return  # "full" was created posted
    emu.bills.post(bill_id, updated_at=at())
    if kind == "partial":
        emu.bills.pay(bill_id, amount="50.00", updated_at=at())
    elif kind == "paid":
        emu.bills.pay(bill_id, updated_at=at())
    elif kind == "void":
        emu.bills.void(bill_id, updated_at=at())
    elif kind == "odd_number":
        emu.bills.hold(bill_id, updated_at=at())


def _seed_receipts(emu: LuminousEmulator, po: dict[str, Any], at) -> None:
    """PO 7 (whey 2, creatine 3) arrives in three parts: whey 1; whey 1 + creatine 1;
    creatine 2. The first two came on one shipment."""
    whey, creatine = (item["id"] for item in po["items"])
    shipment = emu.shipments.create(
        {
            "purchase_order_id": po["id"],
            "carrier": "UPS Freight",
            "tracking_number": "1Z999AA10123456784",
            "items": [
                {"purchase_order_item_id": whey, "quantity": "2"},
                {"purchase_order_item_id": creatine, "quantity": "1"},
            ],
        },
        updated_at=at(),
    )
    parts = [
        [(whey, "1", shipment["id"])],
        [(whey, "1", shipment["id"]), (creatine, "1", shipment["id"])],
        [(creatine, "2", None)],
    ]
    for n, part in enumerate(parts, start=1):
        items = [
            {
                "purchase_order_item_id": line,
                "received_quantity": qty,
                "purchase_order_shipment_id": sid,
            }
            for line, qty, sid in part
        ]
        fields = {"purchase_order_id": po["id"], "received_by": f"Dock crew {n}", "items": items}
        emu.receiving.create(fields, updated_at=at())
