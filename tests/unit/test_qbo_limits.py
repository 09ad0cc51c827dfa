"""Every body the client can build stays within what QBO documents: property names from
Intuit's XSD, maximum lengths from Intuit's API reference (../shared/qbo-reference; the
emulator's generated table `reconciler.sandbox.qbo.schema`, kept equal to the reference by
tests/contract/test_qbo_emulator_schema.py). A new field, or a longer value, cannot slip past:
the validator knows every property of every type.

The bodies are built from hostile sources (10,000-character texts, characters outside the BMP,
which Java counts twice, long names, SKUs, addresses, phones, account numbers, labels) through
the real mapping and body code, and from the resolvers through a recording fake client. What
each field does with a value that is too long is documented in docs/qbo-limits.md.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from po_samples import make_line, make_po, refs_for
from support import rules as make_rules
from test_bills import PO_LINE, decide, raw_bill

from reconciler.documents import references
from reconciler.documents.bill import body as bill_bodies
from reconciler.documents.bill.parse import parse_bill
from reconciler.documents.po import body as po_bodies
from reconciler.documents.po.mapping import desired_po
from reconciler.documents.references import ResolvedRefs
from reconciler.errors import InvalidSourceRecord
from reconciler.model import Address, ItemKind, SourceProduct, SourceSupplier
from reconciler.resolve.items import ItemPolicy, ItemResolver
from reconciler.resolve.named import CLASS, NamedRefResolver
from reconciler.resolve.vendors import VendorResolver
from reconciler.sandbox.qbo.schema import SCHEMA, utf16_length

D = Decimal
WIDE = "😀"  # two UTF-16 units
LONG = ("Ünïcødé " + WIDE) * 2000  # 20,000 characters, a tenth of them outside the BMP


def _address() -> Address:
    return Address(line1=LONG, line2=LONG, city=LONG, region=LONG, postal_code=LONG, country=LONG)


def _hostile_po(**changes):
    supplier = SourceSupplier(
        id=7,
        name=LONG,
        email="ap@nutricost.example",
        phone=LONG,
        address=_address(),
        account_number=LONG,
    )
    product = SourceProduct(id=1, name=LONG, sku="SKU-1", description=LONG)
    fields = {
        "supplier": supplier,
        "lines": (make_line(1, product=product, description=LONG),),
        "ship_to": _address(),
        "ship_to_name": LONG,
        "public_note": LONG,
        "private_note": LONG,
        "other_costs": ((LONG, D("4.00")),),
        "total_shipping_cost": D("2.00"),
        "custom_fields": (("Region", LONG),),
    }
    return make_po(**(fields | changes))


def _check(entity: str, body: dict[str, Any]) -> dict[str, Any]:
    """The body as QBO would take it; the fault it would answer otherwise."""
    SCHEMA.check(entity, body)
    return body


def _longest(body: Any) -> int:
    """The longest string anywhere in a body, in UTF-16 units (the test is not vacuous)."""
    if isinstance(body, dict):
        return max((_longest(v) for v in body.values()), default=0)
    if isinstance(body, list):
        return max((_longest(v) for v in body), default=0)
    return utf16_length(body) if isinstance(body, str) else 0


def test_a_hostile_po_its_vendor_and_its_item_fit_qbo():
    rules = make_rules(custom_fields=(("Region", "Region"),))
    desired = desired_po(_hostile_po(), rules)
    refs = dataclasses.replace(refs_for(desired), custom_field_ids={"Region": "1"})
    po = _check("PurchaseOrder", po_bodies.po_payload(desired, refs))
    # the notes and descriptions, cut at the documented maximum (a wide character that would
    # straddle it is left out whole)
    assert 3998 <= _longest(po) <= 4000
    vendor = _check("Vendor", references.vendor_payload(desired.vendor))
    assert 498 <= utf16_length(vendor["BillAddr"]["Line1"]) <= 500
    assert vendor["BillAddr"]["Line1"].endswith("…")
    assert 28 <= utf16_length(vendor["PrimaryPhone"]["FreeFormNumber"]) <= 30
    item = desired.lines[0].item
    for kind in ItemKind:
        body = references.item_payload(
            dataclasses.replace(item, kind=kind),
            expense_account_id="1",
            income_account_id="2",
            asset_account_id="3",
            inv_start_date=make_po().order_date,
        )
        _check("Item", body)
        assert 998 <= utf16_length(body["PurchaseDesc"]) <= 1000
        assert body["PurchaseDesc"].endswith(" [truncated]")
        assert 3998 <= utf16_length(body["Description"]) <= 4000


def test_a_po_sent_as_an_update_fits_qbo():
    """The writer's sparse update and an emptied note ("" to clear it)."""
    desired = desired_po(_hostile_po(), make_rules())
    body = po_bodies.po_payload(desired, refs_for(desired))
    update = {**body, "Id": "10", "SyncToken": "3", "sparse": True, "PrivateNote": ""}
    _check("PurchaseOrder", update)


