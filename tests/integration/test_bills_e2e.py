"""Luminous bills -> QBO Bills linked to the QBO PO's lines, through both emulators (real
HTTP, real SQLite, real intuit-oauth). The QBO emulator validates every LinkedTxn against the
PO's line Ids and drops one it cannot make, as QBO does (qbo-api.md "Bill linked to a
PurchaseOrder"); it closes a PO once linked bills cover every line."""

from __future__ import annotations

from decimal import Decimal

from bill_fixtures import bill, bills_on, entry, history, links, qbo_bill, received, two_line_po
from sync_harness import harness

from reconciler.model import DocKind, Lifecycle, SyncStatus
from reconciler.sandbox.qbo.server import FaultRule

PO = DocKind.PURCHASE_ORDER


def test_a_full_bill_links_every_po_line_and_qbo_closes_the_po(tmp_path):
    """One bill for all of a PO: each bill line linked to its PO line; QBO closes the PO, and
    the PO's history says which bill and that QBO closed it."""
    with harness(tmp_path, settings_hook=bills_on()) as h:
        po = two_line_po(h)
        b = bill(h, po, bill_number="NC-INV-1001")
        report = h.run()
        assert report.outcome == "ok", report.as_dict()
        qpo = h.qbo_po(po["id"])
        qbill = qbo_bill(h, b["id"])
        assert qbill["DocNumber"] == "NC-INV-1001"
        assert links(qbill) == [
            (qpo["Id"], qpo["Line"][0]["Id"]),
            (qpo["Id"], qpo["Line"][1]["Id"]),
        ]
        assert Decimal(str(qbill["TotalAmt"])) == Decimal("484.97")  # 425.00 + 59.97
        assert qpo["POStatus"] == "Closed"
        assert received(qpo) == [Decimal("10"), Decimal("3")]
        assert entry(h, b["id"]).status is SyncStatus.SYNCED
        story = [(r.action, r.message or "") for r in history(h, po["id"])]
        assert any(a == "billed" and "NC-INV-1001" in m for a, m in story)
        assert ("closed_in_qbo", "QBO closed this PO: its bills cover it") in story
        # nothing changed: the next pass costs QBO nothing
        assert h.run().qbo_requests == 0


def test_a_partial_bill_leaves_the_po_open_and_the_second_bill_closes_it(tmp_path):
    with harness(tmp_path, settings_hook=bills_on()) as h:
        po = two_line_po(h)
        first = bill(h, po, ["4", None], bill_number="INV-A")
        h.run()
        qpo = h.qbo_po(po["id"])
        assert qpo["POStatus"] == "Open"
        assert received(qpo) == [Decimal("4"), None]
        assert links(qbo_bill(h, first["id"])) == [(qpo["Id"], qpo["Line"][0]["Id"])]
        second = bill(h, po, ["6", "3"], bill_number="INV-B")
        h.run()
        qpo = h.qbo_po(po["id"])
        assert qpo["POStatus"] == "Closed"
        assert received(qpo) == [Decimal("10"), Decimal("3")]
        assert len(h.qbo.objects("Bill")) == 2
        assert entry(h, second["id"]).status is SyncStatus.SYNCED


def test_an_over_billed_bill_links_and_closes_the_po(tmp_path):
    """14 billed against 10 ordered: QBO accepts it and counts the line as received in full."""
    with harness(tmp_path, settings_hook=bills_on()) as h:
        po = two_line_po(h)
        b = bill(h, po, ["14", "3"], bill_number="INV-OVER")
        h.run()
        qpo = h.qbo_po(po["id"])
        assert qpo["POStatus"] == "Closed"
        assert received(qpo) == [Decimal("14"), Decimal("3")]
        assert Decimal(str(qbo_bill(h, b["id"])["TotalAmt"])) == Decimal("654.97")


