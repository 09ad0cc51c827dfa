"""QBO emulator: what QBO's deserialiser and validation refuse, from Intuit's own data.

Sources, all in ../shared/qbo-reference (its README): `xsd/` (Intuit's entity schema: "a
property the schema does not have on that entity (at any depth) is answered 400 with fault
2010"), `api-reference-types.json` (the documented maximum lengths: "QBO answers a longer value
with 2050"), `recorded/fault_2010_unknown_property.json` (the 2010 fault as real QBO wrote it),
po_create_batch.json / bill_create_batch.json (dates sent as "...T00:00:00" answered as dates).
The emulator reads a table generated from these (scripts/qbo_schema.py); the first test keeps
the table equal to what the reference generates.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
from qbo_purchase_bodies import bill_body, fault, item_line, read

from reconciler.sandbox.qbo.schema import SCHEMA, TABLE_PATH, unknown_property

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT.parent / "shared" / "qbo-reference"
RECORDED = REFERENCE / "recorded"


def _generator():
    spec = importlib.util.spec_from_file_location("qbo_schema", ROOT / "scripts" / "qbo_schema.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_table_is_what_the_reference_generates():
    """Regenerated from ../shared/qbo-reference, the table is byte for byte the committed one
    (a hand edit, or a reference update without a regeneration, fails here)."""
    generator = _generator()
    assert generator.render(generator.build(REFERENCE)) == TABLE_PATH.read_text()
    table = json.loads(TABLE_PATH.read_text())
    assert table["unplaced_limits"] == []  # every documented limit found its XSD type
    assert table["type_limits"]["Item"]["PurchaseDesc"] == 1000


def test_the_2010_detail_is_jacksons_as_recorded():
    """With Invoice's known properties in the recorded order, the Detail is the recorded one,
    character for character: Jackson's wording and its cut after 1000 characters."""
    recorded = json.loads((RECORDED / "fault_2010_unknown_property.json").read_text())
    error = recorded["interactions"][0]["response"]["body"]["Fault"]["Error"][0]
    names = re.findall(r'"(\w+)"', error["Detail"])[1:]  # the first is "BadJson"
    invoice = SCHEMA.properties("Invoice")
    assert set(names) <= set(invoice)  # every property real QBO knew, the XSD has
    known = names + [p for p in invoice if p not in names][: 83 - len(names)]
    built = unknown_property("BadJson", "Invoice", known)
    assert (built.code, built.message, built.detail) == (
        error["code"],
        error["Message"],
        error["Detail"],
    )


@pytest.mark.parametrize(
    ("where", "owner"),
    [
        (lambda b: b["Line"][0].update(BillableStatus="NotBillable"), "Line"),
        (lambda b: b["Line"][0]["ItemBasedExpenseLineDetail"].update(Quantity=1), "ItemBased"),
        (lambda b: b["VendorRef"].update(nam="Acme"), "ReferenceType"),
        (lambda b: b.update(ShipAddr={"Line1": "1 Road", "Town": "Leeds"}), "PhysicalAddress"),
        (lambda b: b.update(Colour="red"), "PurchaseOrder"),
    ],
)
def test_an_unknown_property_at_any_depth_is_2010(qbo, where, owner):
    """BillableStatus on a Line (python-quickbooks #38), Quantity for Qty in a line detail, a
    misspelt key in a reference or an address: 2010 naming the class, nothing stored."""
    body = qbo.po_body()
    where(body)
    error = fault(qbo.post("purchaseorder", body))
    assert error["code"] == "2010"
    assert error["Message"] == "Request has invalid or unsupported property"
    assert f"(class com.intuit.schema.finance.v3.{owner}" in error["Detail"]
    assert error["Detail"].endswith("specified is unsupported or invalid")
    assert qbo.emu.objects("PurchaseOrder") == []


def test_what_qbo_returns_is_accepted_back(qbo):
    """Read-modify-write of real QBO objects: the fields the issue lists (PrintStatus,
    VendorAddr, DeferredRevenue, ExpectedDate, FOB, ManuallyClosed, TxnSource, TaxFormType,
    BillEmail) are the XSD's, and every recorded answer passes the same checks."""
    po = qbo.po_body() | {
        "PrintStatus": "NotSet",
        "ExpectedDate": "2025-07-01",
        "FOB": "Origin",
        "ManuallyClosed": False,
        "TxnSource": "x",
        "TaxFormType": "x",
        "BillEmail": {"Address": "ap@acme.example"},
        "VendorAddr": {"Line1": "1 Supply Rd"},
    }
    created = qbo.create("purchaseorder", po)
    assert created["ExpectedDate"] == "2025-07-01" and created["VendorAddr"]["Id"]
    full = qbo.create("purchaseorder", created)  # every field as answered, sent back
    assert full["SyncToken"] == "1" and full["VendorAddr"] == created["VendorAddr"]
    item = read(qbo, "item", qbo.GADGET) | {"DeferredRevenue": False}
    assert qbo.create("item", item)["SyncToken"] == "1"
    bill = qbo.create("bill", bill_body(lines=[item_line(qbo.GADGET, 1, 2.5)]))
    assert qbo.create("bill", bill | {"VendorAddr": {"Line1": "2 Road"}})["SyncToken"] == "1"
    for path in sorted(RECORDED.glob("*.json")):
        for answer in _recorded_entities(json.loads(path.read_text())):
            for entity, obj in answer.items():
                SCHEMA.check(entity, obj)  # raises on anything real QBO would refuse


