"""Mapping: source PO -> desired PO -> QBO body, with hostile data."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import unicodedata
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler import mapping
from reconciler.errors import ConfigError, InvalidSourceRecord, Parked
from reconciler.mapping import (
    MappingRules,
    ResolvedRefs,
    content_hash,
    desired_po,
    item_key,
    item_name,
    item_payload,
    line_amount,
    po_payload,
    vendor_display_name,
    vendor_display_name_with_suffix,
    vendor_payload,
)
from reconciler.model import (
    Address,
    DesiredItem,
    DesiredPO,
    DesiredVendor,
    ItemKind,
    Lifecycle,
    LineKind,
    SourceLine,
    SourcePO,
    SourceProduct,
    SourceStatus,
    SourceSupplier,
)

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
    rules = MappingRules()
    names = (
        rules.shipping_account,
        rules.tax_account,
        rules.discount_account,
        rules.other_costs_account,
    )
    accounts = {name: "a-" + name for name in names}
    return ResolvedRefs(vendor_id="v1", item_ids=items, account_ids=accounts, ap_account_id="33")


# --- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Nutricost", "Nutricost"),
        ("  Acme  Corp  ", "Acme Corp"),
        ("Acme:Sub", "Acme-Sub"),
        ("Tab\there\nnew\rline", "Tab here new line"),
        ('O\'Brien "Quoted" Ltd', 'O\'Brien "Quoted" Ltd'),
        ("Cafe\u0301 Zürich", "Café Zürich"),  # NFC
        ("nul\x00byte", "nul byte"),
        ("no\u00a0break", "no break"),
    ],
)
def test_vendor_display_name_table(raw, expected):
    """Each documented normalisation step does what the docstring says."""
    assert vendor_display_name(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "\t\n", "\x00\x01"])
def test_empty_names_are_invalid(raw):
    """A name that is empty once normalised is a source problem, not a blank vendor."""
    with pytest.raises(InvalidSourceRecord):
        vendor_display_name(raw)


def test_long_names_are_cut_with_a_distinguishing_hash():
    """Two 150-character names with the same first 100 characters stay distinct and short."""
    a = vendor_display_name("N" * 149 + "a")
    b = vendor_display_name("N" * 149 + "b")
    assert len(a) == len(b) == 100
    assert a != b
    assert a.startswith("N" * 80)


def test_suffix_keeps_the_limit():
    """The collision suffix fits inside the name limit even for long names."""
    name = vendor_display_name_with_suffix("Z" * 150, " (Supplier)")
    assert len(name) == 100
    assert name.endswith(" (Supplier)")
    assert vendor_display_name_with_suffix("Acme", " (Supplier)") == "Acme (Supplier)"


@given(st.text(max_size=300))
def test_name_rule_properties(raw):
    """Normalised names are short, colon-free, trimmed, free of control characters, idempotent."""
    try:
        name = item_name(raw)
    except InvalidSourceRecord:
        assert raw.strip() == "" or all(not ch.isprintable() or ch.isspace() for ch in raw)
        return
    assert 0 < len(name) <= 100
    assert ":" not in name
    assert name == name.strip()
    assert "  " not in name
    assert not any(unicodedata.category(ch) == "Cc" for ch in name)
    assert item_name(name) == name


# --- money -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("qty", "price", "amount"),
    [
        ("2", "10.50", "21.00"),
        ("8", "232.634375", "1861.08"),  # half a cent rounds up, like QBO
        ("3", "0.33335", "1.00"),
        ("1", "0.005", "0.01"),
        ("1000000", "0.00001", "10.00"),
    ],
)
def test_line_amount_rounds_half_up(qty, price, amount):
    """Amount = qty x price rounded half-up to cents, what QBO's 6070 check expects."""
    assert line_amount(D(qty), D(price)) == D(amount)


@given(
    st.decimals(min_value=0, max_value=10_000, places=5),
    st.decimals(min_value=0, max_value=10_000, places=5),
)
def test_item_line_amount_matches_qbo_check(qty, price):
    """Every mapped item line passes QBO's check: |Amount - Qty*UnitPrice| < half a cent."""
    po = make_po(lines=(make_line(1, quantity=qty, unit_price=price),))
    line = desired_po(po, MappingRules()).lines[0]
    assert line.amount == line.amount.quantize(D("0.01"))
    assert abs(line.amount - line.qty * line.unit_price) <= D("0.005")


