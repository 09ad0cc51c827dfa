"""Luminous vendor credits -> QBO VendorCredits, and their applications to bills -> QBO
BillPayments linking the Bill and the VendorCredit, end to end: both emulators over real HTTP,
the daemon as a subprocess.

Luminous: the official CLI's vendor_credits.py (GET /vendor-credits, apply "to a bill or payment
obligation", cancel, /applications/{application_id}/reverse; columns id, vendor_name, amount,
status, created_at) and vendor_returns.py (generate-credit). QBO: Intuit's VendorCredit
(VendorRef and Line as a Bill's; Balance computed; LinkedTxn, quickbooks-ruby #576 "if the
credit was applied to a bill as payment") and BillPayment (Line "zero or more Bill,
VendorCredit ... objects linked to this BillPayment"; TotalAmt the net, credit lines positive:
laf-rge/quickbooks-mcp #23)."""

from __future__ import annotations

from payables_kit import entry, money, payables, posted_bill, qbo_of, run

from reconciler.model import DocKind, Lifecycle, SyncStatus

BILL, CREDIT = DocKind.BILL, DocKind.VENDOR_CREDIT
UK_TAX = """
[tax]
codes = { "20" = "20.0% S", "5" = "5.0% R" }
zero_rate = "0.0% Z"
"""


def _credit(w, **fields):
    supplier = w.source.supplier("Nutricost")
    record = {"vendor_id": supplier["id"], **fields}
    return w.lum.credits.create(record, updated_at=w.source.stamps.next())


def _applications(w, credit_qbo):
    """The BillPayments applying a QBO VendorCredit (its LinkedTxn)."""
    ids = [x["TxnId"] for x in credit_qbo.get("LinkedTxn") or [] if x["TxnType"] == "BillPayment"]
    return [w.qbo.get("BillPayment", i) for i in ids]


def test_a_credit_applied_to_a_bill_then_the_application_reversed(tmp_path):
    with payables(tmp_path) as w:
        bill = posted_bill(w, "10", "INV-1")  # 425.00
        credit = _credit(w, credit_number="CN-7", amount="50.00", memo="damaged tubs")
        w.lum.credits.apply(
            credit["id"], {"bill_id": bill["id"], "amount": "50"}, w.source.stamps.next()
        )
        assert run(w, label="applied") == 0
        qcredit, qbill = qbo_of(w, credit["id"], CREDIT), qbo_of(w, bill["id"], BILL)
        assert qcredit["DocNumber"] == "CN-7" and money(qcredit["TotalAmt"]) == money("50")
        assert qcredit["VendorRef"]["value"] == qbill["VendorRef"]["value"]
        assert "damaged tubs" in qcredit["PrivateNote"]
        assert money(qcredit["Balance"]) == 0 and money(qbill["Balance"]) == money("375.00")
        (applied,) = _applications(w, qcredit)
        links = [(ln["LinkedTxn"][0]["TxnType"], money(ln["Amount"])) for ln in applied["Line"]]
        assert links == [("Bill", money("50")), ("VendorCredit", money("50"))]
        assert money(applied["TotalAmt"]) == 0  # no money moves: the credit pays the bill
        application = w.lum.credits.get(credit["id"])["applications"][0]
        assert applied["DocNumber"] == f"L-A{application['id']}"
        w.lum.credits.reverse(credit["id"], application["id"], w.source.stamps.next())
        assert run(w, label="reversed") == 0
        qcredit, qbill = qbo_of(w, credit["id"], CREDIT), qbo_of(w, bill["id"], BILL)
        assert w.qbo.get("BillPayment", applied["Id"]) is None  # deleted in QBO
        assert money(qcredit["Balance"]) == money("50") and "LinkedTxn" not in qcredit
        assert money(qbill["Balance"]) == money("425.00")
        assert entry(w, credit["id"], CREDIT).status is SyncStatus.SYNCED
        assert run(w, label="idle") == 0
        assert w.qbo.objects("BillPayment") == [] and len(w.qbo.objects("VendorCredit")) == 1


def test_a_credit_cancelled_in_luminous_is_voided_in_qbo(tmp_path):
    with payables(tmp_path) as w:
        credit = _credit(w, amount="20.00")
        assert run(w, label="open") == 0
        number = qbo_of(w, credit["id"], CREDIT)["DocNumber"]
        assert number == credit["credit_number"]
        w.lum.credits.cancel(credit["id"], w.source.stamps.next())
        assert run(w, label="cancelled") == 0
        voided = qbo_of(w, credit["id"], CREDIT)
        assert money(voided["TotalAmt"]) == 0 and voided["PrivateNote"].startswith("Voided")
        assert entry(w, credit["id"], CREDIT).lifecycle is Lifecycle.CLOSED


def test_a_credit_generated_by_a_vendor_return_carries_its_items(tmp_path):
    with payables(tmp_path) as w:
        supplier = w.source.supplier("Nutricost")
        whey = w.source.product("Whey Protein 5lb", "SKU-W")
        item = {"product_id": whey["id"], "quantity": "2", "unit_price": "42.50"}
        returned = w.lum.credits.create_return({"vendor_id": supplier["id"], "items": [item]})
        w.lum.credits.act_on_return(returned["id"], "process")
        credit = w.lum.credits.act_on_return(returned["id"], "generate-credit")
        w.lum.credits.set_updated_at(credit["id"], w.source.stamps.next())
        assert run(w, label="returned") == 0
        qcredit = qbo_of(w, credit["id"], CREDIT)
        (line,) = qcredit["Line"]
        assert line["DetailType"] == "ItemBasedExpenseLineDetail"
        assert line["ItemBasedExpenseLineDetail"]["ItemRef"]["name"] == "Whey Protein 5lb"
        assert money(qcredit["TotalAmt"]) == money("85.00")
        assert f"vendor return {returned['id']}" in qcredit["PrivateNote"]


def test_a_uk_companys_credit_has_a_tax_code_on_every_line(tmp_path):
    """Outside the US QBO refuses a purchase line without a tax code (6000) and computes the
    tax itself: each line's code comes from its tax as a bill line's does (20 % on the whey,
    zero-rated for the account line), TotalAmt = lines + VAT."""
    with payables(tmp_path, qbo_options={"country": "GB"}, extra=UK_TAX) as w:
        whey = w.source.product("Whey Protein 5lb", "SKU-W")
        items = [
            {"product_id": whey["id"], "quantity": "2", "unit_price": "42.50", "tax": "17.00"},
            {"description": "Restocking fee refunded", "quantity": "1", "unit_price": "10.00"},
        ]
        credit = _credit(w, credit_number="CN-UK-1", items=items)
        assert run(w, label="uk credit") == 0
        qcredit = qbo_of(w, credit["id"], CREDIT)
        codes = {c["Name"]: c["Id"] for c in w.qbo.objects("TaxCode")}
        details = [ln[ln["DetailType"]] for ln in qcredit["Line"] if ln.get("DetailType")]
        got = [d["TaxCodeRef"]["value"] for d in details]
        assert got == [codes["20.0% S"], codes["0.0% Z"]]
        assert qcredit["GlobalTaxCalculation"] == "TaxExcluded"
        assert money(qcredit["TxnTaxDetail"]["TotalTax"]) == money("17.00")
        assert money(qcredit["TotalAmt"]) == money("112.00")  # 85 + 10 + 17 VAT
