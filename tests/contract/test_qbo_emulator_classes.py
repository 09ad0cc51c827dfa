"""QBO emulator: Class and Department ("Location"), references to them, and plan limits.

Sources: Intuit's Class and Department references (Name required, 100 characters; ParentRef
for sub-classes, FullyQualifiedName "Parent:Child", SubClass / SubDepartment; Active; no delete
endpoint), the ClassRef of ItemBasedExpenseLineDetail / AccountBasedExpenseLineDetail and the
transaction's DepartmentRef in the PurchaseOrder and Bill references; Intuit's Preferences
reference (AccountingInfoPrefs TrackDepartments, ClassTrackingPerTxn, ClassTrackingPerTxnLine,
DepartmentTerminology); Intuit's "Learn about usage limits in QuickBooks Online" (Simple Start
and Essentials: no classes or locations; Plus: 40 combined, active ones only; Advanced: no
limit); qbo-api.md "Classes and locations" (QBO enforces the limits through the API too). The
refusals' wording is the emulator's (see qbo_classes): QBO's is not public.
"""

from __future__ import annotations

import pytest
import requests
from qbo_purchase_bodies import account_line, bill_body, fault, item_line, queried, read


def _class(qbo, name, parent=None):
    body = {"Name": name}
    if parent is not None:
        body["ParentRef"] = {"value": parent}
    return qbo.create("class", body)


def test_class_create_read_and_long_ids(qbo):
    """A class answers Active true, SubClass false, FullyQualifiedName = Name, a long Id."""
    made = _class(qbo, "Retail")
    assert made["Active"] is True and made["SubClass"] is False
    assert made["FullyQualifiedName"] == "Retail" and len(made["Id"]) == 19
    assert read(qbo, "class", made["Id"]) == made


def test_sub_classes_are_parent_colon_child(qbo):
    """ParentRef makes a sub-class; renaming the parent renames the child's full name."""
    parent = _class(qbo, "Retail")
    child = _class(qbo, "Online", parent["Id"])
    assert child["SubClass"] is True and child["FullyQualifiedName"] == "Retail:Online"
    assert child["ParentRef"] == {"value": parent["Id"], "name": "Retail"}
    rename = {"Id": parent["Id"], "SyncToken": "0", "sparse": True, "Name": "Shops"}
    qbo.create("class", rename)
    assert read(qbo, "class", child["Id"])["FullyQualifiedName"] == "Shops:Online"


def test_class_name_rules(qbo):
    """No name 2020, 101 characters 2050, a colon 6000, the same full name again 6240."""
    assert fault(qbo.post("class", {}))["code"] == "2020"
    assert fault(qbo.post("class", {"Name": "x" * 101}))["code"] == "2050"
    assert fault(qbo.post("class", {"Name": "a:b"}))["code"] == "6000"
    _class(qbo, "Retail")
    assert fault(qbo.post("class", {"Name": "retail"}))["code"] == "6240"