def test_costs_with_more_than_five_decimals_are_rounded_to_five():
    """UnitPrice keeps at most 5 decimals (QBO's 10.5 format)."""
    po = make_po(lines=(make_line(1, unit_price=D("1.1234567")),))
    line = desired_po(po, MappingRules()).lines[0]
    assert line.unit_price == D("1.12346")
    assert line.amount == D("2.25")


def test_five_decimal_costs_survive_unchanged():
    """A cost with exactly 5 decimals is passed through as is."""
    po = make_po(lines=(make_line(1, quantity=D("3"), unit_price=D("0.12345")),))
    line = desired_po(po, MappingRules()).lines[0]
    assert line.unit_price == D("0.12345")
    assert line.amount == D("0.37")


def test_discount_tax_shipping_and_other_costs_become_account_lines():
    """The documented cost rules: one discount line, one tax line, shipping, each other cost."""
    po = make_po(
        lines=(
            make_line(1, discount_amount=D("1.00"), tax=D("0.50")),
            make_line(2, discount_amount=D("2.005"), tax=D("0.25")),
        ),
        total_shipping_cost=D("12.5"),
        other_costs=(("Pallet fee", D("4")), ("Nothing", D("0"))),
    )
    rules = MappingRules()
    desired = desired_po(po, rules)
    accounts = [(ln.account, ln.amount, ln.description) for ln in desired.lines[2:]]
    assert accounts == [
        (rules.discount_account, D("-3.01"), "Discounts (2 lines)"),
        (rules.tax_account, D("0.75"), "Tax"),
        (rules.shipping_account, D("12.50"), "Shipping"),
        (rules.other_costs_account, D("4.00"), "Pallet fee"),
    ]
    assert desired.total == D("21.00") * 2 - D("3.01") + D("0.75") + D("12.50") + D("4.00")


def test_total_tax_wins_over_line_taxes():
    """Luminous' total_tax already includes line taxes: never both."""
    po = make_po(lines=(make_line(1, tax=D("1.00")),), total_tax=D("1.00"))
    tax_lines = [ln for ln in desired_po(po, MappingRules()).lines if ln.description == "Tax"]
    assert [ln.amount for ln in tax_lines] == [D("1.00")]


def test_zero_costs_produce_no_account_lines():
    """Zero tax, shipping and discount add nothing."""
    desired = desired_po(make_po(), MappingRules())
    assert [ln.kind for ln in desired.lines] == [LineKind.ITEM]


# --- per-PO errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"lines": ()}, "no lines"),
        ({"lines": (make_line(1, quantity=D("-1")),)}, "negative quantity"),
        ({"lines": (make_line(1, unit_price=D("-1")),)}, "negative unit price"),
        ({"lines": (make_line(1, quantity=D("NaN")),)}, "not a number"),
        ({"currency": "ZZZ"}, "unknown currency"),
        ({"currency": "US Dollars"}, "unknown currency"),
        ({"order_numbers": ("P" * 22,)}, "22 characters"),
        ({"lines": (make_line(1, discount_amount=D("-1")),)}, "negative line discount"),
        ({"total_tax": D("-1")}, "negative tax"),
        ({"total_shipping_cost": D("-1")}, "negative shipping"),
        ({"other_costs": (("Rebate", D("-100")),)}, "total"),
        ({"lines": (make_line(1, quantity=D("1e6"), unit_price=D("1e5")),)}, "too large"),
        ({"supplier": SourceSupplier(id=1, name="  \t ")}, "empty"),
        ({"lines": (make_line(1, product=SourceProduct(id=1, name="\n")),)}, "line 1"),
    ],
)
def test_bad_records_raise_a_clear_per_po_error(changes, reason):
    """Each bad record names the PO and says why."""
    with pytest.raises(InvalidSourceRecord) as info:
        desired_po(make_po(**changes), MappingRules())
    assert info.value.po_id == 42
    assert reason in info.value.message


def test_long_doc_number_truncates_by_config_keeping_the_end():
    """doc_number_too_long = truncate keeps the last 21 characters (the sequence)."""
    number = "SUPPLIER-NAME-2025-PO-000123"
    rules = MappingRules(doc_number_too_long="truncate")
    doc = desired_po(make_po(order_numbers=(number,)), rules).doc_number
    assert doc == number[-21:]
    assert len(doc) == 21


def test_doc_number_index_and_missing_numbers():
    """The configured index picks the PO number; no number means no DocNumber."""
    po = make_po(order_numbers=("A-1", "B-2"))
    assert desired_po(po, MappingRules(doc_number_index=1)).doc_number == "B-2"
    assert desired_po(make_po(order_numbers=()), MappingRules()).doc_number is None
    assert desired_po(po, MappingRules(fields=(("DocNumber", "id"),))).doc_number == "42"


