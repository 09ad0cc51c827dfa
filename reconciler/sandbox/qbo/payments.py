"""BillPayment: paying bills, applying vendor credits, and what a payment does to both.

Intuit's BillPayment reference: VendorRef, TotalAmt, PayType (Check or CreditCard) and Line
are required; each line has Amount and LinkedTxn [{TxnId, TxnType}] naming a Bill or a
VendorCredit ("zero or more Bill, VendorCredit, and JournalEntry objects linked to this
BillPayment"); a Check payment needs CheckPayment.BankAccountRef, a CreditCard one
CreditCardPayment.CCAccountRef. Credit lines carry positive amounts and TotalAmt is the net the
payment moves, bills less credits (laf-rge/quickbooks-mcp #23), so a credit applied to a bill
is a BillPayment of TotalAmt 0. TotalAmt above that net is an overpayment kept as vendor credit
(Intuit), so it is allowed; below it is refused (6000), and so are credits above the bills.
Not documented, chosen here: a line for a bill or credit that does not exist is 2500, for
another vendor's 6000, for more than the bill's open balance or the credit's balance 6000.
A payment lowers the bill's Balance and appears on the bill as LinkedTxn BillPaymentCheck /
BillPaymentCreditCard (quickbooks-ruby #452), and lowers a credit's Balance (qbo_credits);
updating the payment re-applies it, deleting it gives the balances back. A paid bill can still
be edited, but not to a total below what has been paid, nor to another vendor (6000), and
cannot be deleted while payments are applied.

Void (`POST /billpayment?operation=update&include=void` with Id, SyncToken, sparse; Intuit's
void of a BillPayment, as integrations call it): the payment stays, TotalAmt 0, its lines
cleared (the bills and credits get their balances back), "Voided" before its memo (an answer
quoted by Cloud Elements' docs: privateNote "Voided - RC 93", totalAmt 0). Voiding a void
payment again is refused (6000, chosen here: the less forgiving reading, QBO's answer unknown).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from reconciler.sandbox.qbo import (  # circular by design, see qbo_tax
    bills as qbo_bills,
)
from reconciler.sandbox.qbo import (
    credits as qbo_credits,
)
from reconciler.sandbox.qbo import (
    store as qbo_store,
)
from reconciler.sandbox.qbo.wire import CENT, to_decimal

PAY_ACCOUNTS = {
    "Check": ("CheckPayment", "BankAccountRef"),
    "CreditCard": ("CreditCardPayment", "CCAccountRef"),
}


def normalise_payment(company: Any, entity: str, obj: dict, existing: dict | None) -> dict:
    """A BillPayment through QBO's rules."""
    if obj.get("VendorRef") is None:
        raise qbo_store.required_missing("VendorRef")
    obj["VendorRef"] = company._resolve_ref("VendorRef", obj["VendorRef"])
    _apply_pay_type(company, obj)
    total = to_decimal(obj.get("TotalAmt"))
    if total is None:
        raise qbo_store.required_missing("TotalAmt")
    if total < 0:
        raise qbo_store.business_rule("The payment amount cannot be negative.")
    obj["TotalAmt"] = total.quantize(CENT)
    obj["Line"] = _payment_lines(company, obj, existing)
    bills = _applied(obj, "Bill")
    credits = _applied(obj, "VendorCredit")
    if credits > bills:
        raise qbo_store.business_rule("The credits applied are more than the bills paid.")
    if bills - credits > obj["TotalAmt"]:
        raise qbo_store.business_rule(
            "The amounts applied to bills are more than the payment's total amount."
        )
    company._apply_ap_account(obj)
    obj.setdefault("TxnDate", company.clock().date().isoformat())
    obj.setdefault("CurrencyRef", company.home_currency())
    return obj


def _apply_pay_type(company: Any, obj: dict) -> None:
    pay_type = obj.get("PayType")
    if pay_type is None:
        raise qbo_store.required_missing("PayType")
    if pay_type not in PAY_ACCOUNTS:
        raise qbo_store.unsupported_property(f"Property Name:PayType value {pay_type!r} is invalid")
    block, ref_name = PAY_ACCOUNTS[pay_type]
    details = obj.get(block)
    if not isinstance(details, dict) or details.get(ref_name) is None:
        raise qbo_store.required_missing(f"{block}.{ref_name}")
    details = dict(details)
    details[ref_name] = company._resolve_ref(ref_name, details[ref_name], "Account")
    if pay_type == "Check":
        details.setdefault("PrintStatus", "NotSet")
    obj[block] = details
    obj.pop("CreditCardPayment" if pay_type == "Check" else "CheckPayment", None)


def _payment_lines(company: Any, obj: dict, existing: dict | None) -> list[dict]:
    lines = obj.get("Line")
    if not isinstance(lines, list) or not lines:
        raise qbo_store.required_missing("Line")
    return [_payment_line(company, obj, line, existing) for line in lines]


