"""QBO emulator: VendorCredit, a BillPayment that applies it to a bill, a BillPayment's void,
and the closing date.

Sources: Intuit's VendorCredit reference (../shared/qbo-reference/api-reference-types.json:
VendorRef and Line required, ItemBasedExpenseLine / AccountBasedExpenseLine; TotalAmt and
Balance read only, Balance "Initially set to the value of TotalAmt"); its schema
(xsd/Finance.xsd: the emulator checks every body against it); BillPayment.Line "zero or more
Bill, VendorCredit, and JournalEntry objects linked to this BillPayment"; credit lines carry
positive amounts and TotalAmt is the net (laf-rge/quickbooks-mcp #23); the credit's LinkedTxn
lists the payments that applied it (quickbooks-ruby #576). Void: POST
billpayment?operation=update&include=void with Id, SyncToken, sparse (Intuit's void as
integrations call it: amounts 0, lines cleared, "Voided" in the memo; Cloud Elements quotes an
answer with privateNote "Voided - RC 93", totalAmt 0). Closing date: 6210 "Account Period
Closed, Cannot Update Through Services API" (the fault quoted by integrators' help pages).
QBO's own words for the 6000 refusals are not public: the emulator's are in qbo_credits.
"""

from __future__ import annotations

from qbo_purchase_bodies import account_line, bill_body, fault, read

CHECKING = "7"


def _credit(qbo, amount=30.00, number="VC-1", vendor="1"):
    body = {
        "VendorRef": {"value": vendor},
        "DocNumber": number,
        "Line": [account_line(qbo.PURCHASES_ACCOUNT, amount)],
    }
    return qbo.create("vendorcredit", body)


def _apply(bill_id, credit_id, amount, total=0.0, vendor="1"):
    return {
        "VendorRef": {"value": vendor},
        "PayType": "Check",
        "CheckPayment": {"BankAccountRef": {"value": CHECKING}},
        "TotalAmt": total,
        "Line": [
            {"Amount": amount, "LinkedTxn": [{"TxnId": bill_id, "TxnType": "Bill"}]},
            {"Amount": amount, "LinkedTxn": [{"TxnId": credit_id, "TxnType": "VendorCredit"}]},
        ],
    }


def test_a_vendor_credit_is_created_with_its_balance(qbo):
    credit = _credit(qbo)
    assert credit["TotalAmt"] == 30.0 and credit["Balance"] == 30.0
    assert "LinkedTxn" not in credit and credit["DocNumber"] == "VC-1"
    assert read(qbo, "vendorcredit", credit["Id"])["Line"][0]["Id"] == "1"
    found = qbo.query("select * from VendorCredit where DocNumber in ('VC-1')").json()
    assert [c["Id"] for c in found["QueryResponse"]["VendorCredit"]] == [credit["Id"]]


