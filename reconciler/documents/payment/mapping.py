"""Pure mapping: a Luminous bill payment becomes the QBO BillPayment it should be.

- One line of the payment's amount, linked to the QBO Bill the sync wrote for its bill
  (Intuit's BillPayment: Line.LinkedTxn [{TxnId: the Bill's Id, TxnType: "Bill"}]); TotalAmt
  the same amount (more would be an overpayment QBO keeps as vendor credit).
- The account by `payment_type` (`[payments] accounts`; "default" for a type it does not name):
  a card type (`[payments] card_types`) pays with PayType CreditCard from that account
  (CreditCardPayment.CCAccountRef, a Credit Card account), any other with PayType Check
  (CheckPayment.BankAccountRef, a Bank account): cash, a debit card and a transfer leave the
  bank as a check does, as far as QBO's books are concerned.
- DocNumber: `sync.doc_number_prefix` + "P" + the Luminous payment id (Luminous payments have
  no number of their own): how the sync finds it in QBO before any create.
- The vendor is the bill's, through the same normalisation as every vendor; the currency the
  bill's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from reconciler.documents import values
from reconciler.documents.payment.model import DesiredPayment, SourcePayment
from reconciler.errors import InvalidSourceRecord
from reconciler.model import SourceSupplier

CHECK, CREDIT_CARD = "Check", "CreditCard"
DEFAULT_TYPE = "default"


@dataclass(frozen=True)
class PaymentRules:
    """What configuration decides about payments; built by `Settings.payment_rules()`."""

    accounts: tuple[tuple[str, str], ...]  # payment_type (or "default") -> QBO account name
    card_types: tuple[str, ...] = ("credit_card",)
    doc_number_prefix: str = "L-"
    home_currency: str = "USD"
    ap_account: str | None = None

    def account_for(self, payment_type: str | None) -> str | None:
        table = {key.strip().lower(): name for key, name in self.accounts if name.strip()}
        return table.get(payment_type or DEFAULT_TYPE) or table.get(DEFAULT_TYPE)


def desired_payment(
    payment: SourcePayment, bill_qbo_id: str, rules: PaymentRules
) -> DesiredPayment:
    """The BillPayment for `payment`, whose bill is QBO Bill `bill_qbo_id`; InvalidSourceRecord
    with the reason when it cannot be one."""
    doc_id = payment.id
    amount = values.checked_amount(values.cents(payment.amount), "paid_amount", doc_id)
    if amount <= 0:
        raise InvalidSourceRecord(f"paid_amount {payment.amount} is not above zero", doc_id=doc_id)
    account = rules.account_for(payment.payment_type)
    if account is None:
        kind = payment.payment_type or "(none)"
        raise InvalidSourceRecord(
            f"no QBO account for payment_type {kind}: name one in [payments] accounts "
            '(or a "default")',
            doc_id=doc_id,
        )
    if not payment.vendor_name:
        raise InvalidSourceRecord("the payment's bill names no vendor", doc_id=doc_id)
    currency = values.foreign(values.currency(payment.currency, doc_id), rules.home_currency)
    vendor = values.desired_vendor(
        SourceSupplier(id=payment.vendor_id, name=payment.vendor_name), currency=currency
    )
    desired = DesiredPayment(
        source_id=doc_id,
        doc_number=f"{rules.doc_number_prefix}P{doc_id}"[-values.DOC_NUMBER_MAX :],
        vendor=vendor,
        amount=amount,
        pay_type=CREDIT_CARD if payment.payment_type in rules.card_types else CHECK,
        account=account,
        bill_id=payment.bill_id,
        bill_qbo_id=bill_qbo_id,
        txn_date=payment.payment_date,
        private_note=values.clean_text(_note(payment)),
        currency=currency,
        ap_account=rules.ap_account,
    )
    return dataclasses.replace(desired, content_hash=values.content_hash(desired))


def _note(payment: SourcePayment) -> str:
    bill = payment.bill_number or str(payment.bill_id)
    kind = f" ({payment.payment_type.replace('_', ' ')})" if payment.payment_type else ""
    parts = [f"Luminous payment {payment.id} of bill {bill}{kind}"]
    if payment.reference:
        parts.append(f"Reference: {payment.reference}")
    if payment.remarks:
        parts.append(payment.remarks)
    return "\n".join(parts)