def test_deactivate_instead_of_delete_and_query(qbo):
    """Active false hides it from queries that do not name Active; delete is 500."""
    kept, gone = _class(qbo, "Retail"), _class(qbo, "Wholesale")
    qbo.create("class", {"Id": gone["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    assert [c["Name"] for c in queried(qbo, "select * from Class", "Class")] == ["Retail"]
    every = queried(qbo, "select * from Class where Active IN (true, false)", "Class")
    assert {c["Name"] for c in every} == {"Retail", "Wholesale"}
    by_name = queried(qbo, "select * from Class where FullyQualifiedName = 'Retail'", "Class")
    assert [c["Id"] for c in by_name] == [kept["Id"]]
    delete = qbo.post("class", {"Id": kept["Id"], "SyncToken": "0"}, operation="delete")
    assert fault(delete)["code"] == "500"


def test_department_is_the_location(qbo):
    """Departments have the same shape (SubDepartment) and the Location terminology."""
    store = qbo.create("department", {"Name": "North Store"})
    annex = qbo.create("department", {"Name": "Annex", "ParentRef": {"value": store["Id"]}})
    assert store["SubDepartment"] is False and annex["FullyQualifiedName"] == "North Store:Annex"
    by_name = queried(qbo, "select * from Department where Name = 'Annex'", "Department")
    assert [d["Id"] for d in by_name] == [annex["Id"]]
    prefs = read(qbo, "preferences", "")["AccountingInfoPrefs"]
    assert prefs["TrackDepartments"] is True and prefs["DepartmentTerminology"] == "Location"
    assert prefs["ClassTrackingPerTxnLine"] is True and prefs["ClassTrackingPerTxn"] is False


def test_classref_and_departmentref_on_po_and_bill(qbo):
    """Line ClassRef and transaction DepartmentRef are kept with their names."""
    retail = _class(qbo, "Retail")
    store = qbo.create("department", {"Name": "North Store"})
    line = item_line(qbo.GADGET, 1, 2.50, ClassRef={"value": retail["Id"]})
    other = account_line(qbo.PURCHASES_ACCOUNT, 3.00, ClassRef={"value": retail["Id"]})
    refs = {"DepartmentRef": {"value": store["Id"]}}
    po = qbo.create("purchaseorder", qbo.po_body() | {"Line": [line]} | refs)
    bill = qbo.create("bill", bill_body(lines=[line, other], **refs))
    for txn in (po, bill):
        assert txn["DepartmentRef"] == {"value": store["Id"], "name": "North Store"}
        assert txn["Line"][0]["ItemBasedExpenseLineDetail"]["ClassRef"]["name"] == "Retail"
    assert bill["Line"][1]["AccountBasedExpenseLineDetail"]["ClassRef"]["value"] == retail["Id"]


def test_unknown_and_inactive_classes_and_locations_are_refused(qbo):
    """An unknown Id is 2500, an inactive one 610, as for every other reference."""
    retail = _class(qbo, "Retail")
    qbo.create("class", {"Id": retail["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    for class_id, code in (("123", "2500"), (retail["Id"], "610")):
        line = item_line(qbo.GADGET, 1, 2.50, ClassRef={"value": class_id})
        assert fault(qbo.post("bill", bill_body(lines=[line])))["code"] == code
    unknown = bill_body(lines=[item_line(qbo.GADGET, 1, 2.50)], DepartmentRef={"value": "77"})
    assert fault(qbo.post("bill", unknown))["code"] == "2500"


@pytest.mark.parametrize("edition", ["Essentials", "Simple Start"])
def test_editions_without_classes_refuse_them_everywhere(make_emu, edition):
    """No Class or Department create, no ClassRef or DepartmentRef: 6000; preferences off."""
    qbo = make_emu(edition=edition)
    assert fault(qbo.post("class", {"Name": "Retail"}))["code"] == "6000"
    assert fault(qbo.post("department", {"Name": "North"}))["code"] == "6000"
    line = item_line(qbo.GADGET, 1, 2.50, ClassRef={"value": "1"})
    error = fault(qbo.post("bill", bill_body(lines=[line])))
    assert error["code"] == "6000" and f"QuickBooks Online {edition}" in error["Detail"]
    located = bill_body(lines=[item_line(qbo.GADGET, 1, 2.50)], DepartmentRef={"value": "1"})
    assert fault(qbo.post("bill", located))["code"] == "6000"
    prefs = read(qbo, "preferences", "")["AccountingInfoPrefs"]
    assert prefs["TrackDepartments"] is False and prefs["ClassTrackingPerTxnLine"] is False
    assert "DepartmentTerminology" not in prefs
    info = read(qbo, f"companyinfo/{qbo.emu.realm_id}", "")
    sku = {nv["Name"]: nv["Value"] for nv in info["NameValue"]}["OfferingSku"]
    assert sku == f"QuickBooks Online {edition}"


def _fill(emu, classes: int, departments: int) -> None:
    """Seed active classes and locations through the same rules (fast, no HTTP limits)."""
    for n in range(classes):
        emu.seed("Class", {"Name": f"Class {n}"})
    for n in range(departments):
        emu.seed("Department", {"Name": f"Location {n}"})


def test_plus_allows_40_classes_and_locations_together(make_emu):
    """The 41st active one is 6000; making one inactive makes room; reactivating is refused."""
    qbo = make_emu(edition="Plus")
    _fill(qbo.emu, 25, 15)
    error = fault(qbo.post("department", {"Name": "One Too Many"}))
    assert error["code"] == "6000" and "40" in error["Detail"]
    first = qbo.emu.objects("Class")[0]
    off = {"Id": first["Id"], "SyncToken": first["SyncToken"], "sparse": True, "Active": False}
    qbo.create("class", off)
    qbo.create("class", {"Name": "Now It Fits"})
    back_on = off | {"SyncToken": "1", "Active": True}
    assert fault(qbo.post("class", back_on))["code"] == "6000"


def test_advanced_has_no_limit(make_emu):
    """Advanced: the 41st (and more) are fine."""
    qbo = make_emu(edition="Advanced")
    _fill(qbo.emu, 30, 10)
    assert qbo.create("class", {"Name": "Forty-one"})["Active"] is True


def test_edition_over_the_admin_prefix(qbo):
    """POST /__admin/settings {"edition": ...} switches plan; an unknown one is 400."""
    url = f"{qbo.emu.base_url}/__admin/settings"
    answer = requests.post(url, json={"edition": "Essentials"}, timeout=5)
    assert answer.status_code == 200 and answer.json()["edition"] == "Essentials"
    assert fault(qbo.post("class", {"Name": "Retail"}))["code"] == "6000"
    assert requests.post(url, json={"edition": "Gold"}, timeout=5).status_code == 400


def test_classes_and_locations_are_in_cdc(qbo):
    """CDC covers Class and Department (qbo-api.md excludes only TaxCode and TaxRate)."""
    since = qbo.emu.now().isoformat()
    qbo.emu.advance_clock(1)
    made = _class(qbo, "Retail")
    store = qbo.create("department", {"Name": "North Store"})
    answer = qbo.get("cdc", entities="Class,Department", changedSince=since).json()
    parts = answer["CDCResponse"][0]["QueryResponse"]
    assert [c["Id"] for c in parts[0]["Class"]] == [made["Id"]]
    assert [d["Id"] for d in parts[1]["Department"]] == [store["Id"]]