def test_a_credit_applied_to_a_bill_lowers_both_balances_and_links_them(qbo):
    bill = qbo.create("bill", bill_body(lines=[account_line(qbo.PURCHASES_ACCOUNT, 100.00)]))
    credit = _credit(qbo)
    payment = qbo.create("billpayment", _apply(bill["Id"], credit["Id"], 30.00))
    assert payment["TotalAmt"] == 0
    after_bill, after_credit = (
        read(qbo, "bill", bill["Id"]),
        read(qbo, "vendorcredit", credit["Id"]),
    )
    assert after_bill["Balance"] == 70.0 and after_credit["Balance"] == 0
    assert after_credit["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "BillPayment"}]
    assert int(after_credit["SyncToken"]) == 1  # QBO moved it: a stale token would be 5010
    # applied: not deleted, not cut below what is applied, not moved to another vendor
    gone = qbo.post("vendorcredit", {"Id": credit["Id"], "SyncToken": "1"}, operation="delete")
    assert fault(gone)["code"] == "6000"
    smaller = {"Id": credit["Id"], "SyncToken": "1", "sparse": True}
    smaller["Line"] = [account_line(qbo.PURCHASES_ACCOUNT, 20.00)]
    assert fault(qbo.post("vendorcredit", smaller))["code"] == "6000"
    qbo.post("billpayment", {"Id": payment["Id"], "SyncToken": "0"}, operation="delete")
    after_credit = read(qbo, "vendorcredit", credit["Id"])
    assert after_credit["Balance"] == 30.0 and "LinkedTxn" not in after_credit
    assert read(qbo, "bill", bill["Id"])["Balance"] == 100.0


def test_applying_more_than_the_credit_or_more_credit_than_bills_is_refused(qbo):
    bill = qbo.create("bill", bill_body(lines=[account_line(qbo.PURCHASES_ACCOUNT, 100.00)]))
    credit = _credit(qbo, 30.00)
    assert fault(qbo.post("billpayment", _apply(bill["Id"], credit["Id"], 30.01)))["code"] == "6000"
    body = _apply(bill["Id"], credit["Id"], 30.00)
    body["Line"][0]["Amount"] = 10.00  # 30 of credit against 10 of bill
    assert fault(qbo.post("billpayment", body))["code"] == "6000"
    other = _credit(qbo, 10.00, "VC-2", vendor=qbo.BOLT)
    assert fault(qbo.post("billpayment", _apply(bill["Id"], other["Id"], 10.00)))["code"] == "6000"
    assert fault(qbo.post("billpayment", _apply(bill["Id"], "999", 10.00)))["code"] == "2500"
    assert read(qbo, "vendorcredit", credit["Id"])["Balance"] == 30.0


def test_a_payment_is_voided_once_and_the_bill_owes_again(qbo):
    bill = qbo.create("bill", bill_body(lines=[account_line(qbo.PURCHASES_ACCOUNT, 100.00)]))
    paid = {
        "VendorRef": {"value": "1"},
        "PayType": "Check",
        "CheckPayment": {"BankAccountRef": {"value": CHECKING}},
        "TotalAmt": 40.00,
        "PrivateNote": "RC 93",
        "Line": [{"Amount": 40.00, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}],
    }
    payment = qbo.create("billpayment", paid)
    body = {"Id": payment["Id"], "SyncToken": "0", "sparse": True}
    voided = qbo.create("billpayment", body, operation="update", include="void")
    assert voided["TotalAmt"] == 0 and voided["Line"] == []
    assert voided["PrivateNote"] == "Voided - RC 93" and voided["SyncToken"] == "1"
    assert read(qbo, "bill", bill["Id"])["Balance"] == 100.0
    again = qbo.post("billpayment", body | {"SyncToken": "1"}, operation="update", include="void")
    assert fault(again)["code"] == "6000"
    no_void = qbo.post("bill", {"Id": bill["Id"], "SyncToken": "0"}, operation="void")
    assert fault(no_void)["code"] == "500"  # a Bill has no void


def test_the_closing_date_refuses_what_is_dated_before_it(qbo):
    qbo.emu.book_close_date = "2024-12-31"
    old = bill_body(lines=[account_line(qbo.PURCHASES_ACCOUNT, 10.00)]) | {"TxnDate": "2024-12-31"}
    answer = qbo.post("bill", old)
    assert answer.status_code == 400 and fault(answer)["code"] == "6210"
    assert "account period has closed" in fault(answer)["Detail"]
    new = qbo.create("bill", old | {"TxnDate": "2025-01-01"})
    back = {"Id": new["Id"], "SyncToken": "0", "sparse": True, "TxnDate": "2024-06-01"}
    assert fault(qbo.post("bill", back))["code"] == "6210"
    prefs = read(qbo, "preferences", "1")
    assert prefs["AccountingInfoPrefs"]["BookCloseDate"] == "2024-12-31"
    qbo.emu.book_close_date = None
    assert qbo.post("bill", old).status_code == 200
