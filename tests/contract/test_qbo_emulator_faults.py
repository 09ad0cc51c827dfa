"""QBO emulator: validation and business-rule faults with QBO's codes, statuses and shapes."""

from __future__ import annotations


def fault_of(response) -> dict:
    """The first Error of a 400 ValidationFault answer."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["Fault"]["type"] == "ValidationFault" and "time" in body
    error = body["Fault"]["Error"][0]
    # as recorded (recorded/fault_2010_unknown_property.json, fault_6240_duplicate_name.json):
    # Message, Detail, code; an element only where the fault names one
    assert {"Message", "Detail", "code"} <= set(error) <= {"Message", "Detail", "code", "element"}
    return error


def test_duplicate_name_across_vendor_customer_employee_is_6240(qbo):
    """Vendors, customers and employees share one name list (case-insensitive)."""
    qbo.create("customer", {"DisplayName": "Nutricost"})
    for resource in ("vendor", "employee", "customer"):
        error = fault_of(qbo.post(resource, {"DisplayName": "NUTRICOST"}))
        assert error["code"] == "6240", resource
        assert error["Message"] == "Duplicate Name Exists Error"
        assert error["Detail"].startswith("The name supplied already exists. : Another customer")


def test_inactive_vendor_name_still_blocks_a_new_vendor(qbo):
    """The seeded inactive 'Retired Vendor' keeps its name."""
    assert fault_of(qbo.post("vendor", {"DisplayName": "Retired Vendor"}))["code"] == "6240"


def test_display_name_is_trimmed_before_the_duplicate_check(qbo):
    """Leading and trailing spaces are dropped, so ' Acme Supply Co ' collides."""
    assert fault_of(qbo.post("vendor", {"DisplayName": "  Acme Supply Co "}))["code"] == "6240"
    created = qbo.create("vendor", {"DisplayName": "  Spaced Out  "})
    assert created["DisplayName"] == "Spaced Out"


def test_colon_or_newline_in_display_name_is_refused(qbo):
    """Names may not carry a colon, tab or newline (6000 business validation)."""
    for name in ("Parent:Child", "Line\nBreak", "Tab\there"):
        assert fault_of(qbo.post("vendor", {"DisplayName": name}))["code"] == "6000"


def test_length_limits_are_2050_with_the_element(qbo):
    """DisplayName 500, item Name 100, DocNumber 21, PrivateNote 4000."""
    cases = [
        ("vendor", {"DisplayName": "v" * 501}, "DisplayName"),
        (
            "item",
            {"Name": "i" * 101, "Type": "Service", "ExpenseAccountRef": {"value": "6"}},
            "Name",
        ),
        ("purchaseorder", qbo.po_body(doc_number="D" * 22), "DocNumber"),
        ("purchaseorder", qbo.po_body() | {"PrivateNote": "n" * 4001}, "PrivateNote"),
    ]
    for resource, body, element in cases:
        error = fault_of(qbo.post(resource, body))
        assert (error["code"], error["element"]) == ("2050", element)
    assert qbo.create("vendor", {"DisplayName": "v" * 500})["DisplayName"] == "v" * 500


def test_item_name_with_colon_is_refused_and_sub_items_are_qualified(qbo):
    """A colon is reserved for sub-items: FullyQualifiedName is Parent:Child."""
    body = {"Name": "A:B", "Type": "Service", "ExpenseAccountRef": {"value": "6"}}
    assert fault_of(qbo.post("item", body))["code"] == "6000"
    child = {
        "Name": "Blue",
        "Type": "Service",
        "ExpenseAccountRef": {"value": "6"},
        "SubItem": True,
        "ParentRef": {"value": qbo.GADGET},
    }
    assert qbo.create("item", child)["FullyQualifiedName"] == "Gadget:Blue"


def test_duplicate_item_name_is_6240(qbo):
    """Item names are unique among items."""
    body = {"Name": "widget", "Type": "Service", "ExpenseAccountRef": {"value": "6"}}
    error = fault_of(qbo.post("item", body))
    assert error["code"] == "6240" and "product or service" in error["Detail"]


def test_stale_synctoken_is_5010(qbo):
    """An update with an old SyncToken is a Stale Object Error and changes nothing."""
    created = qbo.create("vendor", {"DisplayName": "Stale Co"})
    qbo.create("vendor", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "AcctNum": "1"})
    stale = {"Id": created["Id"], "SyncToken": "0", "sparse": True, "AcctNum": "2"}
    error = fault_of(qbo.post("vendor", stale))
    assert (error["code"], error["Message"]) == ("5010", "Stale Object Error")
    assert qbo.emu.get("Vendor", created["Id"])["AcctNum"] == "1"


def test_unknown_id_and_inactive_reference_are_610(qbo):
    """Reading a missing id, or pointing a PO at an inactive vendor, is Object Not Found."""
    assert fault_of(qbo.get("vendor/9999"))["code"] == "610"
    error = fault_of(qbo.post("purchaseorder", qbo.po_body(vendor=qbo.RETIRED_VENDOR)))
    assert error["code"] == "610" and "inactive" in error["Detail"]
    inactive_item = qbo.po_body(lines=((qbo.DISCONTINUED, 1, 1.0),))
    assert fault_of(qbo.post("purchaseorder", inactive_item))["code"] == "610"


def test_reference_to_unknown_id_is_2500(qbo):
    """A VendorRef or ItemRef to an id that never existed is Invalid Reference Id."""
    error = fault_of(qbo.post("purchaseorder", qbo.po_body(vendor="777")))
    assert error["code"] == "2500" and "777" in error["Detail"]
    assert (
        fault_of(qbo.post("purchaseorder", qbo.po_body(lines=(("888", 1, 1.0),))))["code"] == "2500"
    )


def test_required_fields_missing_are_2020(qbo):
    """A PO without VendorRef or Line, and an update without SyncToken, are 2020."""
    no_vendor = qbo.po_body()
    del no_vendor["VendorRef"]
    assert fault_of(qbo.post("purchaseorder", no_vendor))["element"] == "VendorRef"
    no_lines = qbo.po_body() | {"Line": []}
    assert fault_of(qbo.post("purchaseorder", no_lines))["code"] == "2020"
    assert fault_of(qbo.post("vendor", {"Id": "1", "sparse": True}))["code"] == "2020"


def test_amount_not_qty_times_unit_price_is_6070(qbo):
    """Line Amount must equal Qty * UnitPrice to the cent."""
    body = qbo.po_body()
    body["Line"][0]["Amount"] = 25.01
    error = fault_of(qbo.post("purchaseorder", body))
    assert error["code"] == "6070" and "UnitPrice * Qty" in error["Detail"]
    exact = '{"VendorRef":{"value":"1"},"Line":[{"DetailType":"ItemBasedExpenseLineDetail",'
    exact += '"Amount":0.33,"ItemBasedExpenseLineDetail":{"ItemRef":{"value":"2"},'
    exact += '"Qty":3,"UnitPrice":0.11}}]}'
    assert qbo.post("purchaseorder", exact).status_code == 200


def test_duplicate_docnumber_is_6140_unless_the_preference_is_off(qbo):
    """A second PO with the same DocNumber is refused while the check is on."""
    qbo.create("purchaseorder", qbo.po_body(doc_number="PO-9"))
    error = fault_of(qbo.post("purchaseorder", qbo.po_body(doc_number="PO-9")))
    assert error["code"] == "6140" and "DocNumber=PO-9" in error["Detail"]
    qbo.emu.duplicate_docnumber_check = False
    assert qbo.post("purchaseorder", qbo.po_body(doc_number="PO-9")).status_code == 200


def test_closed_po_can_be_edited_and_reopened_by_default(qbo):
    """QBO lets an API client edit a closed PO and set it back to Open."""
    created = qbo.create("purchaseorder", qbo.po_body() | {"POStatus": "Closed"})
    ref = {"Id": created["Id"], "SyncToken": "0", "sparse": True}
    edited = qbo.create("purchaseorder", ref | {"Memo": "late"})
    reopened = qbo.create("purchaseorder", ref | {"SyncToken": "1", "POStatus": "Open"})
    assert edited["POStatus"] == "Closed" and reopened["POStatus"] == "Open"


def test_closed_po_edits_refused_when_switched_on(qbo):
    """With refuse_closed_po_edits, editing a closed PO is a 6000 business fault."""
    qbo.emu.refuse_closed_po_edits = True
    created = qbo.create("purchaseorder", qbo.po_body() | {"POStatus": "Closed"})
    edit = {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Memo": "x"}
    assert fault_of(qbo.post("purchaseorder", edit))["code"] == "6000"


def test_po_linked_to_a_bill_cannot_be_deleted(qbo):
    """A PO carrying LinkedTxn refuses delete with a 6000 business fault."""
    linked = qbo.emu.seed(
        "PurchaseOrder", qbo.po_body() | {"LinkedTxn": [{"TxnId": "50", "TxnType": "Bill"}]}
    )
    ref = {"Id": linked["Id"], "SyncToken": "0"}
    assert fault_of(qbo.post("purchaseorder", ref, operation="delete"))["code"] == "6000"


def test_malformed_json_body_is_a_fault_not_a_500(qbo):
    """A body that is not JSON is answered with a 400 fault."""
    assert fault_of(qbo.post("vendor", "{not json"))["code"] == "2010"
