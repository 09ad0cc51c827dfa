"""QBO bodies: a desired PO, vendor or item becomes the JSON QBO takes."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from po_samples import D, make_line, make_po, refs_for
from support import rules as make_rules

from reconciler.documents import values
from reconciler.documents.po.body import emptied_text_fields, po_payload
from reconciler.documents.po.mapping import desired_po
from reconciler.documents.po.model import DesiredPO, SourceStatus
from reconciler.documents.references import item_payload, vendor_payload
from reconciler.errors import ConfigError, InvalidSourceRecord, Parked
from reconciler.model import Address, DesiredItem, DesiredVendor, ItemKind, SourceSupplier


def test_po_payload_shape():
    """The body has the refs, lines, addresses, dates and notes QBO expects."""
    po = make_po(total_shipping_cost=D("5"))
    desired = desired_po(po, make_rules())
    body = po_payload(desired, refs_for(desired))
    assert body["VendorRef"] == {"value": "v1", "name": "Nutricost"}
    assert body["APAccountRef"] == {"value": "33"}
    assert body["DocNumber"] == "PO-1001"
    assert body["TxnDate"] == "2025-03-01" and body["DueDate"] == "2025-03-15"
    assert body["POStatus"] == "Open"
    assert body["Memo"] == "Deliver to dock 4"
    assert body["PrivateNote"] == "Negotiated by Sam"
    assert body["ShipAddr"] == {
        "Line1": "Main warehouse",
        "Line2": "9 Dock Rd, Bay 4",
        "City": "Reno",
        "CountrySubDivisionCode": "NV",
    }
    assert body["VendorAddr"]["PostalCode"] == "84601"
    item_line, ship_line = body["Line"]
    assert item_line == {
        "LineNum": 1,
        "Amount": D("21.00"),
        "DetailType": "ItemBasedExpenseLineDetail",
        "ItemBasedExpenseLineDetail": {
            "ItemRef": {"value": "0", "name": "Creatine 1"},
            "Qty": D("2"),
            "UnitPrice": D("10.50"),
        },
    }
    account_id = "a-" + make_rules().shipping_account
    assert ship_line["AccountBasedExpenseLineDetail"] == {"AccountRef": {"value": account_id}}
    assert "CurrencyRef" not in body and "Id" not in body and "SyncToken" not in body


def test_closed_po_payload_says_closed():
    """A closed lifecycle is POStatus Closed in the same body."""
    desired = desired_po(make_po(status=SourceStatus.COMPLETED), make_rules())
    assert po_payload(desired, refs_for(desired))["POStatus"] == "Closed"


def test_missing_item_ids_park_or_fall_back_to_an_account_line():
    """Without an item id: Parked, unless missing_item = account_line supplies an account."""
    desired = desired_po(make_po(), make_rules())
    refs = dataclasses.replace(refs_for(desired), item_ids={})
    with pytest.raises(Parked):
        po_payload(desired, refs)
    refs = dataclasses.replace(refs, missing_item_account_id="99")
    line = po_payload(desired, refs)["Line"][0]
    assert line["DetailType"] == "AccountBasedExpenseLineDetail"
    assert line["AccountBasedExpenseLineDetail"]["AccountRef"] == {"value": "99"}
    assert line["Amount"] == D("21.00")
    assert line["Description"].startswith("Creatine 1 x 2 @ 10.50")


def test_missing_account_is_a_config_problem():
    """An account line whose account was not resolved points at [accounts]."""
    desired = desired_po(make_po(total_shipping_cost=D("1")), make_rules())
    refs = dataclasses.replace(refs_for(desired), account_ids={})
    with pytest.raises(ConfigError, match="accounts"):
        po_payload(desired, refs)


def test_thousand_line_po_maps_fast_and_serialises():
    """A 1,000-line PO maps, and its body is valid JSON once Decimals are strings."""
    lines = tuple(make_line(n, unit_price=D("1.23456")) for n in range(1, 1001))
    desired = desired_po(make_po(lines=lines), make_rules())
    body = po_payload(desired, refs_for(desired))
    assert len(body["Line"]) == 1000
    assert body["Line"][-1]["LineNum"] == 1000
    assert json.loads(json.dumps(body, default=str))["Line"][0]["Amount"] == "2.47"


def test_vendor_payload():
    """The vendor body carries name, email, address and account number."""
    po = make_po(
        supplier=SourceSupplier(
            id=1,
            name='Acme: "West"',
            email="not an email",
            phone="+1 555 0100",
            account_number="ACC-9",
            address=Address(line1="1 Road", country="USA"),
        )
    )
    vendor = desired_po(po, make_rules()).vendor
    body = vendor_payload(vendor)
    assert body == {
        "DisplayName": 'Acme- "West"',
        "CompanyName": 'Acme- "West"',
        "PrimaryPhone": {"FreeFormNumber": "+1 555 0100"},
        "BillAddr": {"Line1": "1 Road", "Country": "USA"},
        "AcctNum": "ACC-9",
    }


def test_item_payloads_by_kind():
    """NonInventory needs an expense account; Inventory also income, asset and a start date."""
    item = DesiredItem(name="Creatine", sku="C-1", description="Tub", unit_cost=D("3.5"))
    body = item_payload(item, expense_account_id="80")
    assert body == {
        "Name": "Creatine",
        "Type": "NonInventory",
        "ExpenseAccountRef": {"value": "80"},
        "Sku": "C-1",
        "Description": "Tub",
        "PurchaseDesc": "Tub",
        "PurchaseCost": D("3.5"),
    }
    inventory = dataclasses.replace(item, kind=ItemKind.INVENTORY)
    with pytest.raises(ConfigError, match="inventory asset account"):
        item_payload(inventory, expense_account_id="80", income_account_id="79")
    body = item_payload(
        inventory,
        expense_account_id="80",
        income_account_id="79",
        asset_account_id="81",
        inv_start_date=date(2025, 1, 1),
    )
    assert body["TrackQtyOnHand"] is True
    assert body["InvStartDate"] == "2025-01-01"
    assert body["AssetAccountRef"] == {"value": "81"}


@settings(max_examples=50)
@given(
    st.text(min_size=1, max_size=200).filter(lambda s: s.strip()),
    st.text(max_size=5000),
)
def test_hostile_text_never_breaks_the_body(name, note):
    """Arbitrary names and notes map to a body within QBO's length limits, or a clear error."""
    supplier = SourceSupplier(id=1, name=name)
    try:
        desired = desired_po(make_po(supplier=supplier, private_note=note), make_rules())
    except InvalidSourceRecord as exc:
        assert exc.doc_id == 42
        return
    body = po_payload(desired, refs_for(desired))
    assert len(body["VendorRef"]["name"]) <= 100
    assert len(body.get("PrivateNote", "")) <= values.NOTE_MAX


def test_ap_account_from_account_ids_when_not_given_directly():
    """The configured AP account name resolves through account_ids too."""
    desired = desired_po(make_po(), make_rules(ap_account="Accounts Payable (A/P)"))
    refs = dataclasses.replace(
        refs_for(desired), ap_account_id=None, account_ids={"Accounts Payable (A/P)": "33"}
    )
    assert po_payload(desired, refs)["APAccountRef"] == {"value": "33"}


def test_emptied_text_fields_names_enabled_empty_notes_only():
    """Only fields that sync and are empty are named for clearing."""
    desired = DesiredPO(
        source_id=1,
        doc_number="X",
        vendor=DesiredVendor(display_name="V", source_name="V"),
        lines=(),
        private_note=None,
        memo="kept",
    )
    assert emptied_text_fields(desired, make_rules()) == ("PrivateNote",)
    rules = make_rules(fields=(("Memo", "public_note"),))
    assert emptied_text_fields(desired, rules) == ()
