"""QBO emulator: the Bill entity, read, written, queried, batched and in CDC like a PO.

Sources: Intuit's Bill entity reference (developer.intuit.com .../most-commonly-used/bill, as
scraped in quickbooks-node-promise's qbTypesDump.json: VendorRef and Line required, DocNumber 21
characters and null when not supplied, TotalAmt computed, Balance "Initially set to the value
of TotalAmt"; the filterable fields as mirrored by a typed client's bill.ts), qbo-api.md
"Beyond the PurchaseOrder" and the 6140 row of its fault table.
"""

from __future__ import annotations

from datetime import timedelta

from qbo_purchase_bodies import account_line, bill_body, fault, item_line, queried, read


def test_create_computes_total_and_balance_and_defaults(qbo):
    """A bill answers Id, SyncToken 0, TotalAmt = the lines, Balance = TotalAmt, dates set."""
    body = bill_body(
        lines=[item_line(qbo.GADGET, 3, 2.50), account_line(qbo.PURCHASES_ACCOUNT, 4.25)],
        doc_number="INV-77",
        PrivateNote="from the supplier",
    )
    bill = qbo.create("bill", body)
    assert bill["SyncToken"] == "0" and bill["DocNumber"] == "INV-77"
    assert bill["TotalAmt"] == 11.75 and bill["Balance"] == 11.75
    assert bill["VendorRef"] == {"value": qbo.ACME, "name": "Acme Supply Co"}
    assert bill["APAccountRef"]["value"] == qbo.AP_ACCOUNT
    assert bill["DueDate"] == bill["TxnDate"]
    assert [line["Id"] for line in bill["Line"]] == ["1", "2"]
    assert read(qbo, "bill", bill["Id"]) == bill


def test_docnumber_is_null_when_not_sent_and_21_characters_at_most(qbo):
    """Bills are not auto-numbered (Intuit: "the resulting DocNumber is null"); 22 chars is 2050."""
    bill = qbo.create("bill", bill_body(lines=[item_line(qbo.GADGET, 1, 1.00)]))
    assert "DocNumber" not in bill
    long = bill_body(lines=[item_line(qbo.GADGET, 1, 1.00)], doc_number="X" * 22)
    assert fault(qbo.post("bill", long))["code"] == "2050"


def test_required_fields_references_and_amounts(qbo):
    """No vendor or no lines is 2020; an unknown vendor 2500; Amount != Qty*UnitPrice 6070."""
    no_vendor = {"Line": [item_line(qbo.GADGET, 1, 1.00)]}
    assert fault(qbo.post("bill", no_vendor))["code"] == "2020"
    assert fault(qbo.post("bill", bill_body(lines=[])))["code"] == "2020"
    unknown = bill_body(vendor="999", lines=[item_line(qbo.GADGET, 1, 1.00)])
    assert fault(qbo.post("bill", unknown))["code"] == "2500"
    wrong = item_line(qbo.GADGET, 3, 2.50) | {"Amount": 7.00}
    assert fault(qbo.post("bill", bill_body(lines=[wrong])))["code"] == "6070"
    inactive = bill_body(vendor=qbo.RETIRED_VENDOR, lines=[item_line(qbo.GADGET, 1, 1.00)])
    assert fault(qbo.post("bill", inactive))["code"] == "610"


