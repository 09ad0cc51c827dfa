"""Luminous bill payments -> QBO BillPayments linked to the QBO bill the sync wrote, end to end:
both emulators over real HTTP, the daemon as a subprocess (`python -m reconciler run --once`).

The QBO emulator models Intuit's BillPayment (../shared/qbo-reference/api-reference-types.json:
VendorRef, PayType Check or CreditCard, CheckPayment.BankAccountRef or
CreditCardPayment.CCAccountRef, Line.LinkedTxn to the Bill, TotalAmt): the Bill's Balance falls
as payments land and its LinkedTxn lists them (quickbooks-ruby #452), a void (operation=update&
include=void) gives the balance back, more than the bill's open balance is refused (6000), a
payment dated in a closed period too (6210). The Luminous emulator serves the payment routes of
the official CLI (LuminousInventory/luminous-cli, cli/resources/bills.py: POST /bills/{id}/
payments, .../void, DELETE; purchase_orders.py: payment_type cash, credit_card, debit_card,
check, bank_transfer)."""

from __future__ import annotations

from payables_kit import entry, money, pay, payables, payments_in_qbo, posted_bill, qbo_of, run

from reconciler.model import DocKind, Lifecycle, SyncStatus

BILL, PAYMENT = DocKind.BILL, DocKind.PAYMENT


def test_a_bill_paid_in_two_parts_is_paid_in_qbo_by_two_linked_payments(tmp_path):
    with payables(tmp_path) as w:
        bill = posted_bill(w, "10", "INV-1")  # 425.00
        assert run(w, label="bill") == 0
        first = pay(w, bill, "200.00", "check", payment_date="2024-05-02")
        assert run(w, label="first part") == 0
        qbill = qbo_of(w, bill["id"], BILL)
        assert money(qbill["Balance"]) == money("225.00")
        second = pay(w, bill, "225.00", "credit_card", reference_number="AUTH-77")
        assert run(w, label="second part") == 0
        qbill = qbo_of(w, bill["id"], BILL)
        assert money(qbill["Balance"]) == 0  # Intuit: "A Balance of 0 indicates the bill is paid"
        p1, p2 = qbo_of(w, first["id"], PAYMENT), qbo_of(w, second["id"], PAYMENT)
        assert (p1["DocNumber"], p2["DocNumber"]) == (f"L-P{first['id']}", f"L-P{second['id']}")
        assert (money(p1["TotalAmt"]), money(p2["TotalAmt"])) == (money("200"), money("225"))
        assert p1["Line"][0]["LinkedTxn"] == [{"TxnId": qbill["Id"], "TxnType": "Bill"}]
        assert p1["PayType"] == "Check" and p1["TxnDate"] == "2024-05-02"
        assert p1["CheckPayment"]["BankAccountRef"]["name"] == "Checking"
        assert p2["PayType"] == "CreditCard"  # payment_type credit_card: the Visa card
        assert p2["CreditCardPayment"]["CCAccountRef"]["name"] == "Visa"
        assert "Reference: AUTH-77" in p2["PrivateNote"]
        kinds = {(x["TxnId"], x["TxnType"]) for x in qbill["LinkedTxn"]}
        assert {(p1["Id"], "BillPaymentCheck"), (p2["Id"], "BillPaymentCreditCard")} <= kinds
        assert entry(w, second["id"], PAYMENT).status is SyncStatus.SYNCED
        w.qbo.reset_log()
        assert run(w, label="idle") == 0
        assert w.qbo.count(method="POST", path_contains="billpayment") == 0
        assert len(w.qbo.objects("BillPayment")) == 2


def test_a_payment_voided_in_luminous_is_voided_in_qbo_and_the_bill_owes_again(tmp_path):
    with payables(tmp_path) as w:
        bill = posted_bill(w, "10", "INV-V")
        paid = pay(w, bill, "100.00")
        assert run(w, label="paid") == 0
        assert money(qbo_of(w, bill["id"], BILL)["Balance"]) == money("325.00")
        w.lum.payments.void(bill["id"], paid["id"], updated_at=w.source.stamps.next())
        assert run(w, label="voided") == 0
        voided = qbo_of(w, paid["id"], PAYMENT)
        assert money(voided["TotalAmt"]) == 0 and voided["Line"] == []
        assert voided["PrivateNote"].startswith("Voided")
        assert money(qbo_of(w, bill["id"], BILL)["Balance"]) == money("425.00")
        row = entry(w, paid["id"], PAYMENT)
        assert (row.status, row.lifecycle) == (SyncStatus.SYNCED, Lifecycle.CLOSED)
        assert run(w, label="idle") == 0
        assert len(payments_in_qbo(w, f"L-P{paid['id']}")) == 1