# --- notes, fields, currency, lifecycle ---------------------------------------------------------


def test_ten_thousand_character_notes_are_truncated_with_a_marker():
    """PrivateNote and Memo stay within 4000 characters and say they were cut."""
    note = "x" * 10_000
    desired = desired_po(make_po(private_note=note, public_note=note), MappingRules())
    for text in (desired.private_note, desired.memo):
        assert len(text) == 4000
        assert text.endswith(" [truncated]")


def test_notes_keep_newlines_and_drop_xml_unsafe_characters():
    """Multi-line notes survive; NUL and CR do not."""
    desired = desired_po(make_po(private_note="a\r\nb\x00c\n"), MappingRules())
    assert desired.private_note == "a\nbc"


def test_fields_can_be_turned_off_and_renamed():
    """A field that is off is absent from the desired PO and the body; sources can be swapped."""
    rules = MappingRules(fields=(("Memo", "private_note"), ("TxnDate", "created_at")))
    desired = desired_po(make_po(), rules)
    assert desired.memo == "Negotiated by Sam"
    assert desired.private_note is None
    assert desired.txn_date == T0.date()
    assert desired.due_date is None and desired.ship_addr is None and desired.doc_number is None
    body = po_payload(desired, refs_for(desired))
    assert "PrivateNote" not in body and "DocNumber" not in body and "ShipAddr" not in body


def test_currency_is_omitted_for_home_currency_and_kept_otherwise():
    """CurrencyRef appears only for a foreign currency; the vendor gets the same currency."""
    assert desired_po(make_po(currency="usd"), MappingRules()).currency is None
    desired = desired_po(make_po(currency="cad"), MappingRules())
    assert desired.currency == "CAD"
    assert desired.vendor.currency == "CAD"
    assert po_payload(desired, refs_for(desired))["CurrencyRef"] == {"value": "CAD"}


def test_supplier_currency_is_the_fallback():
    """Without a PO currency, the supplier's currency is used."""
    po = make_po(currency=None, supplier=SourceSupplier(id=1, name="Euro Co", currency="EUR"))
    assert desired_po(po, MappingRules()).currency == "EUR"


@pytest.mark.parametrize(
    ("status", "on_cancel", "lifecycle"),
    [
        (SourceStatus.ACTIVE, "close", Lifecycle.OPEN),
        (SourceStatus.COMPLETED, "close", Lifecycle.CLOSED),
        (SourceStatus.CLOSED, "close", Lifecycle.CLOSED),
        (SourceStatus.CANCELLED, "close", Lifecycle.CLOSED),
        (SourceStatus.CANCELLED, "delete", Lifecycle.DELETED),
    ],
)
def test_lifecycle_from_status(status, on_cancel, lifecycle):
    """Source status maps to the QBO lifecycle, cancel by policy."""
    desired = desired_po(make_po(status=status), MappingRules(on_cancel=on_cancel))
    assert desired.lifecycle is lifecycle


def test_custom_fields_from_attributes_and_luminous_custom_fields():
    """Configured custom fields take PO attributes or Luminous custom fields, cut to 31."""
    po = make_po(custom_fields=(("project", "Spring launch " * 5),))
    rules = MappingRules(custom_fields=(("Sales Rep", "project"), ("Luminous PO", "id")))
    desired = desired_po(po, rules)
    assert desired.custom_fields == (
        ("Sales Rep", ("Spring launch " * 5)[:31].rstrip()),
        ("Luminous PO", "42"),
    )
    refs = dataclasses.replace(refs_for(desired), custom_field_ids={"Sales Rep": "1"})
    with pytest.raises(ConfigError):
        po_payload(desired, refs)
    refs = dataclasses.replace(refs, custom_field_ids={"Sales Rep": "1", "Luminous PO": "2"})
    body = po_payload(desired, refs)
    assert body["CustomField"][1] == {
        "DefinitionId": "2",
        "Name": "Luminous PO",
        "Type": "StringType",
        "StringValue": "42",
    }


# --- hash --------------------------------------------------------------------------------------


def test_content_hash_is_set_and_changes_with_content():
    """The hash is 32 hex characters, changes when content changes, not when only ids do."""
    rules = MappingRules()
    a = desired_po(make_po(), rules)
    b = desired_po(make_po(updated_at=datetime(2030, 1, 1, tzinfo=UTC)), rules)
    c = desired_po(make_po(public_note="other"), rules)
    assert len(a.content_hash) == 32
    int(a.content_hash, 16)
    assert a.content_hash == b.content_hash
    assert a.content_hash != c.content_hash
    assert content_hash(a) == a.content_hash


