"""The plain data of the bill side: Luminous bills and receiving reports in, QBO Bills out.

Frozen and free of I/O, like `reconciler.model` (money is `Decimal`, instants aware UTC). A
receiving report is read into the same `SourceBill` a Luminous bill is (`origin` says which),
so one mapping, one plan and one writer serve both `[bills] from` sources.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from reconciler.documents.lines import QBOLine
from reconciler.model import DesiredItem, DesiredVendor, DocKind, Lifecycle, LineKind, SourceProduct


class BillStatus(enum.StrEnum):
    """Luminous bill and receiving-report statuses the sync understands (others are rejected)."""

    DRAFT = "draft"
    POSTED = "posted"
    ON_HOLD = "on_hold"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    CLOSED = "closed"
    VOID = "void"
    IN_PROGRESS = "in_progress"  # receiving reports
    COMPLETED = "completed"  # receiving reports


# What each status means for the QBO Bill: pushed (a posted bill, a completed receipt), not yet
# pushed (draft, held, receiving still in progress), or void.
PUSHED = frozenset(
    {
        BillStatus.POSTED,
        BillStatus.PARTIALLY_PAID,
        BillStatus.PAID,
        BillStatus.CLOSED,
        BillStatus.COMPLETED,
    }
)
NOT_YET = frozenset({BillStatus.DRAFT, BillStatus.ON_HOLD, BillStatus.IN_PROGRESS})


@dataclass(frozen=True)
class SourceBillLine:
    """One bill item (or one receiving-report line): what it pays for, and which PO line."""

    id: int | None
    quantity: Decimal
    unit_price: Decimal | None  # None on a receipt line: the PO line's unit cost applies
    product: SourceProduct | None = None
    description: str | None = None
    amount: Decimal | None = None  # as Luminous states it (checked against qty x price)
    tax: Decimal = Decimal("0")
    po_id: int | None = None
    po_line_id: int | None = None


@dataclass(frozen=True)
class SourceBillCost:
    """An extra cost on a bill (freight, a fee): money on an account, never a PO line."""

    id: int | None
    name: str
    amount: Decimal


@dataclass(frozen=True)
class SourceBill:
    """A Luminous bill, or a completed receiving report read as the bill it becomes."""

    id: int
    origin: DocKind  # BILL (a Luminous bill) or RECEIPT (a receiving report)
    status: BillStatus
    updated_at: datetime
    number: str | None = None  # the supplier's bill number (bills only)
    vendor_name: str | None = None
    vendor_id: int | None = None
    bill_date: date | None = None
    due_date: date | None = None
    currency: str | None = None
    memo: str | None = None
    lines: tuple[SourceBillLine, ...] = ()
    costs: tuple[SourceBillCost, ...] = ()
    po_ids: tuple[int, ...] = ()  # the POs it names (receipts: its PO)

    @property
    def key(self) -> tuple[datetime, int]:
        return (self.updated_at, self.id)

    def linked_po_ids(self) -> tuple[int, ...]:
        """Every Luminous PO a line of this bill is allocated to, or that it names."""
        found = [line.po_id for line in self.lines if line.po_id is not None]
        return tuple(sorted({*found, *self.po_ids}))


# --- where a bill's POs stand --------------------------------------------------------------


class POState(enum.StrEnum):
    """What the ledger says of a PO a bill is allocated to."""

    IN_QBO = "in_qbo"  # synced, its line Ids known: lines can link
    WAITING = "waiting"  # not in QBO yet, but it may be (not seen, pending, retrying, failed)
    NEVER = "never"  # will not be pushed as it is (skipped), or gone from QBO


@dataclass(frozen=True)
class POStanding:
    """A PO as a bill's decision sees it: its state, why, and its lines in QBO."""

    state: POState
    number: str | None = None
    reason: str = ""
    qbo_id: str | None = None
    lines: Mapping[str, QBOLine] = field(default_factory=dict)  # key -> line
    department_id: str | None = None  # its DepartmentRef (location): its bills take it
    tax_calculation: str | None = None  # its GlobalTaxCalculation, outside the US


# --- the desired QBO Bill ------------------------------------------------------------------


@dataclass(frozen=True)
class BillLink:
    """Which PO line a bill line pays for, as Luminous says (Luminous ids)."""

    po_id: int
    po_line_id: int


@dataclass(frozen=True)
class DesiredBillLine:
    """A QBO Bill line before references are resolved. A linked line takes its item (or
    account) and its DetailType from the PO line it links to, as QBO's own "copy to bill"
    does; `item` serves an unlinked item line."""

    kind: LineKind
    amount: Decimal
    key: str = field(metadata={"hash": False})
    description: str | None = None
    item: DesiredItem | None = None
    qty: Decimal | None = None
    unit_price: Decimal | None = None
    account: str | None = None
    link: BillLink | None = None
    # Why a line allocated to a PO line goes unlinked ([bills] unpushed_po = "unlinked").
    unlinked_because: str | None = None
    # An unlinked line's class and tax code by name (`reconciler.documents.coding`, resolved like a
    # PO's); a linked line takes its PO line's ids instead, as QBO's copy to bill does.
    class_name: str | None = None
    tax_code: str | None = None
    class_id: str | None = None
    tax_code_id: str | None = None


@dataclass(frozen=True)
class DesiredBill:
    """The QBO Bill a Luminous bill or receiving report should be."""

    source_id: int
    kind: DocKind  # BILL or RECEIPT: the ledger rows it keys
    doc_number: str
    vendor: DesiredVendor
    lines: tuple[DesiredBillLine, ...]
    lifecycle: Lifecycle = Lifecycle.OPEN  # CLOSED: void in QBO (every amount 0, "Voided")
    txn_date: date | None = None
    due_date: date | None = None
    private_note: str | None = None
    currency: str | None = None
    ap_account: str | None = None
    po_numbers: tuple[tuple[int, str], ...] = ()  # (Luminous PO id, its number): for history
    department_id: str | None = None  # its PO's location in QBO (DepartmentRef)
    tax_calculation: str | None = None  # its PO's GlobalTaxCalculation
    content_hash: str = ""

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0"))

    def links(self) -> list[tuple[int, BillLink]]:
        """(line number, link) of every line that must link to a PO line."""
        return [(n, line.link) for n, line in enumerate(self.lines, 1) if line.link is not None]