def test_a_tax_inclusive_po_fits_qbo():
    """Net lines with the gross in TaxInclusiveAmt: still only XSD properties."""
    desired = dataclasses.replace(
        desired_po(_hostile_po(), make_rules()), tax_calculation="TaxInclusive"
    )
    lines = [dataclasses.replace(line, tax_code="GST") for line in desired.lines]
    desired = dataclasses.replace(desired, lines=tuple(lines))
    refs = dataclasses.replace(
        refs_for(desired), tax_code_ids={"GST": "5"}, tax_rates={"5": D("10")}
    )
    _check("PurchaseOrder", po_bodies.po_payload(desired, refs))


def test_hostile_bills_their_voids_and_updates_fit_qbo():
    long_item = {"name": LONG, "sku": "W-1", "description": LONG}
    record = raw_bill(
        bill_number=" INV-1 ",
        vendor_name=LONG,
        notes=LONG,
        extra_costs=[{"id": 3, "name": LONG, "quantity": 1, "unit_price": "5.25"}],
    )
    record["items"][0]["product"] = {"id": 9} | long_item
    record["items"][0]["description"] = LONG
    desired = decide(parse_bill(record)).desired
    refs = ResolvedRefs(vendor_id="3", account_ids={n: "80" for n in _accounts(desired)})
    link = bill_bodies.POLinkRef("900", PO_LINE, 1, "PO-1")
    body = _check("Bill", bill_bodies.bill_payload(desired, refs, {1: link}))
    held = {**body, "Id": "7", "SyncToken": "1", "PrivateNote": LONG}
    held["Line"] = [{**line, "Id": str(n)} for n, line in enumerate(body["Line"], 1)]
    void = _check("Bill", bill_bodies.void_payload(held) | {"Id": "7", "SyncToken": "1"})
    assert utf16_length(void["PrivateNote"]) <= 4000
    keys = [line.key for line in desired.lines]
    _check("Bill", bill_bodies.with_line_ids(body, keys, {}, held))


def _accounts(desired) -> set[str]:
    return {line.account for line in desired.lines if line.account}


class Recorder:
    """A QBO client that answers queries with given rows and records every write."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.writes: list[tuple[str, dict[str, Any]]] = []

    def query(self, statement: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self.rows]

    def create(self, entity: str, body: dict[str, Any], *, request_id: str) -> Any:
        self.writes.append((entity, body))
        return body | {"Id": "99", "SyncToken": "0"}

    def update(self, entity, body, *, request_id, sparse=True):
        self.writes.append((entity, body))
        return self.rows[0] | body | {"SyncToken": "1"}


class Maps:
    """ReferenceMaps that remember nothing (every resolve asks the client)."""

    def __getattr__(self, name: str):
        return lambda *a, **k: None


def test_what_the_resolvers_write_fits_qbo():
    """Vendor and item creates and reactivations, a class made active again."""
    desired = desired_po(_hostile_po(), make_rules())
    inactive = {"Id": "5", "SyncToken": "2", "Active": False}
    vendors = Recorder([inactive | {"DisplayName": desired.vendor.display_name}])
    VendorResolver(vendors, Maps(), realm_id="r").resolve(desired.vendor)
    VendorResolver(Recorder([]), Maps(), realm_id="r").create_request(desired.vendor)
    item = desired.lines[0].item
    items = Recorder([inactive | {"Name": item.name, "Sku": item.sku}])
    accounts = type("Accounts", (), {"id_for": staticmethod(lambda name: "1")})()
    resolver = ItemResolver(
        items, Maps(), accounts, realm_id="r", policy=ItemPolicy(), account_names={"expense": "E"}
    )
    resolver.resolve(item)
    body, _ = resolver.create_request(item)
    classes = Recorder([inactive | {"Name": "East", "FullyQualifiedName": "East"}])
    NamedRefResolver(classes, Maps(), CLASS, realm_id="r", on_inactive="reactivate").id_for("East")
    written = vendors.writes + items.writes + classes.writes + [("Item", body)]
    assert {entity for entity, _ in written} == {"Vendor", "Item", "Class"}
    for entity, body in written:
        _check(entity, body)


@pytest.mark.parametrize(
    ("supplier", "product", "reason"),
    [
        ({"email": "a" * 95 + "@x.example"}, {}, "email"),
        ({}, {"sku": "S" * 101}, "SKU"),
    ],
)
def test_a_value_that_cannot_be_cut_fails_its_document_with_the_reason(supplier, product, reason):
    """An email or a SKU longer than QBO's 100 cannot be cut (a cut one is another address, or
    another product's key): the PO fails alone and says which and why."""
    po = make_po()
    po = dataclasses.replace(
        po,
        supplier=dataclasses.replace(po.supplier, **supplier),
        lines=(make_line(1, product=SourceProduct(id=1, name="Whey", **product)),),
    )
    with pytest.raises(InvalidSourceRecord, match=reason):
        desired_po(po, make_rules())
