"""Mapping: a source PO becomes the desired PO, with hostile data."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from po_samples import T0, D, make_line, make_po, refs_for
from support import rules as make_rules

from reconciler.documents.po.body import po_payload
from reconciler.documents.po.mapping import desired_po
from reconciler.documents.po.model import SourceStatus
from reconciler.documents.values import (
    content_hash,
    item_key,
    item_name,
    line_amount,
    vendor_display_name,
    vendor_display_name_with_suffix,
)
from reconciler.errors import ConfigError, InvalidSourceRecord
from reconciler.model import DesiredItem, Lifecycle, LineKind, SourceProduct, SourceSupplier

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
    line = desired_po(po, make_rules()).lines[0]
    assert line.amount == line.amount.quantize(D("0.01"))
    assert abs(line.amount - line.qty * line.unit_price) <= D("0.005")


def test_costs_with_more_than_five_decimals_are_rounded_to_five():
    """UnitPrice keeps at most 5 decimals (QBO's 10.5 format)."""
    po = make_po(lines=(make_line(1, unit_price=D("1.1234567")),))
    line = desired_po(po, make_rules()).lines[0]
    assert line.unit_price == D("1.12346")
    assert line.amount == D("2.25")


def test_five_decimal_costs_survive_unchanged():
    """A cost with exactly 5 decimals is passed through as is."""
    po = make_po(lines=(make_line(1, quantity=D("3"), unit_price=D("0.12345")),))
    line = desired_po(po, make_rules()).lines[0]
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
    rules = make_rules()
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
    tax_lines = [ln for ln in desired_po(po, make_rules()).lines if ln.description == "Tax"]
    assert [ln.amount for ln in tax_lines] == [D("1.00")]


def test_zero_costs_produce_no_account_lines():
    """Zero tax, shipping and discount add nothing."""
    desired = desired_po(make_po(), make_rules())
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
        desired_po(make_po(**changes), make_rules())
    assert info.value.doc_id == 42
    assert reason in info.value.message


def test_long_doc_number_truncates_by_config_keeping_the_end():
    """doc_number_too_long = truncate keeps the last 21 characters (the sequence)."""
    number = "SUPPLIER-NAME-2025-PO-000123"
    rules = make_rules(doc_number_too_long="truncate")
    doc = desired_po(make_po(order_numbers=(number,)), rules).doc_number
    assert doc == number[-21:]
    assert len(doc) == 21


def test_doc_number_index_and_missing_numbers():
    """The configured index picks the PO number; a PO with no usable number is numbered from
    its Luminous id, or fails with the reason: never a create QBO cannot be searched for."""
    po = make_po(order_numbers=("A-1", "B-2"))
    assert desired_po(po, make_rules(doc_number_index=1)).doc_number == "B-2"
    assert desired_po(po, make_rules(fields=(("DocNumber", "id"),))).doc_number == "42"
    for numbers in ((), ("   ",), ("PO\u2013 7",)):  # none, blank, an en dash QBO cannot search
        blank = make_po(order_numbers=numbers)
        assert desired_po(blank, make_rules()).doc_number == "L-42"
        assert desired_po(blank, make_rules(doc_number_prefix="LUM")).doc_number == "LUM42"
        with pytest.raises(InvalidSourceRecord, match="finds its POs in QBO by number"):
            desired_po(blank, make_rules(doc_number_missing="fail"))


# --- notes, fields, currency, lifecycle ---------------------------------------------------------


def test_ten_thousand_character_notes_are_truncated_with_a_marker():
    """PrivateNote and Memo stay within 4000 characters and say they were cut."""
    note = "x" * 10_000
    desired = desired_po(make_po(private_note=note, public_note=note), make_rules())
    for text in (desired.private_note, desired.memo):
        assert len(text) == 4000
        assert text.endswith(" [truncated]")


def test_notes_keep_newlines_and_drop_xml_unsafe_characters():
    """Multi-line notes survive; NUL and CR do not."""
    desired = desired_po(make_po(private_note="a\r\nb\x00c\n"), make_rules())
    assert desired.private_note == "a\nbc"


def test_fields_can_be_turned_off_and_renamed():
    """A field that is off is absent from the desired PO and the body; sources can be swapped.
    DocNumber is never off: the sync finds its POs in QBO by it."""
    rules = make_rules(fields=(("Memo", "private_note"), ("TxnDate", "created_at")))
    desired = desired_po(make_po(), rules)
    assert desired.memo == "Negotiated by Sam"
    assert desired.private_note is None
    assert desired.txn_date == T0.date()
    assert desired.due_date is None and desired.ship_addr is None
    assert desired.doc_number == "PO-1001"
    body = po_payload(desired, refs_for(desired))
    assert "PrivateNote" not in body and "ShipAddr" not in body and body["DocNumber"] == "PO-1001"


def test_currency_is_omitted_for_home_currency_and_kept_otherwise():
    """CurrencyRef appears only for a foreign currency; the vendor gets the same currency."""
    assert desired_po(make_po(currency="usd"), make_rules()).currency is None
    desired = desired_po(make_po(currency="cad"), make_rules())
    assert desired.currency == "CAD"
    assert desired.vendor.currency == "CAD"
    assert po_payload(desired, refs_for(desired))["CurrencyRef"] == {"value": "CAD"}


def test_supplier_currency_is_the_fallback():
    """Without a PO currency, the supplier's currency is used."""
    po = make_po(currency=None, supplier=SourceSupplier(id=1, name="Euro Co", currency="EUR"))
    assert desired_po(po, make_rules()).currency == "EUR"


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
    desired = desired_po(make_po(status=status), make_rules(on_cancel=on_cancel))
    assert desired.lifecycle is lifecycle


def test_custom_fields_from_attributes_and_luminous_custom_fields():
    """Configured custom fields take PO attributes or Luminous custom fields, cut to 31 with a
    visible "…" (docs/qbo-limits.md)."""
    po = make_po(custom_fields=(("project", "Spring launch " * 5),))
    rules = make_rules(custom_fields=(("Sales Rep", "project"), ("Luminous PO", "id")))
    desired = desired_po(po, rules)
    assert desired.custom_fields == (
        ("Sales Rep", ("Spring launch " * 5)[:30].rstrip() + "…"),
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
    rules = make_rules()
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
    a = desired_po(make_po(lines=(make_line(1, unit_price=D("10.5")),)), make_rules())
    b = desired_po(make_po(lines=(make_line(1, unit_price=D("10.50000")),)), make_rules())
    assert a.content_hash == b.content_hash


def test_content_hash_is_stable_across_processes():
    """Another interpreter (another hash seed) computes the same hash."""
    code = (
        "import sys; sys.path[:0] = ['tests/unit', 'tests']; "
        "from po_samples import make_po; from support import rules; "
        "from reconciler.documents.po.mapping import desired_po; "
        "print(desired_po(make_po(), rules()).content_hash)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert out.stdout.strip() == desired_po(make_po(), make_rules()).content_hash


# --- keys ------------------------------------------------------------------------------------


def test_item_key_prefers_sku():
    """Items resolve by SKU when there is one, else by name, case-insensitively."""
    assert item_key(DesiredItem(name="A", sku="Sku-1")) == "sku:sku-1"
    assert item_key(DesiredItem(name="Creatine")) == "name:creatine"


def test_content_hashes_do_not_change_across_versions():
    """The ledger stores these hashes: if the canonical form changed, every synced PO would
    look edited after an upgrade and be rewritten in QBO. Pinned from the released version."""
    from po_samples import make_line, make_po

    plain = desired_po(make_po(), make_rules())
    edited = desired_po(
        make_po(lines=[make_line(1), make_line(2, quantity=D("2.5"))], private_note="Hello"),
        make_rules(),
    )
    assert plain.content_hash == "c947ebb889f35647684510a429968945"
    assert edited.content_hash == "b77e8f7c2ed9d084236f7d1ba6213697"


def test_pos_of_one_supplier_and_product_share_their_vendor_item_and_address():
    """A backlog's POs waiting in the pipeline hold one mapped vendor, item and address per
    supplier and product, not a copy each (the mappings are cached: they are pure)."""
    rules = make_rules()
    first = desired_po(make_po(id=1, order_numbers=("PO-1",)), rules)
    # parsed again from JSON: equal, not the same objects
    again = make_po(id=2, order_numbers=("PO-2",), lines=(make_line(1),))
    second = desired_po(
        dataclasses.replace(again, supplier=dataclasses.replace(again.supplier)), rules
    )
    assert second.vendor is first.vendor
    assert second.vendor_addr is first.vendor_addr
    assert second.lines[0].item is first.lines[0].item
    assert second.lines[0] is not first.lines[0]  # a line is the PO's own


def test_a_cached_item_keeps_the_digits_of_its_own_cost():
    """Decimal("1.0") == Decimal("1.00") (same hash too): the cache must not hand one
    product's item to the other, whose cost was written with other digits."""
    rules = make_rules()
    costs = []
    for n, cost in enumerate(("1.0", "1.00"), start=1):
        product = SourceProduct(id=1, name="Creatine 1", sku="SKU-1", unit_cost=D(cost))
        po = make_po(id=n, order_numbers=(f"PO-{n}",), lines=(make_line(1, product=product),))
        costs.append(str(desired_po(po, rules).lines[0].item.unit_cost))
    assert costs == ["1.0", "1.00"]
