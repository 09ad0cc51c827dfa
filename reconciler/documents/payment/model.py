"""The plain data of a bill payment: a Luminous payment in, a QBO BillPayment out.

A payment is read through its bill (`luminous.payments`): it knows its bill's id, vendor and
currency, and its version is the bill's `updated_at` (Luminous moves it when a payment lands,
is voided or deleted: the bill's `total_paid` and `total_due` change with it).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from reconciler.model import DesiredVendor, Lifecycle


class PaymentStatus(enum.StrEnum):
    COMPLETED = "completed"  # absent in Luminous: the payment was made
    VOID = "void"


@dataclass(frozen=True)
class SourcePayment:
    id: int
    bill_id: int
    status: PaymentStatus
    updated_at: datetime  # its bill's
    amount: Decimal
    payment_type: str | None = None
    payment_date: date | None = None
    vendor_name: str | None = None
    vendor_id: int | None = None
    bill_number: str | None = None
    currency: str | None = None
    remarks: str | None = None
    reference: str | None = None

    @property
    def key(self) -> tuple[datetime, int]:
        return (self.updated_at, self.id)


@dataclass(frozen=True)
class DesiredPayment:
    """The QBO BillPayment a Luminous payment should be: one line, linked to its bill."""

    source_id: int
    doc_number: str
    vendor: DesiredVendor
    amount: Decimal
    pay_type: str  # "Check" | "CreditCard"
    account: str  # the bank or card account, by name
    bill_id: int  # the Luminous bill
    bill_qbo_id: str
    lifecycle: Lifecycle = Lifecycle.OPEN
    txn_date: date | None = None
    private_note: str | None = None
    currency: str | None = None
    ap_account: str | None = None
    content_hash: str = ""

    @property
    def lines(self) -> tuple[()]:
        """No lines of its own to learn Ids of: its one line is its bill's link."""
        return ()
