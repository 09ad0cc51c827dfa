"""Pure: a desired BillPayment becomes its JSON body, and QBO's answer is checked for its link.

Intuit's BillPayment reference: VendorRef, PayType (Check or CreditCard), TotalAmt and Line
are required; each line has Amount and LinkedTxn [{TxnId, TxnType: "Bill"}]; PayType Check
takes CheckPayment.BankAccountRef (a Bank account), CreditCard takes
CreditCardPayment.CCAccountRef (a Credit Card account). `pay_block` is the one place the two
are told apart (a credit's application uses it too).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from reconciler.documents.payment.model import DesiredPayment
from reconciler.documents.references import ResolvedRefs
from reconciler.errors import ConfigError

PAY_BLOCKS = {
    "Check": ("CheckPayment", "BankAccountRef"),
    "CreditCard": ("CreditCardPayment", "CCAccountRef"),
}


def pay_block(pay_type: str, account_id: str) -> dict[str, Any]:
    """`{"CheckPayment": {"BankAccountRef": ...}}` or the CreditCard one."""
    block, ref = PAY_BLOCKS[pay_type]
    return {block: {ref: {"value": account_id}}}


def account_id(refs: ResolvedRefs, name: str) -> str:
    found = refs.account_ids.get(name)
    if found is None:
        raise ConfigError([f"account {name!r} was not found in QuickBooks"])
    return found


def payment_payload(desired: DesiredPayment, refs: ResolvedRefs, vendor_id: str) -> dict[str, Any]:
    """The BillPayment body (no Id or SyncToken)."""
    link = {"TxnId": desired.bill_qbo_id, "TxnType": "Bill"}
    body: dict[str, Any] = {
        "VendorRef": {"value": vendor_id, "name": desired.vendor.display_name},
        "PayType": desired.pay_type,
        **pay_block(desired.pay_type, account_id(refs, desired.account)),
        "TotalAmt": desired.amount,
        "Line": [{"Amount": desired.amount, "LinkedTxn": [link]}],
        "DocNumber": desired.doc_number,
        "PrivateNote": desired.private_note or "",
    }
    if desired.txn_date:
        body["TxnDate"] = desired.txn_date.isoformat()
    if refs.ap_account_id:
        body["APAccountRef"] = {"value": refs.ap_account_id}
    if desired.currency:
        body["CurrencyRef"] = {"value": desired.currency}
    return body


def linked(entity: Mapping[str, Any], txn_type: str) -> list[str]:
    """The Ids of the `txn_type` documents an answer's lines link to."""
    return [
        str(link.get("TxnId"))
        for line in entity.get("Line") or []
        if isinstance(line, Mapping)
        for link in line.get("LinkedTxn") or []
        if isinstance(link, Mapping) and link.get("TxnType") == txn_type
    ]


def is_void(entity: Mapping[str, Any]) -> bool:
    """A BillPayment QBO voided: TotalAmt 0, no lines, "Voided" before its memo."""
    note = str(entity.get("PrivateNote") or "")
    return note.startswith("Voided") and not entity.get("Line") and _zero(entity.get("TotalAmt"))


def _zero(value: Any) -> bool:
    try:
        return Decimal(str(value)) == 0
    except ArithmeticError:
        return False
