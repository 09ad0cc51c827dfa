"""VendorCredit, what the BillPayments that apply it do to it, and the company's closing date.

- Fields (Intuit's VendorCredit reference, ../shared/qbo-reference): VendorRef and Line
  required; lines ItemBasedExpenseLine or AccountBasedExpenseLine, as a Bill's (tax as a Bill's:
  qbo_tax); TotalAmt computed, read only; Balance "Initially set to the value of TotalAmt.
  Calculated by QuickBooks business logic": it falls as BillPayments apply the credit (a
  BillPayment line with LinkedTxn TxnType "VendorCredit", Intuit's BillPayment.Line), and the
  credit's LinkedTxn lists them (quickbooks-ruby #576: "if the credit was applied to a bill as
  payment"); its SyncToken moves with them, as a paid bill's does. DocNumber up to 21 characters,
  duplicates refused per vendor under the company preference, as for bills (Intuit: "Throws an
  error when duplicate DocNumber is sent"). QBO offers no void for a VendorCredit.
- Refusals, 6000 (wording chosen here, QBO's not public): a total below what is applied, another
  vendor while applied, deleting one that is applied ("linked to other transactions", as a
  bill with payments; Intuit: unlink first).
- Closing date (Preferences.AccountingInfoPrefs.BookCloseDate; `emu.book_close_date`): a Bill,
  BillPayment or VendorCredit dated on or before it cannot be created, changed, voided or
  deleted through the API: 400, code 6210 "Account Period Closed, Cannot Update Through
  Services API", Detail "The account period has closed and the account books cannot be updated
  through through the QBO Services API. Please use the QBO website to make these changes." (the
  fault as integrations quote it: fylein's QBO connector tests, synder and LeanLaw help pages;
  "through through" as quoted). A PO is not a posting transaction and is not held by it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from reconciler.sandbox.qbo import (  # circular by design: qbo_store used only inside functions
    classes as qbo_classes,
)
from reconciler.sandbox.qbo import (
    payments as qbo_payments,
)
from reconciler.sandbox.qbo import (
    store as qbo_store,
)
from reconciler.sandbox.qbo import (
    tax as qbo_tax,
)
from reconciler.sandbox.qbo.wire import CENT, QBOFault

PERIOD_HELD = ("Bill", "BillPayment", "VendorCredit")
CLOSED_DETAIL = (
    "The account period has closed and the account books cannot be updated through through the "
    "QBO Services API. Please use the QBO website to make these changes."
)


def normalise_credit(company: Any, entity: str, obj: dict, existing: dict | None) -> dict:
    """A VendorCredit through QBO's rules: refs, lines, tax, number, balance."""
    raw_lines = company._vendor_and_lines(obj)
    applied = applications_of(company, (existing or {}).get("Id"))
    if applied and existing["VendorRef"]["value"] != obj["VendorRef"]["value"]:
        raise qbo_store.business_rule(
            "This vendor credit is applied to bills; its vendor cannot be changed."
        )
    mode = qbo_tax.global_mode(company, obj)
    obj["Line"] = company._normalise_lines(entity, raw_lines, existing, mode)
    qbo_tax.apply_totals(company, obj)
    _apply_doc_number(company, obj, existing)
    company._apply_ap_account(obj)
    qbo_classes.resolve_txn_refs(company, obj)
    obj.setdefault("TxnDate", company.clock().date().isoformat())
    obj.setdefault("CurrencyRef", company.home_currency())
    used = sum((amount for _, amount in applied), Decimal(0))
    if used > obj["TotalAmt"]:
        raise qbo_store.business_rule(
            f"This vendor credit has {used.quantize(CENT)} applied to bills; its total cannot "
            "be less than that."
        )
    _set_balance(obj, applied)
    return obj


def _apply_doc_number(company: Any, obj: dict, existing: dict | None) -> None:
    number = qbo_store._text(obj, "DocNumber")
    if not number:
        obj.pop("DocNumber", None)
        return
    if company.checks_duplicate_docnumbers():
        vendor = obj["VendorRef"]["value"]
        for other in company.objects["VendorCredit"].values():
            same = qbo_store._key(other.get("DocNumber", "")) == qbo_store._key(number)
            ours = qbo_store._ref_id(other.get("VendorRef")) == vendor
            if same and ours and other["Id"] != (existing or {}).get("Id"):
                raise qbo_store.duplicate_doc_number(number, "VendorCredit", other["Id"])
    obj["DocNumber"] = number


def applications_of(company: Any, credit_id: str | None) -> list[tuple[str, Decimal]]:
    """(BillPayment Id, amount) of every BillPayment line that applies this credit."""
    found = []
    for payment in qbo_payments.payers(company, "VendorCredit", credit_id):
        for line in payment.get("Line", []):
            for link in line.get("LinkedTxn", []):
                if link.get("TxnType") == "VendorCredit" and str(link.get("TxnId")) == credit_id:
                    found.append((payment["Id"], line["Amount"]))
    return found


def _set_balance(credit: dict, applied: list[tuple[str, Decimal]]) -> None:
    used = sum((amount for _, amount in applied), Decimal(0))
    credit["Balance"] = (credit["TotalAmt"] - used).quantize(CENT)
    payments = dict.fromkeys(pay_id for pay_id, _ in applied)
    links = [{"TxnId": pay_id, "TxnType": "BillPayment"} for pay_id in payments]
    if links:
        credit["LinkedTxn"] = links
    else:
        credit.pop("LinkedTxn", None)


def refresh_credit(company: Any, credit_id: str) -> None:
    """Re-derive a stored credit's Balance and LinkedTxn after a BillPayment changed."""
    credit = company.objects["VendorCredit"].get(credit_id)
    if credit is None:
        return
    before = (credit.get("Balance"), credit.get("LinkedTxn"))
    _set_balance(credit, applications_of(company, credit_id))
    if (credit.get("Balance"), credit.get("LinkedTxn")) != before:
        company.touch("VendorCredit", credit)


def open_balance(company: Any, credit: dict, payment: dict | None) -> Decimal:
    """The credit's balance as if `payment` (when it is an update) were not applied yet."""
    mine = sum(
        (
            amount
            for pay_id, amount in applications_of(company, credit["Id"])
            if payment is not None and pay_id == payment["Id"]
        ),
        Decimal(0),
    )
    return credit["Balance"] + mine


def check_open_period(company: Any, entity: str, *objects: dict | None) -> None:
    """6210 when any version of the transaction is dated on or before the closing date."""
    closed = company.book_close_date
    if entity not in PERIOD_HELD or not closed:
        return
    for obj in objects:
        if obj is not None and str(obj.get("TxnDate") or "9999-12-31") <= closed:
            raise QBOFault(
                "6210", "Account Period Closed, Cannot Update Through Services API", CLOSED_DETAIL
            )
