"""The plain data of a purchase order: as Luminous has it (`SourcePO`), and as the QBO
PurchaseOrder it should be (`DesiredPO`, before references are resolved).

Frozen and free of I/O, like `reconciler.model` (money `Decimal`, instants aware UTC).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from reconciler.model import (
    Address,
    DesiredItem,
    DesiredVendor,
    Lifecycle,
    LineKind,
    SourceProduct,
    SourceSupplier,
)


@dataclass(frozen=True)
class SourceLine:
    id: int | None
    product: SourceProduct
    quantity: Decimal
    unit_price: Decimal
    description: str | None = None
    tax: Decimal = Decimal("0")
    discount_amount: Decimal = Decimal("0")
    line_total: Decimal | None = None
    tax_rate: Decimal | None = None  # percent, when Luminous gives one


class SourceStatus(enum.StrEnum):
    """Luminous order_status values we understand; anything else is rejected by the parser.

    Documented by Luminous's API reference: active, inactive and deleted (the PO list's
    `order_status` filter) and completed (the update example). Assumed (kept for accounts that
    show them): closed, cancelled, draft."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    DELETED = "deleted"
    COMPLETED = "completed"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    DRAFT = "draft"


@dataclass(frozen=True)
class SourcePO:
    id: int
    order_numbers: tuple[str, ...]
    status: SourceStatus
    supplier: SourceSupplier
    lines: tuple[SourceLine, ...]
    created_at: datetime
    updated_at: datetime
    # The approval state as read (`luminous.values.approval`: "approved", "pending_approval"),
    # None when the field is empty or absent; `approval_missing`: the record has no such field.
    approval_status: str | None = None
    approval_missing: bool = False
    order_date: date | None = None
    arrival_due_date: date | None = None
    currency: str | None = None
    ship_to: Address | None = None
    ship_to_name: str | None = None
    total_shipping_cost: Decimal = Decimal("0")
    total_tax: Decimal = Decimal("0")
    other_costs: tuple[tuple[str, Decimal], ...] = ()  # (label, amount) extra charges
    public_note: str | None = None
    private_note: str | None = None
    custom_fields: tuple[tuple[str, str], ...] = ()  # (source field name, value)
    warehouse_name: str | None = None
    warehouse_id: int | None = None  # as Luminous named it (its warehouse may not be found)
    has_warehouse: bool = True  # False: no warehouse read (none named, or none found)

    @property
    def key(self) -> tuple[datetime, int]:
        """The pull key: records are read in (updated_at, id) order."""
        return (self.updated_at, self.id)


@dataclass(frozen=True)
class DesiredLine:
    kind: LineKind
    amount: Decimal
    description: str | None = None
    item: DesiredItem | None = None  # for ITEM lines
    qty: Decimal | None = None  # for ITEM lines
    unit_price: Decimal | None = None  # for ITEM lines
    account: str | None = None  # configured account key/name, for ACCOUNT lines
    class_name: str | None = None  # QBO Class (FullyQualifiedName), from [classes]
    tax_code: str | None = None  # QBO TaxCode name, outside the US, from [tax]
    # Which source line this is ("item:<Luminous line id>", "tax", ...): how its QBO line Id is
    # found again on an update. Not content: left out of the content hash.
    key: str | None = field(default=None, metadata={"hash": False})


@dataclass(frozen=True)
class DesiredPO:
    """The QBO PurchaseOrder a source PO should be, before references are resolved."""

    source_id: int
    doc_number: str | None
    vendor: DesiredVendor
    lines: tuple[DesiredLine, ...]
    lifecycle: Lifecycle = Lifecycle.OPEN
    txn_date: date | None = None
    due_date: date | None = None
    private_note: str | None = None
    memo: str | None = None
    ship_addr: Address | None = None
    vendor_addr: Address | None = None
    currency: str | None = None
    # No currency in Luminous, a multicurrency QBO company, `sync.missing_currency = "vendor"`:
    # the PO takes its vendor's currency in QBO (found when the references are).
    currency_from: str | None = None  # "vendor" (None when the PO names its own)
    ap_account: str | None = None
    custom_fields: tuple[tuple[str, str], ...] = ()  # (QBO custom field name, value)
    location: str | None = None  # QBO Department (FullyQualifiedName), from [locations]
    tax_calculation: str | None = None  # GlobalTaxCalculation; None in a US company
    # What the mapping decided about a field Luminous left out (no warehouse: no ShipAddr),
    # told in the PO's history when it is written; not content.
    note: str | None = field(default=None, metadata={"hash": False})
    content_hash: str = ""

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0"))