def _recorded_entities(recording: dict):
    """Every entity object in a recording's answers (reads, batch items, query rows)."""
    for interaction in recording["interactions"]:
        body = interaction["response"]["body"] or {}
        items = body.get("BatchItemResponse") or [body]
        for item in items:
            answers = [item, *([item["QueryResponse"]] if "QueryResponse" in item else [])]
            for answer in answers:
                for entity in SCHEMA.entities:
                    value = answer.get(entity)
                    for obj in value if isinstance(value, list) else [value]:
                        if isinstance(obj, dict) and "status" not in obj:
                            yield {entity: obj}


# --- documented lengths ----------------------------------------------------------------------

BASES = {
    "Vendor": lambda qbo, n: {"DisplayName": f"Vendor {n}"},
    "Item": lambda qbo, n: {
        "Name": f"Item {n}",
        "Type": "NonInventory",
        "ExpenseAccountRef": {"value": qbo.PURCHASES_ACCOUNT},
    },
    "PurchaseOrder": lambda qbo, n: qbo.po_body(doc_number=f"L{n}"),
    "Bill": lambda qbo, n: bill_body(lines=[item_line(qbo.GADGET, 1, 2.5)], doc_number=f"B{n}"),
}
SEGMENT = {"Line": ("Line", 0)}
MAX_CHARS = re.compile(r"max(?:imum)?(?: of)? (\d+) char", re.IGNORECASE)


def _documented(entities=tuple(BASES)):
    """(entity, JSON path, property, max) for every String with a documented maximum length,
    straight from Intuit's API reference (not from the emulator's table)."""
    reference = json.loads((REFERENCE / "api-reference-types.json").read_text())
    found = set()
    for entry in reference["Types"].values():
        entity, *parents = entry["nameDepthString"].split("_")
        if entity not in entities or any(p.startswith("TxnTaxDetail") for p in parents):
            continue
        for attribute in entry["attributes"]:
            match = MAX_CHARS.search(attribute.get("metaData") or "")
            if attribute["type"] == "String" and match:
                path = tuple(part for p in parents for part in SEGMENT.get(p, (p,)))
                found.add((entity, path, attribute["name"], int(match.group(1))))
    return sorted(found)


def _text(name: str, length: int) -> str:
    """A value of exactly `length` characters that passes every other rule for the field."""
    if name == "Address":
        return "a" * (length - len("@x.io")) + "@x.io"
    if name in ("DocNumber",):
        return ("9" * length)[:length]
    return "x" * length


def _with(body: dict, path: tuple, name: str, value: str) -> dict:
    target = body
    for part in path:
        target = target.setdefault(part, {}) if isinstance(part, str) else target[part]
    target[name] = value
    return body


LIMITS = _documented()


def test_the_documented_limits_are_the_ones_the_issue_names():
    """The reference holds what the issue lists (so the parametrised test below covers it)."""
    wanted = {
        ("Item", (), "PurchaseDesc", 1000),
        ("Item", (), "Description", 4000),
        ("PurchaseOrder", ("Line", 0), "Description", 4000),
        ("Vendor", ("BillAddr",), "Line1", 500),
        ("Vendor", ("BillAddr",), "City", 255),
        ("Vendor", ("BillAddr",), "PostalCode", 30),
        ("Vendor", ("BillAddr",), "Country", 255),
        ("Vendor", ("BillAddr",), "CountrySubDivisionCode", 255),
        ("Vendor", ("PrimaryEmailAddr",), "Address", 100),
        ("Vendor", ("PrimaryPhone",), "FreeFormNumber", 30),
        ("Vendor", (), "AcctNum", 100),
        ("Vendor", (), "PrintOnCheckName", 100),
        ("Vendor", (), "Title", 16),
    }
    assert wanted <= set(LIMITS)


@pytest.mark.parametrize(("entity", "path", "name", "maximum"), LIMITS)
def test_each_documented_maximum_holds_and_one_more_is_2050(qbo, entity, path, name, maximum):
    """At the maximum the write succeeds; one character more is 2050 with the documented Max
    (a character outside the BMP counts two, as Java counts it)."""
    number = len(qbo.emu.objects(entity)) + 1
    ok = _with(BASES[entity](qbo, number), path, name, _text(name, maximum))
    response = qbo.post(entity.lower(), ok)
    assert response.status_code == 200, response.text
    over = _with(BASES[entity](qbo, number + 1), path, name, _text(name, maximum + 1))
    error = fault(qbo.post(entity.lower(), over))
    assert error["code"] == "2050" and error["element"] == name
    assert f"Max:{maximum} supported. Supplied length:{maximum + 1}" in error["Detail"]
    if name not in ("Address", "DocNumber"):
        wide = _with(BASES[entity](qbo, number + 2), path, name, "x" * (maximum - 1) + "😀")
        assert fault(qbo.post(entity.lower(), wide))["code"] == "2050"


