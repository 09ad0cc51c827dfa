"""Sample source POs and resolved references for the mapping and body tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from support import rules

from reconciler.documents.po.model import SourceLine, SourcePO, SourceStatus
from reconciler.documents.references import ResolvedRefs
from reconciler.documents.values import item_key
from reconciler.model import Address, SourceProduct, SourceSupplier

D = Decimal
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def make_line(n: int = 1, **kw) -> SourceLine:
    fields = {
        "id": n,
        "product": SourceProduct(id=n, name=f"Creatine {n}", sku=f"SKU-{n}"),
        "quantity": D("2"),
        "unit_price": D("10.50"),
    }
    fields.update(kw)
    return SourceLine(**fields)


def make_po(**kw) -> SourcePO:
    fields = {
        "id": 42,
        "order_numbers": ("PO-1001",),
        "status": SourceStatus.ACTIVE,
        "approval_status": "approved",
        "supplier": SourceSupplier(
            id=7,
            name="Nutricost",
            email="ap@nutricost.example",
            address=Address(line1="1 Main St", city="Provo", region="UT", postal_code="84601"),
        ),
        "lines": (make_line(1),),
        "created_at": T0,
        "updated_at": T0,
        "order_date": date(2025, 3, 1),
        "arrival_due_date": date(2025, 3, 15),
        "currency": "USD",
        "ship_to": Address(line1="9 Dock Rd", line2="Bay 4", city="Reno", region="NV"),
        "ship_to_name": "Main warehouse",
        "public_note": "Deliver to dock 4",
        "private_note": "Negotiated by Sam",
    }
    fields.update(kw)
    return SourcePO(**fields)


def refs_for(desired) -> ResolvedRefs:
    items = {item_key(line.item): str(i) for i, line in enumerate(desired.lines) if line.item}
    rules_ = rules()
    names = (
        rules_.shipping_account,
        rules_.tax_account,
        rules_.discount_account,
        rules_.other_costs_account,
    )
    accounts = {name: "a-" + name for name in names}
    return ResolvedRefs(vendor_id="v1", item_ids=items, account_ids=accounts, ap_account_id="33")
