"""Payments and vendor credits through the parts of the path that have no code of their own for
them: the drift check, the preview (`run --once --dry-run`), `reconciler status`, the status
page; and a cancelled credit deleted with its application. Both emulators over HTTP, a pass in
process (tests/integration/sync_harness.py)."""

from __future__ import annotations

import dataclasses
import io
import json
from decimal import Decimal

from bill_fixtures import bill, two_line_po
from support import EventLog
from sync_harness import harness

from reconciler.app import dry_run
from reconciler.app.cli import main
from reconciler.model import DocKind, Drift
from reconciler.web.routes import StatusPage


def _on(settings):
    bills = dataclasses.replace(settings.bills, from_="bills")
    payments = dataclasses.replace(
        settings.payments, from_="luminous", accounts=(("default", "Checking"),)
    )
    credits = dataclasses.replace(
        settings.vendor_credits, from_="luminous", application_account="Checking"
    )
    return dataclasses.replace(settings, bills=bills, payments=payments, vendor_credits=credits)


def _paid(h, amount="100.00"):
    """A synced bill, a payment and a credit applied to it (not yet synced)."""
    b = bill(h, two_line_po(h), bill_number="INV-1")
    payment = h.lum.payments.pay(
        b["id"], {"paid_amount": amount, "payment_type": "check"}, updated_at=h.next_stamp()
    )
    supplier = h.supplier("Nutricost")
    credit = h.lum.credits.create(
        {"vendor_id": supplier["id"], "amount": "30.00", "credit_number": "CN-1"},
        updated_at=h.next_stamp(),
    )
    h.lum.credits.apply(credit["id"], {"bill_id": b["id"], "amount": "30"}, h.next_stamp())
    return b, payment, credit


def test_a_payment_voided_in_qbo_by_someone_else_is_drift(tmp_path):
    with harness(tmp_path, settings_hook=_on) as h:
        _, payment, _ = _paid(h)
        assert h.run().outcome == "ok"
        row = next(
            p for p in h.qbo.objects("BillPayment") if p["DocNumber"] == f"L-P{payment['id']}"
        )
        h.qbo.company.void("BillPayment", {"Id": row["Id"], "SyncToken": row["SyncToken"]})
        h.clock.advance(minutes=16)
        report = h.run()
        (finding,) = report.drift
        assert (finding.kind, finding.doc_id, finding.change) == (
            DocKind.PAYMENT,
            payment["id"],
            Drift.EDITED,
        )
        assert ("TotalAmt", Decimal("100.00"), Decimal("0.00")) in [
            (d.field, d.ours, d.theirs) for d in finding.diffs
        ]


def test_the_preview_lists_payments_and_credits_and_writes_nothing(tmp_path):
    with harness(tmp_path, settings_hook=_on) as h:
        b = bill(h, two_line_po(h), bill_number="INV-1")
        assert h.run().outcome == "ok"
        payment = h.lum.payments.pay(b["id"], {"paid_amount": "50"}, updated_at=h.next_stamp())
        supplier = h.supplier("Nutricost")
        credit = h.lum.credits.create(
            {"vendor_id": supplier["id"], "amount": "30.00"}, updated_at=h.next_stamp()
        )
        h.lum.credits.apply(credit["id"], {"bill_id": b["id"]}, h.next_stamp())
        out = io.StringIO()
        code = dry_run.command(h.settings, log=EventLog(), out=out, as_json=True)
        shown = {
            (d["kind"], d["doc_id"]): d["action"] for d in json.loads(out.getvalue())["documents"]
        }
        assert shown == {
            ("payment", payment["id"]): "create",
            ("vendor_credit", credit["id"]): "create",
        }
        assert code == 0 and h.qbo.objects("BillPayment") == []
        assert h.qbo.objects("VendorCredit") == []
        text = io.StringIO()
        dry_run.command(h.settings, log=EventLog(), out=text)
        assert "Bill payments (1):" in text.getvalue() and "Vendor credits (1):" in text.getvalue()


def test_status_and_the_status_page_name_payments_and_credits(tmp_path, capsys):
    with harness(tmp_path, settings_hook=_on) as h:
        _, payment, _ = _paid(h)
        assert h.run().outcome == "ok"
        number = f"L-P{payment['id']}"
        config = tmp_path / "status.toml"
        config.write_text(f'[state]\npath = "{h.settings.state.path}"\n')
        assert main(["status", number, "--config", str(config)]) == 0
        assert f"payment {number}" in capsys.readouterr().out
        store = h.store()
        try:
            page = StatusPage(store).overview("kind=vendor_credit").html
        finally:
            store.close()
        assert "CN-1" in page and "Vendor credits" in page


def test_a_credit_cancelled_with_delete_undoes_its_application_then_goes(tmp_path):
    """`[vendor_credits] on_cancel = "delete"`: reversed and cancelled in Luminous between two
    passes, the credit's application is deleted in QBO first (QBO refuses to delete a credit
    that is applied), then the credit itself; the bill owes all again."""

    def deleting(settings):
        settings = _on(settings)
        credits = dataclasses.replace(settings.vendor_credits, on_cancel="delete")
        return dataclasses.replace(settings, vendor_credits=credits)

    with harness(tmp_path, settings_hook=deleting) as h:
        b, _, credit = _paid(h)
        assert h.run().outcome == "ok"
        assert len(h.qbo.objects("BillPayment")) == 2 and len(h.qbo.objects("VendorCredit")) == 1
        application = h.lum.credits.get(credit["id"])["applications"][0]
        h.lum.credits.reverse(credit["id"], application["id"], h.next_stamp())
        h.lum.credits.cancel(credit["id"], h.next_stamp())
        assert h.run().outcome == "ok"
        assert h.qbo.objects("VendorCredit") == []
        assert [p["DocNumber"] for p in h.qbo.objects("BillPayment")] == ["L-P1"]
        store = h.store()
        try:
            row = store.ledger.entry(credit["id"], DocKind.VENDOR_CREDIT)
            bill_row = store.ledger.entry(b["id"], DocKind.BILL)
        finally:
            store.close()
        assert row.lifecycle.value == "deleted"
        balance = h.qbo.get("Bill", bill_row.qbo_id)["Balance"]
        assert balance == h.qbo.get("Bill", bill_row.qbo_id)["TotalAmt"] - Decimal("100.00")


def test_the_payments_checkpoint_passes_bills_without_payments(tmp_path):
    """Bills changed after the last payment hold no payment: the read says how far it went,
    and the payments' checkpoint moves past them (else each pass would read them again)."""
    with harness(tmp_path, settings_hook=_on) as h:
        b = bill(h, two_line_po(h), bill_number="INV-1")
        h.lum.payments.pay(b["id"], {"paid_amount": "10"}, updated_at=h.next_stamp())
        assert h.run().outcome == "ok"
        later = [bill(h, two_line_po(h, f"PO-{n}"), bill_number=f"INV-{n}") for n in (2, 3)]
        assert h.run().outcome == "ok"
        store = h.store()
        try:
            mark = store.ledger.checkpoint(DocKind.PAYMENT.checkpoint)
        finally:
            store.close()
        newest = max(h.lum.bills.get(x["id"])["updated_at"] for x in later)
        assert mark.updated_at >= newest
