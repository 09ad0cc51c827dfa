"""Luminous PO JSON -> SourcePO, and every way a record is refused with a reason."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.documents.po.model import SourceStatus
from reconciler.documents.po.parse import parse_or_reject, parse_po, rejected
from reconciler.errors import InvalidSourceRecord
from reconciler.model import Address, RejectedRecord

RAW = json.loads(
    """
{
  "id": 41, "order_numbers": ["PO-0041"], "order_status": "active",
  "approval_status": "Pending Approval",
  "order_date": "2026-03-01", "arrival_due_date": "2026-03-15 00:00:00",
  "supplier_id": 3,
  "supplier": {"id": 3, "name": " O'Brien & Sons ", "contact_email": "a@b.example",
               "contact_phone": "555", "contact_name": "Pat", "street_address": "1 Main St",
               "city": "Boston", "state": "MA", "zip": "02110", "country": "US"},
  "warehouse": {"id": 2, "name": "East 3PL", "street_address": "9 Harbor St",
                "city": "Newark", "state": "NJ", "zip": "07105", "country": null},
  "items": [
    {"id": 7, "quantity": "10", "unit_price": 42.10, "tax": "1.05", "discount_amount": 0,
     "line_total": "421.00", "source_sku": "SRC-1",
     "product": {"id": 5, "name": "Whey", "sku": "NC-WHEY", "unit_cost": "40.00"}},
    {"id": 8, "quantity": 2.5, "unit_price": "0.035", "source_sku": "LBL-2",
     "product": {"id": 6, "name": "Label", "sku": null}}
  ],
  "total_tax": "1.05", "total_shipping_cost": 25.5, "down_payment": "100.00",
  "handling_fee": "4.00",
  "public_note": "  Dock 2  ", "private_note": null,
  "custom_fields": [{"name": "Project", "value": "Q2"}, {"key": "Rush", "value": true}],
  "created_at": "2026-03-01T09:00:00.000000Z", "updated_at": "2026-03-02T10:30:00+02:00"
}
""",
    parse_float=Decimal,
)


def raw(**changes):
    record = copy.deepcopy(RAW)
    record.update(changes)
    return record


def test_a_full_record_maps_onto_the_source_model():
    """Every field lands where the model expects it, money exact, instants in UTC."""
    po = parse_po(RAW)
    assert po.id == 41 and po.order_numbers == ("PO-0041",)
    assert po.status is SourceStatus.ACTIVE and po.approval_status == "pending_approval"
    assert po.order_date == date(2026, 3, 1) and po.arrival_due_date == date(2026, 3, 15)
    assert po.created_at == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert po.updated_at == datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
    assert po.supplier.name == "O'Brien & Sons" and po.supplier.email == "a@b.example"
    assert po.supplier.address == Address("1 Main St", None, "Boston", "MA", "02110", "US")
    assert po.ship_to == Address("9 Harbor St", None, "Newark", "NJ", "07105", None)
    assert po.ship_to_name == "East 3PL"
    first, second = po.lines
    assert (first.quantity, first.unit_price, first.tax) == (
        Decimal("10"),
        Decimal("42.10"),
        Decimal("1.05"),
    )
    assert first.product.sku == "NC-WHEY" and first.line_total == Decimal("421.00")
    assert second.product.sku == "LBL-2"  # no product SKU: the line's source_sku
    assert (second.quantity, second.unit_price) == (Decimal("2.5"), Decimal("0.035"))
    assert po.total_shipping_cost == Decimal("25.5") and po.total_tax == Decimal("1.05")
    assert po.other_costs == ()  # down_payment is a payment, not a cost
    assert po.public_note == "  Dock 2  " and po.private_note is None
    assert po.custom_fields == (("Project", "Q2"), ("Rush", "True"))


def test_extra_cost_fields_are_opt_in():
    """A configured extra cost field becomes an other_costs entry; zero amounts are dropped."""
    po = parse_po(RAW, extra_cost_fields=[("handling_fee", "Handling"), ("nope", "Nope")])
    assert po.other_costs == (("Handling", Decimal("4.00")),)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.50", Decimal("12.50")),
        (Decimal("0.1"), Decimal("0.1")),
        (7, Decimal("7")),
        (0.1, Decimal("0.1")),  # a float goes through repr, not binary expansion
        (" 3.000 ", Decimal("3.000")),
    ],
)
def test_money_is_exact(value, expected):
    """Numbers and decimal strings become the exact Decimal written."""
    item = {**RAW["items"][0], "unit_price": value}
    price = parse_po(raw(items=[item])).lines[0].unit_price
    assert price == expected and str(price) == str(expected)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"supplier": None}, "missing supplier"),
        ({"supplier": {"id": 3, "name": "  "}}, "supplier has no name"),
        ({"order_status": "on_hold"}, "unknown status 'on_hold'"),
        ({"order_status": None}, "missing order_status: None"),
        ({"updated_at": None}, "missing updated_at"),
        ({"updated_at": "yesterday"}, "bad timestamp in updated_at: 'yesterday'"),
        ({"order_date": "03/01/2026"}, "bad date in order_date: '03/01/2026'"),
        ({"total_shipping_cost": "12,50"}, "bad number in total_shipping_cost: '12,50'"),
        ({"total_tax": "NaN"}, "bad number in total_tax: 'NaN'"),
        ({"total_tax": True}, "bad number in total_tax: True"),
        ({"items": [{"quantity": 1, "unit_price": 1}]}, "items[1] has no product"),
        (
            {"items": [{"quantity": None, "unit_price": 1, "product": {"name": "x"}}]},
            "missing number in items[1].quantity",
        ),
        ({"items": "none"}, "items is not a list: str"),
        ({"order_numbers": [{"n": 1}]}, "bad order number: {'n': 1}"),
        ({"warehouse": "East"}, "warehouse is not an object: 'East'"),
        ({"custom_fields": 3}, "custom_fields not understood: int"),
    ],
)
def test_bad_records_are_refused_with_a_reason(changes, reason):
    """Each malformed shape raises InvalidSourceRecord naming the problem and the PO."""
    with pytest.raises(InvalidSourceRecord) as caught:
        parse_po(raw(**changes))
    assert caught.value.message == reason and caught.value.doc_id == 41


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("completed", SourceStatus.COMPLETED),
        ("Closed", SourceStatus.CLOSED),
        ("canceled", SourceStatus.CANCELLED),
        ("cancelled", SourceStatus.CANCELLED),
        (" draft ", SourceStatus.DRAFT),
    ],
)
def test_status_vocabulary(value, status):
    """Known statuses in any case; the American 'canceled' reads as cancelled."""
    assert parse_po(raw(order_status=value)).status is status


def test_naive_timestamps_are_utc_and_optional_fields_may_be_absent():
    """A naive timestamp is UTC; a record with only the essentials parses."""
    minimal = {
        "id": "9",
        "order_status": "draft",
        "supplier": {"name": "Nutricost"},
        "created_at": "2026-03-01 09:00:00",
        "updated_at": "2026-03-01T09:00:00",
    }
    po = parse_po(minimal)
    assert po.id == 9 and po.updated_at == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert po.lines == () and po.order_numbers == () and po.ship_to is None
    assert po.approval_status is None and po.supplier.address is None


def test_missing_id_is_refused_without_an_id():
    """No id: the refusal carries no PO id, and the rejected record salvages the rest."""
    record = raw(id=None)
    with pytest.raises(InvalidSourceRecord) as caught:
        parse_po(record)
    assert caught.value.doc_id is None
    assert rejected(record, "x") == RejectedRecord(
        doc_id=None,
        updated_at=datetime(2026, 3, 2, 8, 30, tzinfo=UTC),
        reason="x",
        number="PO-0041",
    )


def test_parse_or_reject_returns_the_rejection():
    """parse_or_reject gives a RejectedRecord with the reason instead of raising."""
    out = parse_or_reject(raw(order_status="weird"))
    assert out == RejectedRecord(
        doc_id=41,
        updated_at=datetime(2026, 3, 2, 8, 30, tzinfo=UTC),
        reason="unknown status 'weird'",
        number="PO-0041",
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.decimals(allow_nan=True),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)
field_names = st.sampled_from(
    [
        "id",
        "order_status",
        "supplier",
        "items",
        "updated_at",
        "created_at",
        "order_date",
        "total_tax",
        "warehouse",
        "order_numbers",
        "custom_fields",
        "approval_status",
    ]
)


@given(changes=st.dictionaries(field_names, json_values, max_size=4))
def test_parse_never_fails_any_other_way(changes):
    """Whatever garbage sits in any field, the parser returns a SourcePO or raises
    InvalidSourceRecord: never a crash that would stop the pass."""
    try:
        parse_po(raw(**changes))
    except InvalidSourceRecord as exc:
        assert exc.message
    assert parse_or_reject(raw(**changes)) is not None


def test_what_classes_locations_and_tax_codes_read():
    """The warehouse's name, a line's tax_rate, the product's tax_class and its attributes
    (category, subcategory, variant attributes, custom fields; plain values only)."""
    record = raw()
    record["items"][0]["tax_rate"] = "2.5"
    record["items"][0]["product"].update(
        tax_class="reduced",
        category={"id": 1, "name": "Protein"},
        variant_attributes={"Flavour": "Vanilla", "Size": 5, "Odd": {"x": 1}, "Flag": True},
        custom_fields=[{"name": "Division", "value": "Sports"}],
    )
    po = parse_po(record)
    assert po.warehouse_name == "East 3PL"
    first, second = po.lines
    assert first.tax_rate == Decimal("2.5") and second.tax_rate is None
    assert first.product.tax_class == "reduced"
    assert first.product.attributes == (
        ("category", "Protein"),
        ("Flavour", "Vanilla"),
        ("Size", "5"),
        ("Division", "Sports"),
    )
    assert second.product.attributes == () and second.product.tax_class is None


def test_a_bad_tax_rate_rejects_the_po_with_the_reason():
    record = raw()
    record["items"][0]["tax_rate"] = "twenty"
    with pytest.raises(InvalidSourceRecord, match=r"items\[1\]\.tax_rate"):
        parse_po(record)
