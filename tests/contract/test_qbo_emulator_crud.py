"""QBO emulator: create, read, update, delete and the JSON shapes QBO answers with."""

from __future__ import annotations

import re
from datetime import datetime


def test_create_answers_entity_wrapper_with_string_id_and_metadata(qbo):
    """POST /purchaseorder answers {"PurchaseOrder": {...}, "time"} with Id, SyncToken, MetaData."""
    response = qbo.post("purchaseorder", qbo.po_body())
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"PurchaseOrder", "time"}
    po = body["PurchaseOrder"]
    assert isinstance(po["Id"], str) and po["SyncToken"] == "0"
    created = datetime.fromisoformat(po["MetaData"]["CreateTime"])
    assert created.tzinfo is not None
    assert po["MetaData"]["LastUpdatedTime"] == po["MetaData"]["CreateTime"]
    assert po["POStatus"] == "Open" and po["VendorRef"] == {
        "value": qbo.ACME,
        "name": "Acme Supply Co",
    }


def test_read_by_id_returns_the_stored_object(qbo):
    """GET /purchaseorder/{id} answers what the create stored."""
    created = qbo.create("purchaseorder", qbo.po_body())
    response = qbo.get(f"purchaseorder/{created['Id']}")
    assert response.status_code == 200
    assert response.json()["PurchaseOrder"] == created


def test_total_is_computed_exactly_in_decimal(qbo):
    """TotalAmt is the exact Decimal sum of line amounts, written as a JSON number."""
    body = qbo.po_body(lines=((qbo.GADGET, 1, 0.1), (qbo.WIDGET, 1, 0.2)))
    response = qbo.post("purchaseorder", body)
    assert response.status_code == 200
    assert '"TotalAmt":0.30' in response.text
    lines = response.json()["PurchaseOrder"]["Line"]
    assert [line["Id"] for line in lines] == ["1", "2"]


def test_sparse_update_changes_only_given_fields_and_bumps_synctoken(qbo):
    """A sparse update keeps other fields and increments SyncToken and LastUpdatedTime."""
    created = qbo.create("purchaseorder", qbo.po_body())
    qbo.emu.advance_clock(5)
    update = {"Id": created["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "rush"}
    updated = qbo.create("purchaseorder", update)
    assert updated["SyncToken"] == "1" and updated["PrivateNote"] == "rush"
    assert updated["DocNumber"] == created["DocNumber"] and updated["Line"] == created["Line"]
    assert updated["MetaData"]["LastUpdatedTime"] > created["MetaData"]["LastUpdatedTime"]
    assert updated["MetaData"]["CreateTime"] == created["MetaData"]["CreateTime"]


def test_full_update_replaces_omitted_fields(qbo):
    """A full update clears writable fields it does not send."""
    body = qbo.po_body() | {"PrivateNote": "first"}
    created = qbo.create("purchaseorder", body)
    full = qbo.po_body(lines=((qbo.WIDGET, 2, 5.0),)) | {"Id": created["Id"], "SyncToken": "0"}
    updated = qbo.create("purchaseorder", full)
    assert "PrivateNote" not in updated
    assert updated["TotalAmt"] == 10.0 and updated["SyncToken"] == "1"


def test_delete_purchase_order_then_read_is_610(qbo):
    """?operation=delete answers status Deleted; reading it afterwards is 610."""
    created = qbo.create("purchaseorder", qbo.po_body())
    ref = {"Id": created["Id"], "SyncToken": created["SyncToken"]}
    response = qbo.post("purchaseorder", ref, operation="delete")
    assert response.status_code == 200
    assert response.json()["PurchaseOrder"] == {
        "domain": "QBO",
        "status": "Deleted",
        "Id": created["Id"],
    }
    gone = qbo.get(f"purchaseorder/{created['Id']}")
    assert gone.status_code == 400 and gone.json()["Fault"]["Error"][0]["code"] == "610"


def test_vendor_cannot_be_deleted_only_made_inactive(qbo):
    """Deleting a vendor is Unsupported Operation; Active false is the way."""
    vendor = qbo.create("vendor", {"DisplayName": "Short Lived"})
    ref = {"Id": vendor["Id"], "SyncToken": "0"}
    refused = qbo.post("vendor", ref, operation="delete")
    assert refused.status_code == 400
    assert refused.json()["Fault"]["Error"][0]["code"] == "500"
    inactive = qbo.create("vendor", ref | {"sparse": True, "Active": False})
    assert inactive["Active"] is False and inactive["SyncToken"] == "1"


def test_every_entity_path_creates_and_reads(qbo):
    """vendor, customer, employee, item and account all create and read back."""
    bodies = {
        "vendor": {"DisplayName": "New Vendor"},
        "customer": {"DisplayName": "New Customer"},
        "employee": {"GivenName": "Ada", "FamilyName": "Lovelace"},
        "item": {"Name": "Bracket", "Type": "NonInventory", "ExpenseAccountRef": {"value": "6"}},
        "account": {"Name": "Freight In", "AccountType": "Cost of Goods Sold"},
    }
    for resource, body in bodies.items():
        created = qbo.create(resource, body)
        response = qbo.get(f"{resource}/{created['Id']}")
        assert response.status_code == 200, resource
        assert next(iter(response.json().values())) == created
    employee = qbo.emu.objects("Employee")[-1]
    assert employee["DisplayName"] == "Ada Lovelace"


def test_companyinfo_and_preferences_read(qbo):
    """GET companyinfo/{realm} and preferences answer their singletons."""
    info = qbo.get(f"companyinfo/{qbo.emu.realm_id}")
    prefs = qbo.get("preferences")
    assert info.status_code == 200 and info.json()["CompanyInfo"]["CompanyName"]
    assert prefs.status_code == 200 and "VendorAndPurchasesPrefs" in prefs.json()["Preferences"]


def test_unknown_field_is_2010(qbo):
    """An unrecognised top-level property is refused, as QBO refuses it."""
    body = qbo.po_body() | {"BillableSt": "x"}
    response = qbo.post("purchaseorder", body)
    assert response.status_code == 400
    error = response.json()["Fault"]["Error"][0]
    assert error["code"] == "2010" and "BillableSt" in error["Detail"]


def test_unknown_resource_is_unsupported_operation(qbo):
    """A path the API does not have answers QBO's Unsupported Operation fault."""
    response = qbo.get("widgetorder/1")
    assert response.status_code == 400
    assert response.json()["Fault"]["Error"][0]["code"] == "500"


def test_minorversion_below_75_or_missing_is_answered_as_75(qbo):
    """minorversion 8 and no minorversion are both accepted and logged as 75."""
    assert qbo.get("preferences", minorversion="8").status_code == 200
    response = qbo.session.get(qbo.url("preferences"), timeout=5)
    assert response.status_code == 200
    versions = [e["minorversion"] for e in qbo.emu.request_log[-2:]]
    assert versions == [75, 75]


def test_every_response_carries_intuit_tid(qbo):
    """Success, fault, OAuth and discovery answers all carry an intuit_tid header."""
    answers = [
        qbo.get("preferences"),
        qbo.get("purchaseorder/999"),
        qbo.session.get(qbo.emu.discovery_url, timeout=5),
    ]
    tids = [a.headers.get("intuit_tid") for a in answers]
    assert all(t and re.fullmatch(r"1-[0-9a-f]{8}-[0-9a-f]{24}", t) for t in tids)
    assert len(set(tids)) == 3