def test_sparse_and_full_update(qbo):
    """Sparse keeps the rest; full replaces it; both bump SyncToken; stale token is 5010."""
    bill = qbo.create("bill", bill_body(lines=[item_line(qbo.GADGET, 2, 2.00)], doc_number="A1"))
    sparse = qbo.create(
        "bill", {"Id": bill["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "n"}
    )
    assert (
        sparse["SyncToken"] == "1"
        and sparse["Line"] == bill["Line"]
        and sparse["PrivateNote"] == "n"
    )
    full = bill_body(lines=[item_line(qbo.WIDGET, 1, 9.00)]) | {"Id": bill["Id"], "SyncToken": "1"}
    replaced = qbo.create("bill", full)
    assert "PrivateNote" not in replaced and replaced["TotalAmt"] == 9.0
    assert replaced["Balance"] == 9.0
    stale = qbo.post("bill", full | {"SyncToken": "1"})
    assert fault(stale)["code"] == "5010"


def test_delete_then_read_is_610(qbo):
    """?operation=delete answers status Deleted; the bill is gone."""
    bill = qbo.create("bill", bill_body(lines=[item_line(qbo.GADGET, 1, 1.00)]))
    response = qbo.post("bill", {"Id": bill["Id"], "SyncToken": "0"}, operation="delete")
    assert response.json()["Bill"]["status"] == "Deleted"
    assert fault(qbo.get(f"bill/{bill['Id']}"))["code"] == "610"


def test_query_by_vendor_docnumber_and_balance(qbo):
    """VendorRef, DocNumber, TxnDate, Balance are filterable; PrivateNote is not (4001)."""
    qbo.create("bill", bill_body(lines=[item_line(qbo.GADGET, 1, 5.00)], doc_number="Q-1"))
    qbo.create(
        "bill", bill_body(vendor=qbo.BOLT, lines=[item_line(qbo.GADGET, 2, 5.00)], doc_number="Q-2")
    )
    by_vendor = queried(qbo, f"select * from Bill where VendorRef = '{qbo.BOLT}'", "Bill")
    assert [b["DocNumber"] for b in by_vendor] == ["Q-2"]
    by_number = queried(qbo, "select * from Bill where DocNumber IN ('Q-1', 'Q-9')", "Bill")
    assert [b["DocNumber"] for b in by_number] == ["Q-1"]
    open_bills = queried(qbo, "select * from Bill where Balance > '6'", "Bill")
    assert [b["DocNumber"] for b in open_bills] == ["Q-2"]
    refused = qbo.query("select * from Bill where PrivateNote = 'x'")
    assert fault(refused)["code"] == "4001"


def test_batch_creates_and_queries_bills(qbo):
    """Bill items in /batch succeed or fail one by one."""
    good = bill_body(lines=[item_line(qbo.GADGET, 1, 1.00)], doc_number="BB-1")
    bad = bill_body(vendor="999", lines=[item_line(qbo.GADGET, 1, 1.00)])
    request = {
        "BatchItemRequest": [
            {"bId": "1", "operation": "create", "Bill": good},
            {"bId": "2", "operation": "create", "Bill": bad},
            {"bId": "3", "Query": "select * from Bill where DocNumber = 'BB-1'"},
        ]
    }
    answers = {a["bId"]: a for a in qbo.post("batch", request).json()["BatchItemResponse"]}
    assert answers["1"]["Bill"]["DocNumber"] == "BB-1"
    assert answers["2"]["Fault"]["Error"][0]["code"] == "2500"
    assert answers["3"]["QueryResponse"]["Bill"][0]["Id"] == answers["1"]["Bill"]["Id"]


def test_cdc_reports_created_and_deleted_bills(qbo):
    """CDC answers bills changed since a moment, deleted ones with status Deleted."""
    since = (qbo.emu.now() - timedelta(seconds=1)).isoformat()
    kept = qbo.create("bill", bill_body(lines=[item_line(qbo.GADGET, 1, 1.00)], doc_number="C1"))
    gone = qbo.create("bill", bill_body(lines=[item_line(qbo.GADGET, 1, 1.00)], doc_number="C2"))
    qbo.post("bill", {"Id": gone["Id"], "SyncToken": "0"}, operation="delete")
    answer = qbo.get("cdc", entities="Bill", changedSince=since).json()
    rows = answer["CDCResponse"][0]["QueryResponse"][0]["Bill"]
    assert {r["Id"]: r.get("status") for r in rows} == {kept["Id"]: None, gone["Id"]: "Deleted"}


def test_duplicate_bill_number_is_6140_for_the_same_vendor_only(qbo):
    """QBO checks bill numbers per vendor ("Warn if duplicate bill number is used")."""
    line = item_line(qbo.GADGET, 1, 1.00)
    first = qbo.create("bill", bill_body(lines=[line], doc_number="SUP-1"))
    again = fault(qbo.post("bill", bill_body(lines=[line], doc_number="sup-1")))
    assert again["code"] == "6140" and f"TxnType=Bill with TxnId={first['Id']}" in again["Detail"]
    other_vendor = qbo.create("bill", bill_body(vendor=qbo.BOLT, lines=[line], doc_number="SUP-1"))
    assert other_vendor["DocNumber"] == "SUP-1"
