"""Pure: a desired VendorCredit becomes its JSON body; each application a BillPayment body.

- The VendorCredit (Intuit's reference: VendorRef and Line required; ItemBasedExpenseLine and
  AccountBasedExpenseLine lines, as a Bill's; TotalAmt and Balance computed by QBO) takes its
  lines through `bill.body.bill_line_payload`, the one place a purchase line is written.
- An application is a BillPayment with two lines of the same amount, one linked to the Bill,
  one to the VendorCredit, and TotalAmt 0: the net the payment moves (Intuit's BillPayment.Line
  "zero or more Bill, VendorCredit, and JournalEntry objects linked to this BillPayment"; credit
  lines carry positive amounts and TotalAmt is the net, laf-rge/quickbooks-mcp #23). QBO wants
  PayType and its account even then (`[vendor_credits] application_account`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from reconciler.documents.bill.body import bill_line_payload
from reconciler.documents.credit.model import DesiredApplication, DesiredCredit
from reconciler.documents.payment.body import pay_block
from reconciler.documents.references import ResolvedRefs
from reconciler.documents.tax_inclusive import INCLUSIVE, net_lines


def credit_payload(desired: DesiredCredit, refs: ResolvedRefs) -> dict[str, Any]:
    """The VendorCredit body (no Id or SyncToken)."""
    lines = [bill_line_payload(line, refs, None, n) for n, line in enumerate(desired.lines, 1)]
    if desired.tax_calculation == INCLUSIVE:
        lines = net_lines(lines, refs.tax_rates)
    body: dict[str, Any] = {
        "VendorRef": {"value": refs.vendor_id, "name": desired.vendor.display_name},
        "Line": lines,
        "DocNumber": desired.doc_number,
        "PrivateNote": desired.private_note or "",
    }
    if refs.ap_account_id:
        body["APAccountRef"] = {"value": refs.ap_account_id}
    if desired.txn_date:
        body["TxnDate"] = desired.txn_date.isoformat()
    if desired.currency:
        body["CurrencyRef"] = {"value": desired.currency}
    if desired.tax_calculation:
        body["GlobalTaxCalculation"] = desired.tax_calculation
    return body


def application_payload(
    application: DesiredApplication,
    credit: Mapping[str, Any],
    account_id: str,
    note: str,
) -> dict[str, Any]:
    """The BillPayment that applies QBO VendorCredit `credit` to its bill."""
    amount = application.amount
    bill = {"TxnId": application.bill_qbo_id, "TxnType": "Bill"}
    credited = {"TxnId": str(credit["Id"]), "TxnType": "VendorCredit"}
    body: dict[str, Any] = {
        "VendorRef": {"value": str(credit["VendorRef"]["value"])},
        "PayType": "Check",
        **pay_block("Check", account_id),
        "TotalAmt": Decimal("0"),
        "Line": [
            {"Amount": amount, "LinkedTxn": [bill]},
            {"Amount": amount, "LinkedTxn": [credited]},
        ],
        "DocNumber": application.doc_number,
        "PrivateNote": note,
    }
    for name in ("TxnDate", "CurrencyRef", "APAccountRef"):
        if credit.get(name):
            body[name] = credit[name]
    return body


def same_application(application: DesiredApplication, held: Mapping[str, Any]) -> bool:
    """QBO's BillPayment applies this credit to this bill for this amount."""
    wanted = {("Bill", application.bill_qbo_id), ("VendorCredit", None)}
    found = set()
    for line in held.get("Line") or []:
        for link in line.get("LinkedTxn") or []:
            if Decimal(str(line.get("Amount"))) != application.amount:
                return False
            kind = link.get("TxnType")
            found.add((kind, str(link.get("TxnId")) if kind == "Bill" else None))
    return found == wanted


def our_application_number(prefix: str) -> re.Pattern[str]:
    """The DocNumbers the sync gives applications: only those BillPayments are its own."""
    return re.compile(rf"^{re.escape(prefix)}A\d+$", re.IGNORECASE)


def applied_payments(credit: Mapping[str, Any]) -> list[str]:
    """The Ids of the BillPayments QBO shows applying a VendorCredit (its LinkedTxn;
    quickbooks-ruby #576: "if the credit was applied to a bill as payment")."""
    return [
        str(link.get("TxnId"))
        for link in credit.get("LinkedTxn") or []
        if isinstance(link, Mapping) and link.get("TxnType") == "BillPayment"
    ]
