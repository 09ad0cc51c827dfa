"""QBO emulator: bill lines linked to PO lines, the links QBO drops, and the PO they close.

Sources: Intuit's Bill reference (Line.LinkedTxn: TxnId, TxnType "PurchaseOrder" and TxnLineId
all required; "a new Line must be created" to link an existing bill), Intuit's PurchaseOrder
reference (LinkedTxn "Zero or more Bill objects linked to this purchase order; TxnType is set to
Bill"; POStatus Open or Closed), Intuit's Finance.xsd (Line.Received, read-only on a PO) and the
live PO line in QuickBooks-V3-Java-SDK #206 ("Received": 4 of Qty 5); routablehq/
python-quickbooks #366 and simstudioai/sim #6194 (a bill created with a link silently dropped,
e.g. a LineNum sent as TxnLineId); qbo-api.md "Bill linked to a PurchaseOrder".
"""

from __future__ import annotations

from qbo_purchase_bodies import bill_body, fault, item_line, linked, po_with_lines, read


def _bill(qbo, po, parts, vendor="1", doc_number=None):
    """A bill with one line per (PO line Id, qty); item and price copied from the PO line."""
    lines = []
    for po_line_id, qty in parts:
        po_line = next(line for line in po["Line"] if line["Id"] == po_line_id)
        detail = po_line["ItemBasedExpenseLineDetail"]
        line = item_line(detail["ItemRef"]["value"], qty, detail["UnitPrice"])
        lines.append(linked(line, po["Id"], po_line_id))
    return qbo.create("bill", bill_body(vendor=vendor, lines=lines, doc_number=doc_number))


def test_a_made_link_shows_on_the_bill_line_the_bill_and_the_po(qbo):
    """The bill line keeps its LinkedTxn; bill and PO gain transaction-level links."""
    po = po_with_lines(qbo)
    bill = _bill(qbo, po, [("1", 4)])
    assert bill["Line"][0]["LinkedTxn"] == [
        {"TxnId": po["Id"], "TxnType": "PurchaseOrder", "TxnLineId": "1"}
    ]
    assert bill["LinkedTxn"] == [{"TxnId": po["Id"], "TxnType": "PurchaseOrder"}]
    after = read(qbo, "purchaseorder", po["Id"])
    assert after["LinkedTxn"] == [{"TxnId": bill["Id"], "TxnType": "Bill"}]
    assert after["Line"][0]["Received"] == 4 and "Received" not in after["Line"][1]
    assert after["POStatus"] == "Open"


def test_links_qbo_cannot_make_are_dropped_silently(qbo):
    """Unknown PO, wrong TxnLineId, another vendor's PO, missing TxnLineId: bill made, no link."""
    po = po_with_lines(qbo)
    other = po_with_lines(qbo, vendor=qbo.BOLT, doc_number="PO-B")
    line = item_line(qbo.GADGET, 1, 2.50)
    wanted = [
        linked(line, "999", "1"),
        linked(line, po["Id"], "7"),
        linked(line, other["Id"], "1"),
        line | {"LinkedTxn": [{"TxnId": po["Id"], "TxnType": "PurchaseOrder"}]},
    ]
    bill = qbo.create("bill", bill_body(lines=wanted))
    # unlinked, as recorded (bill_create_batch.json): each line "LinkedTxn": [], the bill none;
    # the unbilled PO "LinkedTxn": [] (po_create_batch.json)
    assert all(line["LinkedTxn"] == [] for line in bill["Line"])
    assert "LinkedTxn" not in bill and bill["TotalAmt"] == 10.0
    assert read(qbo, "purchaseorder", po["Id"])["LinkedTxn"] == []


def test_a_linenum_that_is_not_the_line_id_links_nothing(qbo):
    """After an update the PO's line Ids and positions part: TxnLineId = LineNum is dropped."""
    po = po_with_lines(qbo)
    kept = po["Line"][1] | {"Id": po["Line"][1]["Id"]}
    update = {"Id": po["Id"], "SyncToken": po["SyncToken"], "sparse": True, "Line": [kept]}
    po = qbo.create("purchaseorder", update)
    assert po["Line"][0]["Id"] == "2" and po["Line"][0]["LineNum"] == 1
    by_position = linked(item_line(qbo.WIDGET, 2, 5.00), po["Id"], "1")
    bill = qbo.create("bill", bill_body(lines=[by_position]))
    assert bill["Line"][0]["LinkedTxn"] == []
    by_id = _bill(qbo, po, [("2", 2)])
    assert by_id["Line"][0]["LinkedTxn"][0]["TxnLineId"] == "2"


def test_partial_bills_leave_the_po_open_and_the_last_one_closes_it(qbo):
    """Three partial bills: Open, Open, then Closed when every quantity is billed."""
    po = po_with_lines(qbo)
    _bill(qbo, po, [("1", 3)])
    _bill(qbo, po, [("1", 7), ("2", 1)])
    middle = read(qbo, "purchaseorder", po["Id"])
    assert middle["POStatus"] == "Open" and [line["Received"] for line in middle["Line"]] == [10, 1]
    _bill(qbo, po, [("2", 1)])
    closed = read(qbo, "purchaseorder", po["Id"])
    assert closed["POStatus"] == "Closed" and len(closed["LinkedTxn"]) == 3
    assert [line["Received"] for line in closed["Line"]] == [10, 2]