def _payment_line(company: Any, obj: dict, line: Any, existing: dict | None) -> dict:
    if not isinstance(line, dict):
        raise qbo_store.unsupported_property("Property Name:Line entries must be objects")
    amount = to_decimal(line.get("Amount"))
    if amount is None:
        raise qbo_store.required_missing("Line.Amount")
    links = line.get("LinkedTxn")
    link = links[0] if isinstance(links, list) and links and isinstance(links[0], dict) else None
    kind = link.get("TxnType") if link is not None else None
    if link is None or link.get("TxnId") in (None, "") or kind not in ("Bill", "VendorCredit"):
        raise qbo_store.required_missing("Line.LinkedTxn")
    target = company.objects[kind].get(str(link["TxnId"]))
    if target is None:
        raise qbo_store.invalid_reference(kind, link["TxnId"], "Line.LinkedTxn.TxnId")
    if qbo_store._ref_id(target.get("VendorRef")) != obj["VendorRef"]["value"]:
        raise qbo_store.business_rule("A bill payment can only apply its own vendor's documents.")
    if kind == "Bill" and amount > _open_balance(company, target, existing):
        raise qbo_store.business_rule(
            f"The amount applied to bill {target['Id']} is more than its open balance."
        )
    if kind == "VendorCredit" and amount > qbo_credits.open_balance(company, target, existing):
        raise qbo_store.business_rule(
            f"The amount applied from vendor credit {target['Id']} is more than its balance."
        )
    link = {"TxnId": target["Id"], "TxnType": kind}
    return {"Amount": amount.quantize(CENT), "LinkedTxn": [link]}


def _open_balance(company: Any, bill: dict, existing: dict | None) -> Decimal:
    """The bill's balance as if this payment (when updated) were not yet applied."""
    mine = sum(
        (
            amount
            for pay_id, _, amount in qbo_bills.payments_on(company, bill["Id"])
            if existing is not None and pay_id == existing["Id"]
        ),
        Decimal(0),
    )
    return bill["Balance"] + mine


def _applied(payment: dict, kind: str) -> Decimal:
    return sum(
        (
            line["Amount"]
            for line in payment["Line"]
            if any(link.get("TxnType") == kind for link in line.get("LinkedTxn", []))
        ),
        Decimal(0),
    )


def paid_bills(payment: dict | None, kind: str = "Bill") -> set[str]:
    """The Ids of the bills (or credits, `kind` "VendorCredit") a payment applies."""
    return {
        str(link["TxnId"])
        for line in (payment or {}).get("Line", [])
        for link in line.get("LinkedTxn", [])
        if link.get("TxnType") == kind
    }


def payers(company: Any, kind: str, target_id: str | None) -> list[dict]:
    """The BillPayments applied to a Bill or VendorCredit, by Id (an index: no scan of every
    payment, which made a backlog of payments quadratic)."""
    ids = company.payers.get((kind, str(target_id)), ()) if target_id is not None else ()
    found = [company.objects["BillPayment"].get(pay_id) for pay_id in ids]
    return sorted((p for p in found if p is not None), key=lambda p: (len(p["Id"]), p["Id"]))


def after_payment_write(company: Any, before: dict | None, stored: dict | None) -> None:
    """Re-derive every bill and credit the payment applies or applied."""
    for kind in ("Bill", "VendorCredit"):
        for target in paid_bills(before, kind):
            company.payers.get((kind, target), set()).discard(str((before or {}).get("Id")))
        for target in paid_bills(stored, kind):
            company.payers.setdefault((kind, target), set()).add(str((stored or {}).get("Id")))
    for bill_id in sorted(paid_bills(before) | paid_bills(stored)):
        qbo_bills.refresh_bill(company, bill_id)
    credits = paid_bills(before, "VendorCredit") | paid_bills(stored, "VendorCredit")
    for credit_id in sorted(credits):
        qbo_credits.refresh_credit(company, credit_id)


def voided(existing: dict) -> dict:
    """What QBO's void makes of a BillPayment (module docs); 6000 if it is void already."""
    note = existing.get("PrivateNote") or ""
    if existing.get("TotalAmt") == 0 and not existing.get("Line") and note.startswith("Voided"):
        raise qbo_store.business_rule("This transaction is already voided.")
    obj = {k: v for k, v in existing.items() if k not in ("Id", "SyncToken", "MetaData")}
    obj["TotalAmt"] = Decimal("0.00")
    obj["Line"] = []
    obj["PrivateNote"] = f"Voided - {note}" if note else "Voided"
    return obj


def payment_body(company: Any, bill_id: str, amount: Any) -> dict:
    """A Check BillPayment of `amount` against one bill, from the first active bank account."""
    bill = company.objects["Bill"].get(str(bill_id))
    if bill is None:
        raise ValueError(f"no bill {bill_id}")
    bank = next(
        (
            a
            for a in company.all("Account")
            if a.get("AccountType") == "Bank" and a.get("Active", True)
        ),
        None,
    )
    if bank is None:
        raise ValueError("the company has no active bank account to pay from")
    value = Decimal(str(amount))
    return {
        "VendorRef": {"value": bill["VendorRef"]["value"]},
        "PayType": "Check",
        "CheckPayment": {"BankAccountRef": {"value": bank["Id"]}},
        "TotalAmt": value,
        "Line": [{"Amount": value, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}],
    }