def test_a_payment_arriving_before_its_bill_waits_and_follows_it(tmp_path):
    """The bill is on hold in Luminous when its payment is made: the payment waits (retrying,
    no attempt spent); the bill is released and posted, and the payment links to it."""
    with payables(tmp_path) as w:
        bill = posted_bill(w, "4", "INV-EARLY")
        w.lum.bills.hold(bill["id"], updated_at=w.source.stamps.next())
        early = pay(w, bill, "170.00", "bank_transfer")
        run(w, label="bill held")  # (exit 1: a document is retrying)
        waiting = entry(w, early["id"], PAYMENT)
        assert waiting.status is SyncStatus.RETRYING and waiting.attempts == 0
        assert "bill INV-EARLY is not in QBO yet" in waiting.last_error_message
        assert w.qbo.objects("BillPayment") == [] and w.qbo.objects("Bill") == []
        w.lum.bills.unhold(bill["id"], updated_at=w.source.stamps.next())
        assert run(w, label="released") == 0
        qbill = qbo_of(w, bill["id"], BILL)
        assert entry(w, early["id"], PAYMENT).status is SyncStatus.SYNCED
        assert money(qbill["Balance"]) == 0
        (link,) = qbo_of(w, early["id"], PAYMENT)["Line"][0]["LinkedTxn"]
        assert link == {"TxnId": qbill["Id"], "TxnType": "Bill"}


def test_an_over_payment_fails_alone_with_qbos_reason(tmp_path):
    """More than the bill's open balance: QBO refuses it (6000); the payment is failed with
    the reason, the bill and another bill's payment in the same pass go through."""
    with payables(tmp_path) as w:
        small = posted_bill(w, "2", "INV-S")  # 85.00
        other = posted_bill(w, "2", "INV-O")
        too_much = pay(w, small, "90.00")
        fine = pay(w, other, "85.00")
        assert run(w, label="over-payment") == 1  # a failure: exit 1
        failed = entry(w, too_much["id"], PAYMENT)
        assert failed.status is SyncStatus.FAILED and failed.last_error_code == "6000"
        assert "more than its open balance" in failed.last_error_message
        assert entry(w, fine["id"], PAYMENT).status is SyncStatus.SYNCED
        assert money(qbo_of(w, small["id"], BILL)["Balance"]) == money("85.00")


def test_a_payment_dated_in_a_closed_period_fails_alone(tmp_path):
    with payables(tmp_path) as w:
        bill = posted_bill(w, "2", "INV-C")
        w.qbo.book_close_date = "2024-12-31"
        old = pay(w, bill, "40.00", payment_date="2024-12-30")
        new = pay(w, bill, "45.00", payment_date="2025-01-02")
        assert run(w, label="closed books") == 1
        refused = entry(w, old["id"], PAYMENT)
        assert refused.status is SyncStatus.FAILED and refused.last_error_code == "6210"
        assert "account period has closed" in refused.last_error_message
        assert entry(w, new["id"], PAYMENT).status is SyncStatus.SYNCED


def test_a_payment_deleted_in_luminous_is_deleted_in_qbo_by_the_full_sweep(tmp_path):
    with payables(tmp_path) as w:
        bill = posted_bill(w, "2", "INV-D")
        gone = pay(w, bill, "85.00")
        assert run(w, label="paid") == 0
        w.lum.payments.delete(bill["id"], gone["id"], updated_at=w.source.stamps.next())
        assert run(w, "--full", label="sweep") == 0
        assert payments_in_qbo(w, f"L-P{gone['id']}") == []
        assert money(qbo_of(w, bill["id"], BILL)["Balance"]) == money("85.00")
        assert entry(w, gone["id"], PAYMENT).lifecycle is Lifecycle.DELETED