def test_over_billing_is_allowed_and_closes_the_po(qbo):
    """More than ordered on a line: the bill is made and the PO closes."""
    po = po_with_lines(qbo)
    bill = _bill(qbo, po, [("1", 12), ("2", 2)])
    assert bill["Line"][0]["LinkedTxn"]
    after = read(qbo, "purchaseorder", po["Id"])
    assert after["POStatus"] == "Closed" and after["Line"][0]["Received"] == 12


def test_a_closed_po_takes_no_new_links(qbo):
    """Once closed (by bills or by the client) a PO's lines cannot be linked: dropped."""
    po = po_with_lines(qbo)
    _bill(qbo, po, [("1", 10), ("2", 2)])
    late = _bill(qbo, read(qbo, "purchaseorder", po["Id"]), [("1", 1)])
    assert late["Line"][0]["LinkedTxn"] == []


def test_linking_changes_the_po_synctoken(qbo):
    """The PO itself changed: a client holding the old SyncToken gets 5010 and re-reads."""
    po = po_with_lines(qbo)
    _bill(qbo, po, [("1", 1)])
    after = read(qbo, "purchaseorder", po["Id"])
    assert int(after["SyncToken"]) == int(po["SyncToken"]) + 1
    stale = {"Id": po["Id"], "SyncToken": po["SyncToken"], "sparse": True, "Memo": "x"}
    assert fault(qbo.post("purchaseorder", stale))["code"] == "5010"


def test_deleting_the_bill_reopens_the_po_it_closed(qbo):
    """The PO goes back to Open and loses the link and the received quantity."""
    po = po_with_lines(qbo)
    bill = _bill(qbo, po, [("1", 10), ("2", 2)])
    assert read(qbo, "purchaseorder", po["Id"])["POStatus"] == "Closed"
    qbo.post("bill", {"Id": bill["Id"], "SyncToken": bill["SyncToken"]}, operation="delete")
    after = read(qbo, "purchaseorder", po["Id"])
    assert after["POStatus"] == "Open" and after["LinkedTxn"] == []
    assert all("Received" not in line for line in after["Line"])


def test_a_po_the_client_closed_stays_closed_when_a_bill_goes(qbo):
    """Only a close the bills made is undone by deleting a bill."""
    po = po_with_lines(qbo)
    bill = _bill(qbo, po, [("1", 1)])
    po = read(qbo, "purchaseorder", po["Id"])
    closed = qbo.create(
        "purchaseorder",
        {"Id": po["Id"], "SyncToken": po["SyncToken"], "sparse": True, "POStatus": "Closed"},
    )
    qbo.post("bill", {"Id": bill["Id"], "SyncToken": bill["SyncToken"]}, operation="delete")
    assert read(qbo, "purchaseorder", closed["Id"])["POStatus"] == "Closed"


def test_edits_that_break_a_link_are_6000(qbo):
    """Removing or re-targeting a billed PO line, changing the PO's or bill's vendor: 6000."""
    po = po_with_lines(qbo)
    bill = _bill(qbo, po, [("1", 2)])
    po = read(qbo, "purchaseorder", po["Id"])
    base = {"Id": po["Id"], "SyncToken": po["SyncToken"], "sparse": True}
    drop_line = base | {"Line": [po["Line"][1]]}
    assert fault(qbo.post("purchaseorder", drop_line))["code"] == "6000"
    other_item = po["Line"][0] | {"ItemBasedExpenseLineDetail": {"ItemRef": {"value": qbo.WIDGET}}}
    retarget = base | {"Line": [other_item, po["Line"][1]]}
    assert fault(qbo.post("purchaseorder", retarget))["code"] == "6000"
    assert (
        fault(qbo.post("purchaseorder", base | {"VendorRef": {"value": qbo.BOLT}}))["code"]
        == "6000"
    )
    bill_vendor = {"Id": bill["Id"], "SyncToken": bill["SyncToken"], "sparse": True}
    assert (
        fault(qbo.post("bill", bill_vendor | {"VendorRef": {"value": qbo.BOLT}}))["code"] == "6000"
    )
    delete = qbo.post(
        "purchaseorder", {"Id": po["Id"], "SyncToken": po["SyncToken"]}, operation="delete"
    )
    assert fault(delete)["code"] == "6000"


def test_an_unlinked_po_line_can_still_be_edited(qbo):
    """Changing the quantity of the billed line, or the other line, is fine (and re-derives)."""
    po = po_with_lines(qbo)
    _bill(qbo, po, [("1", 4)])
    po = read(qbo, "purchaseorder", po["Id"])
    first = item_line(qbo.GADGET, 4, 2.50) | {"Id": "1"}
    update = {
        "Id": po["Id"],
        "SyncToken": po["SyncToken"],
        "sparse": True,
        "Line": [first, po["Line"][1]],
    }
    after = qbo.create("purchaseorder", update)
    assert after["Line"][0]["Received"] == 4 and after["LinkedTxn"][0]["TxnType"] == "Bill"