def test_a_bill_whose_po_is_not_in_qbo_yet_waits_then_links(tmp_path):
    """QBO refuses the PO once (a validation fault parks it); its bill waits, retrying with
    the reason, spending no attempt. The PO is fixed in Luminous: the same pass that pushes
    it wakes the bill, which links."""
    with harness(tmp_path, settings_hook=bills_on()) as h:
        po = two_line_po(h)
        b = bill(h, po, bill_number="INV-EARLY")
        refusal = {
            "Fault": {
                "Error": [{"Message": "Invalid", "Detail": "refused once", "code": "2020"}],
                "type": "ValidationFault",
            }
        }
        h.qbo.add_fault(
            FaultRule(method="POST", path_regex=r"/purchaseorder", status=400, body=refusal)
        )
        h.run()
        waiting = entry(h, b["id"])
        assert waiting.status is SyncStatus.RETRYING
        assert waiting.last_error_code == "po_not_in_qbo"
        assert "PO PO-1 is not in QBO yet" in waiting.last_error_message
        assert waiting.attempts == 0 and h.qbo.objects("Bill") == []
        h.edit(po["id"], private_note="fixed")
        h.run()
        qpo = h.qbo_po(po["id"])
        assert entry(h, b["id"]).status is SyncStatus.SYNCED
        assert links(qbo_bill(h, b["id"]))[0] == (qpo["Id"], qpo["Line"][0]["Id"])
        assert qpo["POStatus"] == "Closed"


def test_a_bill_for_a_po_awaiting_approval_is_parked_until_the_po_is_pushed(tmp_path):
    with harness(tmp_path, settings_hook=bills_on()) as h:
        po = two_line_po(h, approval_status="pending_approval")
        b = bill(h, po, bill_number="INV-WAIT")
        h.run()
        parked = entry(h, b["id"])
        assert parked.status is SyncStatus.SKIPPED and parked.last_error_code == "po_not_pushed"
        assert "awaiting approval" in parked.last_error_message
        assert h.qbo.objects("Bill") == []
        h.edit(po["id"], approval_status="approved")
        h.run()
        assert entry(h, b["id"]).status is SyncStatus.SYNCED
        assert h.qbo_po(po["id"])["POStatus"] == "Closed"


def test_unpushed_po_unlinked_posts_the_bill_without_the_link(tmp_path):
    with harness(tmp_path, settings_hook=bills_on(unpushed_po="unlinked")) as h:
        po = two_line_po(h, approval_status="pending_approval")
        b = bill(h, po, bill_number="INV-LOOSE")
        h.run()
        qbill = qbo_bill(h, b["id"])
        assert links(qbill) == [None, None]
        assert [line["DetailType"] for line in qbill["Line"]] == ["ItemBasedExpenseLineDetail"] * 2
        assert entry(h, b["id"]).status is SyncStatus.SYNCED
        assert h.qbo.objects("PurchaseOrder") == []


def test_a_paid_bill_edited_in_luminous_is_not_edited_and_says_why(tmp_path):
    with harness(tmp_path, settings_hook=bills_on()) as h:
        po = two_line_po(h)
        b = bill(h, po, ["5", "3"], bill_number="INV-PAID")
        h.run()
        before = qbo_bill(h, b["id"])
        h.qbo.pay_bill(before["Id"], "100.00")  # partly paid, in QBO
        h.lum.bills.edit(b["id"], {"memo": "price corrected"}, updated_at=h.next_stamp())
        h.run()
        row = entry(h, b["id"])
        assert row.status is SyncStatus.FAILED and row.last_error_code == "bill_paid"
        assert "partly paid (100.00 of 272.47)" in row.last_error_message
        after = qbo_bill(h, b["id"])
        assert after["Line"] == before["Line"] and after.get("PrivateNote") == before.get(
            "PrivateNote"
        )
        h.run()  # parked: not read or tried again until it changes
        assert entry(h, b["id"]).attempts == row.attempts


