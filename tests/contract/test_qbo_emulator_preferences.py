"""QBO emulator: the duplicate document number check is the company's preference.

Sources: Intuit's Preferences reference, OtherPrefs name/value pairs ("Warn if duplicate bill
number is used": NameValue.Name "WarnDuplicateBillNumber"; "UseCustomTxnNumbers ... custom
transaction numbers for expense transactions": "VendorAndPurchasesPrefs.UseCustomTxnNumbers"),
Intuit's PurchaseOrder and Bill references, DocNumber ("Throws an error when duplicate DocNumber
is sent in the request ... If a duplicate DocNumber needs to be supplied, add the query parameter
name/value pair, include=allowduplicatedocnum to the URI"), qbo-api.md's 6140 row (only when
the company's preferences ask QBO to check; with the check off a second PO with the same
DocNumber is accepted silently).
"""

from __future__ import annotations

import requests
from qbo_purchase_bodies import bill_body, fault, item_line, read


def _other_prefs(qbo) -> dict:
    prefs = read(qbo, "preferences", "")
    return {nv["Name"]: nv["Value"] for nv in prefs["OtherPrefs"]["NameValue"]}


def test_preferences_show_custom_numbers_and_the_duplicate_warning(qbo):
    """GET /preferences: custom transaction numbers on, WarnDuplicateBillNumber true."""
    pairs = _other_prefs(qbo)
    assert pairs["VendorAndPurchasesPrefs.UseCustomTxnNumbers"] == "true"
    assert pairs["WarnDuplicateBillNumber"] == "true"
    assert qbo.emu.duplicate_docnumber_check is True


def test_the_python_switch_is_the_preference(qbo):
    """emu.duplicate_docnumber_check = False turns the preference off, and duplicates pass."""
    qbo.emu.duplicate_docnumber_check = False
    assert _other_prefs(qbo)["WarnDuplicateBillNumber"] == "false"
    qbo.create("purchaseorder", qbo.po_body(doc_number="D-1"))
    assert qbo.create("purchaseorder", qbo.po_body(doc_number="D-1"))["DocNumber"] == "D-1"
    line = item_line(qbo.GADGET, 1, 1.00)
    qbo.create("bill", bill_body(lines=[line], doc_number="S-1"))
    assert qbo.create("bill", bill_body(lines=[line], doc_number="S-1"))["DocNumber"] == "S-1"


def test_the_admin_switch_is_the_preference(qbo):
    """POST /__admin/settings {"duplicate_docnumber_check": false} shows in GET /preferences."""
    url = f"{qbo.emu.base_url}/__admin/settings"
    answer = requests.post(url, json={"duplicate_docnumber_check": False}, timeout=5)
    assert answer.json()["duplicate_docnumber_check"] is False
    assert _other_prefs(qbo)["WarnDuplicateBillNumber"] == "false"


def test_updating_the_preference_through_the_api_changes_the_check(qbo):
    """A Preferences update with WarnDuplicateBillNumber false: the check is off."""
    prefs = read(qbo, "preferences", "")
    pairs = [
        nv | {"Value": "false"} if nv["Name"] == "WarnDuplicateBillNumber" else nv
        for nv in prefs["OtherPrefs"]["NameValue"]
    ]
    update = {"Id": prefs["Id"], "SyncToken": prefs["SyncToken"], "sparse": True}
    qbo.create("preferences", update | {"OtherPrefs": {"NameValue": pairs}})
    assert qbo.emu.duplicate_docnumber_check is False


def test_include_allowduplicatedocnum_overrides_the_check_once(qbo):
    """With the check on, include=allowduplicatedocnum lets one create or update through."""
    first = qbo.create("purchaseorder", qbo.po_body(doc_number="A-1"))
    second = qbo.create(
        "purchaseorder", qbo.po_body(doc_number="A-1"), include="allowduplicatedocnum"
    )
    assert second["DocNumber"] == "A-1" and second["Id"] != first["Id"]
    third = qbo.create("purchaseorder", qbo.po_body(doc_number="A-3"))
    rename = {"Id": third["Id"], "SyncToken": "0", "sparse": True, "DocNumber": "A-1"}
    assert fault(qbo.post("purchaseorder", rename))["code"] == "6140"
    renamed = qbo.create("purchaseorder", rename, include="allowduplicatedocnum")
    assert renamed["DocNumber"] == "A-1"
    assert fault(qbo.post("purchaseorder", qbo.po_body(doc_number="A-1")))["code"] == "6140"


def test_include_allowduplicatedocnum_works_for_bills(qbo):
    """The same parameter lets a repeated supplier number through on a bill."""
    line = item_line(qbo.GADGET, 1, 1.00)
    qbo.create("bill", bill_body(lines=[line], doc_number="INV-9"))
    assert fault(qbo.post("bill", bill_body(lines=[line], doc_number="INV-9")))["code"] == "6140"
    again = qbo.create(
        "bill", bill_body(lines=[line], doc_number="INV-9"), include="allowduplicatedocnum"
    )
    assert again["DocNumber"] == "INV-9"


def test_purchase_orders_only_on_plus_and_advanced_in_other_prefs(make_emu):
    """VendorAndPurchasesPrefs.PurchseOrderEnabled (Intuit's spelling) follows the edition."""
    assert (
        _other_prefs(make_emu(edition="Plus"))["VendorAndPurchasesPrefs.PurchseOrderEnabled"]
        == "true"
    )
    essentials = _other_prefs(make_emu(edition="Essentials"))
    assert essentials["VendorAndPurchasesPrefs.PurchseOrderEnabled"] == "false"


def test_edit_as_another_user_makes_the_clients_synctoken_stale(qbo):
    """emu.edit_as_other_user is a QBO user's edit: the client's next update is 5010."""
    po = qbo.create("purchaseorder", qbo.po_body())
    edited = qbo.emu.edit_as_other_user("PurchaseOrder", po["Id"], {"Memo": "changed in QBO"})
    assert edited["SyncToken"] == "1" and edited["Memo"] == "changed in QBO"
    stale = {"Id": po["Id"], "SyncToken": "0", "sparse": True, "Memo": "mine"}
    assert fault(qbo.post("purchaseorder", stale))["code"] == "5010"
    url = f"{qbo.emu.base_url}/__admin/edit"
    body = {"entity": "PurchaseOrder", "id": po["Id"], "changes": {"PrivateNote": "again"}}
    assert requests.post(url, json=body, timeout=5).json()["SyncToken"] == "2"