def test_an_existing_bill_line_cannot_take_a_link_but_a_new_line_can(qbo):
    """Intuit: linking an existing bill needs a new line; the old line keeps no new link."""
    po = po_with_lines(qbo)
    bill = qbo.create("bill", bill_body(lines=[item_line(qbo.GADGET, 2, 2.50)]))
    same_line = linked(bill["Line"][0], po["Id"], "1")
    update = {"Id": bill["Id"], "SyncToken": "0", "sparse": True, "Line": [same_line]}
    unchanged = qbo.create("bill", update)
    assert unchanged["Line"][0]["LinkedTxn"] == []
    new_line = linked(item_line(qbo.GADGET, 2, 2.50), po["Id"], "1")
    update = {"Id": bill["Id"], "SyncToken": "1", "sparse": True, "Line": [new_line]}
    relinked = qbo.create("bill", update)
    assert relinked["Line"][0]["Id"] == "2" and relinked["Line"][0]["LinkedTxn"]


def test_a_linked_bill_line_keeps_its_link_and_cannot_change_item(qbo):
    """Sent back with its Id the line stays linked; another item on it is 6000."""
    po = po_with_lines(qbo)
    bill = _bill(qbo, po, [("1", 2)])
    same = bill["Line"][0]
    kept = qbo.create("bill", {"Id": bill["Id"], "SyncToken": "0", "sparse": True, "Line": [same]})
    assert kept["Line"][0]["LinkedTxn"] == bill["Line"][0]["LinkedTxn"]
    other = same | {
        "ItemBasedExpenseLineDetail": {"ItemRef": {"value": qbo.WIDGET}, "Qty": 2, "UnitPrice": 2.5}
    }
    changed = qbo.post(
        "bill", {"Id": bill["Id"], "SyncToken": "1", "sparse": True, "Line": [other]}
    )
    assert fault(changed)["code"] == "6000"


def test_removing_a_linked_bill_line_unlinks_and_reopens(qbo):
    """A bill update that leaves the linked line out removes the link (Intuit's relink recipe)."""
    po = po_with_lines(qbo)
    bill = _bill(qbo, po, [("1", 10), ("2", 2)])
    keep = bill["Line"][0]
    after = qbo.create("bill", {"Id": bill["Id"], "SyncToken": "0", "sparse": True, "Line": [keep]})
    assert len(after["Line"]) == 1
    po_after = read(qbo, "purchaseorder", po["Id"])
    assert po_after["POStatus"] == "Open" and "Received" not in po_after["Line"][1]


def test_cdc_reports_the_po_a_bill_closed(qbo):
    """The PO changed when its bill closed it: CDC answers it with POStatus Closed."""
    po = po_with_lines(qbo)
    qbo.emu.advance_clock(5)
    since = qbo.emu.now().isoformat()
    qbo.emu.advance_clock(1)
    _bill(qbo, po, [("1", 10), ("2", 2)])
    answer = qbo.get("cdc", entities="PurchaseOrder,Bill", changedSince=since).json()
    parts = answer["CDCResponse"][0]["QueryResponse"]
    [po_row] = parts[0]["PurchaseOrder"]
    assert po_row["Id"] == po["Id"] and po_row["POStatus"] == "Closed"
    assert len(parts[1]["Bill"]) == 1


def test_bill_has_no_void_operation_so_a_void_is_an_update_to_zero(qbo):
    """Intuit's Bill reference offers create, read, update and delete: no void (void exists for
    BillPayment with `include=void`, QuickBooks-V3-DotNET-SDK #261, and for Invoice, Payment
    and SalesReceipt). `operation=void` on a bill is refused; zeroing the lines (what QBO's
    own Void does) frees the PO lines, and a PO its bills had closed opens again (qbo-api.md:
    QBO closes a PO whose quantities are all accounted for by linked bills)."""
    po = po_with_lines(qbo)
    full = _bill(qbo, po, [("1", 10), ("2", 2)])
    assert read(qbo, "purchaseorder", po["Id"])["POStatus"] == "Closed"
    attempt = qbo.post("bill", {"Id": full["Id"], "SyncToken": full["SyncToken"]}, operation="void")
    assert attempt.status_code == 400 and fault(attempt)["code"] == "500"
    zeroed = [
        {
            "Id": line["Id"],
            "Amount": 0,
            "DetailType": line["DetailType"],
            line["DetailType"]: {**line[line["DetailType"]], "Qty": 0},
        }
        for line in full["Line"]
    ]
    body = {"Id": full["Id"], "SyncToken": full["SyncToken"], "sparse": True, "Line": zeroed}
    voided = qbo.create("bill", body | {"PrivateNote": "Voided"})
    assert voided["TotalAmt"] == 0 and [len(x["LinkedTxn"]) for x in voided["Line"]] == [1, 1]
    assert read(qbo, "purchaseorder", po["Id"])["POStatus"] == "Open"