def test_a_link_qbo_drops_is_the_bills_failure_with_the_reason(tmp_path):
    """Someone closes the PO in QBO by hand: QBO creates the bill but drops its links. The
    bill is failed (never "synced"), its QBO Id kept; reopened in QBO and retried, the bill
    is edited with new linked lines (linking needs new lines)."""
    with harness(tmp_path, settings_hook=bills_on()) as h:
        po = two_line_po(h)
        h.run()
        qpo = h.qbo_po(po["id"])
        h.qbo.edit_as_other_user("PurchaseOrder", qpo["Id"], {"POStatus": "Closed"})
        b = bill(h, po, bill_number="INV-DROP")
        h.run()
        row = entry(h, b["id"])
        assert row.status is SyncStatus.FAILED and row.last_error_code == "link_missing"
        assert row.qbo_id and "did not link line 1 to PO PO-1" in row.last_error_message
        assert links(h.qbo.get("Bill", row.qbo_id)) == [None, None]
        h.qbo.edit_as_other_user("PurchaseOrder", qpo["Id"], {"POStatus": "Open"})
        store = h.store()
        store.ledger.request_retry(b["id"], DocKind.BILL)
        store.close()
        h.run()
        assert entry(h, b["id"]).status is SyncStatus.SYNCED
        assert len(h.qbo.objects("Bill")) == 1
        fixed = h.qbo.get("Bill", row.qbo_id)
        assert all(link is not None for link in links(fixed))
        assert h.qbo_po(po["id"])["POStatus"] == "Closed"


def test_a_po_edit_keeps_its_line_ids_so_its_bills_stay_linked(tmp_path):
    """A PO update sends each kept line with its QBO Id: a line sent without one is a new
    line, and QBO refuses to remove a line a bill is linked to (6000)."""
    with harness(tmp_path, settings_hook=bills_on()) as h:
        po = two_line_po(h)
        b = bill(h, po, ["4", None], bill_number="INV-KEEP")
        h.run()
        ids = [line["Id"] for line in h.qbo_po(po["id"])["Line"]]
        h.edit(po["id"], private_note="edited after billing")
        report = h.run()
        assert report.outcome == "ok", report.as_dict()
        qpo = h.qbo_po(po["id"])
        assert [line["Id"] for line in qpo["Line"]] == ids
        assert qpo["PrivateNote"] == "edited after billing"
        assert links(qbo_bill(h, b["id"])) == [(qpo["Id"], ids[0])]


def test_void_in_luminous_voids_in_qbo_and_reopens_the_po(tmp_path):
    with harness(tmp_path, settings_hook=bills_on()) as h:
        po = two_line_po(h)
        b = bill(h, po, bill_number="INV-VOID")
        h.run()
        assert h.qbo_po(po["id"])["POStatus"] == "Closed"
        h.lum.bills.void(b["id"], updated_at=h.next_stamp())
        h.run()
        voided = qbo_bill(h, b["id"])
        assert Decimal(str(voided["TotalAmt"])) == 0
        assert voided["PrivateNote"].startswith("Voided")
        row = entry(h, b["id"])
        assert row.status is SyncStatus.SYNCED and row.lifecycle is Lifecycle.CLOSED
        assert h.qbo_po(po["id"])["POStatus"] == "Open"
        story = [r.action for r in history(h, po["id"])]
        assert "reopened_in_qbo" in story


def test_void_with_delete_policy_and_a_deleted_bill_found_by_the_sweep(tmp_path):
    with harness(tmp_path, settings_hook=bills_on(on_void="delete", on_delete="delete")) as h:
        po = two_line_po(h)
        voided = bill(h, po, ["1", None], bill_number="INV-GONE-1")
        deleted = bill(h, po, ["1", None], bill_number="INV-GONE-2")
        h.run()
        assert len(h.qbo.objects("Bill")) == 2
        h.lum.bills.void(voided["id"], updated_at=h.next_stamp())
        h.lum.bills.delete(deleted["id"])
        h.run(full_sweep=True)
        assert h.qbo.objects("Bill") == []
        assert entry(h, voided["id"]).lifecycle is Lifecycle.DELETED
        assert entry(h, deleted["id"]).lifecycle is Lifecycle.DELETED


