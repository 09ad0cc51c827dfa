"""Luminous receiving reports -> QBO Bills for the quantities received, at the PO's unit
costs, linked to the QBO PO's lines (`[bills] from = "receipts"`), through both emulators."""

from __future__ import annotations

from decimal import Decimal

from bill_fixtures import bills_on, entry, history, links, qbo_bill, receive, received, two_line_po
from sync_harness import harness

from reconciler.model import DocKind, SyncStatus
from reconciler.sandbox.qbo.server import FaultRule

RECEIPT = DocKind.RECEIPT


def test_a_po_received_in_three_parts_gets_three_bills_and_closes_when_all_are_in(tmp_path):
    with harness(tmp_path, settings_hook=bills_on("receipts")) as h:
        po = two_line_po(h)
        first = receive(h, po, ["4", None])
        h.run()
        qpo = h.qbo_po(po["id"])
        one = qbo_bill(h, first["id"], RECEIPT)
        assert one["DocNumber"] == f"RR-{first['id']}"
        assert links(one) == [(qpo["Id"], qpo["Line"][0]["Id"])]
        assert Decimal(str(one["TotalAmt"])) == Decimal("170.00")  # 4 x 42.50, the PO's cost
        assert qpo["POStatus"] == "Open"
        second = receive(h, po, ["6", "1"])
        h.run()
        assert h.qbo_po(po["id"])["POStatus"] == "Open"
        third = receive(h, po, [None, "2"])
        h.run()
        qpo = h.qbo_po(po["id"])
        assert qpo["POStatus"] == "Closed"
        assert received(qpo) == [Decimal("10"), Decimal("3")]
        bills = h.qbo.objects("Bill")
        assert sorted(b["DocNumber"] for b in bills) == sorted(
            f"RR-{r['id']}" for r in (first, second, third)
        )
        assert all(entry(h, r["id"], RECEIPT).status is SyncStatus.SYNCED for r in (first, second))
        assert "closed_in_qbo" in [r.action for r in history(h, po["id"])]


def test_a_full_receipt_bills_the_po_and_an_over_receipt_bills_what_arrived(tmp_path):
    with harness(tmp_path, settings_hook=bills_on("receipts")) as h:
        full_po = two_line_po(h, "PO-FULL")
        over_po = two_line_po(h, "PO-OVER")
        full = receive(h, full_po, ["10", "3"])
        over = receive(h, over_po, ["12", "3"])
        h.run()
        assert h.qbo_po(full_po["id"])["POStatus"] == "Closed"
        assert Decimal(str(qbo_bill(h, full["id"], RECEIPT)["TotalAmt"])) == Decimal("484.97")
        assert h.qbo_po(over_po["id"])["POStatus"] == "Closed"
        assert Decimal(str(qbo_bill(h, over["id"], RECEIPT)["TotalAmt"])) == Decimal("569.97")
        assert received(h.qbo_po(over_po["id"])) == [Decimal("12"), Decimal("3")]


def test_a_receipt_in_progress_is_not_billed_until_completed(tmp_path):
    with harness(tmp_path, settings_hook=bills_on("receipts")) as h:
        po = two_line_po(h)
        report = receive(h, po, ["2", None], status="in_progress")
        h.run()
        assert h.qbo.objects("Bill") == []
        assert entry(h, report["id"], RECEIPT).status is SyncStatus.SKIPPED
        h.lum.receiving.complete(report["id"], updated_at=h.next_stamp())
        h.run()
        assert entry(h, report["id"], RECEIPT).status is SyncStatus.SYNCED


def test_a_receipt_before_its_po_is_in_qbo_waits_then_links(tmp_path):
    with harness(tmp_path, settings_hook=bills_on("receipts")) as h:
        po = two_line_po(h)
        report = receive(h, po, ["10", "3"])
        h.qbo.add_fault(
            FaultRule(
                method="POST",
                path_regex=r"/purchaseorder",
                status=400,
                body={"Fault": {"Error": [{"Message": "no", "code": "2020"}], "type": "x"}},
            )
        )
        h.run()
        waiting = entry(h, report["id"], RECEIPT)
        assert waiting.status is SyncStatus.RETRYING and waiting.last_error_code == "po_not_in_qbo"
        h.edit(po["id"], private_note="again")
        h.run()
        assert entry(h, report["id"], RECEIPT).status is SyncStatus.SYNCED
        assert h.qbo_po(po["id"])["POStatus"] == "Closed"


def test_a_paid_receipt_bill_is_not_edited_when_the_receipt_changes(tmp_path):
    with harness(tmp_path, settings_hook=bills_on("receipts")) as h:
        po = two_line_po(h)
        report = receive(h, po, ["4", None])
        h.run()
        paid = qbo_bill(h, report["id"], RECEIPT)
        h.qbo.pay_bill(paid["Id"], paid["TotalAmt"])
        changed = [{"purchase_order_item_id": po["items"][0]["id"], "received_quantity": "5"}]
        h.lum.receiving.edit(report["id"], {"items": changed}, updated_at=h.next_stamp())
        h.run()
        row = entry(h, report["id"], RECEIPT)
        assert row.status is SyncStatus.FAILED and row.last_error_code == "bill_paid"
        assert "paid (170.00 of 170.00)" in row.last_error_message
        assert qbo_bill(h, report["id"], RECEIPT)["Line"] == paid["Line"]


def test_an_unpaid_receipt_bill_follows_the_receipt_and_keeps_its_line(tmp_path):
    with harness(tmp_path, settings_hook=bills_on("receipts")) as h:
        po = two_line_po(h)
        report = receive(h, po, ["4", None])
        h.run()
        before = qbo_bill(h, report["id"], RECEIPT)
        changed = [{"purchase_order_item_id": po["items"][0]["id"], "received_quantity": "5"}]
        h.lum.receiving.edit(report["id"], {"items": changed}, updated_at=h.next_stamp())
        report_after = h.lum.receiving.get(report["id"])
        h.run()
        after = qbo_bill(h, report["id"], RECEIPT)
        assert Decimal(str(after["TotalAmt"])) == Decimal("212.50")
        assert links(after) == links(before)
        # the receipt's items were replaced in Luminous (new item ids): a new, linked line
        assert report_after["items"][0]["id"] != report["items"][0]["id"]
        assert received(h.qbo_po(po["id"]))[0] == Decimal("5")
