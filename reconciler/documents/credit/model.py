"""The plain data of a vendor credit: a Luminous vendor credit in, a QBO VendorCredit out.

Its lines are a bill's (`SourceBillLine` in, `DesiredBillLine` out: items, accounts, classes,
tax codes coded as a bill's unlinked lines are). Each application of the credit to a Luminous
bill becomes a QBO BillPayment that links the bill and the credit and moves no money.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from reconciler.documents.bill.model import DesiredBillLine, SourceBillLine
from reconciler.model import DesiredVendor, Lifecycle


class CreditStatus(enum.StrEnum):
    """Luminous vendor-credit statuses the sync understands (assumed; others are rejected)."""

    DRAFT = "draft"
    OPEN = "open"
    PARTIALLY_APPLIED = "partially_applied"
    APPLIED = "applied"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class SourceApplication:
    """The credit applied to a bill (or to a payment obligation: `bill_id` None, not synced)."""

    id: int
    bill_id: int | None
    amount: Decimal
    reversed: bool = False


@dataclass(frozen=True)
class SourceCredit:
    id: int
    status: CreditStatus
    updated_at: datetime
    number: str | None = None
    vendor_name: str | None = None
    vendor_id: int | None = None
    amount: Decimal | None = None
    credit_date: date | None = None
    currency: str | None = None
    memo: str | None = None
    lines: tuple[SourceBillLine, ...] = ()
    applications: tuple[SourceApplication, ...] = ()
    vendor_return_id: int | None = None

    @property
    def key(self) -> tuple[datetime, int]:
        return (self.updated_at, self.id)

    def applied(self) -> tuple[SourceApplication, ...]:
        """The applications in force, to a bill."""
        return tuple(a for a in self.applications if not a.reversed and a.bill_id is not None)


@dataclass(frozen=True)
class DesiredApplication:
    """One application as a QBO BillPayment: DocNumber prefix + "A" + its Luminous id."""

    application_id: int
    bill_id: int
    bill_qbo_id: str
    amount: Decimal
    doc_number: str


@dataclass(frozen=True)
class DesiredCredit:
    """The QBO VendorCredit a Luminous vendor credit should be, and its applications."""

    source_id: int
    doc_number: str
    vendor: DesiredVendor
    lines: tuple[DesiredBillLine, ...]
    applications: tuple[DesiredApplication, ...] = ()
    lifecycle: Lifecycle = Lifecycle.OPEN
    txn_date: date | None = None
    private_note: str | None = None
    currency: str | None = None
    ap_account: str | None = None
    application_account: str | None = None  # the bank account an application's BillPayment names
    tax_calculation: str | None = None
    content_hash: str = ""

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0"))