def test_a_bill_of_another_vendor_is_refused_before_qbo_drops_its_links(tmp_path):
    with harness(tmp_path, settings_hook=bills_on()) as h:
        po = two_line_po(h)
        other = h.supplier("Acme Supply")
        b = bill(h, po, bill_number="ACME-1", vendor_id=other["id"])
        h.run()
        row = entry(h, b["id"])
        assert row.status is SyncStatus.FAILED and row.last_error_code == "vendor_differs"
        assert h.qbo.objects("Bill") == []


def test_extra_costs_become_account_lines_and_status_lists_bills(tmp_path, capsys):
    from reconciler.app import status_table as status_view

    with harness(tmp_path, settings_hook=bills_on()) as h:
        po = two_line_po(h)
        costs = [
            {"name": "Freight", "quantity": 1, "unit_price": "45.00"},
            {"name": "Card fee", "quantity": "1", "unit_price": "2.50"},
        ]
        b = bill(h, po, bill_number="INV-COSTS", extra_costs=costs)
        h.run()
        qbill = qbo_bill(h, b["id"])
        kinds = [line["DetailType"] for line in qbill["Line"]]
        assert kinds == ["ItemBasedExpenseLineDetail"] * 2 + ["AccountBasedExpenseLineDetail"] * 2
        assert links(qbill)[2:] == [None, None]
        assert Decimal(str(qbill["TotalAmt"])) == Decimal("532.47")
        store = h.store()
        try:
            table = status_view.table(store.ledger.entries())
            detail = status_view.document_detail(
                store.ledger.entry(b["id"], DocKind.BILL),
                store.ledger.history(b["id"], DocKind.BILL),
            )
        finally:
            store.close()
        assert "KIND" in table and "bill" in table and "INV-COSTS" in table and "PO-1" in table
        assert detail.startswith("bill INV-COSTS")


def _forget_line_ids(h) -> None:
    """The state file of a version that did not record PO line Ids."""
    store = h.store()
    try:
        with store.db.atomic():
            store.db.execute("delete from doc_lines")
    finally:
        store.close()


def test_a_po_pushed_before_line_ids_were_recorded_keeps_a_hand_made_bill_link(tmp_path):
    """Someone copied the PO to a bill in QBO by hand. The PO's line Ids were never recorded
    (an older state file): its next update learns them from QBO (one read) instead of sending
    lines without Ids, which QBO would refuse (6000) for the linked line."""
    with harness(tmp_path) as h:
        po = two_line_po(h)
        h.run()
        qpo = h.qbo_po(po["id"])
        line = qpo["Line"][0]
        by_hand = {
            "VendorRef": qpo["VendorRef"],
            "Line": [
                {
                    "Amount": line["Amount"],
                    "DetailType": line["DetailType"],
                    line["DetailType"]: line[line["DetailType"]],
                    "LinkedTxn": [
                        {"TxnId": qpo["Id"], "TxnType": "PurchaseOrder", "TxnLineId": line["Id"]}
                    ],
                }
            ],
        }
        hand_bill = h.qbo.company.create("Bill", by_hand)
        _forget_line_ids(h)
        h.edit(po["id"], private_note="edited after a bill by hand")
        report = h.run()
        assert report.outcome == "ok", report.as_dict()
        after = h.qbo_po(po["id"])
        assert [x["Id"] for x in after["Line"]] == [x["Id"] for x in qpo["Line"]]
        assert after["PrivateNote"] == "edited after a bill by hand"
        assert links(h.qbo.get("Bill", hand_bill["Id"])) == [(qpo["Id"], line["Id"])]


