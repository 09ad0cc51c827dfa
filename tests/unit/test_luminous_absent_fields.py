"""Absent fields are decisions, not defaults: a PO without a currency in a multicurrency QBO
company, and a PO without a warehouse where a rule needs one.

Sources: ../shared/luminous-api.md, "Purchase orders": "the PO JSON shows no currency field
... and no warehouse object (only `warehouse_id` and `location_id` as list filters). Where a
field the sync needs may be absent, the absence is an explicit, configured decision, never a
silent default that books a wrong amount." Intuit's PurchaseOrder reference (read below from
../shared/qbo-reference/api-reference-types.json): CurrencyRef "Required if multicurrency is
enabled for the company".
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from po_samples import make_po, refs_for
from support import rules as make_rules

from reconciler.config.loader import Settings
from reconciler.documents import coding
from reconciler.documents.po.body import po_payload
from reconciler.documents.po.mapping import desired_po
from reconciler.documents.po.parse import parse_po
from reconciler.documents.values import content_hash
from reconciler.errors import InvalidSourceRecord
from reconciler.model import SourceSupplier
from reconciler.qbo.company import CompanyProfile, profile_from

REFERENCE = Path(__file__).resolve().parents[3] / "shared/qbo-reference/api-reference-types.json"
NO_CURRENCY = {"currency": None, "supplier": SourceSupplier(id=7, name="Nutricost")}


def test_intuit_requires_currency_ref_in_a_multicurrency_company():
    """The fact the currency rule rests on, as Intuit's reference states it."""
    types = json.loads(REFERENCE.read_text(encoding="utf-8"))["Types"]
    currency = next(a for a in types["PurchaseOrder"]["attributes"] if a["name"] == "CurrencyRef")
    assert "Required if multicurrency is enabled for the company" in currency["description"]


def test_the_company_profile_reads_multicurrency():
    prefs = {"CurrencyPrefs": {"MultiCurrencyEnabled": True, "HomeCurrency": {"value": "USD"}}}
    profile = profile_from({"Country": "US"}, prefs)
    assert profile.multicurrency and "multicurrency" in profile.describe()
    assert not profile_from({"Country": "US"}, {}).multicurrency
    rules = Settings().mapping_rules(profile)
    assert rules.multicurrency and rules.missing_currency == "fail"


def test_by_default_a_po_without_currency_fails_in_a_multicurrency_company():
    with pytest.raises(InvalidSourceRecord) as info:
        desired_po(make_po(**NO_CURRENCY), make_rules(multicurrency=True))
    assert "sync.missing_currency" in info.value.message and info.value.doc_id == 42


def test_home_books_it_in_the_home_currency_named():
    desired = desired_po(
        make_po(**NO_CURRENCY), make_rules(multicurrency=True, missing_currency="home")
    )
    assert po_payload(desired, refs_for(desired))["CurrencyRef"] == {"value": "USD"}


def test_vendor_books_it_in_its_vendors_currency_in_qbo():
    rules = make_rules(multicurrency=True, missing_currency="vendor")
    desired = desired_po(make_po(**NO_CURRENCY), rules)
    assert desired.currency is None and desired.currency_from == "vendor"
    refs = refs_for(desired)
    eur = po_payload(desired, type(refs)(**{**refs.__dict__, "vendor_currency": "EUR"}))
    assert eur["CurrencyRef"] == {"value": "EUR"}


def test_a_currency_luminous_gives_wins_and_is_always_named_in_a_multicurrency_company():
    rules = make_rules(multicurrency=True)
    home = desired_po(make_po(currency="usd"), rules)
    assert po_payload(home, refs_for(home))["CurrencyRef"] == {"value": "USD"}
    supplier = SourceSupplier(id=7, name="Acme GmbH", currency="EUR")
    from_supplier = desired_po(make_po(currency=None, supplier=supplier), rules)
    assert from_supplier.currency == "EUR"


def test_a_single_currency_company_is_unchanged():
    """No multicurrency: no CurrencyRef for the home currency, whatever the setting."""
    desired = desired_po(make_po(**NO_CURRENCY), make_rules(missing_currency="fail"))
    assert "CurrencyRef" not in po_payload(desired, refs_for(desired))


# --- warehouse ----------------------------------------------------------------------------------

BY_WAREHOUSE = coding.Lookup(source="warehouse", table=(("Main", "East"),), default="General")
WITHOUT = {"ship_to": None, "ship_to_name": None, "warehouse_name": None, "has_warehouse": False}


def coded(**changes):
    line_coding = coding.CodingRules(classes=BY_WAREHOUSE, locations=BY_WAREHOUSE)
    return make_rules(line_coding=line_coding, **changes)


def test_a_rule_that_needs_the_warehouse_fails_the_po_by_default():
    with pytest.raises(InvalidSourceRecord) as info:
        desired_po(make_po(**WITHOUT, warehouse_id=9), coded())
    reason = info.value.message
    assert "warehouse 9 not found" in reason and "sync.missing_warehouse" in reason
    assert '[classes] source = "warehouse"' in reason and "[locations]" in reason


def test_default_takes_the_rules_default_and_says_so():
    desired = desired_po(make_po(**WITHOUT), coded(missing_warehouse="default"))
    assert {line.class_name for line in desired.lines} == {"General"}
    assert desired.location == "General" and desired.ship_addr is None
    assert desired.note is not None and "no warehouse_id" in desired.note
    assert "ShipAddr left out" in desired.note and "its default" in desired.note


def test_without_a_rule_a_missing_warehouse_only_leaves_ship_to_out_and_says_so():
    desired = desired_po(make_po(**WITHOUT), make_rules())
    assert desired.ship_addr is None
    assert (
        desired.note == "no warehouse on this PO (no warehouse_id in Luminous): ShipAddr left out"
    )
    assert desired_po(make_po(), make_rules()).note is None


def test_the_note_is_not_content():
    """The note changes no content hash (a PO is not rewritten for the wording of a note)."""
    desired = desired_po(make_po(**WITHOUT), make_rules())
    assert desired.note
    assert content_hash(dataclasses.replace(desired, note=None)) == desired.content_hash


def test_the_parser_tells_a_po_without_its_warehouse():
    raw = {
        "id": 5,
        "order_status": "active",
        "supplier": {"name": "Nutricost"},
        "created_at": "2023-11-07T05:31:56Z",
        "updated_at": "2023-11-07T05:31:56Z",
        "warehouse_id": 3,
    }
    bare = parse_po(raw)
    assert not bare.has_warehouse and bare.warehouse_id == 3
    found = parse_po({**raw, "warehouse": {"id": 3, "name": "Main", "city": "Reno"}})
    assert found.has_warehouse and found.warehouse_name == "Main"


def test_the_settings_default_to_deciding_nothing_silently():
    sync = Settings().sync
    assert (sync.missing_currency, sync.missing_warehouse) == ("fail", "fail")
    assert CompanyProfile(country="US").multicurrency is False