def test_content_hash_ignores_decimal_spelling():
    """10.5 and 10.50000 are the same money and hash the same."""
    a = desired_po(make_po(lines=(make_line(1, unit_price=D("10.5")),)), MappingRules())
    b = desired_po(make_po(lines=(make_line(1, unit_price=D("10.50000")),)), MappingRules())
    assert a.content_hash == b.content_hash


def test_content_hash_is_stable_across_processes():
    """Another interpreter (another hash seed) computes the same hash."""
    code = (
        "import sys; sys.path.insert(0, 'tests/unit'); "
        "from test_mapping import make_po; "
        "from reconciler.mapping import desired_po, MappingRules; "
        "print(desired_po(make_po(), MappingRules()).content_hash)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert out.stdout.strip() == desired_po(make_po(), MappingRules()).content_hash


# --- bodies ------------------------------------------------------------------------------------


def test_po_payload_shape():
    """The body has the refs, lines, addresses, dates and notes QBO expects."""
    po = make_po(total_shipping_cost=D("5"))
    desired = desired_po(po, MappingRules())
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
    account_id = "a-" + MappingRules().shipping_account
    assert ship_line["AccountBasedExpenseLineDetail"] == {"AccountRef": {"value": account_id}}
    assert "CurrencyRef" not in body and "Id" not in body and "SyncToken" not in body


def test_closed_po_payload_says_closed():
    """A closed lifecycle is POStatus Closed in the same body."""
    desired = desired_po(make_po(status=SourceStatus.COMPLETED), MappingRules())
    assert po_payload(desired, refs_for(desired))["POStatus"] == "Closed"


def test_missing_item_ids_park_or_fall_back_to_an_account_line():
    """Without an item id: Parked, unless missing_item = account_line supplies an account."""
    desired = desired_po(make_po(), MappingRules())
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
    desired = desired_po(make_po(total_shipping_cost=D("1")), MappingRules())
    refs = dataclasses.replace(refs_for(desired), account_ids={})
    with pytest.raises(ConfigError, match="accounts"):
        po_payload(desired, refs)


def test_thousand_line_po_maps_fast_and_serialises():
    """A 1,000-line PO maps, and its body is valid JSON once Decimals are strings."""
    lines = tuple(make_line(n, unit_price=D("1.23456")) for n in range(1, 1001))
    desired = desired_po(make_po(lines=lines), MappingRules())
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
    vendor = desired_po(po, MappingRules()).vendor
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


def test_item_key_prefers_sku():
    """Items resolve by SKU when there is one, else by name, case-insensitively."""
    assert item_key(DesiredItem(name="A", sku="Sku-1")) == "sku:sku-1"
    assert item_key(DesiredItem(name="Creatine")) == "name:creatine"


@settings(max_examples=50)
@given(
    st.text(min_size=1, max_size=200).filter(lambda s: s.strip()),
    st.text(max_size=5000),
)
def test_hostile_text_never_breaks_the_body(name, note):
    """Arbitrary names and notes map to a body within QBO's length limits, or a clear error."""
    supplier = SourceSupplier(id=1, name=name)
    try:
        desired = desired_po(make_po(supplier=supplier, private_note=note), MappingRules())
    except InvalidSourceRecord as exc:
        assert exc.po_id == 42
        return
    body = po_payload(desired, refs_for(desired))
    assert len(body["VendorRef"]["name"]) <= 100
    assert len(body.get("PrivateNote", "")) <= mapping.NOTE_MAX


def test_ap_account_from_account_ids_when_not_given_directly():
    """The configured AP account name resolves through account_ids too."""
    desired = desired_po(make_po(), MappingRules(ap_account="Accounts Payable (A/P)"))
    refs = dataclasses.replace(
        refs_for(desired), ap_account_id=None, account_ids={"Accounts Payable (A/P)": "33"}
    )
    assert po_payload(desired, refs)["APAccountRef"] == {"value": "33"}


def test_emptied_text_fields_names_enabled_empty_notes_only():
    """Only fields that sync and are empty are named for clearing."""
    from reconciler.mapping import MappingRules, emptied_text_fields

    desired = DesiredPO(
        source_id=1,
        doc_number="X",
        vendor=DesiredVendor(display_name="V", source_name="V"),
        lines=(),
        private_note=None,
        memo="kept",
    )
    assert emptied_text_fields(desired, MappingRules()) == ("PrivateNote",)
    rules = MappingRules(fields=(("Memo", "public_note"),))
    assert emptied_text_fields(desired, rules) == ()