def test_a_bill_on_a_po_whose_line_ids_are_unknown_waits_while_they_are_learnt(tmp_path):
    with harness(tmp_path) as h:
        po = two_line_po(h)
        h.run()
        _forget_line_ids(h)
        settings = bills_on()(h.settings)
        b = bill(h, po, bill_number="INV-LATE")
        h.run(settings=settings)
        waiting = entry(h, b["id"])
        assert waiting.status is SyncStatus.RETRYING
        assert "QBO line ids of PO PO-1 are not known yet" in waiting.last_error_message
        h.run(settings=settings)
        assert entry(h, b["id"]).status is SyncStatus.SYNCED
        assert h.qbo_po(po["id"])["POStatus"] == "Closed"


def test_a_bill_for_a_po_completed_in_luminous_reopens_it_for_the_link_then_closes_it(tmp_path):
    """Goods received, the PO completed in Luminous (closed in QBO by the sync), then the
    supplier's invoice arrives: QBO links only to open POs, so the PO is reopened for the
    link, and closed again since Luminous says it is complete."""
    with harness(tmp_path, settings_hook=bills_on()) as h:
        po = two_line_po(h)
        h.run()
        h.edit(po["id"], order_status="completed")
        h.run()
        assert h.qbo_po(po["id"])["POStatus"] == "Closed"
        b = bill(h, po, ["4", None], bill_number="INV-LATE-PART")
        h.run()
        qpo = h.qbo_po(po["id"])
        assert links(qbo_bill(h, b["id"])) == [(qpo["Id"], qpo["Line"][0]["Id"])]
        assert qpo["POStatus"] == "Closed" and received(qpo) == [Decimal("4"), None]
        story = [r.action for r in history(h, po["id"])]
        assert story[-3:] == ["reopened_for_bill", "billed", "closed_again"]
        assert entry(h, b["id"]).status is SyncStatus.SYNCED
        assert h.run().qbo_requests == 0  # and the PO's ledger row still matches QBO


def test_a_lost_state_file_doubles_no_bill_and_keeps_every_link(tmp_path):
    """QBO, not the state file, says what exists: with the file gone, the PO and the bill are
    found in QBO (bills among that vendor's, by number) and adopted, their links intact."""
    with harness(tmp_path, settings_hook=bills_on()) as h:
        po = two_line_po(h)
        b = bill(h, po, ["4", "3"], bill_number="INV-LOST")
        h.run()
        before = qbo_bill(h, b["id"])
        h.qbo.duplicate_docnumber_check = False  # QBO's 6140 is no help: the sync must look
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / f"state.sqlite{suffix}").unlink(missing_ok=True)
        report = h.run()
        assert report.outcome == "ok", report.as_dict()
        assert len(h.qbo.objects("Bill")) == 1 and len(h.qbo.objects("PurchaseOrder")) == 1
        row = entry(h, b["id"])
        assert row.status is SyncStatus.SYNCED and row.qbo_id == before["Id"] and row.adopted
        assert links(h.qbo.get("Bill", before["Id"])) == links(before)


def test_a_paid_bill_voided_in_luminous_is_not_voided_in_qbo_and_says_why(tmp_path):
    with harness(tmp_path, settings_hook=bills_on()) as h:
        po = two_line_po(h)
        b = bill(h, po, ["2", None], bill_number="INV-PAID-VOID")
        h.run()
        paid = qbo_bill(h, b["id"])
        h.qbo.pay_bill(paid["Id"], paid["TotalAmt"])
        h.lum.bills.edit(b["id"], {"memo": "edited"}, updated_at=h.next_stamp())
        h.run()
        assert entry(h, b["id"]).last_error_code == "bill_paid"  # parked: not edited
        h.lum.bills.void(b["id"], updated_at=h.next_stamp())
        h.run()
        row = entry(h, b["id"])
        assert row.status is SyncStatus.FAILED and row.last_error_code == "bill_paid"
        assert "is not voided" in row.last_error_message
        assert Decimal(str(qbo_bill(h, b["id"])["TotalAmt"])) == Decimal("85.00")