def test_address_lines_together_stay_within_2000(qbo):
    """ "Individual maximum of 500 chars, up to combined max of 2000": five lines of 500 are
    2500, refused; four are 2000, taken."""
    lines = {f"Line{n}": "x" * 500 for n in range(1, 6)}
    assert fault(qbo.post("vendor", {"DisplayName": "V5", "BillAddr": lines}))["code"] == "2050"
    del lines["Line5"]
    assert qbo.create("vendor", {"DisplayName": "V4", "BillAddr": lines})["BillAddr"]["Id"]


def test_customer_and_employee_names_follow_the_vendor_limits(qbo):
    """Intuit documents the vendor's (Title 16); the name list shares them."""
    for entity in ("customer", "employee"):
        body = {"DisplayName": f"Someone {entity}", "Title": "x" * 17}
        assert fault(qbo.post(entity, body))["code"] == "2050"


# --- values ------------------------------------------------------------------------------------


def test_dates_are_stored_as_dates_and_garbage_is_2010(qbo):
    """ "2025-06-16T00:00:00" is stored and answered "2025-06-16" (recorded); "not-a-date" and a
    day that does not exist are refused as Jackson refuses them (2010)."""
    po = qbo.create("purchaseorder", qbo.po_body() | {"TxnDate": "2025-06-16T00:00:00"})
    assert po["TxnDate"] == "2025-06-16" and read(qbo, "purchaseorder", po["Id"]) == po
    bill = bill_body(lines=[item_line(qbo.GADGET, 1, 2.5)], DueDate="2025-06-28T00:00:00-07:00")
    assert qbo.create("bill", bill)["DueDate"] == "2025-06-28"
    for bad in ("not-a-date", "2025-02-30", "16/06/2025"):
        error = fault(qbo.post("purchaseorder", qbo.po_body(doc_number=bad) | {"TxnDate": bad}))
        assert error["code"] == "2010" and "java.util.Date" in error["Detail"]
        assert error["Detail"].endswith("specified is unsupported or invalid")


def test_values_of_the_wrong_shape_are_2010(qbo):
    """A word for a quantity, one line object for the Line array, a text for a reference."""
    body = qbo.po_body()
    body["Line"][0]["ItemBasedExpenseLineDetail"]["Qty"] = "many"
    assert "java.math.BigDecimal" in fault(qbo.post("purchaseorder", body))["Detail"]
    body = qbo.po_body()
    body["Line"] = body["Line"][0]
    assert "java.util.ArrayList" in fault(qbo.post("purchaseorder", body))["Detail"]
    body = qbo.po_body() | {"VendorRef": "1"}
    assert fault(qbo.post("purchaseorder", body))["code"] == "2010"


def test_an_empty_text_for_a_date_or_number_is_absent(qbo):
    """Jackson reads "" as null there (python-quickbooks sends "OpenBalanceDate": "")."""
    customer = qbo.create("customer", {"DisplayName": "Blank Date", "OpenBalanceDate": ""})
    assert "OpenBalanceDate" not in customer


# --- paths and ids -----------------------------------------------------------------------------


def test_extra_path_segments_are_unsupported_and_a_malformed_id_is_2030(qbo):
    """GET customer/1/5: 400 "Unsupported Operation" (code 500, minimul/qbo_api #81's wording);
    customer/1.5 and an update naming Id "1.5": 2030 "Invalid ID"."""
    error = fault(qbo.get("customer/1/5"))
    assert (error["code"], error["Message"]) == ("500", "Unsupported Operation")
    assert "Could not find resource for relative" in error["Detail"]
    for response in (
        qbo.get("customer/1.5"),
        qbo.post("vendor", {"Id": "1.5", "SyncToken": "0", "sparse": True, "Active": True}),
    ):
        error = fault(response)
        assert (error["code"], error["Message"]) == ("2030", "Invalid ID")
    assert qbo.get("customer/1").status_code == 200


def test_an_unserved_entity_is_read_before_it_is_refused(qbo):
    """POST /invoice {"BadJson": true}, as recorded: 2010 (QBO deserialises first); a clean
    Invoice body is then "Unsupported Operation" (the emulator serves no invoices)."""
    assert fault(qbo.post("invoice", {"BadJson": True}))["code"] == "2010"
    assert fault(qbo.post("invoice", {"CustomerRef": {"value": "1"}}))["code"] == "500"
