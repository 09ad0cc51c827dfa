"""QBO emulator: BillPayment lowers a bill's Balance; what a paid bill still lets you do.

Sources: Intuit's BillPayment reference (VendorRef, TotalAmt, PayType Check/CreditCard and Line
required; Line.LinkedTxn to the Bill; CheckPayment.BankAccountRef for checks; "If TotalAmt is
greater than the total on the lines being paid, the overpayment is treated as a credit"),
Intuit's Bill reference (Balance "reflecting any payments made against the transaction ... A
Balance of 0 indicates the bill is fully paid"; delete: "You must unlink any linked transactions
associated with the bill object before deleting it"), quickbooks-ruby #452 (a paid bill's
LinkedTxn of TxnType BillPaymentCheck). What QBO answers for overpaying a line or cutting a paid
bill's total below its payments is not public: the emulator's choice (6000) is in qbo_payments.
"""

from __future__ import annotations

import requests
from qbo_purchase_bodies import account_line, bill_body, fault, item_line, read

CHECKING = "7"


def _bill(qbo, amount=100.00, vendor="1"):
    body = bill_body(vendor=vendor, lines=[account_line(qbo.PURCHASES_ACCOUNT, amount)])
    return qbo.create("bill", body)


def _payment(bill_id, amount, vendor="1", total=None):
    return {
        "VendorRef": {"value": vendor},
        "PayType": "Check",
        "CheckPayment": {"BankAccountRef": {"value": CHECKING}},
        "TotalAmt": amount if total is None else total,
        "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": bill_id, "TxnType": "Bill"}]}],
    }


def test_a_payment_lowers_the_balance_and_links_the_bill(qbo):
    """Balance = TotalAmt - paid; the bill shows LinkedTxn BillPaymentCheck."""
    bill = _bill(qbo)
    payment = qbo.create("billpayment", _payment(bill["Id"], 40.00))
    assert payment["TotalAmt"] == 40.0 and payment["CheckPayment"]["PrintStatus"] == "NotSet"
    after = read(qbo, "bill", bill["Id"])
    assert after["Balance"] == 60.0 and after["TotalAmt"] == 100.0
    assert {"TxnId": payment["Id"], "TxnType": "BillPaymentCheck"} in after["LinkedTxn"]
    assert int(after["SyncToken"]) == 1


def test_paying_in_full_and_deleting_the_payment(qbo):
    """Two payments to zero; deleting one gives its amount back."""
    bill = _bill(qbo)
    first = qbo.create("billpayment", _payment(bill["Id"], 30.00))
    qbo.create("billpayment", _payment(bill["Id"], 70.00))
    assert read(qbo, "bill", bill["Id"])["Balance"] == 0
    qbo.post("billpayment", {"Id": first["Id"], "SyncToken": "0"}, operation="delete")
    assert read(qbo, "bill", bill["Id"])["Balance"] == 30.0


def test_payment_faults(qbo):
    """Missing PayType / bank account 2020, unknown bill 2500, other vendor, too much: 6000."""
    bill = _bill(qbo)
    no_type = _payment(bill["Id"], 10.00)
    del no_type["PayType"]
    assert fault(qbo.post("billpayment", no_type))["code"] == "2020"
    no_bank = _payment(bill["Id"], 10.00) | {"CheckPayment": {}}
    assert fault(qbo.post("billpayment", no_bank))["code"] == "2020"
    assert fault(qbo.post("billpayment", _payment("999", 10.00)))["code"] == "2500"
    other_vendor = _payment(bill["Id"], 10.00, vendor=qbo.BOLT)
    assert fault(qbo.post("billpayment", other_vendor))["code"] == "6000"
    assert fault(qbo.post("billpayment", _payment(bill["Id"], 100.01)))["code"] == "6000"
    under_total = _payment(bill["Id"], 10.00, total=5.00)
    assert fault(qbo.post("billpayment", under_total))["code"] == "6000"
    assert read(qbo, "bill", bill["Id"])["Balance"] == 100.0


def test_an_overpayment_above_the_lines_is_accepted(qbo):
    """TotalAmt above the applied lines is a vendor credit in QBO: no fault."""
    bill = _bill(qbo)
    payment = qbo.create("billpayment", _payment(bill["Id"], 10.00, total=25.00))
    assert payment["TotalAmt"] == 25.0 and read(qbo, "bill", bill["Id"])["Balance"] == 90.0


def test_a_paid_bill_can_be_edited_but_not_below_what_is_paid(qbo):
    """Other edits are fine and Balance follows; a total under the payments is 6000."""
    bill = _bill(qbo)
    qbo.emu.pay_bill(bill["Id"], 60)
    bill = read(qbo, "bill", bill["Id"])
    base = {"Id": bill["Id"], "SyncToken": bill["SyncToken"], "sparse": True}
    cut = base | {"Line": [account_line(qbo.PURCHASES_ACCOUNT, 50.00)]}
    assert fault(qbo.post("bill", cut))["code"] == "6000"
    raised = qbo.create("bill", base | {"Line": [account_line(qbo.PURCHASES_ACCOUNT, 150.00)]})
    assert raised["Balance"] == 90.0 and raised["TotalAmt"] == 150.0
    noted = qbo.create("bill", base | {"SyncToken": raised["SyncToken"], "PrivateNote": "checked"})
    assert noted["Balance"] == 90.0


def test_a_paid_bill_cannot_change_vendor_or_be_deleted(qbo):
    """Both would orphan the payment: 6000."""
    bill = _bill(qbo)
    qbo.emu.pay_bill(bill["Id"], 10)
    bill = read(qbo, "bill", bill["Id"])
    vendor = {"Id": bill["Id"], "SyncToken": bill["SyncToken"], "sparse": True}
    assert fault(qbo.post("bill", vendor | {"VendorRef": {"value": qbo.BOLT}}))["code"] == "6000"
    delete = qbo.post(
        "bill", {"Id": bill["Id"], "SyncToken": bill["SyncToken"]}, operation="delete"
    )
    assert fault(delete)["code"] == "6000"


def test_pay_bill_control_over_the_admin_prefix(qbo):
    """POST /__admin/pay_bill {bill_id, amount} pays by check and answers the BillPayment."""
    bill = qbo.create("bill", bill_body(lines=[item_line(qbo.GADGET, 4, 2.50)]))
    url = f"{qbo.emu.base_url}/__admin/pay_bill"
    answer = requests.post(url, json={"bill_id": bill["Id"], "amount": 4}, timeout=5)
    assert answer.status_code == 200 and answer.json()["PayType"] == "Check"
    assert read(qbo, "bill", bill["Id"])["Balance"] == 6.0


def test_query_bills_by_balance_finds_the_unpaid(qbo):
    """Balance is filterable: select the bills still owed."""
    paid, open_bill = _bill(qbo), _bill(qbo, amount=20.00)
    qbo.emu.pay_bill(paid["Id"], 100)
    response = qbo.query("select * from Bill where Balance > '0'")
    assert [b["Id"] for b in response.json()["QueryResponse"]["Bill"]] == [open_bill["Id"]]
